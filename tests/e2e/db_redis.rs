//! Redis through `godtrace::db::redis` against the server `scripts/test` starts
//! (scripts/backends/redis.sh; skipped without it unless `GODTRACE_REQUIRE_E2E=1`): each
//! command is a client span under the traced operation, a pipeline one span, and no argument
//! is ever recorded.
use crate::support::db::{
    self, OwnRedis, all_text, assert_client_span, duration_attributes, int_attr, run, string_attr,
    unique,
};
use godtrace::db::redis::TracedConnection;
use godtrace::testing::{self, FinishedSpan};
use godtrace::traced;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisResult, cmd, pipe};
use std::time::Duration;

async fn manager(client: &Client) -> TracedConnection<ConnectionManager> {
    let conn = client.get_connection_manager().await.expect("connect");
    TracedConnection::new(conn, client.get_connection_info())
}

/// What `cache_profile` read back: the GET, the pipeline's replies, the transaction's.
type Replies = (Option<String>, (String, i64), Vec<i64>);

#[traced(operation = "e2e::db_redis::cache_profile")]
async fn cache_profile(
    conn: &mut TracedConnection<ConnectionManager>,
    key: &str,
) -> RedisResult<Replies> {
    cmd("SET")
        .arg(key)
        .arg("profile-secret")
        .arg("EX")
        .arg(60)
        .query_async::<()>(conn)
        .await?;
    let cached: Option<String> = cmd("GET").arg(key).query_async(conn).await?;
    let counter = format!("{key}:count");
    let piped: (String, i64) = pipe()
        .get(key)
        .incr(&counter, 5)
        .expire(&counter, 60)
        .ignore()
        .query_async(conn)
        .await?;
    let counts: Vec<i64> = pipe()
        .atomic()
        .incr(&counter, 1)
        .incr(&counter, 1)
        .query_async(conn)
        .await?;
    Ok((cached, piped, counts))
}

#[test]
fn commands_and_pipelines_are_client_spans_without_keys_or_values() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let key = unique("wallet-secret-key");
    let (cached, piped, counts) = run(async {
        let client = Client::open(url.as_str()).unwrap();
        let mut conn = manager(&client).await;
        cache_profile(&mut conn, &key)
            .await
            .expect("the commands succeed")
    });
    // What the commands return is untouched.
    assert_eq!(cached.as_deref(), Some("profile-secret"));
    assert_eq!(piped, ("profile-secret".to_owned(), 5));
    assert_eq!(counts, [6, 7]);

    let op = c.span("e2e::db_redis::cache_profile");
    let children = c.children(&op);
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    // A batch whose commands share one operation is named after it (`MULTI INCRBY` for a
    // transaction), as Redis's conventions name batches.
    assert_eq!(
        names,
        ["SET", "GET", "PIPELINE", "MULTI INCRBY"],
        "{children:#?}"
    );
    for span in &children {
        assert_client_span(span, &op, "redis", "0", &url);
        let text = all_text(span);
        assert!(!text.contains("secret"), "a key or value recorded: {text}");
    }
    assert_eq!(string_attr(&children[0], "db.operation.name"), "SET");
    assert_eq!(string_attr(&children[0], "db.query.text"), "SET ? ? ? ?");
    assert_eq!(string_attr(&children[1], "db.query.text"), "GET ?");
    let pipeline = &children[2];
    assert_eq!(int_attr(pipeline, "db.operation.batch.size"), 3);
    assert_eq!(
        string_attr(pipeline, "db.query.text"),
        "GET ?; INCRBY ? ?; EXPIRE ? ?"
    );
    let multi = &children[3];
    assert_eq!(string_attr(multi, "db.operation.name"), "MULTI INCRBY");
    assert_eq!(int_attr(multi, "db.operation.batch.size"), 2);

    let snapshot = godtrace::metrics::metrics_snapshot();
    let get = snapshot.histogram(
        "db.client.operation.duration",
        &duration_attributes("redis", "0", "GET", &url, []),
    );
    assert!(get.is_some_and(|p| p.count >= 1), "{snapshot:#?}");
}

#[traced(operation = "e2e::db_redis::wrong_type")]
async fn wrong_type(
    conn: &mut TracedConnection<MultiplexedConnection>,
    key: &str,
) -> redis::RedisError {
    cmd("SET")
        .arg(key)
        .arg("a-string")
        .query_async::<()>(conn)
        .await
        .unwrap();
    cmd("LPUSH")
        .arg(key)
        .arg("pushed-secret")
        .query_async::<i64>(conn)
        .await
        .unwrap_err()
}

#[traced(operation = "e2e::db_redis::script_error")]
async fn script_error(conn: &mut TracedConnection<MultiplexedConnection>) -> redis::RedisError {
    cmd("EVAL")
        .arg("return redis.error_reply('tok_s3cr3t is not allowed')")
        .arg(0)
        .query_async::<()>(conn)
        .await
        .unwrap_err()
}

async fn multiplexed(
    url: &str,
    config: &AsyncConnectionConfig,
) -> TracedConnection<MultiplexedConnection> {
    let client = Client::open(url).unwrap();
    let conn = client
        .get_multiplexed_async_connection_with_config(config)
        .await
        .expect("connect");
    TracedConnection::new(conn, client.get_connection_info())
}

#[test]
fn a_server_error_records_its_code_and_not_its_message() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let key = unique("typed");
    let error = run(async {
        let mut conn = multiplexed(&url, &AsyncConnectionConfig::new()).await;
        wrong_type(&mut conn, &key).await
    });
    assert_eq!(error.code(), Some("WRONGTYPE"));
    let children = c.children(&c.span("e2e::db_redis::wrong_type"));
    let lpush = &children[1];
    assert_eq!(lpush.name, "LPUSH");
    assert!(lpush.is_error());
    assert_eq!(string_attr(lpush, "error.type"), "WRONGTYPE");
    assert_eq!(string_attr(lpush, "db.response.status_code"), "WRONGTYPE");
    assert!(!all_text(lpush).contains("pushed-secret"));
}

/// A script's error reply is not a Redis code: its first word (which the client takes for
/// one) is data, never recorded.
#[test]
fn a_scripts_error_reply_is_recorded_as_other() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let error = run(async {
        let mut conn = multiplexed(&url, &AsyncConnectionConfig::new()).await;
        script_error(&mut conn).await
    });
    assert_eq!(error.code(), Some("tok_s3cr3t"));
    let eval = &c.children(&c.span("e2e::db_redis::script_error"))[0];
    assert!(eval.is_error());
    assert_eq!(string_attr(eval, "error.type"), "_OTHER");
    assert_eq!(string_attr(eval, "db.response.status_code"), "_OTHER");
    assert!(!all_text(eval).contains("s3cr3t"), "{eval:?}");
}

#[traced(operation = "e2e::db_redis::blocked")]
async fn blocked(
    conn: &mut TracedConnection<MultiplexedConnection>,
    key: &str,
) -> redis::RedisError {
    // BLPOP waits 5 s on an empty list; the connection gives up after 200 ms.
    cmd("BLPOP")
        .arg(key)
        .arg(5)
        .query_async::<Option<(String, String)>>(conn)
        .await
        .unwrap_err()
}

#[test]
fn a_response_timeout_is_recorded_as_a_timeout() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let key = unique("empty");
    let error = run(async {
        let config =
            AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_millis(200)));
        let mut conn = multiplexed(&url, &config).await;
        blocked(&mut conn, &key).await
    });
    assert!(error.is_timeout(), "{error:?}");
    let span = c.span("BLPOP");
    assert!(span.is_error());
    assert_eq!(string_attr(&span, "error.type"), "timeout");
    assert!(
        span.duration < Duration::from_secs(5),
        "{:?}",
        span.duration
    );
}

#[traced(operation = "e2e::db_redis::server_gone")]
async fn server_gone(
    conn: &mut TracedConnection<MultiplexedConnection>,
    server: &mut OwnRedis,
) -> redis::RedisError {
    cmd("SET")
        .arg("k")
        .arg("v")
        .query_async::<()>(conn)
        .await
        .unwrap();
    server.kill();
    cmd("GET")
        .arg("k")
        .query_async::<Option<String>>(conn)
        .await
        .expect_err("the server is gone")
}

#[test]
fn a_server_stopped_in_the_middle_fails_the_next_command_without_hanging() {
    if db::redis_url().is_none() {
        return;
    }
    let c = testing::capture();
    let mut server = OwnRedis::start();
    // The bound on waiting: whether the redis crate notices the closed socket before the next
    // command or only through this timeout is its business (it depends on when its driver task
    // reads the end of the stream); what the span says must match what the caller got.
    let error = run(async {
        let config =
            AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(2)));
        let mut conn = multiplexed(&server.url, &config).await;
        server_gone(&mut conn, &mut server).await
    });
    let children: Vec<FinishedSpan> = c.children(&c.span("e2e::db_redis::server_gone"));
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["SET", "GET"]);
    assert!(!children[0].is_error());
    let get = &children[1];
    assert!(get.is_error(), "{get:#?}");
    let error_type = string_attr(get, "error.type");
    if error.is_timeout() {
        assert_eq!(error_type, "timeout", "{error:?}");
        assert!(get.duration < Duration::from_secs(5), "{:?}", get.duration);
    } else {
        assert!(
            matches!(error_type.as_str(), "io" | "connection_dropped"),
            "{error_type} for {error:?}"
        );
    }
}

#[traced(operation = "e2e::db_redis::failed_transaction")]
async fn failed_transaction(
    conn: &mut TracedConnection<MultiplexedConnection>,
    key: &str,
) -> redis::RedisError {
    // LPUSH on a string fails at EXEC, inside the transaction's one reply.
    pipe()
        .atomic()
        .set(key, "a-string")
        .lpush(key, "pushed-secret")
        .query_async::<()>(conn)
        .await
        .unwrap_err()
}

#[test]
fn a_transaction_that_fails_inside_exec_is_a_failed_span() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let key = unique("transaction");
    // The caller gets an error (whatever the redis crate makes of EXEC's array).
    run(async {
        let mut conn = multiplexed(&url, &AsyncConnectionConfig::new()).await;
        failed_transaction(&mut conn, &key).await
    });
    let children = c.children(&c.span("e2e::db_redis::failed_transaction"));
    let multi = &children[0];
    assert_eq!(multi.name, "MULTI");
    assert!(multi.is_error(), "{multi:#?}");
    assert_eq!(string_attr(multi, "error.type"), "WRONGTYPE");
    assert!(!all_text(multi).contains("pushed-secret"));
}

#[traced(operation = "e2e::db_redis::empty_pipelines")]
async fn empty_pipelines(
    conn: &mut TracedConnection<MultiplexedConnection>,
) -> (RedisResult<()>, RedisResult<()>) {
    let empty = pipe().query_async::<()>(conn).await;
    let empty_transaction = pipe().atomic().query_async::<()>(conn).await;
    (empty, empty_transaction)
}

/// An empty pipeline sends nothing: no span (it was a failed `PIPELINE` with an empty
/// text). An empty transaction is `MULTI` and `EXEC` on the wire: a span, without a text.
#[test]
fn an_empty_pipeline_is_no_span_and_an_empty_transaction_no_text() {
    let Some(url) = db::redis_url() else {
        return;
    };
    let c = testing::capture();
    let (_, empty_transaction) = run(async {
        let mut conn = multiplexed(&url, &AsyncConnectionConfig::new()).await;
        empty_pipelines(&mut conn).await
    });
    empty_transaction.expect("an empty transaction succeeds");
    let op = c.span("e2e::db_redis::empty_pipelines");
    let children = c.children(&op);
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["MULTI"], "{children:#?}");
    assert!(!children[0].is_error());
    assert!(children[0].attr("db.query.text").is_none());
}
