//! A PostgreSQL query and a Redis command made in a traced operation reach the Phoenix backend
//! as client spans of the operation's trace, nested under it (one `init` per process).
use crate::support::db;
use crate::support::e2e as e2e_support;
use godtrace::db::redis::TracedConnection;
use godtrace::db::sqlx::TracedPool;
use godtrace::{Protocol, traced};
use redis::aio::MultiplexedConnection;
use serde_json::Value as Json;

#[traced(operation = "e2e.db.lookup")]
async fn lookup(
    pool: &TracedPool,
    cache: &mut TracedConnection<MultiplexedConnection>,
    key: &str,
) -> String {
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_catalog.pg_class WHERE relname = $1")
            .bind("no-such-table")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(tables, 0);
    redis::cmd("SET")
        .arg(key)
        .arg("cached")
        .query_async::<()>(cache)
        .await
        .unwrap();
    godtrace::trace_id().expect("inside the operation")
}

#[test]
fn database_spans_arrive_in_phoenix_under_the_traced_operation() {
    crate::support::own_process!();
    let Some(phoenix) = e2e_support::phoenix() else {
        return;
    };
    let (Some(database_url), Some(redis_url)) = (db::database_url(), db::redis_url()) else {
        return;
    };
    let project = e2e_support::unique_project("db");
    let guard = godtrace::init(phoenix.config("godtrace-e2e-db", Protocol::HttpProtobuf, &project))
        .expect("init");
    let runtime = crate::support::two_worker_runtime();
    let trace_id = runtime.block_on(async {
        let pool = TracedPool::new(sqlx::PgPool::connect(&database_url).await.unwrap());
        let client = redis::Client::open(redis_url.as_str()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut cache = TracedConnection::new(conn, client.get_connection_info());
        lookup(&pool, &mut cache, &db::unique("phoenix")).await
    });
    guard.flush();

    let spans = phoenix.wait_for(&project, Some(&trace_id), |s| s.len() >= 3);
    let names = e2e_support::names(&spans);
    assert_eq!(
        spans.len(),
        3,
        "trace {trace_id} in project {project}: {names:?}"
    );
    let op = e2e_support::named(&spans, "e2e.db.lookup");
    let select = e2e_support::named(&spans, "SELECT pg_catalog.pg_class");
    let set = e2e_support::named(&spans, "SET");
    for child in [select, set] {
        assert_eq!(child["parent_id"], op["context"]["span_id"], "{child:#}");
        assert_eq!(child["context"]["trace_id"], trace_id.as_str());
    }
    let attrs = |span: &Json, key: &str| span["attributes"][key].clone();
    assert_eq!(attrs(select, "db.system.name"), "postgresql");
    assert_eq!(
        attrs(select, "db.query.text"),
        "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = $1"
    );
    assert_eq!(attrs(select, "db.response.returned_rows"), 1);
    assert_eq!(attrs(set, "db.system.name"), "redis");
    assert_eq!(attrs(set, "db.query.text"), "SET ? ?");
    drop(guard);
}
