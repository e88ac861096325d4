//! `init` installs the text-map propagators `OTEL_PROPAGATORS` names (W3C trace context here,
//! baggage left out), so a trace continues across services: outgoing calls carry
//! `traceparent`, and a span under an extracted remote parent joins the caller's trace.
use godtrace::otel::baggage::BaggageExt;
use godtrace::otel::{Context, KeyValue, global};
use godtrace::{Config, testing};
use std::collections::HashMap;

#[test]
fn trace_context_crosses_services_and_baggage_is_left_out() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("propagators")
            .local_tree(false)
            .with_env_vars([("OTEL_PROPAGATORS", "tracecontext")]),
    )
    .expect("init");
    let capture = testing::capture();

    // Outgoing: the current span goes out as `traceparent`.
    let mut headers = HashMap::new();
    let (trace_id, span_id) = {
        let _span = godtrace::span("client.call");
        let cx = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
        (godtrace::trace_id().unwrap(), godtrace::span_id().unwrap())
    };
    assert_eq!(
        headers.get("traceparent"),
        Some(&format!("00-{trace_id}-{span_id}-03")),
        "godtrace's own W3C propagator is the global one: a new root's random flag goes out"
    );
    assert!(!headers.contains_key("baggage"), "{headers:?}");

    // Incoming, in "another service": the server span joins the same trace.
    let parent = global::get_text_map_propagator(|p| p.extract(&headers));
    {
        let _attached = parent.attach();
        let _server = godtrace::span("server.handle");
    }
    let server = capture.span("server.handle");
    assert_eq!(server.trace_id.to_string(), trace_id);
    assert_eq!(server.parent_span_id.map(|s| s.to_string()), Some(span_id));

    global_propagator_keeps_level_2_tracestate_and_the_random_flag();
}

/// OpenTelemetry-instrumented code uses the propagator `init` installs: godtrace's own, so a
/// Level 2 tracestate that OpenTelemetry's `TraceState` refuses (a 14-character system id)
/// and the random flag pass through it unchanged. (Part of the test above: one `init` per
/// process.)
fn global_propagator_keeps_level_2_tracestate_and_the_random_flag() {
    let tracestate = format!("{}@{}=1,other=2", "t".repeat(241), "v".repeat(14));
    let incoming = HashMap::from([
        (
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03".to_owned(),
        ),
        ("tracestate".to_owned(), tracestate.clone()),
    ]);
    let cx = global::get_text_map_propagator(|p| p.extract(&incoming));
    let mut outgoing = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut outgoing));
    assert_eq!(outgoing.get("traceparent"), incoming.get("traceparent"));
    assert_eq!(outgoing.get("tracestate"), Some(&tracestate));
}

/// A request through `HttpServerLayer` carrying `traceparent` and `baggage`: the trace id and
/// the baggage its handler runs under.
async fn served_under(headers: &[(&str, &str)]) -> (Option<String>, Vec<KeyValue>) {
    use std::sync::{Arc, Mutex};
    use tower::{Layer, ServiceExt};
    let seen = Arc::new(Mutex::new(None));
    let handler = tower::service_fn({
        let seen = seen.clone();
        move |_req: http::Request<String>| {
            *seen.lock().unwrap() = Some((
                godtrace::trace_id(),
                godtrace::propagation::baggage(&godtrace::current_context()),
            ));
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
        }
    });
    let mut request = http::Request::builder().uri("/served");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let layered = godtrace::layers::HttpServerLayer::new().layer(handler);
    let response = layered
        .oneshot(request.body(String::new()).unwrap())
        .await
        .unwrap();
    drop(response);
    seen.lock().unwrap().take().expect("the handler ran")
}

/// `init` with `OTEL_PROPAGATORS` set to `propagators`.
fn init_with_propagators(propagators: &str) -> godtrace::Guard {
    godtrace::init(
        Config::new("propagators")
            .local_tree(false)
            .with_env_vars([("OTEL_PROPAGATORS", propagators)]),
    )
    .expect("init")
}

/// What `inject` and `inject_headers` write in a span, with baggage in the context.
fn injected_with_baggage() -> (HashMap<String, String>, http::HeaderMap) {
    let cx = Context::current().with_baggage([KeyValue::new("user.email", "a@example.com")]);
    let _attached = cx.attach();
    let _span = godtrace::span("client.call");
    let mut outgoing = HashMap::new();
    let mut outgoing_headers = http::HeaderMap::new();
    godtrace::propagation::inject(&mut outgoing);
    godtrace::propagation::inject_headers(&mut outgoing_headers);
    (outgoing, outgoing_headers)
}

const INCOMING_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING: [(&str, &str); 2] = [
    (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("baggage", "user.id=alice"),
];

/// godtrace's own `inject` and `extract`, and the framework layers built on them, carry what
/// `OTEL_PROPAGATORS` names too: with `tracecontext` alone, baggage (user ids, emails) goes
/// to no other host and is not taken from callers, and the trace still crosses.
#[tokio::test]
async fn godtraces_own_propagation_and_layers_leave_baggage_out_when_told() {
    crate::support::own_process!();
    let _guard = init_with_propagators("tracecontext");
    let _capture = testing::capture();
    let (outgoing, outgoing_headers) = injected_with_baggage();
    assert!(outgoing.contains_key("traceparent"), "{outgoing:?}");
    assert!(!outgoing.contains_key("baggage"), "{outgoing:?}");
    assert!(outgoing_headers.contains_key("traceparent"));
    assert!(!outgoing_headers.contains_key("baggage"));

    let incoming: HashMap<String, String> = INCOMING
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let parent = godtrace::propagation::extract_map(&incoming);
    assert!(godtrace::propagation::is_remote_parent(&parent));
    assert_eq!(godtrace::propagation::baggage(&parent), vec![]);

    let (trace_id, baggage) = served_under(&INCOMING).await;
    assert_eq!(trace_id.as_deref(), Some(INCOMING_TRACE));
    assert_eq!(baggage, vec![]);
}

/// With `OTEL_PROPAGATORS=none`, nothing is read or written: a request through a layer
/// starts a trace of its own, and outgoing calls carry no header.
#[tokio::test]
async fn with_no_propagators_godtrace_carries_nothing() {
    crate::support::own_process!();
    let _guard = init_with_propagators("none");
    let _capture = testing::capture();
    let (outgoing, outgoing_headers) = injected_with_baggage();
    assert!(outgoing_headers.is_empty(), "{outgoing_headers:?}");
    assert!(outgoing.is_empty(), "{outgoing:?}");

    let (trace_id, baggage) = served_under(&INCOMING).await;
    let trace_id = trace_id.expect("the layer's own span");
    assert_ne!(trace_id, INCOMING_TRACE, "a trace of its own");
    assert_eq!(baggage, vec![]);
}
