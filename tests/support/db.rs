//! The database servers `scripts/test` starts (scripts/backends/postgres.sh and redis.sh):
//! their URLs, a Redis server of a test's own (to stop in the middle), and span helpers.
#![allow(dead_code)]

use godtrace::otel::Value;
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
    /// accepts connections (10 s at most).
    pub fn start() -> OwnRedis {
        let binary =
            std::env::var("GODTRACE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&binary)
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
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{binary} did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        }
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
