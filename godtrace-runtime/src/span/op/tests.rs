//! The decisions `sampling::quick` takes without the general path, checked against what
//! the general path decides: a span of other code in OpenTelemetry's context is a parent,
//! a dropped root's mark holds through children that build no span, and a call that is
//! not recorded is still measured, panics included.
use super::super::{
    CallSite, Instrumented, OpSpan, SiteOptions, current_span_context, run_sync, run_sync_args_at,
    run_sync_at,
};
use crate::testing;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::task::Waker;

const fn site(
    operation: &'static str,
    sample_rate: f64,
    include_duration: bool,
    carries_parent: bool,
) -> CallSite {
    CallSite::new(
        || "span::op::tests::f",
        file!(),
        1,
        SiteOptions {
            operation: Some(operation),
            include_duration,
            sample_rate: Some(sample_rate),
            carries_parent,
            kind: opentelemetry::trace::SpanKind::Internal,
        },
    )
}

fn start(site: &'static CallSite) -> Option<OpSpan> {
    OpSpan::start(site, || None::<Context>, 0, |_: &mut Vec<KeyValue>| {})
}

fn traced<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
    run_sync(start(site), body, |_, _| {})
}

/// A trace id of other code's, new on each call: the test capture gives a trace to the first
/// test that starts a span in it, so tests running at once must not share one.
fn foreign_trace_id() -> TraceId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0xabc);
    let low = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    TraceId::from(0x5eed_u128 << 64 | u128::from(low))
}

/// A span of other code, made current in OpenTelemetry's context.
fn other_codes_span(sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let span = SpanContext::new(
        foreign_trace_id(),
        SpanId::from(0x77),
        flags,
        false,
        TraceState::NONE,
    );
    Context::new().with_remote_span_context(span)
}

static NEVER_AT_ROOT: CallSite = site("op.tests.never_at_root", 0.0, false, false);
static ALWAYS_AT_ROOT: CallSite = site("op.tests.always_at_root", 1.0, false, false);

#[test]
fn a_span_of_other_code_decides_for_a_call_under_it() {
    let capture = testing::capture();
    // Dropped at its root, kept under a sampled span of other code.
    traced(&NEVER_AT_ROOT, || {});
    assert!(capture.spans_named("op.tests.never_at_root").is_empty());
    {
        let _attached = other_codes_span(true).attach();
        traced(&NEVER_AT_ROOT, || {});
    }
    let kept = capture.span("op.tests.never_at_root");
    assert_eq!(kept.parent_span_id, Some(SpanId::from(0x77)));

    // Kept at its root, dropped under a span of other code that is not sampled.
    {
        let _attached = other_codes_span(false).attach();
        traced(&ALWAYS_AT_ROOT, || {});
    }
    assert!(capture.spans_named("op.tests.always_at_root").is_empty());
    traced(&ALWAYS_AT_ROOT, || {});
    assert_eq!(capture.spans_named("op.tests.always_at_root").len(), 1);
}

static KEPT_PARENT: CallSite = site("op.tests.kept_parent", 0.0, true, false);
static KEPT_CHILD: CallSite = site("op.tests.kept_child", 0.0, true, false);

/// A kept child of godtrace's own span (its ids written from the parent's record) is in
/// its parent's trace, with its trace state and random flag, set or not (W3C Trace
/// Context Level 2), and a span id of its own: valid, never its parent's or a sibling's.
#[test]
fn a_kept_childs_ids_are_its_own_in_its_parents_trace() {
    use super::super::RANDOM;
    let capture = testing::capture();
    for flags in [TraceFlags::SAMPLED, TraceFlags::SAMPLED | RANDOM] {
        let state = TraceState::from_key_value([("vendor", "v1")]).unwrap();
        let remote = SpanContext::new(
            foreign_trace_id(),
            SpanId::from(0x77),
            flags,
            true,
            state.clone(),
        );
        let attached = Context::new().with_remote_span_context(remote).attach();
        let (parent, children) = traced(&KEPT_PARENT, || {
            let children: Vec<SpanContext> = (0..3)
                .map(|_| traced(&KEPT_CHILD, || current_span_context().unwrap()))
                .collect();
            (current_span_context().unwrap(), children)
        });
        drop(attached);
        assert!(parent.is_valid() && parent.is_sampled() && !parent.is_remote());
        let mut span_ids = vec![parent.span_id()];
        for child in &children {
            assert!(child.is_valid(), "{child:?}");
            assert_eq!(child.trace_id(), parent.trace_id());
            assert_eq!(
                child.trace_flags(),
                flags,
                "sampled, the parent's random flag"
            );
            assert_eq!(child.trace_state(), &state);
            assert!(!child.is_remote());
            assert!(!span_ids.contains(&child.span_id()), "{child:?}");
            span_ids.push(child.span_id());
        }
        let recorded = capture.spans_named("op.tests.kept_child");
        let recorded: Vec<_> = recorded[recorded.len() - 3..].to_vec();
        for (span, child) in recorded.iter().zip(&children) {
            assert_eq!(span.span_id, child.span_id());
            assert_eq!(span.trace_id, parent.trace_id());
            assert_eq!(span.parent_span_id, Some(parent.span_id()));
        }
    }
}

static ARGS_PARENT: CallSite = site("op.tests.args_parent", 1.0, true, false);
static ARGS_CHILD: CallSite = site("op.tests.args_child", 1.0, true, false);

/// A kept child's recorded arguments are its attributes, however the recording runs: here
/// it starts and ends a span of its own while the child starts.
#[test]
fn a_kept_childs_recorded_arguments_are_its_attributes() {
    let capture = testing::capture();
    traced(&ARGS_PARENT, || {
        let span = OpSpan::start(
            &ARGS_CHILD,
            || None::<Context>,
            2,
            |attrs: &mut Vec<KeyValue>| {
                traced(&KEPT_CHILD, || {});
                attrs.push(KeyValue::new("wallet", "7xKX"));
                attrs.push(KeyValue::new("n", 3));
            },
        );
        run_sync(span, || {}, |_, _| {});
    });
    let parent = capture.span("op.tests.args_parent");
    let child = capture.span("op.tests.args_child");
    assert_eq!(child.parent_span_id, Some(parent.span_id));
    assert_eq!(child.attr("wallet"), Some(&"7xKX".into()));
    assert_eq!(child.attr("n"), Some(&3.into()));
}

static ARGS_PANIC: CallSite = site("op.tests.args_panic", 1.0, true, false);

/// A panic while a call's arguments are recorded (a `fields(..)` expression's, say) goes
/// on unwinding from the start, before the body, as the call would have without godtrace:
/// what was pushed is dropped once, nothing is exported, and the thread's next span shows
/// only its own attributes.
#[test]
fn a_panic_while_arguments_are_recorded_drops_what_was_pushed() {
    let capture = testing::capture();
    let held: std::sync::Arc<str> = std::sync::Arc::from("a value held elsewhere too");
    let mut body_ran = false;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let span = OpSpan::start(
            &ARGS_PANIC,
            || None::<Context>,
            2,
            |attrs: &mut Vec<KeyValue>| {
                let value = opentelemetry::StringValue::from(held.clone());
                attrs.push(KeyValue::new("held", value));
                panic!("a fields expression panics");
            },
        );
        run_sync(span, || body_ran = true, |_, _| {});
    }));
    assert!(outcome.is_err(), "the panic reaches the caller");
    assert!(!body_ran);
    assert_eq!(
        std::sync::Arc::strong_count(&held),
        1,
        "the pushed value dropped"
    );
    assert!(capture.spans_named("op.tests.args_panic").is_empty());

    let span = OpSpan::start(
        &ARGS_PANIC,
        || None::<Context>,
        1,
        |attrs: &mut Vec<KeyValue>| attrs.push(KeyValue::new("n", 1)),
    );
    assert_eq!(run_sync(span, || 5, |_, _| {}), 5);
    let span = capture.span("op.tests.args_panic");
    assert_eq!(span.attr("n"), Some(&1.into()));
    assert_eq!(span.attr("held"), None);
}

static DROPPED_ROOT: CallSite = site("op.tests.dropped_root", 0.0, false, false);
static UNMEASURED_CHILD: CallSite = site("op.tests.unmeasured_child", 1.0, false, false);
static GRANDCHILD: CallSite = site("op.tests.grandchild", 1.0, true, false);

#[test]
fn a_dropped_roots_mark_holds_through_children_that_build_no_span() {
    let capture = testing::capture();
    let (at_root, in_grandchild) = traced(&DROPPED_ROOT, || {
        let at_root = current_span_context().expect("the dropped root's ids");
        // A sync child with nothing to measure builds no span; its own child still runs
        // under the root's mark, dropped although its site keeps every root.
        let in_grandchild = traced(&UNMEASURED_CHILD, || {
            assert!(start(&UNMEASURED_CHILD).is_none(), "nothing to build");
            traced(&GRANDCHILD, current_span_context)
        });
        (at_root, in_grandchild)
    });
    assert!(!at_root.is_sampled());
    assert_eq!(in_grandchild, Some(at_root));
    assert_eq!(
        current_span_context(),
        None,
        "the mark is cleared after the root"
    );
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
}

/// A thread's first traced calls (before its generator is seeded, before OpenTelemetry's
/// context was checked) take the general path, and decide as later calls do.
#[test]
fn a_threads_first_calls_decide_as_later_ones() {
    std::thread::spawn(|| {
        let capture = testing::capture();
        for _ in 0..2 {
            traced(&DROPPED_ROOT, || traced(&UNMEASURED_CHILD, || {}));
        }
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    })
    .join()
    .unwrap();
    std::thread::spawn(|| {
        let capture = testing::capture();
        traced(&ALWAYS_AT_ROOT, || traced(&UNMEASURED_CHILD, || {}));
        let root = capture.span("op.tests.always_at_root");
        let child = capture.span("op.tests.unmeasured_child");
        assert_eq!(child.parent_span_id, Some(root.span_id));
    })
    .join()
    .unwrap();
}

static PANICS_SYNC: CallSite = site("op.tests.panics.sync", 0.0, true, false);
static PANICS_ASYNC: CallSite = site("op.tests.panics.async", 0.0, true, true);

fn panic_count(operation: &str) -> u64 {
    crate::metrics::metrics_snapshot()
        .operation_errors(operation, "panic")
        .map_or(0, |point| point.count)
}

#[test]
fn a_call_not_recorded_that_panics_is_measured_as_a_panic() {
    let _capture = testing::capture();
    let sync = std::panic::catch_unwind(|| traced(&PANICS_SYNC, || panic!("sync")));
    assert!(sync.is_err());
    assert_eq!(panic_count("op.tests.panics.sync"), 1);
    assert_eq!(
        current_span_context(),
        None,
        "the mark is cleared by the unwind"
    );

    let mut future = Box::pin(Instrumented::new(
        start(&PANICS_ASYNC),
        async { panic!("async") },
        |_: &OpSpan, _: &()| {},
    ));
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(Waker::noop()))
    }));
    assert!(polled.is_err());
    drop(future);
    assert_eq!(panic_count("op.tests.panics.async"), 1, "measured once");
    assert_eq!(current_span_context(), None);
}

/// Pending on its first poll, then (after `pause`) what `outcome` gives, or its panic;
/// each poll notes the current span.
struct ThenReady<T, O: FnOnce() -> T> {
    outcome: Option<O>,
    pause: std::time::Duration,
    polls: usize,
    seen: std::rc::Rc<std::cell::RefCell<Vec<Option<SpanContext>>>>,
}

impl<T, O: FnOnce() -> T + Unpin> Future for ThenReady<T, O> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        self.seen.borrow_mut().push(current_span_context());
        self.polls += 1;
        if self.polls < 2 {
            return std::task::Poll::Pending;
        }
        std::thread::sleep(self.pause);
        std::task::Poll::Ready((self.outcome.take().expect("polled once more"))())
    }
}

/// The duration histogram's series of `operation`: each one's `error.type` (`None` for
/// the successful calls) with its count and its sum in seconds.
fn duration_series(operation: &str) -> Vec<(Option<String>, u64, f64)> {
    let snapshot = crate::metrics::metrics_snapshot();
    let mut series: Vec<_> = snapshot
        .operation_points(operation)
        .into_iter()
        .map(|point| {
            let error_type = point.attr("error.type").map(|v| v.as_str().into_owned());
            (error_type, point.count, point.sum)
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

#[derive(Debug)]
struct Refused;

static MEASURED_OK: CallSite = site("op.tests.measured.ok", 0.0, true, true);
static MEASURED_ERR: CallSite = site("op.tests.measured.err", 0.0, true, true);
static MEASURED_PANIC: CallSite = site("op.tests.measured.panic", 0.0, true, true);
static MEASURED_DROPPED: CallSite = site("op.tests.measured.dropped", 0.0, true, true);
static MEASURED_UNPOLLED: CallSite = site("op.tests.measured.unpolled", 0.0, true, true);

/// An async call sampled out at its root and measured (the default) holds its root's mark
/// on every poll, records nothing, and has its duration, from the call to its completion,
/// measured once: under its `Err`'s type, as a panic, or (dropped unfinished) with the
/// successful calls, as a call that returned then.
#[test]
fn an_async_call_not_recorded_is_measured_once_with_its_error_type() {
    let capture = testing::capture();
    let pause = std::time::Duration::from_millis(2);
    let finish = |span: &OpSpan, ret: &Result<u8, Refused>| {
        if ret.is_err() {
            span.record_error(std::any::type_name::<Refused>(), || "refused".into());
        }
    };
    let seen = std::rc::Rc::default();
    let call = |site: &'static CallSite, outcome: fn() -> Result<u8, Refused>| {
        let inner = ThenReady {
            outcome: Some(outcome),
            pause,
            polls: 0,
            seen: std::rc::Rc::clone(&seen),
        };
        Box::pin(Instrumented::new(start(site), inner, finish))
    };
    let mut task = std::task::Context::from_waker(Waker::noop());
    // Under Miri the clock's conversion to seconds gives 0: only the counts are checked.
    let at_least = if cfg!(miri) { 0.0 } else { pause.as_secs_f64() };

    let mut future = call(&MEASURED_OK, || Ok(3));
    assert!(future.as_mut().poll(&mut task).is_pending());
    assert_eq!(current_span_context(), None, "not held between polls");
    assert!(matches!(
        future.as_mut().poll(&mut task),
        std::task::Poll::Ready(Ok(3))
    ));
    drop(future);
    let seen: Vec<_> = seen.take();
    assert!(seen[0].as_ref().is_some_and(|root| !root.is_sampled()));
    assert_eq!(seen[0], seen[1], "the root's mark on every poll");
    let ok = duration_series("op.tests.measured.ok");
    assert!(
        matches!(ok[..], [(None, 1, sum)] if sum >= at_least),
        "{ok:?}"
    );

    let mut future = call(&MEASURED_ERR, || Err(Refused));
    assert!(future.as_mut().poll(&mut task).is_pending());
    assert!(future.as_mut().poll(&mut task).is_ready());
    drop(future);
    let err = duration_series("op.tests.measured.err");
    let refused = std::any::type_name::<Refused>().to_owned();
    assert!(
        matches!(&err[..], [(Some(ty), 1, sum)] if *ty == refused && *sum >= at_least),
        "{err:?}"
    );

    let mut future = call(&MEASURED_PANIC, || panic!("the call panics"));
    assert!(future.as_mut().poll(&mut task).is_pending());
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future.as_mut().poll(&mut task)
    }));
    assert!(polled.is_err());
    assert_eq!(current_span_context(), None, "cleared by the unwind");
    drop(future);
    let panicked = duration_series("op.tests.measured.panic");
    assert!(
        matches!(&panicked[..], [(Some(ty), 1, sum)] if ty == "panic" && *sum >= at_least),
        "{panicked:?}"
    );

    let mut future = call(&MEASURED_DROPPED, || Err(Refused));
    assert!(future.as_mut().poll(&mut task).is_pending());
    std::thread::sleep(pause);
    drop(future);
    let dropped = duration_series("op.tests.measured.dropped");
    assert!(
        matches!(dropped[..], [(None, 1, sum)] if sum >= at_least),
        "{dropped:?}"
    );

    let future = call(&MEASURED_UNPOLLED, || Ok(1));
    drop(future);
    let unpolled = duration_series("op.tests.measured.unpolled");
    assert!(matches!(unpolled[..], [(None, 1, _)]), "{unpolled:?}");
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
}

static MARKED_ASYNC: CallSite = site("op.tests.marked_async", 0.0, false, true);
static UNDER_MARK: CallSite = site("op.tests.under_mark", 1.0, true, false);

/// Pending on its first poll, ready on its second; each poll reads the current span and
/// makes a traced call, and panics if asked to.
struct ObservedTwice {
    seen: Vec<Option<SpanContext>>,
    panics: bool,
}

impl Future for ObservedTwice {
    type Output = Vec<Option<SpanContext>>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        assert!(!self.panics, "polled");
        let seen = traced(&UNDER_MARK, current_span_context);
        self.seen.push(seen);
        if self.seen.len() < 2 {
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(std::mem::take(&mut self.seen))
    }
}

fn observed(panics: bool) -> std::pin::Pin<Box<impl Future<Output = Vec<Option<SpanContext>>>>> {
    let span = start(&MARKED_ASYNC);
    assert!(
        matches!(
            span.as_ref().and_then(OpSpan::unowned_parts),
            Some((_, None))
        ),
        "only a mark"
    );
    let inner = ObservedTwice {
        seen: Vec::new(),
        panics,
    };
    Box::pin(Instrumented::new(span, inner, |_: &OpSpan, _: &_| {}))
}

/// An async root sampled out with nothing to measure keeps its mark alone: the same
/// sampled-out ids on every poll, its children dropped with it, and the mark gone
/// between polls, after the last one, and after a panic.
#[test]
fn an_async_root_holding_only_a_mark_holds_it_on_every_poll() {
    let capture = testing::capture();
    let mut task = std::task::Context::from_waker(Waker::noop());
    let mut future = observed(false);
    assert!(future.as_mut().poll(&mut task).is_pending());
    assert_eq!(current_span_context(), None, "not held between polls");
    let std::task::Poll::Ready(seen) = future.as_mut().poll(&mut task) else {
        panic!("ready on the second poll");
    };
    let root = seen[0].clone().expect("the root's ids on the first poll");
    assert!(!root.is_sampled());
    assert_eq!(
        seen,
        vec![Some(root.clone()); 2],
        "the same ids on every poll"
    );
    assert_eq!(current_span_context(), None, "cleared after the last poll");
    drop(future);

    let mut future = observed(true);
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future.as_mut().poll(&mut task)
    }));
    assert!(polled.is_err());
    assert_eq!(current_span_context(), None, "cleared by the unwind");
    drop(future);
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
}

/// A call through [`run_sync_at`] (what `#[traced]` expands to for a sync fn whose span
/// reads no argument), recording nothing of its outcome.
fn fused<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
    run_sync_at(move || site, body, |_: &OpSpan, _: &R| {})
}

static FUSED_WARM_UP: CallSite = site("op.tests.fused.warm_up", 0.0, false, false);

/// A first call on this thread (it takes the general path, see
/// `a_threads_first_calls_decide_as_later_ones`), so that the calls after it take the
/// arms `run_sync_at` has for kept and sampled-out calls.
fn warm_up() {
    fused(&FUSED_WARM_UP, || {});
}

static FUSED_PARENT: CallSite = site("op.tests.fused.parent", 1.0, true, false);
static FUSED_CHILD: CallSite = site("op.tests.fused.child", 1.0, true, false);

/// `run_sync_at` makes a kept span current exactly while its body runs: a child's ids
/// are its own in its parent's trace, the parent is current again after it, nothing is
/// after the root, and each call's duration is measured.
#[test]
fn run_sync_at_runs_a_kept_child_in_its_kept_parent() {
    let capture = testing::capture();
    warm_up();
    let (parent, child, after_child) = fused(&FUSED_PARENT, || {
        let parent = current_span_context().expect("the parent is current");
        let child = fused(&FUSED_CHILD, || current_span_context().expect("the child"));
        (parent, child, current_span_context())
    });
    assert_eq!(
        after_child,
        Some(parent.clone()),
        "the parent current again"
    );
    assert_eq!(
        current_span_context(),
        None,
        "nothing current after the root"
    );
    assert!(parent.is_sampled() && child.is_sampled());
    assert_ne!(child.span_id(), parent.span_id());
    let recorded_parent = capture.span("op.tests.fused.parent");
    let recorded_child = capture.span("op.tests.fused.child");
    assert_eq!(recorded_parent.span_id, parent.span_id());
    assert_eq!(recorded_parent.parent_span_id, None);
    assert_eq!(recorded_child.span_id, child.span_id());
    assert_eq!(recorded_child.trace_id, parent.trace_id());
    assert_eq!(recorded_child.parent_span_id, Some(parent.span_id()));
    for operation in ["op.tests.fused.parent", "op.tests.fused.child"] {
        let series = duration_series(operation);
        assert!(
            matches!(series[..], [(None, 1, _)]),
            "{operation}: {series:?}"
        );
    }
}

static FUSED_PANICS_PARENT: CallSite = site("op.tests.fused.panics_parent", 1.0, true, false);
static FUSED_PANICS: CallSite = site("op.tests.fused.panics", 1.0, true, false);
static FUSED_PANICS_DROPPED: CallSite = site("op.tests.fused.panics_dropped", 0.0, true, false);

/// A panic in a `run_sync_at` body marks its span failed (an `exception` event, `error.type`
/// = panic, on the span and its duration) and goes on unwinding, with the span no longer
/// current; a sampled-out call is measured as a panic and its root's mark is cleared.
#[test]
fn a_panic_in_a_run_sync_at_body_marks_its_span_and_unwinds() {
    let capture = testing::capture();
    warm_up();
    let (parent, after_panic) = fused(&FUSED_PANICS_PARENT, || {
        let unwound =
            std::panic::catch_unwind(|| fused(&FUSED_PANICS, || -> u8 { panic!("it broke") }));
        assert!(unwound.is_err(), "the panic goes on");
        (current_span_context(), current_span_context())
    });
    assert_eq!(after_panic, parent, "the parent current again");
    let span = capture.span("op.tests.fused.panics");
    assert_eq!(span.parent_span_id, parent.map(|parent| parent.span_id()));
    assert_eq!(span.attr("error.type"), Some(&"panic".into()));
    assert_eq!(span.error_message(), Some("it broke"));
    let exception = span.event("exception").expect("an exception event");
    assert_eq!(
        exception.attr("exception.message"),
        Some(&"it broke".into())
    );
    assert_eq!(panic_count("op.tests.fused.panics"), 1);

    let unwound = std::panic::catch_unwind(|| fused(&FUSED_PANICS_DROPPED, || panic!("no")));
    assert!(unwound.is_err());
    assert_eq!(
        current_span_context(),
        None,
        "the mark is cleared by the unwind"
    );
    assert_eq!(panic_count("op.tests.fused.panics_dropped"), 1);
    assert!(
        capture
            .spans_named("op.tests.fused.panics_dropped")
            .is_empty()
    );
}

static FUSED_ERR: CallSite = site("op.tests.fused.err", 1.0, true, false);
static FUSED_ERR_DROPPED: CallSite = site("op.tests.fused.err_dropped", 0.0, true, false);

/// A `run_sync_at` call's `finish` sees what the body returned, after the span stopped
/// being current: an `Err` fails a kept span and labels the duration of a kept or a
/// sampled-out call; the value is returned to the caller as it was.
#[test]
fn run_sync_at_records_an_err_through_finish() {
    let capture = testing::capture();
    warm_up();
    let finish = |span: &OpSpan, ret: &Result<u8, Refused>| {
        assert_eq!(current_span_context(), None, "finish runs outside the span");
        if ret.is_err() {
            span.record_error(std::any::type_name::<Refused>(), || "refused".into());
        }
    };
    let refused = std::any::type_name::<Refused>().to_owned();
    assert!(run_sync_at(|| &FUSED_ERR, || Err(Refused), finish).is_err());
    assert!(matches!(
        run_sync_at(|| &FUSED_ERR, || Ok(4), finish),
        Ok(4)
    ));
    let spans = capture.spans_named("op.tests.fused.err");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].error_message(), Some("refused"));
    assert_eq!(spans[0].attr("error.type"), Some(&refused.clone().into()));
    assert!(!spans[1].is_error());
    let series = duration_series("op.tests.fused.err");
    assert!(
        matches!(&series[..], [(None, 1, _), (Some(ty), 1, _)] if *ty == refused),
        "{series:?}"
    );

    assert!(run_sync_at(|| &FUSED_ERR_DROPPED, || Err(Refused), finish).is_err());
    let series = duration_series("op.tests.fused.err_dropped");
    assert!(
        matches!(&series[..], [(Some(ty), 1, _)] if *ty == refused),
        "{series:?}"
    );
    assert!(capture.spans_named("op.tests.fused.err_dropped").is_empty());
}

/// A value `run_sync_at`'s body returned is dropped once when `finish` panics (it is not
/// returned then).
#[test]
fn a_panic_in_finish_drops_the_value_once() {
    let _capture = testing::capture();
    warm_up();
    let value = std::rc::Rc::new(7);
    let held = std::rc::Rc::clone(&value);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_sync_at(
            || &FUSED_ERR,
            move || held,
            |_: &OpSpan, _: &_| panic!("finish"),
        )
    }));
    assert!(unwound.is_err());
    assert_eq!(std::rc::Rc::strong_count(&value), 1, "dropped once");
    assert_eq!(current_span_context(), None);
}

static FUSED_DROPPED_ROOT: CallSite = site("op.tests.fused.dropped_root", 0.0, true, false);
static FUSED_UNDER_MARK: CallSite = site("op.tests.fused.under_mark", 1.0, true, false);
static FUSED_UNMEASURED: CallSite = site("op.tests.fused.unmeasured", 1.0, false, false);

/// A root `run_sync_at` samples out marks the thread while its body runs: its children
/// (measured or not) see its ids and are dropped with it, the mark is gone after it, and
/// the measured calls' durations are recorded.
#[test]
fn a_sampled_out_run_sync_at_root_marks_its_children() {
    let capture = testing::capture();
    warm_up();
    let (root, in_child, in_grandchild) = fused(&FUSED_DROPPED_ROOT, || {
        let root = current_span_context().expect("the dropped root's ids");
        let in_child = fused(&FUSED_UNDER_MARK, current_span_context);
        let in_grandchild = fused(&FUSED_UNMEASURED, || {
            fused(&FUSED_UNDER_MARK, current_span_context)
        });
        (root, in_child, in_grandchild)
    });
    assert!(!root.is_sampled());
    assert_eq!(in_child, Some(root.clone()));
    assert_eq!(in_grandchild, Some(root));
    assert_eq!(
        current_span_context(),
        None,
        "the mark is cleared after the root"
    );
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    let root_series = duration_series("op.tests.fused.dropped_root");
    assert!(matches!(root_series[..], [(None, 1, _)]), "{root_series:?}");
    let child_series = duration_series("op.tests.fused.under_mark");
    assert!(
        matches!(child_series[..], [(None, 2, _)]),
        "{child_series:?}"
    );
    assert!(duration_series("op.tests.fused.unmeasured").is_empty());
}

static BY_VALUE_ROOT: CallSite = site("op.tests.args.root", 1.0, true, false);
static BY_VALUE_CHILD: CallSite = site("op.tests.args.child", 1.0, true, false);
static BY_VALUE_DROPPED: CallSite = site("op.tests.args.dropped", 0.0, true, false);

/// A call through [`run_sync_args_at`] (what `#[traced(include_args)]` expands to for a
/// sync fn): `n` and `label` recorded; how many times the recording ran is added to
/// `recorded`.
fn with_args<R>(
    site: &'static CallSite,
    n: u32,
    label: std::rc::Rc<str>,
    recorded: &std::cell::Cell<u32>,
    body: impl FnOnce(u32, std::rc::Rc<str>) -> R,
) -> R {
    run_sync_args_at(
        move || site,
        2,
        (n, label),
        |(n, label): &(u32, std::rc::Rc<str>), attributes: &mut Vec<KeyValue>| {
            recorded.set(recorded.get() + 1);
            attributes.push(KeyValue::new("n", i64::from(*n)));
            attributes.push(KeyValue::new("label", label.to_string()));
        },
        |(n, label)| body(n, label),
        |_: &OpSpan, _: &R| {},
    )
}

/// `run_sync_args_at` records the arguments of a kept call (a root, its child, and a call
/// under a span of other code, which takes the general path) before its body runs, once,
/// and not those of a call sampled out; the body gets them as given, and each is dropped
/// once, a panicking body's too.
#[test]
fn run_sync_args_at_records_the_arguments_of_kept_calls_only() {
    let capture = testing::capture();
    warm_up();
    let recorded = std::cell::Cell::new(0);
    let label: std::rc::Rc<str> = "wallet".into();
    let got = with_args(
        &BY_VALUE_ROOT,
        7,
        label.clone(),
        &recorded,
        |n, root_label| {
            assert_eq!(recorded.get(), 1, "recorded before the body runs");
            let child = with_args(
                &BY_VALUE_CHILD,
                n + 1,
                root_label.clone(),
                &recorded,
                |n, _| n,
            );
            (n, child, root_label.to_string())
        },
    );
    assert_eq!(got, (7, 8, "wallet".to_owned()));
    assert_eq!(recorded.get(), 2);
    let root = capture.span("op.tests.args.root");
    let child = capture.span("op.tests.args.child");
    assert_eq!(child.parent_span_id, Some(root.span_id));
    for (span, n) in [(&root, 7), (&child, 8)] {
        assert_eq!(span.attr("n"), Some(&n.into()));
        assert_eq!(span.attr("label"), Some(&"wallet".into()));
    }

    let dropped = with_args(&BY_VALUE_DROPPED, 3, label.clone(), &recorded, |n, _| n);
    assert_eq!(dropped, 3);
    assert_eq!(recorded.get(), 2, "nothing recorded for a call sampled out");
    assert!(capture.spans_named("op.tests.args.dropped").is_empty());

    {
        let _attached = other_codes_span(true).attach();
        assert_eq!(
            with_args(&BY_VALUE_DROPPED, 4, label.clone(), &recorded, |n, _| n),
            4
        );
    }
    assert_eq!(recorded.get(), 3);
    let under_other = capture.span("op.tests.args.dropped");
    assert_eq!(under_other.parent_span_id, Some(SpanId::from(0x77)));
    assert_eq!(under_other.attr("n"), Some(&4.into()));

    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_args(&BY_VALUE_ROOT, 9, label.clone(), &recorded, |_, _| -> u8 {
            panic!("no")
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(current_span_context(), None);
    assert_eq!(
        std::rc::Rc::strong_count(&label),
        1,
        "every copy dropped once"
    );
}

static GIVEN_PARENT: CallSite = site("op.tests.given_parent", 1.0, true, true);

/// A call whose span's OpenTelemetry context cannot be attached (inside OpenTelemetry's
/// `Context::map_current`, where `attach` panics) runs and returns as it would untraced, and
/// leaves no sampled-out mark held on the thread: a held one would outlive every span and
/// keep later calls' marks.
#[test]
fn a_span_that_cannot_be_attached_runs_its_call_and_leaves_no_mark_held() {
    let _capture = testing::capture();
    let held = || super::super::live::this_thread().marks_held.get();
    let before = held();
    let parent = other_codes_span(true);
    let call = || {
        let span = OpSpan::start(&GIVEN_PARENT, || Some(parent.clone()), 0, |_| {});
        run_sync(span, || 7, |_, _| {})
    };
    let returned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Context::map_current(|_| call())
    }));
    assert_eq!(returned.ok(), Some(7), "the call runs and returns");
    assert_eq!(held(), before);
}

/// Sets its flag when dropped.
struct SetsOnDrop<'a>(&'a std::cell::Cell<bool>);

impl Drop for SetsOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// An unfinished traced future whose span cannot be entered at its drop (inside
/// OpenTelemetry's `Context::map_current`, where `attach` panics) still drops its inner
/// future, in place, before its memory goes: pinning's guarantee, which a future linked into
/// a waiter list relies on.
#[test]
fn an_unfinished_future_that_cannot_enter_its_span_still_drops_its_inner_future() {
    let _capture = testing::capture();
    let dropped = std::cell::Cell::new(false);
    let held = SetsOnDrop(&dropped);
    let inner = async move {
        let _held = held;
        std::future::pending::<()>().await;
    };
    let span = OpSpan::start(&GIVEN_PARENT, || Some(other_codes_span(true)), 0, |_| {});
    let mut future = Box::pin(Instrumented::new(span, inner, |_: &OpSpan, _: &()| {}));
    let mut task = std::task::Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut task).is_pending());
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Context::map_current(|_| drop(future))
    }));
    assert!(unwound.is_ok(), "the drop does not panic");
    assert!(dropped.get(), "the inner future was dropped");
}

/// The span id OpenTelemetry's current context shows.
fn otel_current_span_id() -> SpanId {
    Context::map_current(|cx| cx.span().span_context().span_id())
}

/// A panic unwinding out of OpenTelemetry's `Context::map_current` through a span guard whose
/// context is attached goes on unwinding to the caller's `catch_unwind`: the guard's drop
/// does not panic again (which, in a drop during an unwind, aborts the process). Its context
/// is detached with the next one godtrace detaches on the thread.
#[test]
fn a_panic_unwinding_through_a_guard_inside_map_current_reaches_the_caller() {
    let capture = testing::capture();
    let before = otel_current_span_id();
    let guard = crate::span_builder("op.tests.unwound_in_map_current")
        .parent(other_codes_span(true))
        .start();
    let shown = otel_current_span_id();
    assert_ne!(shown, before, "the guard's context is attached");
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Context::map_current(|_| {
            let _guard = guard;
            panic!("the caller's panic");
        })
    }));
    let payload = unwound.expect_err("the caller's panic unwinds");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the caller's panic"));
    assert_eq!(otel_current_span_id(), shown, "not detached yet");
    drop(
        crate::span_builder("op.tests.next")
            .parent(other_codes_span(true))
            .start(),
    );
    assert_eq!(
        otel_current_span_id(),
        before,
        "detached with the next guard"
    );
    assert_eq!(capture.spans().len(), 2);
}

/// Holds, from its first poll to its second, the guard of a span that is recorded (a new
/// trace), as a sampled-out task holding it across an `.await`.
struct HoldsAKeptGuard {
    guard: Option<crate::SpanGuard>,
    polls: u8,
}

impl Future for HoldsAKeptGuard {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.polls += 1;
        if self.polls == 1 {
            let guard = crate::span_builder("op.tests.held_kept")
                .parent(Context::new())
                .start();
            self.guard = Some(guard);
            return std::task::Poll::Pending;
        }
        self.guard = None;
        std::task::Poll::Ready(())
    }
}

/// A recorded span's guard that a sampled-out future holds between its polls is the task's:
/// it is current in the poll that made it, not on the thread between polls (where other
/// tasks run), and its drop in a later poll finds nothing left to take off.
#[test]
fn a_sampled_out_future_leaves_no_span_of_its_own_current_between_polls() {
    let capture = testing::capture();
    let inner = HoldsAKeptGuard {
        guard: None,
        polls: 0,
    };
    let mut future = Box::pin(Instrumented::new(start(&NEVER_AT_ROOT), inner, |_, _| {}));
    let mut task = std::task::Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut task).is_pending());
    assert_eq!(
        current_span_context(),
        None,
        "the guard is not current between polls"
    );
    assert!(future.as_mut().poll(&mut task).is_ready());
    drop(future);
    assert_eq!(capture.spans_named("op.tests.held_kept").len(), 1);
    assert_eq!(current_span_context(), None);
}
