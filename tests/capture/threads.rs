//! Work handed to another thread (`spawn_blocking`, `std::thread::spawn`, rayon, a pool of one's own)
//! stays in the trace of the span current where it was handed over, with
//! `godtrace::in_current_span` or `godtrace::thread::spawn`; without them, it starts a trace
//! of its own.
use godtrace::testing::{Capture, FinishedSpan};
use godtrace::{testing, traced};
use std::sync::mpsc;

#[traced]
fn hash_block(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn handed_over(c: &Capture) -> FinishedSpan {
    c.span("capture::threads::hash_block")
}

/// Checks that the traced call made on the other thread is a child of `parent`.
fn assert_child_of(c: &Capture, parent: &str) {
    let parent = c.span(parent);
    let child = handed_over(c);
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, Some(parent.span_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_blocking_with_in_current_span_stays_in_the_trace() {
    let c = testing::capture();
    {
        let _request = godtrace::span("threads.request");
        let hashed = tokio::task::spawn_blocking(godtrace::in_current_span(|| hash_block(7)));
        hashed.await.unwrap();
    }
    assert_child_of(&c, "threads.request");
}

#[test]
fn thread_spawn_with_the_helper_stays_in_the_trace() {
    let c = testing::capture();
    {
        let _report = godtrace::span("threads.report");
        godtrace::thread::spawn(|| hash_block(8)).join().unwrap();
    }
    assert_child_of(&c, "threads.report");
}

#[test]
fn a_rayon_pool_runs_a_wrapped_job_in_the_trace() {
    let c = testing::capture();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a rayon pool");
    {
        let _scan = godtrace::span("threads.scan");
        pool.install(godtrace::in_current_span(|| hash_block(10)));
    }
    assert_child_of(&c, "threads.scan");
}

#[test]
fn a_custom_executor_runs_a_wrapped_job_in_the_trace() {
    let c = testing::capture();
    // A pool of one worker fed through a channel, started before the span exists.
    let (jobs, queue) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let worker = std::thread::spawn(move || {
        for job in queue {
            job();
        }
    });
    {
        let _batch = godtrace::span("threads.batch");
        jobs.send(Box::new(godtrace::in_current_span(|| {
            hash_block(9);
        })))
        .unwrap();
    }
    drop(jobs);
    worker.join().unwrap();
    assert_child_of(&c, "threads.batch");
}

#[test]
fn without_the_helper_the_thread_starts_a_new_trace() {
    let c = testing::capture();
    let root = godtrace::span("threads.unwrapped");
    // The other thread has no current span: its traced call is a root there, in a trace of
    // its own (which a capture made on that thread sees).
    let child = std::thread::spawn(|| {
        let there = testing::capture();
        hash_block(10);
        handed_over(&there)
    })
    .join()
    .unwrap();
    drop(root);
    let root = c.span("threads.unwrapped");
    assert!(child.parent_span_id.is_none());
    assert_ne!(child.trace_id, root.trace_id);
    assert!(c.spans_named("capture::threads::hash_block").is_empty());
}
