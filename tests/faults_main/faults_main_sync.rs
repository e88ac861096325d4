//! A plain synchronous `main`, no async runtime anywhere in the application: `init` (gRPC,
//! whose transport needs a runtime) must not panic, and dropping the guard delivers every span.
//! Runs as its own `main` (harness = false).
use crate::support::otlp as otlp_support;
use otlp_support::deliver;
use std::time::Duration;

pub fn main() {
    deliver::watchdog(Duration::from_secs(120));
    let (receiver, guard) = deliver::start(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
    for i in 0..500 {
        deliver::work_sync(i);
    }
    drop(guard);
    deliver::check(
        &receiver,
        500 * deliver::SPANS_PER_CALL,
        "plain main (gRPC)",
    );
}
