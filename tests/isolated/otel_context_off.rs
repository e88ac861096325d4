//! `Config::otel_context`: off by default, godtrace's spans are not made current in
//! OpenTelemetry's context, so a recorded span allocates nothing on the calling thread;
//! parents, ids, propagation and export still see every span. On, `Context::current()` shows
//! them too.
use crate::support::alloc as alloc_support;
use crate::support::otlp as otlp_support;
use alloc_support::allocations;
use godtrace::otel::trace::TraceContextExt;
use godtrace::{Config, Protocol, traced};
use otlp_support::{Kind, Receiver};
use std::collections::HashMap;

#[derive(Debug, Default)]
struct Seen {
    otel_has_span: bool,
    trace_id: Option<String>,
    span_id: Option<String>,
    context_span_id: String,
    traceparent: Option<String>,
}

#[traced(operation = "off.inner")]
fn inner() -> Seen {
    let mut carrier = HashMap::new();
    godtrace::propagation::inject(&mut carrier);
    Seen {
        otel_has_span: godtrace::otel::Context::current().has_active_span(),
        trace_id: godtrace::trace_id(),
        span_id: godtrace::span_id(),
        context_span_id: godtrace::current_context()
            .span()
            .span_context()
            .span_id()
            .to_string(),
        traceparent: carrier.remove("traceparent"),
    }
}

#[traced(operation = "off.outer")]
async fn outer() -> Seen {
    tokio::task::yield_now().await;
    inner()
}

#[traced(operation = "off.leaf")]
fn leaf(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[test]
fn by_default_spans_nest_and_propagate_without_otel_context_and_allocate_nothing() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("otel-context-off")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc),
    )
    .expect("init");

    let seen = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(outer());
    assert!(
        !seen.otel_has_span,
        "the span was attached to OpenTelemetry's context"
    );
    let (trace_id, span_id) = (seen.trace_id.unwrap(), seen.span_id.unwrap());
    assert_eq!(seen.context_span_id, span_id);
    assert_eq!(
        seen.traceparent.as_deref(),
        Some(format!("00-{trace_id}-{span_id}-03").as_str())
    );

    // Warm up (thread-locals, the queue's buffer), then count. Span records are reused once
    // the export thread hands them back: a run in which it was kept off the CPU (a loaded
    // machine) allocates the records it did not return yet, which the next run reuses. The
    // steady state is the fewest of three runs, each after a flush.
    for i in 0..2_000 {
        leaf(i);
    }
    let calls = 1_000;
    let runs = 3;
    let allocated = (0..runs)
        .map(|_| {
            guard.flush();
            let before = allocations();
            for i in 0..calls {
                leaf(i);
            }
            allocations() - before
        })
        .min()
        .expect("three runs");
    assert!(
        allocated * 10 <= calls as usize,
        "{allocated} allocations for {calls} recorded spans, the fewest of {runs} runs"
    );

    guard.flush();
    let expected = 2 + 2_000 + runs * calls as usize;
    let spans = receiver.sink.wait_spans(expected);
    let outer = spans.iter().find(|s| s.name == "off.outer").unwrap();
    let inner = spans.iter().find(|s| s.name == "off.inner").unwrap();
    assert_eq!(inner.parent_span_id, outer.span_id);
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(hex(&inner.span_id), span_id);
    let code_line = inner
        .attributes
        .iter()
        .find(|kv| kv.key == "code.function.name");
    assert!(code_line.is_some(), "code.* attributes are exported");
    drop(guard);
}

#[traced(operation = "on.inner")]
fn reads_otel_context() -> (Option<String>, String) {
    use godtrace::otel::trace::{Span, Tracer, TracerProvider};
    let cx = godtrace::otel::Context::current();
    // A tracer that is not godtrace's global one sees the span only through the attach.
    let sdk = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let child = sdk
        .tracer("own-provider")
        .start_with_context("own.child", &cx);
    let parent = child.span_context().trace_id().to_string();
    drop(child);
    (
        Some(cx.span().span_context().span_id().to_string()).filter(|_| cx.has_active_span()),
        parent,
    )
}

#[traced(operation = "on.panics")]
fn panics_inside() {
    panic!("in the body");
}

#[test]
fn with_otel_context_on_opentelemetrys_current_context_shows_the_span() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("otel-context-on")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .otel_context(true),
    )
    .expect("init");
    let otel_span =
        || godtrace::otel::Context::map_current(|cx| cx.span().span_context().span_id());
    let before = otel_span();
    let (seen, child_trace) = reads_otel_context();
    assert_eq!(otel_span(), before, "the caller's context is given back");
    // The thread's first call took the general path; a later one takes the hot path's attach.
    let (seen_again, _) = reads_otel_context();
    assert_eq!(otel_span(), before, "given back by the hot path too");
    let panicked = std::panic::catch_unwind(panics_inside);
    assert!(panicked.is_err());
    assert_eq!(otel_span(), before, "the context is given back on a panic");
    guard.flush();
    let spans = receiver.sink.wait_spans(3);
    let inner: Vec<_> = spans.iter().filter(|s| s.name == "on.inner").collect();
    let inner_ids: Vec<_> = inner.iter().map(|s| Some(hex(&s.span_id))).collect();
    assert!(inner_ids.contains(&seen), "{seen:?} in {inner_ids:?}");
    assert!(
        inner_ids.contains(&seen_again),
        "{seen_again:?} in {inner_ids:?}"
    );
    assert_ne!(seen, seen_again);
    assert!(inner.iter().any(|s| child_trace == hex(&s.trace_id)));
    drop(guard);
}

#[traced(operation = "off.async_leaf")]
async fn async_leaf(i: u64) -> u64 {
    std::hint::black_box(i)
}

/// A request's handler (`parent = ..` with its context) awaiting `calls` traced calls, each
/// polled here to its end.
#[traced(operation = "off.request", parent = &cx)]
fn request(cx: godtrace::otel::Context, calls: u64) {
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    for i in 0..calls {
        let mut call = std::pin::pin!(async_leaf(i));
        while call.as_mut().poll(&mut task).is_pending() {}
    }
}

/// The traced calls made in a request whose context carries baggage take it along (a call
/// may be spawned), sharing it: an incoming `baggage` header of many entries is not copied
/// for each call.
#[test]
fn traced_calls_in_a_request_with_baggage_share_it_and_allocate_nothing() {
    use godtrace::otel::baggage::BaggageExt;
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("otel-context-off-baggage")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc),
    )
    .expect("init");
    let entries =
        (0..64).map(|i| godtrace::otel::KeyValue::new(format!("key{i}"), format!("value{i}")));
    let cx = godtrace::propagation::extract_map(&HashMap::from([(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    )]))
    .with_baggage(entries);
    request(cx.clone(), 2_000);
    let calls = 1_000;
    let allocated = (0..3)
        .map(|_| {
            guard.flush();
            let before = allocations();
            request(cx.clone(), calls);
            allocations() - before
        })
        .min()
        .expect("three runs");
    assert!(
        allocated * 10 <= calls as usize,
        "{allocated} allocations for {calls} traced calls, the fewest of 3 runs"
    );
    drop(guard);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[traced(operation = "on.in_map_current.leaf")]
fn leaf_in_map_current() {}

/// With `otel_context(true)`, a span made inside OpenTelemetry's `Context::map_current` (where
/// its context cannot be attached) is current in godtrace's own list there: what is set lands
/// on it, and a traced call is its child, not the enclosing span's.
#[test]
fn with_otel_context_on_a_span_made_inside_map_current_is_current_there() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("otel-context-on-map-current")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .otel_context(true),
    )
    .expect("init");
    let outer = godtrace::span("on.in_map_current.outer");
    godtrace::otel::Context::map_current(|_| {
        let _inner = godtrace::span("on.in_map_current.inner");
        godtrace::set_attribute("set.inside", 1_i64);
        leaf_in_map_current();
    });
    drop(outer);
    guard.flush();
    let spans = receiver.sink.wait_spans(3);
    let named = |name: &str| spans.iter().find(|s| s.name == name).expect(name);
    let (inner, leaf) = (
        named("on.in_map_current.inner"),
        named("on.in_map_current.leaf"),
    );
    let keys = |s: &opentelemetry_proto::tonic::trace::v1::Span| {
        s.attributes
            .iter()
            .map(|kv| kv.key.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        keys(inner).contains(&"set.inside".to_owned()),
        "{:?}",
        keys(inner)
    );
    assert!(!keys(named("on.in_map_current.outer")).contains(&"set.inside".to_owned()));
    assert_eq!(leaf.parent_span_id, inner.span_id);
    drop(guard);
}
