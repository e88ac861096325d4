//! The span module's soundness tests: the shapes in which spans are entered, moved and left,
//! small enough to run under Miri (`scripts/miri`), which checks every access to a span's
//! record against the aliasing rules. Each asserts the spans that come out, too.
use super::{CallSite, Instrumented, OpSpan, SiteOptions, run_sync};
use crate::testing::{self, Capture, FinishedSpan};
use opentelemetry::Value;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

static OUTER: CallSite = site(Some("outer"));
static INNER: CallSite = site(Some("inner"));
static POLLED: CallSite = site(Some("polled"));

const fn site(operation: Option<&'static str>) -> CallSite {
    CallSite::new(
        || "span::tests::f::h",
        file!(),
        1,
        SiteOptions {
            operation,
            include_duration: false,
            sample_rate: None,
            carries_parent: false,
            kind: opentelemetry::trace::SpanKind::Internal,
        },
    )
}

/// Starts a traced call at `site` under the current span (what the macro generates).
fn start(site: &'static CallSite) -> Option<OpSpan> {
    OpSpan::start(site, || None::<opentelemetry::Context>, 0, |_| {})
}

/// A traced sync call at `site` running `body`.
fn traced<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
    run_sync(start(site), body, |_, _| {})
}

fn child_of(capture: &Capture, child: &str, parent: &str) -> bool {
    let parent: FinishedSpan = capture.span(parent);
    capture.span(child).parent_span_id == Some(parent.span_id)
}

#[test]
fn manual_span_kept_while_current() {
    let capture = testing::capture();
    // The shape of `godtrace::span`'s doc example.
    let span = crate::span("royalty.distribute");
    span.set_attribute("royalty.recipients", 3);
    crate::add_event("payout.sent", [("amount.eth", Value::F64(0.25))]);
    crate::set_attribute("via.current", true);
    drop(span);
    let span = capture.span("royalty.distribute");
    assert_eq!(span.attr("royalty.recipients"), Some(&Value::I64(3)));
    assert_eq!(span.attr("via.current"), Some(&Value::Bool(true)));
    assert!(span.event("payout.sent").is_some());
}

#[test]
fn nested_sync_calls() {
    let capture = testing::capture();
    let answer = traced(&OUTER, || {
        traced(&INNER, || crate::set_attribute("depth", 2));
        crate::set_attribute("depth", 1);
        42
    });
    assert_eq!(answer, 42);
    assert!(child_of(&capture, "inner", "outer"));
    assert_eq!(capture.span("inner").attr("depth"), Some(&Value::I64(2)));
    assert_eq!(capture.span("outer").attr("depth"), Some(&Value::I64(1)));
}

/// By default a sync call's span is current for godtrace only: OpenTelemetry's context is left
/// as it was (nothing attached, nothing allocated), and the caller's span is current again once
/// the call returns or panics.
#[test]
fn sync_calls_leave_opentelemetrys_context_alone_and_give_the_current_span_back() {
    use opentelemetry::trace::TraceContextExt;
    let capture = testing::capture();
    let otel_span = || opentelemetry::Context::map_current(|cx| cx.span().span_context().span_id());
    let own_span = || crate::span_id().unwrap_or_default();
    let before = otel_span();
    let (in_outer, in_inner, back_in_outer, otel_inside) = traced(&OUTER, || {
        let in_outer = own_span();
        let in_inner = traced(&INNER, own_span);
        (in_outer, in_inner, own_span(), otel_span())
    });
    assert_eq!(otel_inside, before, "attached to OpenTelemetry's context");
    assert_eq!(in_outer, capture.span("outer").span_id.to_string());
    assert_eq!(in_inner, capture.span("inner").span_id.to_string());
    assert_eq!(back_in_outer, in_outer);
    assert!(child_of(&capture, "inner", "outer"));

    let panicked = std::panic::catch_unwind(|| traced(&POLLED, || panic!("in the body")));
    assert!(panicked.is_err());
    assert_eq!(
        crate::span_id(),
        None,
        "the current span is given back on a panic"
    );
    assert_eq!(
        capture.span("polled").status,
        opentelemetry::trace::Status::error("in the body")
    );
}

/// Pending on its first poll, ready on the second; makes a traced call and a manual span
/// each time it is polled.
struct TwoPolls {
    polled: u32,
}

impl Future for TwoPolls {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        self.polled += 1;
        traced(&INNER, || {
            crate::set_attribute("poll", i64::from(self.polled))
        });
        let _manual = crate::span("in.poll");
        if self.polled == 2 {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn polled_future() {
    let capture = testing::capture();
    let mut future = Instrumented::new(start(&POLLED), TwoPolls { polled: 0 }, |_, _| {});
    let mut task = Context::from_waker(Waker::noop());
    // SAFETY: `future` is a local that is not moved again before it is dropped.
    let mut future = unsafe { Pin::new_unchecked(&mut future) };
    assert_eq!(future.as_mut().poll(&mut task), Poll::Pending);
    assert_eq!(future.as_mut().poll(&mut task), Poll::Ready(7));
    assert_eq!(capture.spans_named("inner").len(), 2);
    assert_eq!(capture.spans_named("in.poll").len(), 2);
    let polled = capture.span("polled");
    assert!(
        capture
            .spans_named("inner")
            .iter()
            .all(|inner| inner.parent_span_id == Some(polled.span_id))
    );
}

#[test]
fn guards_dropped_out_of_order() {
    let capture = testing::capture();
    let a = crate::span("a");
    let b = crate::span("b");
    drop(a);
    let c = crate::span("c");
    crate::set_attribute("on", "c");
    drop(b);
    crate::set_attribute("still", "c");
    drop(c);
    assert!(child_of(&capture, "b", "a"));
    assert!(child_of(&capture, "c", "b"));
    assert_eq!(capture.span("c").attr("still"), Some(&Value::from("c")));
}

/// Guards that attach an OpenTelemetry context (an explicit parent), dropped out of order
/// under a root godtrace sampled out: the innermost span left stays current (its noted
/// context handed the one that shows again), and the root's mark is back once all are gone.
#[test]
fn guards_with_contexts_dropped_out_of_order_under_a_sampled_out_root() {
    static DROPPED: CallSite = CallSite::new(
        || "span::tests::dropped",
        file!(),
        1,
        SiteOptions {
            operation: Some("dropped"),
            include_duration: false,
            sample_rate: Some(0.0),
            carries_parent: false,
            kind: opentelemetry::trace::SpanKind::Internal,
        },
    );
    let capture = testing::capture();
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
    let remote = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x7e57_0e11_u128 << 64 | 0x0dd),
        SpanId::from(0x0dd),
        TraceFlags::SAMPLED,
        true,
        opentelemetry::trace::TraceState::NONE,
    ));
    traced(&DROPPED, || {
        let req = crate::span_builder("req").parent(remote).start();
        let batch = crate::span_builder("batch")
            .parent(opentelemetry::Context::new())
            .start();
        let item = crate::span("item");
        drop(batch);
        drop(crate::span("after.batch"));
        drop(req);
        drop(item);
        traced(&INNER, || {});
    });
    assert!(child_of(&capture, "after.batch", "item"));
    assert!(
        capture.spans_named("inner").is_empty(),
        "under the dropped root"
    );
}

fn returns_guard(name: &'static str) -> crate::SpanGuard {
    crate::span(name)
}

#[test]
fn guards_moved() {
    let capture = testing::capture();
    let returned = returns_guard("returned");
    crate::set_attribute("moved", "returned");
    let mut guards = Vec::new();
    guards.push(returned);
    guards.push(crate::span("pushed"));
    crate::set_attribute("moved", "pushed");
    let moved = guards.pop();
    crate::set_attribute("after.pop", true);
    drop(moved);
    crate::set_attribute("after.drop", true);
    drop(guards);
    assert!(child_of(&capture, "pushed", "returned"));
    let returned = capture.span("returned");
    assert_eq!(returned.attr("moved"), Some(&Value::from("returned")));
    assert_eq!(returned.attr("after.drop"), Some(&Value::Bool(true)));
    assert_eq!(
        capture.span("pushed").attr("after.pop"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn guard_outlives_its_call() {
    let capture = testing::capture();
    let guard = traced(&OUTER, || crate::span("escaped"));
    crate::set_attribute("after.call", true);
    traced(&INNER, || {});
    drop(guard);
    assert!(child_of(&capture, "escaped", "outer"));
    assert!(child_of(&capture, "inner", "escaped"));
    assert_eq!(
        capture.span("escaped").attr("after.call"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn span_dropped_while_current_leaves_the_list() {
    let capture = testing::capture();
    let outer = crate::span("outer.manual");
    let span = OpSpan::start_named(
        "dropped".into(),
        opentelemetry::trace::SpanKind::Internal,
        None,
        false,
    )
    .expect("sampled in");
    // SAFETY: `span` stays in this frame, on this thread.
    let entered = unsafe { span.make_current() };
    // Its owner let go without leaving: the record is taken off the list before it is reused.
    drop(span);
    drop(entered.attached);
    crate::set_attribute("after", true);
    let reused = crate::span("reused");
    crate::set_attribute("on", "reused");
    drop(reused);
    drop(outer);
    assert_eq!(
        capture.span("outer.manual").attr("after"),
        Some(&Value::Bool(true))
    );
    assert!(child_of(&capture, "reused", "outer.manual"));
}

#[test]
fn detached_span_in_scope_on_two_threads_in_turn() {
    let capture = testing::capture();
    let mut request = crate::span_builder("request").start_detached();
    request.in_scope(|| drop(crate::span("first")));
    let mut request = std::thread::spawn(move || {
        request.in_scope(|| {
            crate::set_attribute("on.second.thread", true);
            drop(crate::span("second"));
        });
        request
    })
    .join()
    .unwrap();
    request.set_attribute("status", 200);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        request.in_scope(|| panic!("handler"))
    }));
    assert!(unwound.is_err());
    drop(request);
    assert!(child_of(&capture, "first", "request"));
    assert!(child_of(&capture, "second", "request"));
    let request = capture.span("request");
    assert_eq!(request.attr("on.second.thread"), Some(&Value::Bool(true)));
    assert_eq!(request.attr("status"), Some(&Value::I64(200)));
    assert!(request.is_error());
    assert_eq!(capture.spans_named("request").len(), 1);
}

#[test]
fn recording_the_arguments_may_end_the_parent() {
    let capture = testing::capture();
    let parent = std::cell::RefCell::new(Some(crate::span("parent")));
    // What a `fields(..)` expression or an argument's `Debug` may do: drop the parent's guard
    // (its record is then freed or reused) while the child is being started.
    let span = OpSpan::start(
        &INNER,
        || None::<opentelemetry::Context>,
        1,
        |attributes| {
            drop(parent.borrow_mut().take());
            attributes.push(opentelemetry::KeyValue::new("recorded", true));
        },
    );
    drop(run_sync(span, || crate::span("under.child"), |_, _| {}));
    assert!(child_of(&capture, "inner", "parent"));
    assert!(child_of(&capture, "under.child", "inner"));
    assert_eq!(
        capture.span("inner").attr("recorded"),
        Some(&Value::Bool(true))
    );
}

/// Takes a manual guard in its first poll and keeps it across the `Pending`, then drops it.
struct HoldsAGuard {
    guard: Option<crate::SpanGuard>,
}

impl Future for HoldsAGuard {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        match self.guard.take() {
            None => {
                self.guard = Some(crate::span("held"));
                Poll::Pending
            }
            Some(guard) => {
                crate::set_attribute("after.pending", true);
                drop(guard);
                Poll::Ready(())
            }
        }
    }
}

#[test]
fn a_guard_held_across_a_pending_poll_is_current_in_its_future_only() {
    let capture = testing::capture();
    let mut future = Instrumented::new(start(&POLLED), HoldsAGuard { guard: None }, |_, _| {});
    let mut task = Context::from_waker(Waker::noop());
    // SAFETY: `future` is a local that is not moved again before it is dropped.
    let mut future = unsafe { Pin::new_unchecked(&mut future) };
    assert_eq!(future.as_mut().poll(&mut task), Poll::Pending);
    assert_eq!(crate::span_id(), None);
    traced(&OUTER, || {});
    assert_eq!(future.as_mut().poll(&mut task), Poll::Ready(()));
    assert!(child_of(&capture, "held", "polled"));
    assert_eq!(capture.span("outer").parent_span_id, None);
    // After the `Pending`, the traced future's own span is current (the guard's is not).
    assert_eq!(
        capture.span("polled").attr("after.pending"),
        Some(&Value::Bool(true))
    );
}

/// An `async fn`'s site: a future made under a dropped root takes the root's mark along.
static ASYNC_CALL: CallSite = CallSite::new(
    || "span::tests::f::h",
    file!(),
    1,
    SiteOptions {
        operation: Some("async.call"),
        include_duration: false,
        sample_rate: None,
        carries_parent: true,
        kind: opentelemetry::trace::SpanKind::Internal,
    },
);

static DROPPED_ROOT: CallSite = CallSite::new(
    || "span::tests::f::h",
    file!(),
    1,
    SiteOptions {
        operation: Some("dropped.root"),
        include_duration: false,
        sample_rate: Some(0.0),
        carries_parent: false,
        kind: opentelemetry::trace::SpanKind::Internal,
    },
);

#[test]
fn a_future_made_under_a_dropped_root_keeps_it_where_it_is_polled() {
    let capture = testing::capture();
    let (made_in, mut future) = traced(&DROPPED_ROOT, || {
        let reads = std::future::poll_fn(|_| {
            traced(&INNER, || {});
            Poll::Ready(crate::trace_id())
        });
        (
            crate::trace_id(),
            Instrumented::new(start(&ASYNC_CALL), reads, |_, _| {}),
        )
    });
    let mut task = Context::from_waker(Waker::noop());
    // SAFETY: `future` is a local that is not moved again before it is dropped.
    let mut future = unsafe { Pin::new_unchecked(&mut future) };
    // Polled under a recorded span (a worker's), and a manual guard in it.
    let seen = traced(&OUTER, || {
        let _guard = crate::span("worker.step");
        let seen = future.as_mut().poll(&mut task);
        // The worker's spans are current again once the poll returns.
        crate::set_attribute("after.poll", true);
        seen
    });
    assert!(made_in.is_some());
    assert_eq!(seen, Poll::Ready(made_in), "the dropped root's trace");
    assert!(capture.spans_named("inner").is_empty());
    assert_eq!(
        capture.span("worker.step").attr("after.poll"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn a_guard_ended_in_a_hidden_poll_leaves_the_list_sound() {
    let capture = testing::capture();
    let slot = std::cell::RefCell::new(None::<crate::SpanGuard>);
    let mut future = traced(&DROPPED_ROOT, || {
        let ends_the_worker = std::future::poll_fn(|_| {
            drop(slot.borrow_mut().take());
            traced(&INNER, || {});
            Poll::Ready(crate::trace_id())
        });
        Instrumented::new(start(&ASYNC_CALL), ends_the_worker, |_, _| {})
    });
    let mut task = Context::from_waker(Waker::noop());
    // SAFETY: `future` is a local that is not moved again before it is dropped.
    let mut future = unsafe { Pin::new_unchecked(&mut future) };
    let outer = crate::span("outer.guard");
    // The worker's guard, current when the future is polled, and ended inside the poll.
    *slot.borrow_mut() = Some(crate::span("worker.guard"));
    assert!(future.as_mut().poll(&mut task).is_ready());
    // The list is whole again: `outer.guard` is current, and spans nest under it.
    for _ in 0..3 {
        drop(crate::span("after.poll"));
    }
    crate::set_attribute("still.current", true);
    drop(outer);
    drop(crate::span("next.root"));
    assert!(capture.spans_named("inner").is_empty());
    assert!(child_of(&capture, "worker.guard", "outer.guard"));
    assert_eq!(capture.spans_named("after.poll").len(), 3);
    assert!(
        capture
            .spans_named("after.poll")
            .iter()
            .all(|s| s.parent_span_id == Some(capture.span("outer.guard").span_id))
    );
    assert_eq!(
        capture.span("outer.guard").attr("still.current"),
        Some(&Value::Bool(true))
    );
    assert_eq!(capture.span("next.root").parent_span_id, None);
}

/// Records a traced call when dropped.
struct RecordsOnDrop;

impl Drop for RecordsOnDrop {
    fn drop(&mut self) {
        traced(&INNER, || {});
    }
}

/// Waits forever, holding a local that records when dropped and a guard it entered.
struct WaitsHoldingLocals {
    _records: RecordsOnDrop,
    guard: Option<crate::SpanGuard>,
}

impl Future for WaitsHoldingLocals {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.guard = Some(crate::span("held"));
        Poll::Pending
    }
}

#[test]
fn a_future_dropped_unfinished_drops_its_locals_in_its_span() {
    let capture = testing::capture();
    let waits = WaitsHoldingLocals {
        _records: RecordsOnDrop,
        guard: None,
    };
    let outer = crate::span("outer.guard");
    let mut future = Box::pin(Instrumented::new(start(&POLLED), waits, |_, _| {}));
    let mut task = Context::from_waker(Waker::noop());
    assert_eq!(future.as_mut().poll(&mut task), Poll::Pending);
    drop(future);
    crate::set_attribute("still.current", true);
    drop(outer);
    assert_eq!(crate::span_id(), None);
    assert!(child_of(&capture, "polled", "outer.guard"));
    assert!(child_of(&capture, "inner", "polled"));
    assert!(child_of(&capture, "held", "polled"));
    assert_eq!(
        capture.span("polled").attr("godtrace.cancelled"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        capture.span("outer.guard").attr("still.current"),
        Some(&Value::Bool(true))
    );
}
