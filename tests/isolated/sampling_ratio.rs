//! Head sampling from the hot path: per-operation rates, children following their root, and
//! sampled-out calls that allocate nothing. (One `init` per process: each test in its own.)
use godtrace::{Config, testing, traced};
use std::collections::HashMap;
use std::sync::Once;

use crate::support::alloc as alloc_support;
use alloc_support::allocations;

/// The tests that call this run under a configured ratio of 0: nothing is recorded unless an
/// operation's own `sample_rate` says so.
fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let guard = godtrace::init(Config::new("sampling").sample_ratio(0.0).local_tree(false))
            .expect("init");
        std::mem::forget(guard);
    });
}

#[traced(sample_rate = 0.25)]
fn quarter() {}

#[traced(sample_rate = 1.0)]
fn always(depth: u32) {
    if depth > 0 {
        child(depth - 1);
    }
}

#[traced]
fn child(depth: u32) {
    if depth > 0 {
        child(depth - 1);
    }
}

#[traced]
fn sampled_out_root() -> HashMap<String, String> {
    child(2);
    // A manual span follows the root's decision too.
    drop(godtrace::span("manual.child"));
    let mut headers = HashMap::new();
    godtrace::propagation::inject(&mut headers);
    headers
}

#[test]
fn a_per_operation_rate_records_that_share_of_roots() {
    crate::support::own_process!();
    setup();
    let c = testing::capture();
    let calls = 4000;
    for _ in 0..calls {
        quarter();
    }
    let kept = c.spans_named("isolated::sampling_ratio::quarter").len();
    // Binomial(4000, 0.25): mean 1000, sd 27.4; ±6 sd never fails by chance in practice.
    assert!((836..=1164).contains(&kept), "kept {kept} of {calls}");
}

#[test]
fn children_follow_their_root_either_way() {
    crate::support::own_process!();
    setup();
    let c = testing::capture();
    always(2);
    assert_eq!(c.spans_named("isolated::sampling_ratio::always").len(), 1);
    let root = c.span("isolated::sampling_ratio::always");
    let children = c.spans_named("isolated::sampling_ratio::child");
    assert_eq!(children.len(), 2, "sampled-in root records its children");
    assert!(children.iter().all(|s| s.trace_id == root.trace_id));

    let c = testing::capture();
    let headers = sampled_out_root();
    assert!(c.spans().is_empty(), "{:?}", c.spans());
    // Downstream services are told not to record this trace either.
    let traceparent = headers.get("traceparent").expect("traceparent injected");
    assert!(
        traceparent.ends_with("-02"),
        "not sampled, random id: {traceparent}"
    );
}

#[traced(sample_rate = 0.0)]
async fn never_recorded_async() {
    tokio::task::yield_now().await;
    child(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_out_future_keeps_its_children_out_on_other_threads() {
    crate::support::own_process!();
    setup();
    let c = testing::capture();
    tokio::spawn(never_recorded_async()).await.unwrap();
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

#[traced(include_args)]
fn hot(a: u64, label: &str, flag: bool) -> u64 {
    a + label.len() as u64 + u64::from(flag)
}

#[traced]
async fn hot_async(a: u64) -> u64 {
    a + 1
}

#[test]
fn sampled_out_calls_allocate_nothing() {
    crate::support::own_process!();
    setup();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // First calls create each operation's metric series; steady state is what is measured.
    hot(1, "warm", true);
    let _ = std::pin::pin!(hot_async(1)).as_mut().poll(&mut cx);
    let before = allocations();
    let mut total = 0;
    for i in 0..1000 {
        total += hot(i, "wallet", i % 2 == 0);
        if let std::task::Poll::Ready(v) = std::pin::pin!(hot_async(i)).as_mut().poll(&mut cx) {
            total += v;
        }
    }
    let made = allocations() - before;
    assert!(total > 0);
    assert_eq!(made, 0, "allocations in 2000 sampled-out calls");
}

use std::future::Future;

/// A sampler that is not parent based decides every span by its trace id and the ratio,
/// godtrace's own children too: a root its operation's rate keeps has its children dropped
/// where the configured ratio drops its trace.
#[test]
fn without_the_parent_rule_children_of_a_kept_root_follow_the_ratio() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("sampling")
            .sample_ratio(0.0)
            .parent_based(false)
            .local_tree(false),
    )
    .expect("init");
    let c = testing::capture();
    always(2);
    assert_eq!(c.spans_named("isolated::sampling_ratio::always").len(), 1);
    assert!(c.spans_named("isolated::sampling_ratio::child").is_empty());
    drop(guard);
}

/// A traced call (sampled out by the ratio of 0) whose manual span outlives it.
#[traced]
fn makes_a_guard() -> godtrace::SpanGuard {
    godtrace::span("isolated.escaped")
}

/// A traced call (sampled out) that drops, when its body ends, a guard made before it.
#[traced]
fn takes_a_guard(_guard: godtrace::SpanGuard) {}

/// Manual guards may be dropped in any order: a sampled-out root's mark never outlives
/// every span that holds one, or each later root on the thread would be taken for its child
/// and dropped (every trace on the thread lost, its id reported as the old one's).
#[test]
fn guards_dropped_in_any_order_leave_no_sampled_out_root_behind() {
    crate::support::own_process!();
    setup();
    let c = testing::capture();
    let recorded = || c.spans_named("isolated::sampling_ratio::always").len();
    // A struct drops its fields first to last: the root before its child.
    struct Request {
        _root: godtrace::SpanGuard,
        _stage: godtrace::SpanGuard,
    }
    drop(Request {
        _root: godtrace::span("isolated.root"),
        _stage: godtrace::span("isolated.stage"),
    });
    assert_eq!(godtrace::trace_id(), None);
    always(0);
    assert_eq!(recorded(), 1, "after a struct of guards");
    // The root left while its child is still open: the child is still current, in the
    // root's trace, and what runs under it is dropped with it (no trace of its own).
    let root = godtrace::span("isolated.root");
    let root_trace = godtrace::trace_id().expect("a sampled-out root shows its trace id");
    let stage = godtrace::span("isolated.stage");
    drop(root);
    assert_eq!(
        godtrace::trace_id().as_ref(),
        Some(&root_trace),
        "the stage is current"
    );
    let under_stage = godtrace::span("isolated.under_stage");
    assert_eq!(godtrace::trace_id(), Some(root_trace));
    drop(under_stage);
    always(0);
    assert_eq!(
        recorded(),
        1,
        "under the stage, `always` is no root: dropped"
    );
    drop(stage);
    assert_eq!(godtrace::trace_id(), None);
    assert!(c.spans_named("isolated.under_stage").is_empty());
    always(0);
    assert_eq!(recorded(), 2, "after a root left before its child");
    // Two sampled-out roots, the outer one left first.
    let outer = godtrace::span("isolated.outer");
    let outer_trace = godtrace::trace_id();
    let inner = godtrace::span_builder("isolated.inner")
        .parent(godtrace::otel::Context::new())
        .start();
    let inner_trace = godtrace::trace_id();
    assert_ne!(inner_trace, outer_trace);
    drop(outer);
    assert_eq!(
        godtrace::trace_id(),
        inner_trace,
        "the inner root is still current"
    );
    drop(inner);
    assert_eq!(godtrace::trace_id(), None);
    always(0);
    assert_eq!(recorded(), 3, "after two roots left out of order");
    // A guard that outlives the traced call it was made in: current after the call, as a
    // kept call's would be, in the call's trace; what runs under it is dropped with it.
    let escaped = makes_a_guard();
    assert!(
        godtrace::trace_id().is_some(),
        "the escaped guard is current"
    );
    always(0);
    assert_eq!(
        recorded(),
        3,
        "under the escaped guard, `always` is no root"
    );
    drop(escaped);
    assert_eq!(godtrace::trace_id(), None);
    always(0);
    assert_eq!(recorded(), 4, "after a guard that outlived its call");
    // A guard dropped inside a traced call made under it.
    takes_a_guard(godtrace::span("isolated.handed_over"));
    assert_eq!(godtrace::trace_id(), None);
    always(0);
    assert_eq!(recorded(), 5, "after a guard dropped in a call under it");
}

#[traced(operation = "job.child")]
async fn job_child() {}

#[traced(operation = "job")]
async fn job() {
    job_child().await;
}

#[traced(operation = "job.maker", sample_rate = 0.0)]
fn makes_a_job() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(job())
}

/// A job made under a dropped root and polled under another span (a worker's) stays dropped
/// with its root whatever the sampler: with `otel_context(true)` and a sampler that is not
/// parent-based, its children were recorded, with a parent that is never exported.
#[test]
fn a_job_made_under_a_dropped_root_stays_dropped_under_any_sampler() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("job")
            .otel_context(true)
            .parent_based(false)
            .sample_ratio(1.0)
            .local_tree(false),
    )
    .expect("init");
    let c = testing::capture();
    let mut made = makes_a_job();
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    {
        let _worker = godtrace::span("worker");
        assert!(made.as_mut().poll(&mut task).is_ready());
    }
    assert!(c.spans_named("job").is_empty(), "{:#?}", c.spans());
    assert!(c.spans_named("job.child").is_empty(), "{:#?}", c.spans());
    assert_eq!(c.spans_named("worker").len(), 1);
    drop(guard);
}

#[traced(operation = "library.caller", sample_rate = 0.0)]
fn calls_a_library() {
    use godtrace::otel::trace::Tracer as _;
    godtrace::otel::global::tracer("library").in_span("library.op", |_| child(0));
}

/// A library's span (OpenTelemetry's global tracer) under a root an operation's `sample_rate`
/// dropped is dropped with it under a sampler that is not parent based too, and so is what
/// runs under it: recorded, it would name a parent that is never exported.
#[test]
fn library_spans_under_a_dropped_root_are_dropped_under_any_sampler() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("library")
            .parent_based(false)
            .sample_ratio(1.0)
            .local_tree(false),
    )
    .expect("init");
    let c = testing::capture();
    for _ in 0..20 {
        calls_a_library();
    }
    assert!(c.spans_named("library.op").is_empty(), "{:#?}", c.spans());
    assert!(c.spans_named("isolated::sampling_ratio::child").is_empty());
    // A library's span at the root is kept by the ratio of 1.
    use godtrace::otel::trace::Tracer as _;
    godtrace::otel::global::tracer("library").in_span("library.root", |_| ());
    assert_eq!(c.spans_named("library.root").len(), 1);
    drop(guard);
}

#[traced]
async fn sends_wherever_polled() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    godtrace::propagation::inject(&mut headers);
    headers
}

/// Work made in a call and handed on: not a future itself, so the call ends when it returns.
struct HandedOn(
    std::pin::Pin<Box<dyn std::future::Future<Output = HashMap<String, String>> + Send>>,
);

/// A request with baggage and no `traceparent`, whose new trace the ratio drops.
#[traced(parent = &request)]
fn dropped_request_hands_off(request: godtrace::otel::Context) -> HandedOn {
    HandedOn(Box::pin(sends_wherever_polled()))
}

/// With `otel_context(true)` too, traced work made under a trace the ratio dropped and polled
/// elsewhere sends on the request's baggage: what is propagated does not depend on sampling
/// (nor on that setting).
#[test]
fn work_under_a_dropped_root_sends_the_requests_baggage_with_the_otel_context_attached() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("baggage")
            .otel_context(true)
            .sample_ratio(0.0)
            .local_tree(false),
    )
    .expect("init");
    let request = godtrace::propagation::extract_map(&HashMap::from([(
        "baggage".to_owned(),
        "tenant=acme".to_owned(),
    )]));
    let HandedOn(work) = dropped_request_hands_off(request);
    let sent = std::thread::spawn(move || {
        let mut work = work;
        let mut task = std::task::Context::from_waker(std::task::Waker::noop());
        match work.as_mut().poll(&mut task) {
            std::task::Poll::Ready(sent) => sent,
            std::task::Poll::Pending => panic!("ready at once"),
        }
    })
    .join()
    .expect("the work runs");
    assert_eq!(sent.get("baggage").map(String::as_str), Some("tenant=acme"));
    assert!(sent["traceparent"].ends_with("-02"), "{sent:?}");
    drop(guard);
}
