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
