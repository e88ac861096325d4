//! Before `init`, a traced call costs no allocation (and so records nothing).
use godtrace::traced;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::support::alloc as alloc_support;
use alloc_support::allocations;

#[traced(include_args, include_result)]
fn sync_op(a: u64, label: &str) -> Result<u64, String> {
    Ok(a + label.len() as u64)
}

#[traced(include_args)]
async fn async_op(a: u64) -> u64 {
    a * 2
}

#[test]
fn traced_calls_before_init_allocate_nothing() {
    crate::support::own_process!();
    let mut cx = Context::from_waker(Waker::noop());
    // Warm up anything lazily initialised by the test harness itself.
    let _ = sync_op(1, "x");
    let before = allocations();
    let mut total = 0;
    for i in 0..1000 {
        total += sync_op(i, "wallet").unwrap();
        let mut fut = pin!(async_op(i));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => total += v,
            Poll::Pending => unreachable!("async_op never waits"),
        }
    }
    let after = allocations();
    assert!(total > 0);
    assert_eq!(after - before, 0, "allocations before init");
    assert!(!godtrace::is_enabled());
}

/// The test capture without `init` keeps every root, whatever the environment says: the
/// spans of other OpenTelemetry code too (the SDK's builder read `OTEL_TRACES_SAMPLER`).
#[test]
fn the_capture_keeps_library_spans_whatever_the_environment_says() {
    crate::support::own_process!();
    // SAFETY: this process is this test's alone (`own_process!`), and no other thread reads
    // the environment yet.
    unsafe { std::env::set_var("OTEL_TRACES_SAMPLER", "always_off") };
    let c = godtrace::testing::capture();
    use godtrace::otel::trace::Tracer as _;
    godtrace::otel::global::tracer("library").in_span("library.op", |_| ());
    assert_eq!(c.spans_named("library.op").len(), 1, "{:#?}", c.spans());
}
