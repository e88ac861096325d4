//! PostgreSQL through [sqlx](https://docs.rs/sqlx) (feature `sqlx`): wrap the pool once, and
//! each query run on it is a `Client` span.
//!
//! ```no_run
//! # async fn run() -> Result<(), sqlx::Error> {
//! use godtrace_runtime::db::sqlx::TracedPool;
//!
//! let pool = TracedPool::new(sqlx::PgPool::connect("postgres://localhost/scanner").await?);
//! // A span `SELECT wallets` with db.query.text `SELECT risk FROM wallets WHERE id = $1`:
//! let rows = sqlx::query("SELECT risk FROM wallets WHERE id = $1")
//!     .bind(7_i64)
//!     .fetch_all(&pool)
//!     .await?;
//! let mut tx = pool.begin().await?; // a span `BEGIN`
//! sqlx::query("UPDATE wallets SET risk = 0.9 WHERE id = 7").execute(&mut tx).await?;
//! tx.commit().await?; // a span `COMMIT`
//! # Ok(())
//! # }
//! ```
//!
//! What each span records: `db.system.name` = `postgresql`, `db.namespace` (the database),
//! `db.query.summary` (read from the statement, also the span's name: every operation and the
//! tables it names, `INSERT orders SELECT carts`), `db.operation.name` and
//! `db.collection.name` (only when the statement has one operation and one table),
//! `db.stored_procedure.name` (the procedure a `CALL` names),
//! `db.query.text` with every literal replaced by `?` (bound `$1` values are never
//! read), `server.address`, `server.port`, `db.response.returned_rows`, and on failure
//! `db.response.status_code` (the SQLSTATE) and `error.type` (the SQLSTATE, or the kind of
//! client error). On the pool, `godtrace.db.pool.wait_time` is the time (seconds) spent
//! waiting for a connection. Inside a transaction each statement is its own span.
use super::call::{self, Call, Endpoint, Failure, Recorded};
use super::generated::{Generated, Yielder};
use super::sql;
use ::sqlx::pool::PoolConnection;
use ::sqlx::postgres::{
    PgConnection, PgPool, PgQueryResult, PgRow, PgStatement, PgTypeInfo, Postgres,
};
use ::sqlx::{Describe, Either, Error, Execute, Executor, Transaction};
use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use opentelemetry::StringValue;
use std::sync::Arc;
use std::time::Instant;

/// One result of a query: a statement's outcome or a row.
type Step = Either<PgQueryResult, PgRow>;

/// A PostgreSQL pool whose queries record client spans: pass `&pool` where sqlx takes an
/// executor (`query(..).fetch_all(&pool)`). Cloning it is cheap (the pool is shared).
#[derive(Debug, Clone)]
pub struct TracedPool {
    pool: PgPool,
    endpoint: Arc<Endpoint>,
}

impl TracedPool {
    /// Wraps `pool`; the database, host and port its spans record are read from its
    /// connect options.
    pub fn new(pool: PgPool) -> TracedPool {
        let endpoint = Arc::new(endpoint_of(&pool));
        TracedPool { pool, endpoint }
    }

    /// The wrapped pool (its queries are not traced).
    pub fn inner(&self) -> &PgPool {
        &self.pool
    }

    /// A connection of the pool held for several queries, each traced.
    pub async fn acquire(&self) -> Result<TracedConnection, Error> {
        let conn = self.pool.acquire().await?;
        Ok(TracedConnection {
            conn,
            endpoint: self.endpoint.clone(),
        })
    }

    /// Starts a transaction (a `BEGIN` span); its statements are traced, and so are its
    /// [`commit`](TracedTransaction::commit) and [`rollback`](TracedTransaction::rollback).
    /// Dropped without either, it is rolled back by sqlx, untraced.
    pub async fn begin(&self) -> Result<TracedTransaction, Error> {
        // The span covers acquiring the connection and sending BEGIN (sqlx does both, so the
        // wait alone is known only when no connection came: all of it was the wait).
        let call = start_named(&self.endpoint, "BEGIN");
        let started = Instant::now();
        let result = self.pool.begin().await;
        if matches!(result, Err(Error::PoolTimedOut)) {
            note_wait(&call, started);
        }
        finish(call, result.as_ref().map(|_| None));
        Ok(TracedTransaction {
            tx: result?,
            endpoint: self.endpoint.clone(),
        })
    }
}

/// A pooled connection whose queries record client spans: `query(..).execute(&mut conn)`.
#[derive(Debug)]
pub struct TracedConnection {
    conn: PoolConnection<Postgres>,
    endpoint: Arc<Endpoint>,
}

impl TracedConnection {
    /// The wrapped connection (its queries are not traced).
    pub fn inner(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// An open transaction whose statements record client spans: `query(..).execute(&mut tx)`.
#[derive(Debug)]
pub struct TracedTransaction {
    tx: Transaction<'static, Postgres>,
    endpoint: Arc<Endpoint>,
}

impl TracedTransaction {
    /// Commits (a `COMMIT` span).
    pub async fn commit(self) -> Result<(), Error> {
        let call = start_named(&self.endpoint, "COMMIT");
        let result = self.tx.commit().await;
        finish(call, result.as_ref().map(|_| None));
        result
    }

    /// Rolls back (a `ROLLBACK` span).
    pub async fn rollback(self) -> Result<(), Error> {
        let call = start_named(&self.endpoint, "ROLLBACK");
        let result = self.tx.rollback().await;
        finish(call, result.as_ref().map(|_| None));
        result
    }

    /// The wrapped transaction's connection (its queries are not traced).
    pub fn inner(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// The endpoint every span of `pool` names: its database, host (or socket) and port.
fn endpoint_of(pool: &PgPool) -> Endpoint {
    endpoint_of_options(&pool.connect_options())
}

/// [`endpoint_of`] a pool connecting with `options`.
fn endpoint_of_options(options: &::sqlx::postgres::PgConnectOptions) -> Endpoint {
    // A Unix socket is named by its path, which holds the port (`<dir>/.s.PGSQL.5432`, where
    // sqlx connects): the conventions' `server.address`, with no `server.port`. sqlx takes
    // a host starting with `/` as the socket's directory too.
    let socket_dir = match options.get_socket() {
        Some(socket) => Some(socket.display().to_string()),
        None => Some(options.get_host())
            .filter(|host| host.starts_with('/'))
            .map(str::to_owned),
    };
    let (address, port) = match socket_dir {
        // One name for one socket, however its directory is written (`/run/pg/`).
        Some(dir) => {
            let dir = dir.trim_end_matches('/');
            (format!("{dir}/.s.PGSQL.{}", options.get_port()), None)
        }
        None => (options.get_host().to_owned(), Some(options.get_port())),
    };
    // Without a database in the options (nor `PGDATABASE`), the server opens the one named
    // after the user.
    let database = (options.get_database()).unwrap_or(options.get_username());
    let namespace = (!database.is_empty()).then(|| shared(database));
    Endpoint {
        system: "postgresql",
        // The general conventions' `{target}` for an operation on a database, which
        // PostgreSQL's do not override.
        target: namespace.clone(),
        namespace,
        address: Some(shared(crate::text::unbracketed(&address))),
        port,
    }
}

/// A string shared by every call's attributes (cloned by reference count, not copied).
fn shared(text: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(text))
}

/// The call of statement `sql` under `parent` (see [`made_in`]), or `None` with tracing off.
fn start_statement(
    parent: opentelemetry::Context,
    endpoint: &Arc<Endpoint>,
    sql: &str,
) -> Option<Call> {
    if !call::enabled() {
        return None;
    }
    let summary = sql::summarize(sql, None);
    // The conventions: the query summary is also the span's name; the operation and table
    // are set only when the statement has one of each.
    let mut call = Call::start_under(
        Some(parent),
        endpoint,
        summary.summary,
        summary.operation,
        summary.collection,
        || recorded(sql),
    );
    if let Some(procedure) = summary.procedure {
        call.set_procedure(procedure);
    }
    Some(call)
}

/// What the recorded span of `sql` shows: its text, and its summary built to fit the
/// attribute limit (the span's name keeps the whole one), in one more reading.
fn recorded(sql: &str) -> Recorded {
    let read = sql::summarize_to(sql, sql::summary_cap(), Some(call::query_text_cap()));
    Recorded {
        text: read.text,
        summary: read.summary,
    }
}

/// Where a query's stream or future is made, when tracing is on: its call's parent. The call
/// itself starts when the stream is first read (sqlx sends nothing before): a stream read
/// later is timed from then, and one dropped unread records nothing.
fn made_in() -> Option<opentelemetry::Context> {
    call::enabled().then(crate::span::current_context)
}

/// The call of a transaction command (`BEGIN`, `COMMIT`, `ROLLBACK`), or `None` with
/// tracing off.
fn start_named(endpoint: &Arc<Endpoint>, operation: &'static str) -> Option<Call> {
    call::enabled().then(|| {
        // Its summary is the command itself, as a statement's is its operation and tables.
        let summary = Some(operation.to_owned());
        Call::start(endpoint, summary, Some(operation.to_owned()), None, || {
            recorded(operation)
        })
    })
}

/// Ends `call` with `result` (the rows returned, when known).
fn finish(call: Option<Call>, result: Result<Option<u64>, &Error>) {
    let Some(call) = call else { return };
    match result {
        Ok(rows) => {
            if let Some(rows) = rows {
                call.set_attribute("db.response.returned_rows", rows as i64);
            }
            call.succeed();
        }
        Err(error) => call.fail(failure(error)),
    }
}

/// How a sqlx error is recorded: the SQLSTATE for a database error (with the constraint it
/// names, when [`recorded_constraint`] keeps it), the kind of error otherwise. Never the
/// server's message: it can quote values (`invalid input syntax for type integer: "..."`).
fn failure(error: &Error) -> Failure {
    if let Error::Database(db) = error {
        let code = db
            .code()
            .map(|c| c.chars().take(16).collect::<String>())
            .unwrap_or_else(|| "unknown".to_owned());
        let description = match recorded_constraint(&code, db.constraint()) {
            Some(constraint) => format!("SQLSTATE {code} (constraint {constraint})"),
            None => format!("SQLSTATE {code}"),
        };
        return Failure {
            error_type: code.clone().into(),
            status_code: Some(code),
            description,
        };
    }
    let (error_type, description): (&'static str, String) = match error {
        Error::Io(io) => ("Io", format!("I/O error: {}", io.kind())),
        Error::Tls(_) => ("Tls", "TLS error".to_owned()),
        Error::Protocol(_) => ("Protocol", "protocol error".to_owned()),
        Error::PoolTimedOut => (
            "PoolTimedOut",
            "timed out waiting for a connection".to_owned(),
        ),
        Error::PoolClosed => ("PoolClosed", "the pool is closed".to_owned()),
        Error::WorkerCrashed => (
            "WorkerCrashed",
            "the connection's worker crashed".to_owned(),
        ),
        Error::Configuration(_) => ("Configuration", "configuration error".to_owned()),
        Error::Encode(_) => ("Encode", "a bound value could not be encoded".to_owned()),
        Error::Decode(_) | Error::ColumnDecode { .. } => {
            ("Decode", "a value could not be decoded".to_owned())
        }
        Error::TypeNotFound { .. } => ("TypeNotFound", "type not found".to_owned()),
        Error::ColumnNotFound(_) | Error::ColumnIndexOutOfBounds { .. } => {
            ("ColumnNotFound", "column not found".to_owned())
        }
        _ => ("_OTHER", "client error".to_owned()),
    };
    Failure {
        error_type: error_type.into(),
        status_code: None,
        description,
    }
}

/// The constraint an error with SQLSTATE `code` names, if it is recorded: only for an
/// integrity violation (class `23`), whose constraint the server takes from the catalog, and
/// only when it is a name PostgreSQL could have made (see [`is_identifier`]). Any other error
/// may carry whatever a function's `RAISE .. USING CONSTRAINT = expr` said, a bound value
/// included.
fn recorded_constraint<'a>(code: &str, constraint: Option<&'a str>) -> Option<&'a str> {
    constraint.filter(|name| code.starts_with("23") && is_identifier(name))
}

/// Whether `name` is an identifier as PostgreSQL stores one: at most 63 bytes (its
/// `NAMEDATALEN`), letters, digits, `_` and `$`, not starting with a digit or `$`. A quoted
/// name with other characters (spaces, `@`) is not: a real one is rare, a value often is.
fn is_identifier(name: &str) -> bool {
    const MAX_IDENTIFIER_LEN: usize = 63;
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    starts_well
        && name.len() <= MAX_IDENTIFIER_LEN
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Forwards `stream`'s results to the caller through `yielder`, counting rows (the items
/// `is_row` says are); ends `call` when the stream ends or fails. Returns the error that ends
/// the stream, if any.
async fn relay<S, T>(
    mut stream: S,
    mut call: Option<Call>,
    yielder: Yielder<Result<T, Error>>,
    is_row: fn(&T) -> bool,
) -> Option<Result<T, Error>>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    while let Some(item) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        match item {
            Ok(step) => {
                if let Some(call) = &mut call {
                    call.deliver(is_row(&step));
                }
                // Resolves when the caller asks for the next item: until a row comes, a drop
                // is the caller's wait cut short (a timeout around sqlx's `fetch_all`, whose
                // rows reach the caller only at the end), not a stop after a row it took.
                yielder.send(Ok(step)).await;
                if let Some(call) = &mut call {
                    call.wait_for_more();
                }
            }
            Err(error) => {
                // The rows the caller got (a cursor that failed half-way, a row that did not
                // decode) are counted by the call: they say how far the query got.
                finish(call, Err(&error));
                return Some(Err(error));
            }
        }
    }
    // A query that completed returned its rows, none included (counted by the call if any).
    let none = call.as_ref().is_some_and(|call| call.rows() == 0);
    finish(call, Ok(none.then_some(0)));
    None
}

/// Whether a step of a query's results is a row (else a statement's outcome).
fn is_row(step: &Step) -> bool {
    matches!(step, Either::Right(_))
}

/// The span attribute of the time (seconds) a pool query waited for a connection. Not the
/// conventions' `db.client.connection.wait_time`: they define that name as a histogram of
/// the pool, and a span attribute of the same name would read as that metric. The span
/// keeps the figure because it tells a slow query from a starved pool.
const POOL_WAIT_ATTRIBUTE: &str = "godtrace.db.pool.wait_time";

/// Notes on `call` how long acquiring a pooled connection took.
fn note_wait(call: &Option<Call>, waited: Instant) {
    if let Some(call) = call {
        call.set_attribute(POOL_WAIT_ATTRIBUTE, waited.elapsed().as_secs_f64());
    }
}

/// `call`'s wait for a pooled connection, noted on it when the wait ends however it ends:
/// with a connection, with the pool's error (`PoolTimedOut`, a starved pool: the case the
/// figure is kept for), or cancelled (dropped while waiting, before `call` ends). It holds
/// `call` mutably, only so as to be `Send` (a `Call` is not `Sync`).
struct PoolWait<'c> {
    call: &'c mut Option<Call>,
    since: Instant,
}

impl<'c> PoolWait<'c> {
    fn start(call: &'c mut Option<Call>) -> Self {
        PoolWait {
            call,
            since: Instant::now(),
        }
    }
}

impl Drop for PoolWait<'_> {
    fn drop(&mut self) {
        note_wait(self.call, self.since);
    }
}

impl<'p> Executor<'p> for &'_ TracedPool {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Step, Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let Some(parent) = made_in() else {
            return self.pool.fetch_many(query);
        };
        let (pool, endpoint) = (self.pool.clone(), self.endpoint.clone());
        Box::pin(Generated::new(move |yielder| async move {
            let mut call = start_statement(parent, &endpoint, query.sql());
            let acquired = {
                let _wait = PoolWait::start(&mut call);
                pool.acquire().await
            };
            let mut conn = match acquired {
                Ok(conn) => conn,
                Err(error) => {
                    finish(call, Err(&error));
                    return Some(Err(error));
                }
            };
            relay(conn.fetch_many(query), call, yielder, is_row).await
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let Some(parent) = made_in() else {
            return self.pool.fetch_optional(query);
        };
        let (pool, endpoint) = (self.pool.clone(), self.endpoint.clone());
        Box::pin(async move {
            let mut call = start_statement(parent, &endpoint, query.sql());
            let acquired = {
                let _wait = PoolWait::start(&mut call);
                pool.acquire().await
            };
            let result = match acquired {
                Ok(mut conn) => conn.fetch_optional(query).await,
                Err(error) => Err(error),
            };
            finish(
                call,
                result.as_ref().map(|row| Some(u64::from(row.is_some()))),
            );
            result
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, Error>> {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, Error>> {
        self.pool.describe(sql)
    }
}

/// Runs `query` on `conn` with a span (the shared path of connections and transactions).
fn fetch_many_on<'e, 'q: 'e, E>(
    conn: &'e mut PgConnection,
    endpoint: &Arc<Endpoint>,
    query: E,
) -> BoxStream<'e, Result<Step, Error>>
where
    E: 'q + Execute<'q, Postgres>,
{
    let Some(parent) = made_in() else {
        return conn.fetch_many(query);
    };
    let (sql, endpoint) = (query.sql(), endpoint.clone());
    let stream = conn.fetch_many(query);
    Box::pin(Generated::new(move |yielder| async move {
        let call = start_statement(parent, &endpoint, sql);
        relay(stream, call, yielder, is_row).await
    }))
}

/// [`fetch_many_on`] for one row at most.
fn fetch_optional_on<'e, 'q: 'e, E>(
    conn: &'e mut PgConnection,
    endpoint: &Arc<Endpoint>,
    query: E,
) -> BoxFuture<'e, Result<Option<PgRow>, Error>>
where
    E: 'q + Execute<'q, Postgres>,
{
    let Some(parent) = made_in() else {
        return conn.fetch_optional(query);
    };
    let (sql, endpoint) = (query.sql(), endpoint.clone());
    let future = conn.fetch_optional(query);
    Box::pin(async move {
        let call = start_statement(parent, &endpoint, sql);
        let result = future.await;
        finish(
            call,
            result.as_ref().map(|row| Some(u64::from(row.is_some()))),
        );
        result
    })
}

/// Implements `Executor` for `&mut` a wrapper that derefs to a `PgConnection`.
macro_rules! traced_connection_executor {
    ($wrapper:ty, $conn:ident) => {
        impl<'c> Executor<'c> for &'c mut $wrapper {
            type Database = Postgres;

            fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Step, Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, Postgres>,
            {
                fetch_many_on(&mut *self.$conn, &self.endpoint, query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<PgRow>, Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, Postgres>,
            {
                fetch_optional_on(&mut *self.$conn, &self.endpoint, query)
            }

            fn prepare_with<'e, 'q: 'e>(
                self,
                sql: &'q str,
                parameters: &'e [PgTypeInfo],
            ) -> BoxFuture<'e, Result<PgStatement<'q>, Error>>
            where
                'c: 'e,
            {
                (&mut *self.$conn).prepare_with(sql, parameters)
            }

            fn describe<'e, 'q: 'e>(
                self,
                sql: &'q str,
            ) -> BoxFuture<'e, Result<Describe<Postgres>, Error>>
            where
                'c: 'e,
            {
                (&mut *self.$conn).describe(sql)
            }
        }
    };
}

traced_connection_executor!(TracedConnection, conn);
traced_connection_executor!(TracedTransaction, tx);

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Arc<Endpoint> {
        Arc::new(super::call::tests::endpoint_of("postgresql"))
    }

    /// A pool whose options name no database uses the one PostgreSQL opens for it: the
    /// user's.
    #[test]
    fn the_namespace_without_a_database_is_the_users() {
        let namespace = |url: &str| {
            let options = url.parse().unwrap();
            endpoint_of_options(&options)
                .namespace
                .map(|n| n.as_str().to_owned())
        };
        assert_eq!(
            namespace("postgres://scanner@127.0.0.1:5/wallets").as_deref(),
            Some("wallets")
        );
        if std::env::var_os("PGDATABASE").is_none() {
            assert_eq!(
                namespace("postgres://scanner@127.0.0.1:5").as_deref(),
                Some("scanner")
            );
        }
    }

    /// A Unix socket's `server.address` is the socket's path, port included, as sqlx
    /// connects to it: the directory alone (and no port) named two servers alike.
    #[test]
    fn a_unix_socket_is_named_by_its_path() {
        let endpoint = |url: &str| {
            let endpoint = endpoint_of_options(&url.parse().unwrap());
            (
                endpoint.address.map(|a| a.as_str().to_owned()),
                endpoint.port,
            )
        };
        assert_eq!(
            endpoint("postgres:///wallets?host=/run/pg&port=55432&user=u"),
            (Some("/run/pg/.s.PGSQL.55432".to_owned()), None)
        );
        let options = ::sqlx::postgres::PgConnectOptions::new()
            .socket("/tmp/pg/")
            .port(5433);
        let socket = endpoint_of_options(&options);
        assert_eq!(
            (socket.address.map(|a| a.as_str().to_owned()), socket.port),
            (Some("/tmp/pg/.s.PGSQL.5433".to_owned()), None)
        );
        assert_eq!(
            endpoint("postgres://u@db.internal:5433/wallets"),
            (Some("db.internal".to_owned()), Some(5433))
        );
    }

    /// A query on a pool that gives no connection (here: none can be opened, and the pool
    /// times out) still tells how long it waited: the starved pool the figure is kept for.
    /// So does one cancelled while it waits.
    #[test]
    fn a_pool_that_gives_no_connection_still_notes_the_wait() {
        let capture = crate::testing::capture();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let pool = ::sqlx::postgres::PgPoolOptions::new()
                .acquire_timeout(std::time::Duration::from_millis(200))
                .connect_lazy("postgres://u@127.0.0.1:1/wallets")
                .unwrap();
            let pool = TracedPool::new(pool);
            let failed = ::sqlx::query("SELECT 1 FROM starved").execute(&pool);
            assert!(failed.await.is_err());
            let cancelled = ::sqlx::query("SELECT 2 FROM cancelled").fetch_optional(&pool);
            let waited = tokio::time::timeout(std::time::Duration::from_millis(50), cancelled);
            assert!(waited.await.is_err());
            assert!(pool.begin().await.is_err());
        });
        for name in ["SELECT starved", "SELECT cancelled", "BEGIN"] {
            let query = capture.span(name);
            assert!(
                matches!(query.attr(POOL_WAIT_ATTRIBUTE), Some(opentelemetry::Value::F64(w)) if *w > 0.0),
                "{name}: {:?}",
                query.attributes
            );
        }
    }

    /// The conventions define `db.client.connection.wait_time` as a pool metric: the span's
    /// figure has a name of godtrace's own.
    #[test]
    fn the_pool_wait_is_a_godtrace_attribute() {
        let capture = crate::testing::capture();
        let call = start_named(&endpoint(), "pool_wait_test");
        note_wait(&call, Instant::now());
        finish(call, Ok(None));
        let span = capture.span("pool_wait_test");
        assert!(matches!(
            span.attr("godtrace.db.pool.wait_time"),
            Some(opentelemetry::Value::F64(wait)) if *wait >= 0.0
        ));
        assert!(span.attr("db.client.connection.wait_time").is_none());
    }

    /// Items handed out one by one, each at once; then the end, or (`wait`) nothing more
    /// yet, as a server still sending.
    struct Items(std::vec::IntoIter<Result<u8, Error>>, bool);

    impl Stream for Items {
        type Item = Result<u8, Error>;

        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            match self.0.next() {
                None if self.1 => std::task::Poll::Pending,
                next => std::task::Poll::Ready(next),
            }
        }
    }

    /// Reads `items` through [`relay`] in a call named `name`: what the caller got.
    fn relayed(name: &'static str, items: Vec<Result<u8, Error>>) -> Vec<Result<u8, Error>> {
        let call = start_named(&endpoint(), name);
        let mut stream = Generated::new(move |yielder| {
            relay(Items(items.into_iter(), false), call, yielder, |_| true)
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut got = Vec::new();
        while let std::task::Poll::Ready(Some(item)) =
            std::pin::Pin::new(&mut stream).poll_next(&mut cx)
        {
            got.push(item);
        }
        got
    }

    /// A caller that stops after a row it took is done; one cut short while it waits for
    /// more (a timeout around sqlx's `fetch_all`, which collects every row before the caller
    /// sees any) is a cancelled call. Both record the rows the caller got.
    #[test]
    fn a_drop_while_the_caller_waits_for_more_rows_is_a_cancellation() {
        let capture = crate::testing::capture();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        for (name, polls) in [("relay_stopped", 1), ("relay_cut_short", 2)] {
            let call = start_named(&endpoint(), name);
            let mut stream = Generated::new(move |yielder| {
                relay(Items(vec![Ok(1)].into_iter(), true), call, yielder, |_| {
                    true
                })
            });
            for _ in 0..polls {
                let _ = std::pin::Pin::new(&mut stream).poll_next(&mut cx);
            }
        }
        let stopped = capture.span("relay_stopped");
        assert!(!stopped.is_error());
        let cut = capture.span("relay_cut_short");
        assert_eq!(
            cut.attr("error.type"),
            Some(&opentelemetry::Value::from("cancelled")),
            "{cut:#?}"
        );
        // Either way the caller got the first row: the count says so.
        for span in [stopped, cut] {
            assert_eq!(
                span.attr("db.response.returned_rows"),
                Some(&opentelemetry::Value::I64(1)),
                "{span:#?}"
            );
        }
    }

    /// A server error as sqlx hands it over: its SQLSTATE and the constraint it names.
    #[derive(Debug)]
    struct ServerError {
        code: &'static str,
        constraint: Option<String>,
    }

    impl std::fmt::Display for ServerError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("server error")
        }
    }

    impl std::error::Error for ServerError {}

    impl ::sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.code.into())
        }
        fn constraint(&self) -> Option<&str> {
            self.constraint.as_deref()
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ::sqlx::error::ErrorKind {
            ::sqlx::error::ErrorKind::Other
        }
    }

    /// The status description of a server error with `code` naming `constraint`.
    fn described(code: &'static str, constraint: Option<&str>) -> String {
        let error = Error::Database(Box::new(ServerError {
            code,
            constraint: constraint.map(str::to_owned),
        }));
        failure(&error).description
    }

    /// An integrity violation names the constraint the server read from its catalog; any
    /// other error's constraint is whatever a function's `RAISE .. USING CONSTRAINT = expr`
    /// said (a bound value maybe), and a name PostgreSQL could not have made is none.
    #[test]
    fn only_an_integrity_violations_constraint_is_recorded() {
        for (code, constraint) in [
            ("23505", "wallets_pkey"),
            ("23503", "orders_wallet_id_fkey"),
            ("23514", "Positive$Amount_2"),
            ("23P01", "no_overlap"),
            ("23505", "prénom_key"),
        ] {
            assert_eq!(
                described(code, Some(constraint)),
                format!("SQLSTATE {code} (constraint {constraint})")
            );
        }
        for (code, constraint) in [
            ("P0001", "SECRET_alice@example.com"),
            ("P0001", "wallets_pkey"),
            ("22023", "wallets_pkey"),
            ("23505", "SECRET_alice@example.com"),
            ("23505", "SECRET with spaces"),
            ("23505", "1secret"),
            ("23505", "$secret"),
            ("23505", ""),
        ] {
            assert_eq!(
                described(code, Some(constraint)),
                format!("SQLSTATE {code}"),
                "{code} {constraint:?}"
            );
        }
        let long = "a".repeat(64);
        assert_eq!(described("23505", Some(&long)), "SQLSTATE 23505");
        let longest = "a".repeat(63);
        assert_eq!(
            described("23505", Some(&longest)),
            format!("SQLSTATE 23505 (constraint {longest})")
        );
        let huge = format!("SECRET{}", "z".repeat(1_000_000));
        assert_eq!(described("23505", Some(&huge)), "SQLSTATE 23505");
        assert_eq!(described("23505", None), "SQLSTATE 23505");
    }

    #[test]
    fn rows_delivered_before_an_error_are_counted() {
        let capture = crate::testing::capture();
        let got = relayed(
            "relay_rows_then_error",
            vec![Ok(1), Ok(2), Err(Error::PoolClosed)],
        );
        assert_eq!(got.len(), 3);
        let span = capture.span("relay_rows_then_error");
        assert!(span.is_error());
        assert_eq!(
            span.attr("db.response.returned_rows"),
            Some(&opentelemetry::Value::I64(2))
        );
        // An error before any row says nothing about rows.
        relayed("relay_error_first", vec![Err(Error::PoolClosed)]);
        let span = capture.span("relay_error_first");
        assert!(span.is_error());
        assert!(span.attr("db.response.returned_rows").is_none());
        relayed("relay_rows", vec![Ok(1)]);
        assert_eq!(
            capture.span("relay_rows").attr("db.response.returned_rows"),
            Some(&opentelemetry::Value::I64(1))
        );
    }
}
