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
