//! Async semantics: the span covers the whole future from the call, is current on whatever
//! thread polls it, survives `tokio::spawn`, and marks cancellation.
use godtrace::otel::Value;
use godtrace::testing;
use godtrace::traced;
use std::time::Duration;

#[traced]
async fn leaf(i: u32) -> u32 {
    // Hop threads: the worker that resumes this future may differ from the one that started it.
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    i
}

#[traced]
async fn fan_out() -> u32 {
    let mut total = 0;
    for i in 0..4 {
        total += leaf(i).await;
    }
    let handles: Vec<_> = (0..4).map(|i| tokio::spawn(leaf(i))).collect();
    for h in handles {
        total += h.await.unwrap();
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_nest_across_awaits_threads_and_spawn() {
    let c = testing::capture();
    assert_eq!(fan_out().await, 12);
    let root = c.span("capture::async_context::fan_out");
    let leaves = c.spans_named("capture::async_context::leaf");
    assert_eq!(leaves.len(), 8);
    for leaf in &leaves {
        assert_eq!(leaf.parent_span_id, Some(root.span_id), "{leaf:?}");
        assert_eq!(leaf.trace_id, root.trace_id);
    }
}

#[traced]
async fn slow_to_be_awaited() {}

#[tokio::test]
async fn the_span_starts_when_the_function_is_called() {
    let c = testing::capture();
    let fut = slow_to_be_awaited();
    tokio::time::sleep(Duration::from_millis(30)).await;
    fut.await;
    let s = c.span("capture::async_context::slow_to_be_awaited");
    assert!(s.duration >= Duration::from_millis(30), "{:?}", s.duration);
}

#[traced]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_dropped_future_ends_its_span_as_cancelled() {
    let c = testing::capture();
    let r = tokio::time::timeout(Duration::from_millis(5), never_finishes()).await;
    assert!(r.is_err());
    let s = c.span("capture::async_context::never_finishes");
    assert_eq!(s.attr("godtrace.cancelled"), Some(&Value::Bool(true)));
}

#[traced]
async fn reads_ids() -> (Option<String>, Option<String>) {
    tokio::task::yield_now().await;
    (godtrace::trace_id(), godtrace::span_id())
}

#[traced]
async fn uses_plain_opentelemetry() {
    use godtrace::otel::trace::{Tracer, TracerProvider};
    let tracer = godtrace::otel::global::tracer_provider().tracer("third-party");
    tracer.in_span("third_party.call", |_| {});
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_is_current_while_polled_and_other_otel_code_joins_it() {
    let c = testing::capture();
    let (trace, span) = reads_ids().await;
    let s = c.span("capture::async_context::reads_ids");
    assert_eq!(trace, Some(s.trace_id.to_string()));
    assert_eq!(span, Some(s.span_id.to_string()));
    assert_eq!(godtrace::trace_id(), None, "nothing is current outside");
    uses_plain_opentelemetry().await;
    let outer = c.span("capture::async_context::uses_plain_opentelemetry");
    let inner = c.span("third_party.call");
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
}

#[traced]
async fn panics_inside() {
    tokio::task::yield_now().await;
    panic!("pool exhausted");
}

#[tokio::test]
async fn a_panicking_future_marks_its_span() {
    let c = testing::capture();
    let r = tokio::spawn(async {
        panics_inside().await;
    })
    .await;
    assert!(r.is_err());
    // The spawned root was created on a worker of this current-thread runtime, i.e. this thread.
    let s = c.span("capture::async_context::panics_inside");
    assert!(s.is_error());
    assert_eq!(
        s.event("exception")
            .and_then(|e| e.attr("exception.message")),
        Some(&Value::from("pool exhausted"))
    );
    assert!(s.attr("godtrace.cancelled").is_none());
}

#[traced(parent = remote.as_ref())]
async fn handle_request(remote: Option<godtrace::otel::Context>, id: u32) -> u32 {
    tokio::task::yield_now().await;
    id
}

#[traced(parent = remote)]
async fn handle_by_value(remote: godtrace::otel::Context, id: u32) -> u32 {
    tokio::task::yield_now().await;
    drop(remote);
    id
}

#[traced]
fn client_side() -> godtrace::otel::Context {
    godtrace::current_context()
}

#[tokio::test]
async fn parent_option_starts_the_span_under_the_given_context() {
    let c = testing::capture();
    let cx = client_side();
    assert_eq!(handle_request(Some(cx), 1).await, 1);
    assert_eq!(handle_request(None, 2).await, 2);
    assert_eq!(handle_by_value(client_side(), 3).await, 3);
    let clients = c.spans_named("capture::async_context::client_side");
    let by_value = c.span("capture::async_context::handle_by_value");
    assert!(
        clients
            .iter()
            .any(|s| Some(s.span_id) == by_value.parent_span_id)
    );
    let client = clients[0].clone();
    let handled = c.spans_named("capture::async_context::handle_request");
    assert_eq!(handled.len(), 2);
    assert_eq!(
        handled
            .iter()
            .filter(|s| s.parent_span_id == Some(client.span_id))
            .count(),
        1
    );
    assert_eq!(
        handled
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .count(),
        1
    );
}

#[traced(parent = cx)]
fn parent_by_ref(cx: &godtrace::otel::Context) {}

#[traced(parent = cx)]
fn parent_by_ref_option(cx: &Option<godtrace::otel::Context>) {}

#[traced(parent = cx)]
fn parent_option_of_ref(cx: Option<&godtrace::otel::Context>) {}

#[traced(parent = cx)]
async fn parent_by_ref_async(cx: &godtrace::otel::Context) {}

#[traced(parent = cx)]
async fn parent_by_ref_option_async(cx: &Option<godtrace::otel::Context>) {}

#[traced(parent = cx)]
async fn parent_option_of_ref_async(cx: Option<&godtrace::otel::Context>) {}

#[tokio::test]
async fn parent_named_bare_takes_every_documented_form() {
    let c = testing::capture();
    let cx = client_side();
    let client = c.span("capture::async_context::client_side").span_id;
    parent_by_ref(&cx);
    parent_by_ref_option(&Some(cx.clone()));
    parent_option_of_ref(Some(&cx));
    parent_by_ref_async(&cx).await;
    parent_by_ref_option_async(&Some(cx.clone())).await;
    parent_option_of_ref_async(Some(&cx)).await;
    for name in [
        "parent_by_ref",
        "parent_by_ref_option",
        "parent_option_of_ref",
        "parent_by_ref_async",
        "parent_by_ref_option_async",
        "parent_option_of_ref_async",
    ] {
        let span = c.span(&format!("capture::async_context::{name}"));
        assert_eq!(span.parent_span_id, Some(client), "{name}");
    }
    // `None` is the current span (none here).
    parent_option_of_ref(None);
    assert_eq!(
        c.spans_named("capture::async_context::parent_option_of_ref")
            .len(),
        2
    );
}

fn assert_send_sync_unwind_safe<T>(_: &T)
where
    T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe,
{
}

async fn untraced_future(x: u32, name: String) -> usize {
    std::future::ready(()).await;
    name.len() + x as usize
}

#[traced]
async fn traced_future(x: u32, name: String) -> usize {
    std::future::ready(()).await;
    name.len() + x as usize
}

#[traced(include_args, include_result)]
async fn traced_future_args(x: u32, name: String) -> usize {
    std::future::ready(()).await;
    name.len() + x as usize
}

#[traced]
fn traced_returns_future(x: u32) -> impl std::future::Future<Output = u32> {
    async move { x }
}

/// A traced future can go where the untraced one goes: it is `Send`, `Sync` and unwind safe
/// when the body's future is (tests/ui/fail/future_not_sync.rs: and only then).
#[tokio::test]
async fn traced_futures_keep_the_auto_traits_of_the_body() {
    let _c = testing::capture();
    let untraced = untraced_future(1, "a".to_owned());
    assert_send_sync_unwind_safe(&untraced);
    let traced = traced_future(1, "a".to_owned());
    assert_send_sync_unwind_safe(&traced);
    let recorded = traced_future_args(1, "a".to_owned());
    assert_send_sync_unwind_safe(&recorded);
    let returned = traced_returns_future(1);
    assert_send_sync_unwind_safe(&returned);
    assert_eq!(untraced.await + traced.await + recorded.await, 6);
    assert_eq!(returned.await, 1);
}

/// A `ref` binding borrows from the argument the future owns: untraced, a `Cell` argument
/// leaves the future `Send` when the binding is not used after an `.await`.
#[traced(include_args)]
async fn ref_to_a_cell_recorded(ref n: std::cell::Cell<u8>) -> u8 {
    let v = n.get();
    std::future::ready(()).await;
    v
}

#[traced(fields(n = n.get()))]
async fn ref_to_a_cell_in_fields((ref n, m): (std::cell::Cell<u8>, u8)) -> u8 {
    let v = n.get();
    std::future::ready(()).await;
    v + m
}

fn assert_send<T: Send>(_: &T) {}

/// Recording a `ref` binding does not keep it in the future across the body's `.await`s (a
/// `&Cell` there is not `Send`).
#[tokio::test]
async fn a_recorded_ref_binding_leaves_the_future_send() {
    let c = testing::capture();
    let recorded = ref_to_a_cell_recorded(std::cell::Cell::new(2));
    assert_send(&recorded);
    let in_fields = ref_to_a_cell_in_fields((std::cell::Cell::new(3), 1));
    assert_send(&in_fields);
    assert_eq!(recorded.await + in_fields.await, 6);
    let span = c.span("capture::async_context::ref_to_a_cell_recorded");
    assert_eq!(
        span.attr("n").map(|v| v.to_string()).as_deref(),
        Some("Cell { value: 2 }")
    );
}

#[traced]
fn called_elsewhere() {}

#[traced]
async fn holds_a_guard_across_an_await(release: tokio::sync::oneshot::Receiver<()>) {
    let _guard = godtrace::span("async_context.guard");
    let _ = release.await;
    called_elsewhere();
}

/// Polls `future` once; whether it is still pending.
async fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut future = Some(future);
    std::future::poll_fn(|task| {
        let future = future.take().expect("polled once");
        std::task::Poll::Ready(future.poll(task).is_pending())
    })
    .await
}

/// A `SpanGuard` held across an `.await` in a traced async fn is current in that future only
/// (README, "Manual API"): what the thread runs while the future waits is not its child.
#[tokio::test]
async fn a_guard_held_across_an_await_stays_in_its_future() {
    let c = testing::capture();
    let (release, released) = tokio::sync::oneshot::channel();
    let held = holds_a_guard_across_an_await(released);
    tokio::pin!(held);
    assert!(poll_once(held.as_mut()).await, "waits for its release");
    assert_eq!(godtrace::trace_id(), None, "nothing current between polls");
    called_elsewhere();
    release.send(()).expect("the future waits");
    held.await;
    let own = c.span("capture::async_context::holds_a_guard_across_an_await");
    let guard = c.span("async_context.guard");
    assert_eq!(guard.parent_span_id, Some(own.span_id));
    let calls = c.spans_named("capture::async_context::called_elsewhere");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].parent_span_id, None, "a root: {calls:#?}");
    // After the `.await`, the function's own span is current again (not the guard's).
    assert_eq!(calls[1].parent_span_id, Some(own.span_id));
}

#[traced]
async fn waits_forever_inside() {
    std::future::pending::<()>().await;
}

#[traced]
async fn awaits_a_call_that_waits_forever() {
    waits_forever_inside().await;
}

/// A future dropped unfinished ends its span after the future it covers is dropped: the
/// calls it was awaiting (its children) end before it, as children do.
#[tokio::test]
async fn cancelled_children_end_before_their_parent() {
    let c = testing::capture();
    let mut outer = Box::pin(awaits_a_call_that_waits_forever());
    assert!(poll_once(outer.as_mut()).await);
    drop(outer);
    let names: Vec<String> = c.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "capture::async_context::waits_forever_inside",
            "capture::async_context::awaits_a_call_that_waits_forever"
        ],
        "in the order they ended"
    );
}

/// A local whose drop does traced work (a connection given back, a buffer flushed).
struct CleansUp;

impl Drop for CleansUp {
    fn drop(&mut self) {
        called_elsewhere();
    }
}

#[traced]
async fn cleans_up_when_cancelled() {
    let _cleanup = CleansUp;
    std::future::pending::<()>().await;
}

/// A local whose drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped in a bad state");
    }
}

#[traced]
async fn panics_when_cancelled() {
    let _bad = PanicsOnDrop;
    std::future::pending::<()>().await;
}

/// A future dropped unfinished drops its locals in its span, as a poll runs: what their
/// drops record is the span's child, not a new trace, and nothing is left current after.
#[tokio::test]
async fn what_a_cancelled_future_records_as_it_drops_is_its_child() {
    let c = testing::capture();
    let mut future = Box::pin(cleans_up_when_cancelled());
    assert!(poll_once(future.as_mut()).await);
    drop(future);
    assert_eq!(godtrace::trace_id(), None, "nothing current after the drop");
    let own = c.span("capture::async_context::cleans_up_when_cancelled");
    assert_eq!(own.attr("godtrace.cancelled"), Some(&Value::Bool(true)));
    let cleanup = c.span("capture::async_context::called_elsewhere");
    assert_eq!(cleanup.parent_span_id, Some(own.span_id), "{cleanup:#?}");
    assert_eq!(cleanup.trace_id, own.trace_id);
}

/// A panic while a cancelled future's locals drop marks its span failed, and the span still
/// ends (cancelled) while the panic goes on to the caller.
#[tokio::test]
async fn a_panic_while_a_cancelled_future_drops_marks_its_span_failed() {
    let c = testing::capture();
    let mut future = Box::pin(panics_when_cancelled());
    assert!(poll_once(future.as_mut()).await);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(future)));
    assert!(dropped.is_err(), "the panic reaches the caller");
    assert_eq!(godtrace::trace_id(), None, "nothing current after the drop");
    let own = c.span("capture::async_context::panics_when_cancelled");
    assert_eq!(own.attr("godtrace.cancelled"), Some(&Value::Bool(true)));
    assert!(own.is_error(), "{own:#?}");
    assert_eq!(own.attr("error.type"), Some(&Value::from("panic")));
    // The drop cannot read the payload: the exception has its type and no made-up message.
    let exception = own.event("exception").expect("an exception event");
    assert_eq!(
        exception.attr("exception.type"),
        Some(&Value::from("panic"))
    );
    assert_eq!(exception.attr("exception.message"), None);
}

#[traced]
async fn a_job() -> (Option<String>, Option<String>) {
    called_elsewhere();
    let mut headers = std::collections::HashMap::new();
    godtrace::propagation::inject(&mut headers);
    (godtrace::trace_id(), headers.remove("traceparent"))
}

type Job = std::pin::Pin<Box<dyn std::future::Future<Output = (Option<String>, Option<String>)>>>;

#[traced(sample_rate = 0.0)]
async fn makes_a_job_under_a_dropped_root() -> (Option<String>, Job) {
    (godtrace::trace_id(), Box::pin(a_job()))
}

#[traced]
async fn runs_a_job(job: Job) -> (Option<String>, Option<String>) {
    job.await
}

/// A traced future made under a root godtrace sampled out and awaited by another task's
/// recorded span (a job handed to a worker) runs in the root it was made under: the same
/// trace, dropped with it, and propagated as not sampled; nothing joins the worker's trace.
#[tokio::test]
async fn a_job_made_under_a_dropped_root_stays_in_it_where_it_runs() {
    let c = testing::capture();
    let (made_in, job) = makes_a_job_under_a_dropped_root().await;
    let made_in = made_in.expect("a dropped root has ids");
    let (seen, traceparent) = runs_a_job(job).await;
    assert_eq!(seen.as_deref(), Some(made_in.as_str()));
    let traceparent = traceparent.expect("the job's context is injected");
    assert!(
        traceparent.starts_with(&format!("00-{made_in}-")) && traceparent.ends_with("-02"),
        "{traceparent}"
    );
    assert!(
        c.spans_named("capture::async_context::called_elsewhere")
            .is_empty()
    );
    assert!(c.spans_named("capture::async_context::a_job").is_empty());
    let worker = c.span("capture::async_context::runs_a_job");
    assert!(c.children(&worker).is_empty(), "{:#?}", c.children(&worker));
}

/// Sets its flag when dropped: tells that a future's locals were dropped.
struct SetsOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for SetsOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[traced(sample_rate = 0.0)]
async fn waits_holding(flag: SetsOnDrop) {
    let _held = flag;
    std::future::pending::<()>().await;
}

#[traced]
fn after_the_failed_drop() -> Option<String> {
    godtrace::trace_id()
}

/// An unfinished future dropped where its OpenTelemetry context cannot be attached (inside
/// OpenTelemetry's `Context::map_current`, where `attach` panics) drops what it holds before
/// its memory goes (pinning's guarantee: a boxed future's locals may be linked into a waiter
/// list), without a panic, and leaves the thread's sampling as it was.
#[test]
fn a_future_whose_span_cannot_be_entered_at_its_drop_still_drops_its_locals() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let c = testing::capture();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut future = Box::pin(waits_holding(SetsOnDrop(dropped.clone())));
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(future.as_mut().poll(&mut task).is_pending());
    let outer = godtrace::span("capture.outer.current");
    godtrace::otel::Context::map_current(|_| drop(future));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the future's locals were dropped"
    );
    drop(outer);
    // A new root on this thread is recorded: no sampled-out mark was left held.
    assert!(after_the_failed_drop().is_some());
    c.span("capture::async_context::after_the_failed_drop");
}

#[traced(parent = &cx)]
async fn waits_under(cx: godtrace::otel::Context, flag: SetsOnDrop) {
    let _held = flag;
    std::future::pending::<()>().await;
}

#[traced(parent = &cx)]
async fn waits_on_a_child(cx: godtrace::otel::Context, flag: SetsOnDrop, child: SetsOnDrop) {
    let _held = flag;
    waits_under(godtrace::current_context(), child).await;
}

#[traced(parent = &cx)]
fn runs_under(cx: godtrace::otel::Context) -> u32 {
    41 + 1
}

/// Traced code run inside OpenTelemetry's `Context::map_current` (where `attach` panics)
/// runs as it would untraced: a call with an explicit parent returns, and nested unfinished
/// futures dropped there drop all they hold (a panic there, nested in the drop's unwind,
/// aborted the process).
#[test]
fn traced_code_inside_map_current_runs_as_untraced() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let c = testing::capture();
    let remote = godtrace::propagation::extract_map(&std::collections::HashMap::from([(
        "traceparent".to_owned(),
        "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]));
    let returned = godtrace::otel::Context::map_current(|_| runs_under(remote.clone()));
    assert_eq!(returned, 42);
    let span = c.span("capture::async_context::runs_under");
    assert_eq!(
        span.trace_id.to_string(),
        "5bf92f3577b34da6a3ce929d0e0e4736",
        "still the given parent's child"
    );

    let outer = Arc::new(AtomicBool::new(false));
    let inner = Arc::new(AtomicBool::new(false));
    let mut future = Box::pin(waits_on_a_child(
        remote,
        SetsOnDrop(outer.clone()),
        SetsOnDrop(inner.clone()),
    ));
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(future.as_mut().poll(&mut task).is_pending());
    godtrace::otel::Context::map_current(|_| drop(future));
    assert!(outer.load(Ordering::SeqCst) && inner.load(Ordering::SeqCst));
    let cancelled = c.span("capture::async_context::waits_under");
    assert_eq!(
        cancelled.attr("godtrace.cancelled"),
        Some(&Value::Bool(true))
    );
}

/// Pending on its first poll, ready on the next.
struct PendingOnce(bool);

impl std::future::Future for PendingOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        task: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Ready(());
        }
        task.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Holds the guard of a span it records (a new trace) across an `.await`.
#[traced(parent = &cx)]
async fn holds_a_recorded_guard_under(cx: godtrace::otel::Context) {
    let _guard = godtrace::span_builder("capture.guard.across.await")
        .parent(godtrace::otel::Context::new())
        .start();
    PendingOnce(false).await;
}

#[traced(parent = &cx, sample_rate = 0.0)]
async fn dropped_root_holds_a_recorded_guard(cx: godtrace::otel::Context) {
    holds_a_recorded_guard_under(godtrace::current_context()).await
}

/// A guard held across an `.await` in a traced future sampled out with a context to carry (a
/// remote parent's unsampled child, a dropped root whose request carries baggage) is current
/// in that future only: between its polls, other tasks on the thread do not see it (they
/// made it their parent).
#[test]
fn a_guard_held_across_an_await_under_a_context_carrying_sampled_out_call_stays_in_it() {
    let c = testing::capture();
    let unsampled_remote =
        godtrace::propagation::extract_map(&std::collections::HashMap::from([(
            "traceparent".to_owned(),
            "00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
        )]));
    let baggage_only = godtrace::propagation::extract_map(&std::collections::HashMap::from([(
        "baggage".to_owned(),
        "tenant=acme".to_owned(),
    )]));
    let futures: [std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>; 2] = [
        Box::pin(holds_a_recorded_guard_under(unsampled_remote)),
        Box::pin(dropped_root_holds_a_recorded_guard(baggage_only)),
    ];
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    for mut future in futures {
        assert!(future.as_mut().poll(&mut task).is_pending());
        assert_eq!(godtrace::span_id(), None, "another task sees no guard");
        assert!(future.as_mut().poll(&mut task).is_ready());
    }
    assert_eq!(c.spans_named("capture.guard.across.await").len(), 2);
}
