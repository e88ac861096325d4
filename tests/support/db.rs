//! The database servers `scripts/test` starts (scripts/backends/postgres.sh and redis.sh):
//! their URLs, a Redis server of a test's own (to stop in the middle), and span helpers.
#![allow(dead_code)]

use godtrace::SpanKind;
use godtrace::otel::{KeyValue, Value};
use godtrace::testing::FinishedSpan;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The URL in `var`, or `None` (after printing why) when this run was not started by
/// `scripts/test`. Panics when `GODTRACE_REQUIRE_E2E=1` says the servers must be there.
fn server_url(var: &str, script: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("GODTRACE_REQUIRE_E2E").is_ok_and(|v| v == "1") => panic!(
            "GODTRACE_REQUIRE_E2E=1 but {var} is not set: scripts/backends/{script} did not start \
             the server"
        ),
        Err(_) => {
            eprintln!(
                "skipped: this test needs the server scripts/backends/{script} starts; run scripts/test"
            );
            None
        }
    }
}

/// The PostgreSQL database of `scripts/backends/postgres.sh`.
pub fn database_url() -> Option<String> {
    server_url("GODTRACE_TEST_DATABASE_URL", "postgres.sh")
}

/// The Redis server of `scripts/backends/redis.sh`.
pub fn redis_url() -> Option<String> {
    server_url("GODTRACE_TEST_REDIS_URL", "redis.sh")
}

/// Every database test's bound: a test that hangs fails instead.
const BOUND: Duration = Duration::from_secs(60);

/// Runs `future` on a runtime of its own, failing the test when it takes longer than
/// [`BOUND`].
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    super::two_worker_runtime().block_on(async {
        tokio::time::timeout(BOUND, future)
            .await
            .expect("the test finished within its bound")
    })
}

/// The port in a `scheme://[user@]host:PORT/...` URL.
pub fn port_of(url: &str) -> i64 {
    let after_host = url.rsplit_once(':').unwrap().1;
    after_host.split('/').next().unwrap().parse().unwrap()
}

/// Checks what every span of a database client call carries: a client span of `op`'s trace,
/// not failed, naming the database system, the namespace and the server at `url`.
pub fn assert_client_span(
    span: &FinishedSpan,
    op: &FinishedSpan,
    system: &str,
    namespace: &str,
    url: &str,
) {
    assert_eq!(span.kind, SpanKind::Client, "{}", span.name);
    assert_eq!(span.trace_id, op.trace_id);
    assert!(!span.is_error(), "{span:#?}");
    assert_eq!(string_attr(span, "db.system.name"), system);
    assert_eq!(string_attr(span, "db.namespace"), namespace);
    assert_eq!(string_attr(span, "server.address"), "127.0.0.1");
    assert_eq!(int_attr(span, "server.port"), port_of(url));
}

/// The attributes of the `db.client.operation.duration` point of `operation` on the server
/// at `url`, with `extra` ones (the collection, the error type) after them.
pub fn duration_attributes(
    system: &'static str,
    namespace: &'static str,
    operation: &'static str,
    url: &str,
    extra: impl IntoIterator<Item = KeyValue>,
) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("db.system.name", system),
        KeyValue::new("db.namespace", namespace),
        KeyValue::new("db.operation.name", operation),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", port_of(url)),
    ];
    attributes.extend(extra);
    attributes
}

/// A name no other test or run uses (for tables and keys).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A redis-server of the test's own on a free loopback port, without persistence; killed
/// when dropped (or earlier with [`OwnRedis::kill`]).
pub struct OwnRedis {
    child: Child,
    /// Its `redis://127.0.0.1:PORT/` URL.
    pub url: String,
}

impl OwnRedis {
    /// Starts it with the binary `scripts/backends/redis.sh` exported and waits until it
    /// accepts connections (10 s at most). A port taken between choosing and binding it makes
    /// the server exit: then it starts again on another port.
    pub fn start() -> OwnRedis {
        let binary =
            std::env::var("GODTRACE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        for _ in 0..3 {
            if let Some(server) = Self::start_on_a_free_port(&binary) {
                return server;
            }
        }
        panic!("{binary} exited three times before listening")
    }

    fn start_on_a_free_port(binary: &str) -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(binary)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        // Listening is checked while the child still runs, so that what answers is this server
        // and not whatever took the port.
        loop {
            if child.try_wait().unwrap().is_some() {
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{binary} did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        Some(OwnRedis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        })
    }

    /// Stops the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Attribute `key` of `span` as a string (panics, naming the span, when absent or not one).
pub fn string_attr(span: &FinishedSpan, key: &str) -> String {
    match span.attr(key) {
        Some(Value::String(s)) => s.as_str().to_owned(),
        other => panic!(
            "{key} of span {:?} is {other:?}: {:#?}",
            span.name, span.attributes
        ),
    }
}

/// Attribute `key` of `span` as an integer.
pub fn int_attr(span: &FinishedSpan, key: &str) -> i64 {
    match span.attr(key) {
        Some(Value::I64(i)) => *i,
        other => panic!(
            "{key} of span {:?} is {other:?}: {:#?}",
            span.name, span.attributes
        ),
    }
}

/// Every attribute value of `span` as text, for "this secret is nowhere" checks.
pub fn all_text(span: &FinishedSpan) -> String {
    let mut text = format!("{} {:?}", span.name, span.status);
    for (key, value) in &span.attributes {
        text.push_str(&format!(" {key}={value}"));
    }
    for event in &span.events {
        text.push_str(&format!(" {}: {:?}", event.name, event.attributes));
    }
    text
}
