//! Graceful shutdown with several thousand spans recorded: every one arrives in the real
//! backend, counted there (over gRPC; one `init` per process).
use crate::support::e2e as e2e_support;
use godtrace::{Protocol, traced};
use std::time::Duration;

const CALLS: usize = 1500;

#[traced(operation = "bulk.child")]
fn child(i: usize) -> usize {
    i * 3
}

#[traced(operation = "bulk.root")]
fn root(i: usize) -> usize {
    godtrace::set_attribute("bulk.i", i as i64);
    child(i)
}

#[test]
fn every_span_recorded_before_shutdown_arrives_in_the_backend() {
    crate::support::own_process!();
    let Some(phoenix) = e2e_support::phoenix() else {
        return;
    };
    let project = e2e_support::unique_project("shutdown");
    let guard = godtrace::init(
        phoenix
            .config("godtrace-e2e-shutdown", Protocol::Grpc, &project)
            .max_queue_size(2 * CALLS)
            // Nothing leaves before shutdown: it alone must deliver them all.
            .schedule_delay(Duration::from_secs(600)),
    )
    .expect("init");
    for i in 0..CALLS {
        root(i);
    }
    assert_eq!(godtrace::stats().spans_queued, (2 * CALLS) as u64);
    drop(guard);
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, (2 * CALLS) as u64, "{stats:?}");

    // Counted while waiting, fetched once: fetching 3,000 spans each second would slow the
    // storing of this suite's spans and every other suite's.
    let stored = phoenix.wait_for_count(&project, 2 * CALLS);
    assert_eq!(stored, 2 * CALLS, "spans stored in project {project}");
    let spans = phoenix.spans(&project, None);
    assert_eq!(spans.len(), 2 * CALLS, "spans listed in project {project}");
    let roots = spans.iter().filter(|s| s["name"] == "bulk.root").count();
    assert_eq!(roots, CALLS);
}
