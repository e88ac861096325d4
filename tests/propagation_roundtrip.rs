//! Propagation between two services in one process: what the client injects, the server
//! extracts, and the server's traced handler starts under the client's span.
use godtrace::otel::baggage::BaggageExt;
use godtrace::otel::propagation::TextMapPropagator;
use godtrace::otel::trace::TraceContextExt;
use godtrace::otel::{Context, KeyValue};
use godtrace::propagation::{self, W3cPropagator};
use godtrace::{testing, traced};
use std::collections::HashMap;

/// The client's outgoing call: returns the headers it would send.
#[traced(operation = "client.call")]
fn client_call() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    propagation::inject_map(&mut headers);
    headers
}

#[traced(operation = "server.handle", parent = &parent)]
fn server_handle(parent: Context) -> Option<String> {
    server_step();
    godtrace::trace_id()
}

#[traced(operation = "server.step")]
fn server_step() {}

#[traced(operation = "server.handle_async", parent = &parent)]
async fn server_handle_async(parent: Context) {
    tokio::task::yield_now().await;
    server_step();
}

#[test]
fn the_extracted_remote_span_is_the_parent_of_the_traced_handler() {
    let c = testing::capture();
    let headers = client_call();
    let parent = propagation::extract_map(&headers);
    assert!(propagation::is_remote_parent(&parent));
    let seen_trace = server_handle(parent).expect("the handler runs inside a span");

    let client = c.span("client.call");
    let handle = c.span("server.handle");
    let step = c.span("server.step");
    assert_eq!(
        handle.trace_id, client.trace_id,
        "one trace across both sides"
    );
    assert_eq!(handle.parent_span_id, Some(client.span_id));
    assert_eq!(step.parent_span_id, Some(handle.span_id));
    assert_eq!(seen_trace, client.trace_id.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_handler_runs_under_the_remote_parent_too() {
    let c = testing::capture();
    let headers = client_call();
    let mut http = http::HeaderMap::new();
    for (k, v) in &headers {
        http.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let parent = propagation::extract_headers(&http);
    tokio::spawn(server_handle_async(parent)).await.unwrap();
    let client = c.span("client.call");
    let handle = c.span("server.handle_async");
    assert_eq!(handle.trace_id, client.trace_id);
    assert_eq!(handle.parent_span_id, Some(client.span_id));
    assert_eq!(c.span("server.step").parent_span_id, Some(handle.span_id));
}

#[test]
fn inject_writes_the_current_span_and_extract_reads_it_back() {
    let _c = testing::capture();
    let span = godtrace::span("outgoing");
    let mut map = HashMap::new();
    propagation::inject_map(&mut map);
    let tp = &map["traceparent"];
    let (trace_id, span_id) = (godtrace::trace_id().unwrap(), godtrace::span_id().unwrap());
    assert_eq!(tp, &format!("00-{trace_id}-{span_id}-01"));
    drop(span);

    let cx = propagation::extract_map(&map);
    let remote = cx.span().span_context().clone();
    assert!(remote.is_remote() && remote.is_sampled());
    assert_eq!(remote.trace_id().to_string(), trace_id);
    assert_eq!(remote.span_id().to_string(), span_id);
}

#[test]
fn outside_any_span_nothing_is_injected_and_a_request_without_headers_is_a_root() {
    let c = testing::capture();
    let mut map = HashMap::new();
    propagation::inject_map(&mut map);
    assert!(map.is_empty(), "{map:?}");

    let parent = propagation::extract_map(&map);
    assert!(!propagation::is_remote_parent(&parent));
    server_handle(parent);
    assert!(c.span("server.handle").parent_span_id.is_none());
}

#[test]
fn extract_never_inherits_the_callers_current_span() {
    let c = testing::capture();
    let _outer = godtrace::span("unrelated.current");
    let parent = propagation::extract_map(&HashMap::<String, String>::new());
    server_handle(parent);
    drop(_outer);
    assert!(
        c.span("server.handle").parent_span_id.is_none(),
        "a request without a traceparent starts its own trace"
    );
}

#[test]
fn header_names_are_matched_without_regard_to_case() {
    let _c = testing::capture();
    let map = HashMap::from([(
        "TraceParent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    )]);
    let cx = propagation::extract_map(&map);
    assert_eq!(
        cx.span().span_context().trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[test]
fn an_unsampled_upstream_decision_is_kept() {
    let c = testing::capture();
    let map = HashMap::from([(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_string(),
    )]);
    server_handle(propagation::extract_map(&map));
    assert!(
        c.spans().is_empty(),
        "the caller chose not to sample this trace: {:?}",
        c.spans()
    );
}

#[test]
fn tracestate_is_carried_to_the_next_hop() {
    let _c = testing::capture();
    let incoming = HashMap::from([
        (
            "traceparent".to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
        ),
        (
            "tracestate".to_string(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_string(),
        ),
    ]);
    let parent = propagation::extract_map(&incoming);
    let _attached = parent.attach();
    let _span = godtrace::span("next.hop");
    let mut outgoing = HashMap::new();
    propagation::inject_map(&mut outgoing);
    assert_eq!(
        outgoing["tracestate"],
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    assert!(outgoing["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(
        !outgoing["traceparent"].contains("00f067aa0ba902b7"),
        "a new span id"
    );
}

#[test]
fn baggage_round_trips_with_characters_that_need_encoding() {
    let cx = Context::new().with_baggage([
        KeyValue::new("scan.batch", "b-42"),
        KeyValue::new("tenant", "Acme, Inc. = \"ü\""),
    ]);
    let mut map = HashMap::new();
    propagation::inject_context(&cx, &mut map);
    assert!(!map.contains_key("traceparent"), "no span in this context");

    let back = propagation::extract_map(&map);
    assert_eq!(
        propagation::baggage(&back),
        vec![
            KeyValue::new("scan.batch", "b-42"),
            KeyValue::new("tenant", "Acme, Inc. = \"ü\""),
        ]
    );

    let mut headers = http::HeaderMap::new();
    propagation::inject_context(&cx, &mut propagation::HeaderInjector(&mut headers));
    let back = propagation::extract_headers(&headers);
    assert_eq!(
        back.baggage().get("tenant").map(|v| v.to_string()),
        Some("Acme, Inc. = \"ü\"".to_string())
    );
}

#[test]
fn baggage_travels_with_the_trace_through_http_headers() {
    let _c = testing::capture();
    let span = godtrace::span("client.call");
    let cx = Context::current().with_baggage([KeyValue::new("request.origin", "gateway")]);
    let mut headers = http::HeaderMap::new();
    propagation::inject_context(&cx, &mut propagation::HeaderInjector(&mut headers));
    let trace_id = godtrace::trace_id().unwrap();
    drop(span);

    let back = propagation::extract_headers(&headers);
    assert_eq!(back.span().span_context().trace_id().to_string(), trace_id);
    assert_eq!(
        propagation::baggage(&back),
        vec![KeyValue::new("request.origin", "gateway")]
    );
}

#[test]
fn interoperates_with_the_opentelemetry_sdk_propagators() {
    let _c = testing::capture();
    let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let _span = godtrace::span("interop");
    let cx = Context::current();

    // Ours writes, the SDK's reads.
    let mut ours = HashMap::new();
    propagation::inject_context(&cx, &mut ours);
    let read = sdk.extract(&ours);
    assert_eq!(
        read.span().span_context().span_id(),
        cx.span().span_context().span_id()
    );

    // The SDK's writes, ours reads.
    let mut theirs = HashMap::new();
    sdk.inject_context(&cx, &mut theirs);
    let read = propagation::extract_map(&theirs);
    assert_eq!(
        read.span().span_context().trace_id(),
        cx.span().span_context().trace_id()
    );

    // Ours as a TextMapPropagator, as other OpenTelemetry code would call it.
    let w3c = W3cPropagator::new();
    let mut via_trait = HashMap::new();
    w3c.inject_context(&cx, &mut via_trait);
    assert_eq!(via_trait["traceparent"], ours["traceparent"]);
    let fields: Vec<&str> = w3c.fields().collect();
    assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
}
