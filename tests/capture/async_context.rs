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
