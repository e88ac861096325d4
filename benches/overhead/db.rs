//! Issue 16: what `godtrace::db` adds to one PostgreSQL query and one Redis command, next to
//! the same call on the bare driver, against the local servers of `scripts/backends/`:
//!
//! ```text
//! GODTRACE_TEST_DATABASE_URL=postgres://godtrace@127.0.0.1:5432/godtrace_test \
//! GODTRACE_TEST_REDIS_URL=redis://127.0.0.1:6379/ cargo bench --bench overhead -- db/
//! ```
//! (the URLs `scripts/backends/postgres.sh` and `redis.sh` print when they start the servers).
//!
//! The cases exist only when `GODTRACE_TEST_DATABASE_URL` / `GODTRACE_TEST_REDIS_URL` name
//! the servers. Each call is a full round trip on one connection (a current-thread runtime
//! drives it), so the difference between `bare` and `traced/*` is the integration's cost per
//! call: parsing the statement, the span (recorded, then dropped: no exporter) and the
//! duration histogram.
use crate::cases::{Case, Setup, time as case};
use godtrace::db::redis::TracedConnection;
use godtrace::db::sqlx::TracedPool;
use redis::aio::MultiplexedConnection;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

const DATABASE_URL: &str = "GODTRACE_TEST_DATABASE_URL";
const REDIS_URL: &str = "GODTRACE_TEST_REDIS_URL";

/// The database cases whose server is configured.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    if std::env::var_os(DATABASE_URL).is_some() {
        cases.extend([
            case("db/postgres/bare", Setup::Nothing, op_postgres_bare),
            case(
                "db/postgres/traced/disabled",
                Setup::GodtraceDisabled,
                op_postgres_traced,
            ),
            case(
                "db/postgres/traced/sampled-in",
                Setup::GodtraceNoExporter,
                op_postgres_traced,
            ),
        ]);
    }
    if std::env::var_os(REDIS_URL).is_some() {
        cases.extend([
            case("db/redis/bare", Setup::Nothing, op_redis_bare),
            case(
                "db/redis/traced/disabled",
                Setup::GodtraceDisabled,
                op_redis_traced,
            ),
            case(
                "db/redis/traced/sampled-in",
                Setup::GodtraceNoExporter,
                op_redis_traced,
            ),
        ]);
    }
    cases
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

struct Postgres {
    runtime: Runtime,
    traced: TracedPool,
}

/// One pooled connection, made on the first call (in the warm-up).
fn postgres() -> &'static Postgres {
    static POSTGRES: OnceLock<Postgres> = OnceLock::new();
    POSTGRES.get_or_init(|| {
        let url = std::env::var(DATABASE_URL).expect(DATABASE_URL);
        let runtime = runtime();
        let pool = runtime
            .block_on(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url),
            )
            .expect("connect to PostgreSQL");
        Postgres {
            runtime,
            traced: TracedPool::new(pool),
        }
    })
}

/// A prepared statement with a bound value: the common shape of an application's query.
const QUERY: &str = "SELECT id FROM (VALUES (1::int8), (2::int8)) AS t(id) WHERE id <= $1";

fn op_postgres_bare(x: u64) -> u64 {
    let pg = postgres();
    let rows = pg.runtime.block_on(
        sqlx::query(QUERY)
            .bind((x % 2 + 1) as i64)
            .fetch_all(pg.traced.inner()),
    );
    rows.expect("query").len() as u64
}

fn op_postgres_traced(x: u64) -> u64 {
    let pg = postgres();
    let rows = pg.runtime.block_on(
        sqlx::query(QUERY)
            .bind((x % 2 + 1) as i64)
            .fetch_all(&pg.traced),
    );
    rows.expect("query").len() as u64
}

struct Redis {
    runtime: Runtime,
    bare: MultiplexedConnection,
    traced: TracedConnection<MultiplexedConnection>,
}

fn redis_state() -> &'static Redis {
    static REDIS: OnceLock<Redis> = OnceLock::new();
    REDIS.get_or_init(|| {
        let url = std::env::var(REDIS_URL).expect(REDIS_URL);
        let runtime = runtime();
        let client = redis::Client::open(url).expect("redis URL");
        let bare = runtime
            .block_on(client.get_multiplexed_async_connection())
            .expect("connect to Redis");
        let traced = TracedConnection::new(bare.clone(), client.get_connection_info());
        Redis {
            runtime,
            bare,
            traced,
        }
    })
}

fn get(conn: &mut impl redis::aio::ConnectionLike, runtime: &Runtime) -> u64 {
    let value: Option<String> = runtime
        .block_on(
            redis::cmd("GET")
                .arg("godtrace-bench:key")
                .query_async(conn),
        )
        .expect("GET");
    value.map_or(0, |v| v.len() as u64)
}

fn op_redis_bare(_: u64) -> u64 {
    let state = redis_state();
    get(&mut state.bare.clone(), &state.runtime)
}

fn op_redis_traced(_: u64) -> u64 {
    let state = redis_state();
    get(&mut state.traced.clone(), &state.runtime)
}
