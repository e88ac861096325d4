//! `#[tokio::main(flavor = "current_thread")]`: the shape where the plain opentelemetry-otlp
//! gRPC exporter deadlocks on shutdown. Dropping the guard inside async main delivers every
//! span. Runs as its own `main` (harness = false).
use crate::support::otlp as otlp_support;
use otlp_support::deliver;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
pub async fn main() {
    deliver::watchdog(Duration::from_secs(120));
    let (receiver, guard) = deliver::start(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
    for i in 0..200 {
        deliver::work_async(i).await;
    }
    // Flush first (also from async code), then more work, then shutdown.
    guard.flush();
    let flushed = receiver.sink.span_count();
    assert_eq!(flushed, 200 * deliver::SPANS_PER_CALL, "flush delivered");
    for i in 0..100 {
        deliver::work_async(i).await;
    }
    drop(guard);
    deliver::check(
        &receiver,
        300 * deliver::SPANS_PER_CALL,
        "#[tokio::main] current_thread",
    );
}
