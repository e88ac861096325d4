//! `#[tokio::main]` (multi-thread): init, async work across threads, and the guard dropped
//! inside async code deliver every span. Runs as its own `main` (harness = false).
use crate::support::otlp as otlp_support;
use otlp_support::deliver;
use std::time::Duration;

#[tokio::main]
pub async fn main() {
    deliver::watchdog(Duration::from_secs(120));
    let (receiver, guard) = deliver::start(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
    let tasks: Vec<_> = (0..200)
        .map(|i| tokio::spawn(deliver::work_async(i)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    drop(guard);
    deliver::check(
        &receiver,
        200 * deliver::SPANS_PER_CALL,
        "#[tokio::main] multi-thread",
    );
}
