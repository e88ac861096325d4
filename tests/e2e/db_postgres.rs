//! PostgreSQL through `godtrace::db::sqlx` against the server `scripts/test` starts
//! (scripts/backends/postgres.sh; skipped without it unless `GODTRACE_REQUIRE_E2E=1`): each
//! query is a client span under the traced operation that ran it, with the statement's
//! literals as `?`, and failures carry their SQLSTATE.
use crate::support::db::{
    self, all_text, assert_client_span, duration_attributes, int_attr, run, string_attr, unique,
};
use godtrace::db::sqlx::TracedPool;
use godtrace::otel::KeyValue;
use godtrace::testing::{self, FinishedSpan};
use godtrace::traced;
use sqlx::Row;
use std::time::Duration;

async fn connect(url: &str) -> TracedPool {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    TracedPool::new(pool)
}

#[traced(operation = "e2e::db_postgres::store_scan")]
async fn store_scan(pool: &TracedPool, table: &str) -> Result<(Vec<String>, String), sqlx::Error> {
    let create =
        format!("CREATE TABLE {table} (id bigint PRIMARY KEY, wallet text NOT NULL, note text)");
    sqlx::query(&create).execute(pool).await?;
    let insert =
        format!("INSERT INTO {table} (id, wallet, note) VALUES ($1, $2, 'literal-secret')");
    sqlx::query(&insert)
        .bind(1_i64)
        .bind("bound-secret-wallet")
        .execute(pool)
        .await?;
    let insert_literals = format!("INSERT INTO {table} (id, wallet) VALUES (2, 'inline-wallet')");
    sqlx::query(&insert_literals).execute(pool).await?;
    let select = format!("SELECT wallet FROM {table} WHERE id > $1 ORDER BY id");
    let rows = sqlx::query(&select).bind(0_i64).fetch_all(pool).await?;
    let select_one = format!("SELECT note FROM {table} WHERE id = 1");
    let note: String = sqlx::query(&select_one).fetch_one(pool).await?.get(0);
    let mut tx = pool.begin().await?;
    let update = format!("UPDATE {table} SET note = $1 WHERE id = 2");
    sqlx::query(&update)
        .bind("tx-secret")
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((rows.iter().map(|r| r.get(0)).collect(), note))
}

/// The duration point's attributes for `operation` on `table`, failed with SQLSTATE `error` if
/// any (its `error.type` and, as the database metric conventions require of a failed operation
/// with a status code, its `db.response.status_code`).
fn postgres_duration_attributes(
    operation: &'static str,
    table: &str,
    url: &str,
    error: Option<&'static str>,
) -> Vec<KeyValue> {
    let collection = KeyValue::new("db.collection.name", table.to_owned());
    // Recommended on the metric by the conventions, as on the span.
    let summary = KeyValue::new("db.query.summary", format!("{operation} {table}"));
    let error = error.into_iter().flat_map(|e| {
        [
            KeyValue::new("error.type", e),
            KeyValue::new("db.response.status_code", e),
        ]
    });
    duration_attributes(
        "postgresql",
        "godtrace_test",
        operation,
        url,
        [collection, summary].into_iter().chain(error),
    )
}

fn assert_no_value(spans: &[FinishedSpan], values: &[&str]) {
    for span in spans {
        let text = all_text(span);
        for value in values {
            assert!(
                !text.contains(value),
                "{value:?} recorded on {}: {text}",
                span.name
            );
        }
    }
}

#[test]
fn queries_are_client_spans_under_the_traced_operation_without_their_values() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let table = unique("scans");
    let (wallets, note) = run(async {
        let pool = connect(&url).await;
        store_scan(&pool, &table)
            .await
            .expect("the queries succeed")
    });
    // What the queries return is untouched.
    assert_eq!(wallets, ["bound-secret-wallet", "inline-wallet"]);
    assert_eq!(note, "literal-secret");

    let op = c.span("e2e::db_postgres::store_scan");
    let children = c.children(&op);
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    let on = |op: &str| format!("{op} {table}");
    assert_eq!(
        names,
        [
            format!("CREATE TABLE {table}"),
            on("INSERT"),
            on("INSERT"),
            on("SELECT"),
            on("SELECT"),
            "BEGIN".to_owned(),
            on("UPDATE"),
            "COMMIT".to_owned()
        ],
        "{children:#?}"
    );
    for span in &children {
        assert_client_span(span, &op, "postgresql", "godtrace_test", &url);
    }
    // A transaction's commands have their summary too: the command itself.
    assert_eq!(string_attr(&children[5], "db.query.summary"), "BEGIN");
    assert_eq!(string_attr(&children[7], "db.query.summary"), "COMMIT");
    let select = &children[3];
    assert_eq!(string_attr(select, "db.operation.name"), "SELECT");
    assert_eq!(string_attr(select, "db.collection.name"), table);
    // The query conventions' summary of a parsed statement: also the span's name.
    assert_eq!(
        string_attr(select, "db.query.summary"),
        format!("SELECT {table}")
    );
    assert_eq!(select.name, format!("SELECT {table}"));
    assert_eq!(
        string_attr(select, "db.query.text"),
        format!("SELECT wallet FROM {table} WHERE id > $1 ORDER BY id")
    );
    assert_eq!(int_attr(select, "db.response.returned_rows"), 2);
    // Not the conventions' name: theirs is a metric of the pool (README, "Databases").
    assert!(matches!(
        select.attr("godtrace.db.pool.wait_time"),
        Some(godtrace::otel::Value::F64(wait)) if *wait >= 0.0
    ));
    assert!(select.attr("db.client.connection.wait_time").is_none());
    assert_eq!(int_attr(&children[4], "db.response.returned_rows"), 1);
    assert_eq!(
        string_attr(&children[1], "db.query.text"),
        format!("INSERT INTO {table} (id, wallet, note) VALUES ($1, $2, ?)")
    );
    assert_eq!(
        string_attr(&children[2], "db.query.text"),
        format!("INSERT INTO {table} (id, wallet) VALUES (?, ?)")
    );
    assert_no_value(
        &children,
        &[
            "literal-secret",
            "bound-secret-wallet",
            "inline-wallet",
            "tx-secret",
        ],
    );

    // The duration histogram, with the conventions' buckets and attributes.
    let snapshot = godtrace::metrics::metrics_snapshot();
    let attributes = postgres_duration_attributes("SELECT", &table, &url, None);
    let point = snapshot
        .histogram("db.client.operation.duration", &attributes)
        .unwrap_or_else(|| panic!("no point with {attributes:?}: {snapshot:#?}"));
    assert_eq!(point.count, 2);
    assert_eq!(
        point.bounds,
        [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]
    );
}

#[traced(operation = "e2e::db_postgres::bad_queries")]
async fn bad_queries(pool: &TracedPool, table: &str) -> (sqlx::Error, sqlx::Error) {
    let syntax = sqlx::query("SELEC 'syntax-secret'")
        .execute(pool)
        .await
        .unwrap_err();
    let create = format!("CREATE TABLE {table} (wallet text PRIMARY KEY)");
    sqlx::query(&create).execute(pool).await.unwrap();
    let insert = format!("INSERT INTO {table} (wallet) VALUES ($1)");
    for _ in 0..2 {
        if let Err(duplicate) = sqlx::query(&insert).bind("dup-secret").execute(pool).await {
            return (syntax, duplicate);
        }
    }
    panic!("the second insert of the same key succeeded");
}

fn sqlstate(error: &sqlx::Error) -> String {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_else(|| panic!("not a database error: {error:?}"))
        .into_owned()
}

#[test]
fn a_syntax_error_and_a_constraint_violation_record_their_sqlstate() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let table = unique("dups");
    let (syntax, duplicate) = run(async {
        let pool = connect(&url).await;
        bad_queries(&pool, &table).await
    });
    // The caller gets the driver's own errors.
    assert_eq!(sqlstate(&syntax), "42601");
    assert_eq!(sqlstate(&duplicate), "23505");

    let children = c.children(&c.span("e2e::db_postgres::bad_queries"));
    let failed: Vec<&FinishedSpan> = children.iter().filter(|s| s.is_error()).collect();
    assert_eq!(failed.len(), 2, "{children:#?}");
    let (syntax_span, duplicate_span) = (failed[0], failed[1]);
    assert_eq!(syntax_span.name, "SELEC");
    assert_eq!(string_attr(syntax_span, "db.response.status_code"), "42601");
    assert_eq!(string_attr(syntax_span, "error.type"), "42601");
    assert_eq!(syntax_span.error_message(), Some("SQLSTATE 42601"));
    assert_eq!(string_attr(syntax_span, "db.query.text"), "SELEC ?");
    assert_eq!(duplicate_span.name, format!("INSERT {table}"));
    assert_eq!(
        string_attr(duplicate_span, "db.response.status_code"),
        "23505"
    );
    assert_eq!(string_attr(duplicate_span, "error.type"), "23505");
    assert_eq!(
        duplicate_span.error_message().map(str::to_owned),
        Some(format!("SQLSTATE 23505 (constraint {table}_pkey)"))
    );
    assert_no_value(&children, &["syntax-secret", "dup-secret"]);

    let snapshot = godtrace::metrics::metrics_snapshot();
    let duplicate_point = snapshot
        .histogram(
            "db.client.operation.duration",
            &postgres_duration_attributes("INSERT", &table, &url, Some("23505")),
        )
        .expect("a point for the failed insert");
    assert_eq!(duplicate_point.count, 1);
}

#[traced(operation = "e2e::db_postgres::slow_queries")]
async fn slow_queries(pool: &TracedPool) -> (sqlx::Error, bool) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL statement_timeout = 100")
        .execute(&mut tx)
        .await
        .unwrap();
    let server_timeout = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut tx)
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    // The caller gives up first: the query's future is dropped mid-flight.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query("SELECT pg_sleep(2)").fetch_all(pool),
    )
    .await
    .is_err();
    (server_timeout, gave_up)
}

#[test]
fn a_statement_timeout_and_a_call_given_up_are_recorded_as_failures() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let (server_timeout, gave_up) = run(async {
        let pool = connect(&url).await;
        slow_queries(&pool).await
    });
    assert_eq!(sqlstate(&server_timeout), "57014"); // query_canceled
    assert!(gave_up);

    let children = c.children(&c.span("e2e::db_postgres::slow_queries"));
    let sleeps: Vec<&FinishedSpan> = children.iter().filter(|s| s.name == "SELECT").collect();
    assert_eq!(sleeps.len(), 2, "{children:#?}");
    assert_eq!(string_attr(sleeps[0], "error.type"), "57014");
    assert_eq!(string_attr(sleeps[1], "error.type"), "cancelled");
    assert!(sleeps[1].is_error());
    assert!(
        sleeps[1].duration < Duration::from_secs(2),
        "{:?}",
        sleeps[1].duration
    );
    let rollback = children
        .iter()
        .find(|s| s.name == "ROLLBACK")
        .expect("a ROLLBACK span");
    assert!(!rollback.is_error());
}

#[traced(operation = "e2e::db_postgres::connection_lost")]
async fn connection_lost(pool: &TracedPool) -> sqlx::Error {
    let mut conn = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(terminated);
    sqlx::query("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect_err("the server closed this connection")
}

/// The server ends the session under a held connection (what a server shutdown does to each
/// of its clients): the next query fails at once and its span says why.
#[test]
fn a_connection_the_server_terminated_fails_its_next_query_without_hanging() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let error = run(async {
        let pool = connect(&url).await;
        connection_lost(&pool).await
    });
    let children = c.children(&c.span("e2e::db_postgres::connection_lost"));
    let last = children.last().expect("spans");
    assert_eq!(last.name, "SELECT");
    assert!(last.is_error(), "{last:#?}");
    let expected = match error.as_database_error() {
        Some(db) => db.code().unwrap().into_owned(), // 57P01 admin_shutdown
        None => "Io".to_owned(),
    };
    assert!(matches!(expected.as_str(), "57P01" | "Io"), "{error:?}");
    assert_eq!(string_attr(last, "error.type"), expected);
}

#[traced(operation = "e2e::db_postgres::pool_exhausted")]
async fn pool_exhausted(pool: &TracedPool) -> sqlx::Error {
    let _held = pool.acquire().await.unwrap(); // the pool's only connection
    sqlx::query("SELECT 1").fetch_all(pool).await.unwrap_err()
}

/// Waiting for a pooled connection is part of the query's span, and a wait that times out
/// fails it as such.
#[test]
fn a_pool_wait_that_times_out_fails_the_query_span() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let error = run(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(200))
            .connect(&url)
            .await
            .unwrap();
        pool_exhausted(&TracedPool::new(pool)).await
    });
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error:?}");
    let select = c.span("SELECT");
    assert!(select.is_error());
    assert_eq!(string_attr(&select, "error.type"), "PoolTimedOut");
    assert!(
        select.duration >= Duration::from_millis(200),
        "{:?}",
        select.duration
    );
}

#[traced(operation = "e2e::db_postgres::summaries")]
async fn summaries(pool: &TracedPool, table: &str) -> sqlx::Error {
    let create = format!("CREATE TABLE {table} (id bigint)");
    sqlx::query(&create).execute(pool).await.unwrap();
    let copy = format!("INSERT INTO {table} SELECT g FROM generate_series(1, 3) g");
    sqlx::query(&copy).execute(pool).await.unwrap();
    // Rows 1 and 2 reach the caller, then 1/0 fails the statement.
    // No ORDER BY: a sort would compute every row before sending any.
    let failing = format!("SELECT 1 / (3 - id) FROM {table}");
    sqlx::query(&failing).fetch_all(pool).await.unwrap_err()
}

/// The conventions' query summary names every operation and table; with several,
/// `db.operation.name` and `db.collection.name` are left out. A statement that fails after
/// delivering rows records them.
#[test]
fn a_summary_names_every_operation_and_rows_before_a_failure_are_counted() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let table = unique("summaries");
    let error = run(async { summaries(&connect(&url).await, &table).await });
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("22012")
    );
    let children = c.children(&c.span("e2e::db_postgres::summaries"));
    let insert = &children[1];
    assert_eq!(insert.name, format!("INSERT {table} SELECT"));
    assert_eq!(
        string_attr(insert, "db.query.summary"),
        format!("INSERT {table} SELECT")
    );
    assert!(insert.attr("db.operation.name").is_none());
    assert!(insert.attr("db.collection.name").is_none());
    let failed = &children[2];
    assert!(failed.is_error());
    assert_eq!(string_attr(failed, "db.operation.name"), "SELECT");
    assert_eq!(int_attr(failed, "db.response.returned_rows"), 2);
}

#[traced(operation = "e2e::db_postgres::streams_read_later")]
async fn streams_read_later(pool: &TracedPool) -> i64 {
    use tokio_stream::StreamExt as _;
    let mut rows = sqlx::query("SELECT 41 + 1 AS read_later").fetch(pool);
    // Never read: sqlx sends nothing for it.
    drop(sqlx::query("SELECT 2 AS never_read").fetch(pool));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = rows.next().await.unwrap().unwrap();
    while rows.next().await.is_some() {}
    row.get::<i32, _>(0).into()
}

/// A row stream is the query's call from its first read, under the span it was made in: one
/// read 1.5 s after it was made is not 1.5 s long, and one dropped unread records nothing (it
/// was a failed, cancelled query that never ran).
#[test]
fn a_row_stream_is_timed_from_its_first_read_and_one_never_read_records_nothing() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let answer = run(async { streams_read_later(&connect(&url).await).await });
    assert_eq!(answer, 42);
    let operation = c.span("e2e::db_postgres::streams_read_later");
    let selects: Vec<FinishedSpan> = c
        .spans()
        .into_iter()
        .filter(|s| s.name == "SELECT")
        .collect();
    assert_eq!(selects.len(), 1, "{selects:#?}");
    let select = &selects[0];
    assert!(!select.is_error(), "{select:#?}");
    assert_eq!(select.parent_span_id, Some(operation.span_id));
    assert!(
        select.duration < Duration::from_millis(1500),
        "{:?}",
        select.duration
    );
}

#[traced(operation = "e2e::db_postgres::procedures")]
async fn procedures(pool: &TracedPool, table: &str, procedure: &str) {
    let create = format!("CREATE TABLE {table} (id bigint)");
    sqlx::query(&create).execute(pool).await.unwrap();
    let define = format!(
        "CREATE PROCEDURE {procedure}(n bigint) LANGUAGE sql AS $$ INSERT INTO {table} VALUES (n) $$"
    );
    sqlx::query(&define).execute(pool).await.unwrap();
    let call = format!("CALL {procedure}($1)");
    sqlx::query(&call).bind(7_i64).execute(pool).await.unwrap();
}

/// A stored procedure is its call's target: in the summary (the span's name, and the
/// histogram's series) and as `db.stored_procedure.name`, not a table.
#[test]
fn a_called_procedure_names_its_span_and_its_attribute() {
    let Some(url) = db::database_url() else {
        return;
    };
    let c = testing::capture();
    let (table, procedure) = (unique("called"), unique("touch"));
    run(async { procedures(&connect(&url).await, &table, &procedure).await });
    let children = c.children(&c.span("e2e::db_postgres::procedures"));
    let (define, call) = (&children[1], &children[2]);
    assert_eq!(define.name, format!("CREATE PROCEDURE {procedure}"));
    assert_eq!(call.name, format!("CALL {procedure}"));
    assert!(!call.is_error(), "{call:#?}");
    assert_eq!(string_attr(call, "db.operation.name"), "CALL");
    assert_eq!(string_attr(call, "db.stored_procedure.name"), procedure);
    assert!(call.attr("db.collection.name").is_none());
    // On the duration point too, as the conventions recommend.
    let attributes = duration_attributes(
        "postgresql",
        "godtrace_test",
        "CALL",
        &url,
        [
            KeyValue::new("db.stored_procedure.name", procedure.clone()),
            KeyValue::new("db.query.summary", format!("CALL {procedure}")),
        ],
    );
    let snapshot = godtrace::metrics::metrics_snapshot();
    assert!(
        snapshot
            .histogram("db.client.operation.duration", &attributes)
            .is_some_and(|p| p.count == 1),
        "{:#?}",
        snapshot.metric("db.client.operation.duration")
    );
}
