//! Detached spans (`SpanBuilder::start_detached`): what a server layer or a database wrapper
//! holds across a request's future. Current only inside `in_scope`, on whichever thread runs
//! it; parented explicitly by a remote context; ended once, however it ends.
use godtrace::otel::trace::TraceContextExt;
use godtrace::propagation;
use godtrace::{SpanKind, testing, traced};
use std::collections::HashMap;

#[traced(operation = "capture::detached_spans::handler_step")]
fn handler_step() {}

const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn remote_parent(traceparent: &str) -> godtrace::otel::Context {
    propagation::extract_map(&HashMap::from([(
        "traceparent".to_string(),
        traceparent.to_string(),
    )]))
}

#[test]
fn a_detached_span_under_a_remote_parent_is_current_only_in_scope_on_any_thread() {
    let c = testing::capture();
    let mut request = godtrace::span_builder("capture::detached_spans::GET /wallets")
        .kind(SpanKind::Server)
        .parent(remote_parent(REMOTE))
        .start_detached();
    assert_eq!(godtrace::span_id(), None, "not current once started");
    // The span follows the request to another thread, where its children nest under it.
    let request = std::thread::spawn(move || {
        request.in_scope(handler_step);
        request
    })
    .join()
    .unwrap();
    handler_step(); // outside the scope: a root of its own
    request.set_attribute("http.response.status_code", 200);
    request.end();

    let server = c.span("capture::detached_spans::GET /wallets");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(
        server.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        server.parent_span_id.unwrap().to_string(),
        "00f067aa0ba902b7"
    );
    assert_eq!(server.attr("http.response.status_code"), Some(&200.into()));
    let steps = c.spans_named("capture::detached_spans::handler_step");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].parent_span_id, Some(server.span_id));
    assert_eq!(steps[0].trace_id, server.trace_id);
    assert_eq!(steps[1].parent_span_id, None);
}

#[test]
fn its_context_is_what_an_outgoing_request_carries() {
    let c = testing::capture();
    let call = godtrace::span_builder("capture::detached_spans::client call")
        .kind(SpanKind::Client)
        .start_detached();
    let mut headers = HashMap::new();
    propagation::inject_context(&call.context(), &mut headers);
    call.end();
    let client = c.span("capture::detached_spans::client call");
    assert_eq!(
        headers["traceparent"],
        format!("00-{}-{}-03", client.trace_id, client.span_id)
    );
}

#[test]
fn a_sampled_out_parent_is_followed_and_its_decision_propagates() {
    let c = testing::capture();
    let call = godtrace::span_builder("capture::detached_spans::unsampled")
        .parent(remote_parent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ))
        .start_detached();
    assert!(!call.is_recording());
    let cx = call.context();
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid() && !sc.is_sampled());
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    call.end();
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

/// A panic in one step marks the span failed; the span goes on (a caller that catches the
/// panic runs the next step in it, and propagates its context) and ends once, when dropped.
#[test]
fn a_panic_in_scope_marks_the_span_failed_and_it_goes_on_until_dropped() {
    let c = testing::capture();
    let mut request = godtrace::span_builder("capture::detached_spans::panicking").start_detached();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        request.in_scope(|| -> () {
            handler_step();
            panic!("handler failed")
        })
    }));
    assert!(unwound.is_err());
    assert!(request.context().span().span_context().is_valid());
    assert!(
        c.spans_named("capture::detached_spans::panicking")
            .is_empty(),
        "not ended yet"
    );
    request.in_scope(handler_step);
    drop(request);
    let spans = c.spans_named("capture::detached_spans::panicking");
    assert_eq!(spans.len(), 1, "ended once: {spans:?}");
    assert!(spans[0].is_error());
    assert_eq!(spans[0].error_message(), Some("handler failed"));
    assert!(spans[0].event("exception").is_some());
    let steps = c.spans_named("capture::detached_spans::handler_step");
    assert_eq!(steps.len(), 2);
    for step in steps {
        assert_eq!(step.parent_span_id, Some(spans[0].span_id));
        assert_eq!(step.trace_id, spans[0].trace_id);
    }
}

#[test]
fn dropping_it_ends_it_and_with_tracing_off_it_records_nothing() {
    let c = testing::capture();
    drop(godtrace::span_builder("capture::detached_spans::dropped").start_detached());
    assert_eq!(c.spans_named("capture::detached_spans::dropped").len(), 1);
    let mut none = godtrace::Span::none();
    assert!(!none.is_recording());
    assert_eq!(none.in_scope(|| 7), 7);
    assert!(!none.context().span().span_context().is_valid());
}

/// A request's future holds its span across `.await`s that may resume on another thread.
#[test]
fn a_span_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&godtrace::Span::none());
}

/// What an outgoing call's middleware does under `#[traced(parent = cx)]`: its detached span's
/// context carries the baggage of `cx` along with its own ids.
#[traced(operation = "capture::detached_spans::call_with_baggage", parent = &cx)]
async fn call_with_baggage(cx: godtrace::otel::Context) -> HashMap<String, String> {
    tokio::task::yield_now().await;
    let client = godtrace::span_builder("capture::detached_spans::POST /score")
        .kind(SpanKind::Client)
        .start_detached();
    let mut headers = HashMap::new();
    propagation::inject_context(&client.context(), &mut headers);
    headers
}

#[tokio::test]
async fn a_detached_span_started_under_baggage_propagates_it() {
    use godtrace::otel::KeyValue;
    use godtrace::otel::baggage::BaggageExt;
    let c = testing::capture();
    let root = godtrace::span("capture::detached_spans::screen");
    let cx = godtrace::current_context().with_baggage([KeyValue::new("scan.batch", "b-7")]);
    let headers = call_with_baggage(cx).await;
    drop(root);
    assert_eq!(
        headers.get("baggage").map(String::as_str),
        Some("scan.batch=b-7")
    );
    let client = c.span("capture::detached_spans::POST /score");
    assert!(
        headers["traceparent"].contains(&client.span_id.to_string()),
        "{headers:?}"
    );
}

/// The headers a client span started detached under the current span sends (what the
/// reqwest and gRPC client layers do), and those sent inside a manual guard there.
fn client_span_headers() -> [HashMap<String, String>; 2] {
    let client = godtrace::span_builder("capture::detached_spans::client")
        .kind(SpanKind::Client)
        .start_detached();
    let mut detached = HashMap::new();
    propagation::inject_context(&client.context(), &mut detached);
    let _guard = godtrace::span_builder("capture::detached_spans::guard").start();
    let mut guarded = HashMap::new();
    propagation::inject(&mut guarded);
    [detached, guarded]
}

#[test]
fn a_client_span_under_an_unsampled_request_sends_the_trace_on_not_sampled() {
    let c = testing::capture();
    let incoming = HashMap::from([
        (
            "traceparent".to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".to_string(),
        ),
        ("tracestate".to_string(), "congo=t61rcWkgMzE".to_string()),
        ("baggage".to_string(), "tenant=acme".to_string()),
    ]);
    let mut request = godtrace::span_builder("capture::detached_spans::unsampled request")
        .kind(SpanKind::Server)
        .parent(propagation::extract_map(&incoming))
        .start_detached();
    let mut server = HashMap::new();
    propagation::inject_context(&request.context(), &mut server);
    let mut parent_ids = std::collections::HashSet::from([
        "00f067aa0ba902b7".to_string(),
        server["traceparent"][36..52].to_string(),
    ]);
    for outgoing in request.in_scope(client_span_headers) {
        let traceparent = outgoing.get("traceparent").unwrap_or_else(|| {
            panic!("the trace goes on, not sampled: {outgoing:?}");
        });
        // Its client spans record nothing: each request names an id of its own as its
        // parent (W3C: "the ID of this request as known by the caller").
        assert!(
            parent_ids.insert(traceparent[36..52].to_string()),
            "a parent id per request: {traceparent} {parent_ids:?}"
        );
        assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(traceparent.ends_with("-02"), "{traceparent}");
        assert_eq!(outgoing["tracestate"], "congo=t61rcWkgMzE");
        assert_eq!(outgoing["baggage"], "tenant=acme");
    }
    request.end();
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

/// A detached span started in a request's scope, handed to another thread (as the README's
/// "Threads and blocking work" shows) or asked for its context after the request's scope
/// ended, sends the request's baggage and whole `tracestate` on.
#[test]
fn a_detached_child_sends_the_requests_baggage_and_tracestate_from_anywhere() {
    const TRACESTATE: &str = "vendor@abcdefghijklmn=1,rojo=00f067aa0ba902b7";
    let _c = testing::capture();
    for tracestate in [Some(TRACESTATE), None] {
        let incoming = crate::propagation_roundtrip::request_with_baggage("01", tracestate);
        sends_the_requests_context_from_anywhere(&incoming, tracestate.unwrap_or(""));
    }
}

/// See [`a_detached_child_sends_the_requests_baggage_and_tracestate_from_anywhere`].
fn sends_the_requests_context_from_anywhere(incoming: &HashMap<String, String>, tracestate: &str) {
    let mut request = godtrace::span_builder("capture::detached_spans::GET /jobs")
        .kind(SpanKind::Server)
        .parent(propagation::extract_map(incoming))
        .start_detached();
    let mut job = request
        .in_scope(|| godtrace::span_builder("capture::detached_spans::job").start_detached());
    let mut from_context = HashMap::new();
    propagation::inject_context(&job.context(), &mut from_context);
    let from_thread = std::thread::spawn(move || {
        job.in_scope(|| {
            let mut headers = HashMap::new();
            propagation::inject(&mut headers);
            headers
        })
    })
    .join()
    .unwrap();
    for outgoing in [from_context, from_thread] {
        crate::propagation_roundtrip::assert_sends_the_request_on(&outgoing, tracestate);
    }
}
