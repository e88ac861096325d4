//! Propagation between two services in one process: what the client injects, the server
//! extracts, and the server's traced handler starts under the client's span.
use godtrace::otel::baggage::BaggageExt;
use godtrace::otel::propagation::TextMapPropagator;
use godtrace::otel::trace::TraceContextExt;
use godtrace::otel::{Context, ContextGuard, KeyValue};
use godtrace::propagation::{self, W3cPropagator};
use godtrace::{testing, traced};
use std::collections::HashMap;

/// The client's outgoing call: returns the headers it would send.
#[traced(operation = "client.call")]
fn client_call() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
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
    propagation::inject(&mut map);
    let tp = &map["traceparent"];
    let (trace_id, span_id) = (godtrace::trace_id().unwrap(), godtrace::span_id().unwrap());
    assert_eq!(tp, &format!("00-{trace_id}-{span_id}-03"));
    drop(span);

    let cx = propagation::extract_map(&map);
    let remote = cx.span().span_context().clone();
    assert!(remote.is_remote() && remote.is_sampled());
    assert_eq!(remote.trace_id().to_string(), trace_id);
    assert_eq!(remote.span_id().to_string(), span_id);
}

/// A message that came in with its headers in another case (`Traceparent`), handed on after
/// `inject` into the same map: the next hop reads the new context, not two conflicting ones.
#[test]
fn a_map_handed_on_after_inject_carries_the_new_context_whatever_case_it_came_in() {
    let _c = testing::capture();
    let mut message = HashMap::from([
        ("Traceparent".to_string(), format!("00-{TID}-{SID}-01")),
        ("Tracestate".to_string(), "old=1".to_string()),
    ]);
    let cx = propagation::extract_map(&message);
    assert!(propagation::is_remote_parent(&cx));
    let span = godtrace::span_builder("relay").parent(cx).start();
    propagation::inject(&mut message);
    let span_id = godtrace::span_id().unwrap();
    drop(span);
    let next = propagation::extract_map(&message);
    let remote = next.span().span_context().clone();
    assert!(propagation::is_remote_parent(&next), "{message:?}");
    assert_eq!(remote.trace_id().to_string(), TID);
    assert_eq!(remote.span_id().to_string(), span_id, "the relay's span");
}

/// A carrier that already holds a `tracestate` (headers copied from an incoming request)
/// does not send it on beside the new `traceparent` it does not belong to: an HTTP header is
/// removed, a map's entry emptied (as OpenTelemetry's propagator writes it).
#[test]
fn a_stale_tracestate_is_not_sent_beside_a_new_traceparent() {
    let _c = testing::capture();
    let span = godtrace::span_builder("proxy").start();
    let mut headers = http::HeaderMap::new();
    headers.insert("tracestate", "evil=1".parse().unwrap());
    propagation::inject_headers(&mut headers);
    let mut map = HashMap::from([("tracestate".to_string(), "evil=1".to_string())]);
    propagation::inject(&mut map);
    drop(span);
    assert!(headers.contains_key("traceparent"));
    assert_eq!(headers.get("tracestate"), None, "{headers:?}");
    assert!(map.contains_key("traceparent"));
    assert_eq!(map["tracestate"], "", "{map:?}");
}

#[test]
fn outside_any_span_nothing_is_injected_and_a_request_without_headers_is_a_root() {
    let c = testing::capture();
    let mut map = HashMap::new();
    propagation::inject(&mut map);
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
    propagation::inject(&mut outgoing);
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
    let cx = godtrace::current_context();

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

// --- W3C Trace Context Level 2: extract → traced call → inject, header by header ---

use crate::support::w3c::{SID, TID, forward, nested_call};

/// Sends `traceparent` (and `tracestate`) through a traced handler; the headers it sends on.
fn through_handler(traceparent: &str, tracestate: Option<&str>) -> [HashMap<String, String>; 2] {
    let mut incoming = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    if let Some(state) = tracestate {
        incoming.insert("tracestate".to_string(), state.to_string());
    }
    forward(propagation::extract_map(&incoming))
}

/// `(version, trace id, parent id, flags)` of a `traceparent`.
fn fields(traceparent: &str) -> (String, String, String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    (
        parts[0].into(),
        parts[1].into(),
        parts[2].into(),
        parts[3].into(),
    )
}

#[traced(operation = "dropped.request", sample_rate = 0.0)]
fn dropped_request() -> (String, String, Option<String>, Option<String>, Context) {
    let mut first = HashMap::new();
    propagation::inject(&mut first);
    let mut second = HashMap::new();
    nested_inject(&mut second);
    (
        first.remove("traceparent").expect("a traceparent"),
        second.remove("traceparent").expect("a traceparent"),
        godtrace::trace_id(),
        godtrace::span_id(),
        godtrace::current_context(),
    )
}

#[traced(operation = "dropped.request.child")]
fn nested_inject(headers: &mut HashMap<String, String>) {
    propagation::inject(headers);
}

#[test]
fn sampled_out_roots_send_ids_of_their_own_downstream() {
    let c = testing::capture();
    let mut trace_ids = std::collections::HashSet::new();
    let mut span_ids = std::collections::HashSet::new();
    for _ in 0..1000 {
        let (first, nested, trace_id, span_id, cx) = dropped_request();
        let (version, trace, parent, flags) = fields(&first);
        let (_, nested_trace, nested_parent, nested_flags) = fields(&nested);
        assert_eq!(
            (version.as_str(), nested_trace.as_str()),
            ("00", trace.as_str())
        );
        assert_eq!(flags, "02", "not sampled, random trace id");
        assert_eq!(nested_flags, "02");
        assert_eq!(
            trace_id.as_deref(),
            Some(trace.as_str()),
            "trace_id() agrees"
        );
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(sc.trace_id().to_string(), trace, "current_context() agrees");
        assert_eq!(span_id, Some(sc.span_id().to_string()), "span_id() agrees");
        assert!(!sc.is_sampled());
        trace_ids.insert(trace);
        // Each request names an id of its own as its parent (W3C: "the ID of this request as
        // known by the caller"), not the root's.
        for id in [parent, nested_parent] {
            assert_ne!(Some(&id), span_id.as_ref());
            span_ids.insert(id);
        }
    }
    assert_eq!(trace_ids.len(), 1000, "a trace id per unrelated request");
    assert_eq!(span_ids.len(), 2000, "a parent id per request");
    assert!(c.spans().is_empty(), "nothing recorded: {:?}", c.spans());
}

#[test]
fn a_new_root_sets_the_random_flag() {
    let _c = testing::capture();
    let headers = client_call();
    let (_, trace, _, flags) = fields(&headers["traceparent"]);
    assert_eq!(flags, "03", "sampled, random trace id");
    assert_ne!(trace, "0".repeat(32));
}

#[test]
fn an_incoming_random_flag_is_kept_on_every_outgoing_traceparent() {
    // A trace of its own: a capture owns the traces its thread starts spans in, and tests
    // running at once under one trace id would take each other's spans.
    const TID: &str = "0af7651916cd43dd8448eb211c80319c";
    let c = testing::capture();
    for (incoming, outgoing) in [("03", "03"), ("01", "01"), ("02", "02"), ("00", "00")] {
        let sent = through_handler(&format!("00-{TID}-{SID}-{incoming}"), None);
        for headers in &sent {
            let (version, trace, parent, flags) = fields(&headers["traceparent"]);
            assert_eq!(version, "00");
            assert_eq!(trace, TID, "flags {incoming}: same trace");
            assert_ne!(parent, SID, "flags {incoming}: a parent id of this service");
            assert_eq!(flags, outgoing, "flags {incoming} went out as {flags}");
        }
    }
    // The sampled ones were recorded, under the caller's span.
    let handlers = c.spans_named("server.forward");
    assert_eq!(handlers.len(), 2);
    assert!(
        handlers
            .iter()
            .all(|s| s.parent_span_id.map(|p| p.to_string()).as_deref() == Some(SID))
    );
}

#[test]
fn an_unsampled_parent_goes_on_with_its_flags_and_a_new_parent_id() {
    // A trace of its own (see `an_incoming_random_flag_is_kept_on_every_outgoing_traceparent`):
    // it asserts that it captured nothing.
    const TID: &str = "6d2e3f4a5b6c7d8e9fa0b1c2d3e4f5a6";
    let c = testing::capture();
    let [outgoing, nested] =
        through_handler(&format!("00-{TID}-{SID}-02"), Some("congo=t61rcWkgMzE"));
    let (_, trace, parent, flags) = fields(&outgoing["traceparent"]);
    assert_eq!(trace, TID);
    assert_eq!(flags, "02", "the random flag is not rewritten");
    assert_ne!(
        parent, SID,
        "the flags may change only with a new parent id"
    );
    assert_eq!(outgoing["tracestate"], "congo=t61rcWkgMzE");
    let (_, nested_trace, nested_parent, nested_flags) = fields(&nested["traceparent"]);
    assert_eq!((nested_trace.as_str(), nested_flags.as_str()), (TID, "02"));
    assert_ne!(nested_parent, parent, "a parent id per request");
    assert_ne!(nested_parent, SID);
    assert_eq!(nested["tracestate"], "congo=t61rcWkgMzE");
    assert!(
        c.spans().is_empty(),
        "the caller did not sample: {:?}",
        c.spans()
    );
}

/// Sends a valid `traceparent` with `tracestate` through a traced handler: asserts the trace
/// continued, and returns the `tracestate` sent on (the same from the nested call).
fn tracestate_sent_on(tracestate: &str) -> Option<String> {
    tracestate_sent_on_in(TID, tracestate)
}

/// [`tracestate_sent_on`] in trace `trace_id`.
fn tracestate_sent_on_in(trace_id: &str, tracestate: &str) -> Option<String> {
    let [outgoing, nested] = through_handler(&format!("00-{trace_id}-{SID}-01"), Some(tracestate));
    for headers in [&outgoing, &nested] {
        let (_, trace, parent, flags) = fields(&headers["traceparent"]);
        assert_eq!(trace, trace_id, "{tracestate:?}: the trace continues");
        assert_ne!(parent, SID);
        assert_eq!(flags, "01");
    }
    assert_eq!(outgoing.get("tracestate"), nested.get("tracestate"));
    // Written empty when there is none (see `a_stale_tracestate_is_not_sent_beside_a_new_traceparent`).
    outgoing
        .get("tracestate")
        .filter(|s| !s.is_empty())
        .cloned()
}

#[test]
fn an_invalid_tracestate_is_dropped_and_the_trace_continues() {
    // A trace of its own (see `an_incoming_random_flag_is_kept_on_every_outgoing_traceparent`):
    // it counts its spans.
    const TID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let c = testing::capture();
    let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let oversized = format!("a={}", "x,b=".repeat(5000));
    let bad_value = format!("foo=1,bar={}", "v".repeat(257));
    for state in [
        "FOO=1",
        "foo=bar=baz",
        "@foo=1,bar=2",
        "foo=,bar=3",
        "foo.bar=1",
        &too_many.join(","),
        &oversized,
        &bad_value,
    ] {
        assert_eq!(
            tracestate_sent_on_in(TID, state),
            None,
            "{state:?} was sent on"
        );
    }
    let handlers = c.spans_named("server.forward");
    assert_eq!(handlers.len(), 8);
    assert!(
        handlers.iter().all(|s| s.trace_id.to_string() == TID
            && s.parent_span_id.map(|p| p.to_string()).as_deref() == Some(SID)),
        "every handler ran under the caller's span"
    );
}

#[test]
fn a_tracestate_header_that_is_not_text_is_dropped_and_the_trace_continues() {
    // A trace of its own (see `an_incoming_random_flag_is_kept_on_every_outgoing_traceparent`):
    // it reads its one handler span.
    const TID: &str = "5c1f2e3d4b5a69788796a5b4c3d2e1f0";
    let c = testing::capture();
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", format!("00-{TID}-{SID}-01").parse().unwrap());
    headers.insert(
        "tracestate",
        http::HeaderValue::from_bytes(b"foo=\xe9t\xe9").unwrap(),
    );
    let [outgoing, _] = forward(propagation::extract_headers(&headers));
    let (_, trace, _, _) = fields(&outgoing["traceparent"]);
    assert_eq!(trace, TID);
    assert_eq!(outgoing["tracestate"], "", "{outgoing:?}");
    let handler = c.span("server.forward");
    assert_eq!(
        handler.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some(SID)
    );
}

#[test]
fn duplicate_tracestate_keys_keep_the_first_member_and_the_trace() {
    let _c = testing::capture();
    assert_eq!(tracestate_sent_on("foo=1,foo=1").as_deref(), Some("foo=1"));
    assert_eq!(
        tracestate_sent_on("foo=1,bar=2,foo=3").as_deref(),
        Some("foo=1,bar=2")
    );
    // Split over two headers, as HTTP allows.
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", format!("00-{TID}-{SID}-01").parse().unwrap());
    headers.append("tracestate", "foo=1".parse().unwrap());
    headers.append("tracestate", "foo=2".parse().unwrap());
    let [outgoing, _] = forward(propagation::extract_headers(&headers));
    assert!(outgoing["traceparent"].contains(TID));
    assert_eq!(outgoing["tracestate"], "foo=1");
}

#[test]
fn level_2_tracestate_keys_are_sent_on_unchanged() {
    let _c = testing::capture();
    let system_14 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let key_256 = "z".repeat(256);
    for state in [
        "foo@=1,bar=2".to_string(),
        "foo@@bar=1,bar=2".to_string(),
        "foo@bar@baz=1,bar=2".to_string(),
        format!("foo=1,{system_14}=1"),
        format!("{system_14}=1"),
        format!("foo=1,{key_256}=1"),
        format!("foo=1,{}@v=1", "t".repeat(242)),
        format!("foo=1,t@{}=1", "v".repeat(15)),
    ] {
        assert_eq!(
            tracestate_sent_on(&state).as_deref(),
            Some(state.as_str()),
            "{state:?}"
        );
    }
}

#[test]
fn a_whole_tracestate_survives_an_unsampled_hop_and_a_manual_span() {
    let _c = testing::capture();
    let system_14 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let state = format!("foo@@bar=1,{system_14}=2,rojo=3");
    let [outgoing, nested] = through_handler(&format!("00-{TID}-{SID}-00"), Some(&state));
    assert_eq!(outgoing["tracestate"], state);
    assert_eq!(nested["tracestate"], state);

    // An extracted context made current by hand, and a manual span under it.
    let incoming = HashMap::from([
        ("traceparent".to_string(), format!("00-{TID}-{SID}-01")),
        ("tracestate".to_string(), state.clone()),
    ]);
    let _attached = propagation::extract_map(&incoming).attach();
    let _span = godtrace::span("next.hop");
    let mut sent = HashMap::new();
    propagation::inject(&mut sent);
    assert_eq!(sent["tracestate"], state);
    assert!(sent["traceparent"].contains(TID));
}

#[traced(operation = "dropped.handler", parent = &parent, sample_rate = 0.0)]
fn dropped_handler(parent: Context) -> HashMap<String, String> {
    nested_call()
}

#[test]
fn a_request_without_traceparent_sampled_out_sends_its_decision_and_baggage_on() {
    let c = testing::capture();
    let incoming = HashMap::from([("baggage".to_string(), "tenant=acme".to_string())]);
    let first = dropped_handler(propagation::extract_map(&incoming));
    let second = dropped_handler(propagation::extract_map(&incoming));
    assert_eq!(first["baggage"], "tenant=acme");
    let (_, trace, _, flags) = fields(&first["traceparent"]);
    assert_eq!(flags, "02", "not sampled: downstream drops it too");
    let (_, other_trace, _, _) = fields(&second["traceparent"]);
    assert_ne!(trace, other_trace, "two requests, two traces");
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

/// W3C Baggage end to end: what a request brings in (in two `baggage` headers) goes on from
/// a traced handler with every value as it came, then reads back the same on the next hop.
#[test]
fn baggage_goes_on_unchanged_through_a_traced_handler() {
    let _c = testing::capture();
    let mut incoming = http::HeaderMap::new();
    incoming.insert("traceparent", format!("00-{TID}-{SID}-01").parse().unwrap());
    incoming.append(
        "baggage",
        "pct=a%2541, sp = %20hello%20 ; p=1".parse().unwrap(),
    );
    incoming.append("baggage", "eq=a=b,bad=a b,,raw=100%25".parse().unwrap());
    let want = vec![
        KeyValue::new("eq", "a=b"),
        KeyValue::new("pct", "a%41"),
        KeyValue::new("raw", "100%"),
        KeyValue::new("sp", " hello "),
    ];
    let cx = propagation::extract_headers(&incoming);
    assert_eq!(propagation::baggage(&cx), want);

    let [outgoing, nested] = forward(cx);
    assert_eq!(
        outgoing["baggage"],
        "eq=a%3Db,pct=a%2541,raw=100%25,sp=%20hello%20;p=1"
    );
    for headers in [&outgoing, &nested] {
        let next = propagation::extract_map(headers);
        assert_eq!(propagation::baggage(&next), want);
        let sp = next.baggage().get_with_metadata("sp");
        assert_eq!(sp.map(|(_, m)| m.as_str()), Some("p=1"));
        // And once more through http headers.
        let mut again = http::HeaderMap::new();
        propagation::inject_context(&next, &mut propagation::HeaderInjector(&mut again));
        assert_eq!(again["baggage"], outgoing["baggage"].as_str());
    }
}

#[traced(operation = "dropped.with_library")]
fn library_call_under_a_dropped_root() -> (Option<String>, String, HashMap<String, String>) {
    use godtrace::otel::trace::{TraceContextExt as _, Tracer as _};
    let library_trace = godtrace::otel::global::tracer("library").in_span("library.op", |cx| {
        cx.span().span_context().trace_id().to_string()
    });
    // The propagator `init` installs as the global one, handed the current context as
    // OpenTelemetry-instrumented code does.
    let mut headers = HashMap::new();
    godtrace::otel::propagation::TextMapPropagator::inject_context(
        &propagation::W3cPropagator::new(),
        &Context::current(),
        &mut headers,
    );
    (godtrace::trace_id(), library_trace, headers)
}

#[traced(operation = "dropped.root", sample_rate = 0.0)]
fn dropped_root_children() -> Option<String> {
    let (trace_id, library_trace, headers) = library_call_under_a_dropped_root();
    assert_eq!(
        trace_id.as_deref(),
        Some(library_trace.as_str()),
        "one trace"
    );
    let traceparent = headers.get("traceparent").expect("the propagator injects");
    let (_, trace, parent, flags) = fields(traceparent);
    assert_eq!(trace, library_trace);
    assert_eq!(flags, "02", "not sampled: downstream drops it too");
    assert_ne!(
        Some(parent),
        godtrace::span_id(),
        "an id of the request's own"
    );
    trace_id
}

/// Under a root godtrace sampled out, a third-party library's span (a tracer of the global
/// provider) and the global propagator follow the root: the span is in the root's trace and
/// dropped with it, and the injected `traceparent` says not sampled.
#[test]
fn library_spans_under_a_sampled_out_root_are_dropped_with_it() {
    let c = testing::capture();
    for _ in 0..20 {
        dropped_root_children();
    }
    assert!(
        c.spans_named("library.op").is_empty(),
        "{:#?}",
        c.spans_named("library.op")
    );
}

/// What a third-party library's span and a call under it show of their trace under a root
/// godtrace sampled out: the span's flags, and the `traceparent` injected inside it.
#[traced(operation = "dropped.random_root", sample_rate = 0.0)]
fn library_span_in_a_dropped_root() -> (u8, String) {
    use godtrace::otel::trace::Tracer as _;
    godtrace::otel::global::tracer("library").in_span("library.op", |cx| {
        let mut headers = HashMap::new();
        W3cPropagator::new().inject_context(&cx, &mut headers);
        (
            cx.span().span_context().trace_flags().to_u8(),
            headers["traceparent"].clone(),
        )
    })
}

/// W3C Level 2: the root's trace id is random, and a library span dropped with it (which the
/// SDK gives no flag at all) says so too, as does what is injected under it.
#[test]
fn a_library_span_dropped_with_a_sampled_out_root_keeps_the_random_flag() {
    let c = testing::capture();
    let (flags, traceparent) = library_span_in_a_dropped_root();
    assert_eq!(flags, 0x02, "random, not sampled");
    assert_eq!(fields(&traceparent).3, "02", "{traceparent}");
    assert!(c.spans_named("library.op").is_empty());
}

/// What a call shows of its trace: `trace_id()`, `span_id()`, the `traceparent` it injects and
/// the one a propagator injects from OpenTelemetry's current context, and whether
/// `current_context()` says sampled.
fn ids_seen_here() -> (Option<String>, Option<String>, String, String, bool) {
    let mut injected = HashMap::new();
    propagation::inject(&mut injected);
    let mut global = HashMap::new();
    // OpenTelemetry's own API on its current context (the global propagator `init` installs).
    W3cPropagator::new().inject_context(&Context::current(), &mut global);
    let sampled = godtrace::current_context()
        .span()
        .span_context()
        .is_sampled();
    (
        godtrace::trace_id(),
        godtrace::span_id(),
        injected.remove("traceparent").expect("a traceparent"),
        global.remove("traceparent").expect("a traceparent"),
        sampled,
    )
}

type Seen = (Option<String>, Option<String>, String, String, bool);

/// A message without a `traceparent`: a new trace, sampled out here.
#[traced(operation = "message.dropped", sample_rate = 0.0, parent = &message)]
fn handle_dropped_message(message: Context) -> Seen {
    ids_seen_here()
}

#[traced(operation = "message.dropped_async", sample_rate = 0.0, parent = &message)]
async fn handle_dropped_message_async(message: Context) -> Seen {
    tokio::task::yield_now().await;
    ids_seen_here()
}

#[traced(operation = "batch.recorded")]
fn recorded_batch() -> [Seen; 2] {
    let untraced_message = propagation::extract_map(&HashMap::<String, String>::new());
    [
        handle_dropped_message(untraced_message.clone()),
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(handle_dropped_message_async(untraced_message)),
    ]
}

/// A new trace sampled out under an explicit parent without a span (a message with no
/// `traceparent`, `Context::new()`), inside a span godtrace records: what runs in it shows and
/// sends on the dropped root's own ids, not sampled, never the recorded span around it.
#[test]
fn a_dropped_new_root_inside_a_recorded_span_sends_its_own_ids() {
    let c = testing::capture();
    let seen = recorded_batch();
    let batch = c.span("batch.recorded");
    let batch_trace = batch.trace_id.to_string();
    for (trace_id, span_id, injected, global, sampled) in seen {
        let trace_id = trace_id.expect("a dropped root shows its ids");
        assert_ne!(trace_id, batch_trace, "a trace of its own");
        assert_ne!(span_id, Some(batch.span_id.to_string()));
        assert!(!sampled, "current_context() is not sampled");
        for traceparent in [injected, global] {
            let (_, trace, _, flags) = fields(&traceparent);
            assert_eq!(trace, trace_id, "{traceparent} names the root's trace");
            assert_eq!(flags, "02", "{traceparent}: not sampled, random trace id");
        }
    }
    assert!(c.spans_named("message.dropped").is_empty());
}

#[traced(operation = "handed.off.child")]
async fn sends_from_wherever_polled() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
    headers
}

/// A message with baggage and no `traceparent`, sampled out here, whose traced work is made
/// here and polled on another thread.
#[traced(operation = "message.dropped_hands_off", sample_rate = 0.0, parent = &message)]
fn dropped_root_hands_off(message: Context) -> (Option<String>, HashMap<String, String>) {
    let work = sends_from_wherever_polled();
    let sent = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the work runs");
    (godtrace::trace_id(), sent)
}

/// Baggage does not depend on sampling: traced work made under a new trace godtrace dropped,
/// and polled elsewhere, sends on the request's baggage with the root's ids.
#[test]
fn work_handed_off_under_a_dropped_root_sends_the_requests_baggage() {
    let c = testing::capture();
    let message = propagation::extract_map(&HashMap::from([(
        "baggage".to_owned(),
        "tenant=acme".to_owned(),
    )]));
    let (root_trace, sent) = dropped_root_hands_off(message);
    assert_eq!(sent.get("baggage").map(String::as_str), Some("tenant=acme"));
    let (_, trace, _, flags) = fields(&sent["traceparent"]);
    assert_eq!(Some(trace), root_trace, "the dropped root's trace");
    assert_eq!(flags, "02");
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

#[traced(operation = "consumer.handle")]
fn handle_message() -> Option<String> {
    godtrace::trace_id()
}

#[traced(operation = "consumer.loop", sample_rate = 0.0)]
fn consumer_loop(message: &HashMap<String, String>) -> Option<String> {
    let cx = propagation::extract_map(message);
    let _attached = cx.attach();
    handle_message()
}

/// A context attached inside a root godtrace sampled out (a message's, in a consumer loop)
/// is the parent of what runs under it: a sampled message's handler is recorded in its trace.
#[test]
fn a_context_attached_inside_a_sampled_out_root_is_the_parent() {
    let c = testing::capture();
    let message = HashMap::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]);
    let seen = consumer_loop(&message);
    assert_eq!(seen.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    let handled = c.span("consumer.handle");
    assert_eq!(
        handled.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        handled.parent_span_id.map(|s| s.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
}

#[traced(operation = "own.attached")]
fn attaches_its_own_context() {
    let _attached = godtrace::current_context().attach();
    godtrace::set_attribute("set.after.attach", 1_i64);
}

/// `current_context()` attached inside a traced call (or handed to `with_context`) still
/// has the call's span current for godtrace's API: what is set on "the current span" lands.
#[test]
fn attaching_the_current_context_keeps_the_span_writable() {
    let c = testing::capture();
    attaches_its_own_context();
    assert_eq!(
        c.span("own.attached").attr("set.after.attach"),
        Some(&godtrace::otel::Value::I64(1))
    );
}

#[traced(operation = "attached.grandchild")]
fn attached_grandchild() {}

#[traced(operation = "attached.child")]
fn child_under_an_attached_parent() -> Option<String> {
    godtrace::set_attribute("set.in.child", 1_i64);
    attached_grandchild();
    godtrace::span_id()
}

#[traced(operation = "attached.async_child")]
async fn async_child_under_an_attached_parent() -> Option<String> {
    godtrace::set_attribute("set.in.child", 1_i64);
    attached_grandchild();
    godtrace::span_id()
}

#[traced(operation = "attached.parent")]
fn attaches_then_calls_children() -> (Option<String>, Option<String>) {
    let _attached = godtrace::current_context().attach();
    let sync = child_under_an_attached_parent();
    let run = async_child_under_an_attached_parent();
    let asynchronous = crate::shapes::futures_block_on(run);
    (sync, asynchronous)
}

/// A traced call made while OpenTelemetry's context shows its parent's own span
/// (`current_context()` attached in it, as `in_current_span` and a `tracing` span below the
/// level filter do) has its own span current: what is set lands on it, and its calls are
/// its children.
#[test]
fn a_call_under_its_parents_attached_context_is_current_in_its_body() {
    let c = testing::capture();
    let (sync, asynchronous) = attaches_then_calls_children();
    for (name, seen) in [
        ("attached.child", sync),
        ("attached.async_child", asynchronous),
    ] {
        let child = c.span(name);
        assert_eq!(seen, Some(child.span_id.to_string()), "{name} is current");
        assert_eq!(
            child.attr("set.in.child"),
            Some(&godtrace::otel::Value::I64(1))
        );
        let under: Vec<_> = c
            .spans_named("attached.grandchild")
            .into_iter()
            .filter(|g| g.parent_span_id == Some(child.span_id))
            .collect();
        assert_eq!(under.len(), 1, "{name} has its grandchild");
    }
}

#[traced(operation = "rerun.leaf")]
fn rerun_leaf() {}

#[traced(operation = "rerun.runner")]
fn runs_a_job(job: Box<dyn FnOnce()>) {
    job();
}

#[traced(operation = "rerun.parent")]
fn captures_a_job_and_runs_it_in_a_child() {
    let job = godtrace::in_current_span(rerun_leaf);
    godtrace::in_current_span(move || runs_a_job(Box::new(job)))();
}

/// `in_current_span` run in place inside a span made after it captured the current span (a
/// rayon job run inside another it waits on) has the captured span current again: a call in
/// it is that span's child, not the span it happens to run in.
#[test]
fn a_job_captured_by_in_current_span_runs_under_its_span_inside_another() {
    let c = testing::capture();
    captures_a_job_and_runs_it_in_a_child();
    let parent = c.span("rerun.parent");
    assert_eq!(c.span("rerun.runner").parent_span_id, Some(parent.span_id));
    assert_eq!(c.span("rerun.leaf").parent_span_id, Some(parent.span_id));
}

#[traced(operation = "dropper.child")]
fn drops_the_parents_guard(guard: ContextGuard) -> Option<String> {
    drop(guard);
    godtrace::set_attribute("set.after.drop", 1_i64);
    attached_grandchild();
    godtrace::span_id()
}

#[traced(operation = "dropper.parent")]
fn attaches_and_hands_the_guard_down() -> Option<String> {
    let guard = godtrace::current_context().attach();
    drops_the_parents_guard(guard)
}

/// A context its parent attached, detached inside a traced call (the guard handed down and
/// dropped there), leaves the call its span: OpenTelemetry's context then shows what it showed
/// before the parent attached it (here, a remote parent), which is no newer span.
#[test]
fn a_parents_context_detached_inside_a_call_leaves_the_call_current() {
    let c = testing::capture();
    let remote = propagation::extract_map(&HashMap::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]));
    let _remote = remote.attach();
    let seen = attaches_and_hands_the_guard_down();
    let child = c.span("dropper.child");
    assert_eq!(seen, Some(child.span_id.to_string()));
    assert_eq!(
        child.attr("set.after.drop"),
        Some(&godtrace::otel::Value::I64(1))
    );
    let grandchild = c
        .spans_named("attached.grandchild")
        .into_iter()
        .find(|g| g.parent_span_id == Some(child.span_id));
    assert!(grandchild.is_some(), "the call's own child");
}

#[traced(operation = "handed.child")]
fn attaches_the_context_it_is_handed(cx: Context) {
    let _attached = cx.attach();
    godtrace::set_attribute("set.under.handed", 1_i64);
}

#[traced(operation = "handed.parent")]
fn hands_its_context_to_a_child() {
    attaches_the_context_it_is_handed(godtrace::current_context());
}

/// A child that attaches the context its parent handed it has that parent as its current
/// span there (OpenTelemetry's context shows it): what is set lands on the parent, recorded,
/// not on OpenTelemetry's non-recording view of it.
#[test]
fn what_is_set_under_a_parents_context_attached_in_a_child_lands_on_the_parent() {
    let c = testing::capture();
    hands_its_context_to_a_child();
    assert_eq!(
        c.span("handed.parent").attr("set.under.handed"),
        Some(&godtrace::otel::Value::I64(1))
    );
    assert_eq!(c.span("handed.child").attr("set.under.handed"), None);
}

/// Two tests continuing one remote trace at once (the same `traceparent`, as propagation
/// tests often share) each capture their own spans: children, a child started on another
/// thread after its parent ended, and a span started under the other test's span on this
/// test's thread (a shared runtime's); a thread with no capture adds nothing to either.
#[test]
fn captures_on_two_threads_continuing_one_remote_trace_keep_their_own_spans() {
    const HEADER: &str = "00-5e1f0c2a7b3d4e9f8a6b1c2d3e4f5a6b-b7ad6b7169203331-01";
    let headers = || HashMap::from([("traceparent".to_owned(), HEADER.to_owned())]);
    // Three steps: ready; both tests' spans started; done.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let (to_b, from_a) = std::sync::mpsc::channel::<Context>();
    let b_barrier = barrier.clone();
    let b = std::thread::spawn(move || {
        let capture = testing::capture();
        let cx = propagation::extract_map(&headers());
        b_barrier.wait();
        let span = godtrace::span_builder("shared.b").parent(&cx).start();
        server_step();
        b_barrier.wait();
        drop(span);
        // Run here, under a span of the other test's.
        let theirs = from_a.recv().unwrap();
        drop(
            godtrace::span_builder("shared.a.ran_by_b")
                .parent(&theirs)
                .start(),
        );
        b_barrier.wait();
        let mut names: Vec<String> = capture.spans().into_iter().map(|s| s.name).collect();
        names.sort();
        names
    });
    let nobody_barrier = barrier.clone();
    let nobody = std::thread::spawn(move || {
        let cx = propagation::extract_map(&headers());
        nobody_barrier.wait();
        nobody_barrier.wait();
        drop(godtrace::span_builder("shared.nobody").parent(&cx).start());
        nobody_barrier.wait();
    });
    let capture = testing::capture();
    let cx = propagation::extract_map(&headers());
    barrier.wait();
    let span = godtrace::span_builder("shared.a").parent(&cx).start();
    server_step();
    let mine = godtrace::current_context();
    barrier.wait();
    to_b.send(mine.clone()).unwrap();
    drop(span);
    // A child started after its parent ended, on a thread with no capture.
    std::thread::spawn(move || {
        drop(
            godtrace::span_builder("shared.a.late")
                .parent(&mine)
                .start(),
        )
    })
    .join()
    .unwrap();
    barrier.wait();
    nobody.join().unwrap();
    let mut names: Vec<String> = capture.spans().into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "server.step",
            "shared.a",
            "shared.a.late",
            "shared.a.ran_by_b"
        ]
    );
    assert_eq!(b.join().unwrap(), ["server.step", "shared.b"]);
}

/// A capture dropped on another thread than its own stops collecting there, and one kept in
/// a thread-local is dropped with its thread without a fault.
#[test]
fn a_capture_dropped_elsewhere_or_in_a_thread_local_is_closed_cleanly() {
    let (capture, worker) = {
        let (tx, rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            tx.send(testing::capture()).unwrap();
            go_rx.recv().unwrap();
            // The capture made here was dropped on the test's thread: this thread's next
            // capture takes what starts here, the dropped one nothing.
            let again = testing::capture();
            drop(godtrace::span("dropped.elsewhere.after"));
            again.spans().len()
        });
        let capture: testing::Capture = rx.recv().unwrap();
        drop(capture);
        go_tx.send(()).unwrap();
        ((), worker)
    };
    let () = capture;
    assert_eq!(worker.join().unwrap(), 1);
    std::thread::spawn(|| {
        thread_local! {
            static KEPT: std::cell::RefCell<Option<testing::Capture>> =
                const { std::cell::RefCell::new(None) };
        }
        KEPT.with(|k| *k.borrow_mut() = Some(testing::capture()));
        drop(godtrace::span("kept.in.a.thread_local"));
    })
    .join()
    .unwrap();
}

/// A capture made while another is alive on the thread: both get what is recorded meanwhile.
#[test]
fn nested_captures_both_collect_while_both_are_alive() {
    let outer = testing::capture();
    drop(godtrace::span("nested.before"));
    let inner = testing::capture();
    drop(godtrace::span("nested.during"));
    let inner_names: Vec<String> = inner.spans().into_iter().map(|s| s.name).collect();
    drop(inner);
    drop(godtrace::span("nested.after"));
    let names: Vec<String> = outer.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["nested.before", "nested.during", "nested.after"]);
    assert_eq!(inner_names, ["nested.during"]);
}

/// A span started under a span of a capture that was dropped goes nowhere, not to the
/// capture that is on its thread now (a later test's); a helper's capture nested in a test's
/// does not make the test's trace count as another test's.
#[test]
fn spans_under_a_dropped_captures_span_go_nowhere() {
    let first = testing::capture();
    let left = godtrace::span_builder("left.root").start_detached();
    let cx = left.context();
    drop(first);
    let second = testing::capture();
    drop(godtrace::span_builder("left.late").parent(&cx).start());
    left.end();
    assert!(second.spans().is_empty(), "{:?}", second.spans());

    const HEADER: &str = "00-7a1f0c2a7b3d4e9f8a6b1c2d3e4f5a6c-c7ad6b7169203331-01";
    let headers = HashMap::from([("traceparent".to_owned(), HEADER.to_owned())]);
    let remote = propagation::extract_map(&headers);
    drop(godtrace::span_builder("own.first").parent(&remote).start());
    let helper = testing::capture();
    drop(godtrace::span_builder("own.helper").parent(&remote).start());
    drop(helper);
    let remote = remote.clone();
    std::thread::spawn(move || {
        drop(
            godtrace::span_builder("own.elsewhere")
                .parent(&remote)
                .start(),
        )
    })
    .join()
    .unwrap();
    let mut names: Vec<String> = second.spans().into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["own.elsewhere", "own.first", "own.helper"]);
}

/// A `tracestate` OpenTelemetry's type holds only in part (it refuses the first member's
/// 14-character system id), which godtrace keeps whole.
const TRACESTATE_HELD_IN_PART: &str = "vendor@abcdefghijklmn=1,rojo=00f067aa0ba902b7";

/// A request with a remote parent (sampled or not, `flags`), baggage and, when given, a
/// `tracestate`.
pub(crate) fn request_with_baggage(
    flags: &str,
    tracestate: Option<&str>,
) -> HashMap<String, String> {
    let mut headers = HashMap::from([
        (
            "traceparent".to_string(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}"),
        ),
        ("baggage".to_string(), "tenant=acme".to_string()),
    ]);
    if let Some(tracestate) = tracestate {
        headers.insert("tracestate".to_string(), tracestate.to_string());
    }
    headers
}

/// What an outgoing call made under a request of [`request_with_baggage`] (trace
/// `4bf92f35…`) sends: the request's trace, baggage and `tracestate`.
pub(crate) fn assert_sends_the_request_on(outgoing: &HashMap<String, String>, tracestate: &str) {
    assert_eq!(
        outgoing.get("baggage").map(String::as_str),
        Some("tenant=acme"),
        "{outgoing:?}"
    );
    assert_eq!(
        outgoing.get("tracestate").map(String::as_str),
        Some(tracestate),
        "{outgoing:?}"
    );
    assert!(
        outgoing["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{outgoing:?}"
    );
}

#[traced(operation = "capture::propagation::downstream")]
async fn downstream_headers() -> HashMap<String, String> {
    tokio::task::yield_now().await;
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
    headers
}

/// A handler that calls downstream twice: awaited, and from a task of its own.
#[traced(operation = "capture::propagation::fan_out", parent = &parent)]
async fn fan_out(parent: Context) -> [HashMap<String, String>; 2] {
    let _ = &parent;
    let awaited = downstream_headers().await;
    let spawned = tokio::spawn(downstream_headers()).await.unwrap();
    [awaited, spawned]
}

/// A traced call spawned onto a task of its own (polled where the request's context is not
/// current) sends the request's baggage and whole `tracestate` on, as the same call awaited
/// in the handler does, whether the request is sampled or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_traced_call_sends_the_requests_baggage_and_tracestate_on() {
    let _c = testing::capture();
    for (flags, tracestate) in [
        ("01", Some(TRACESTATE_HELD_IN_PART)),
        ("00", Some(TRACESTATE_HELD_IN_PART)),
        ("01", None),
        ("00", None),
    ] {
        let incoming = request_with_baggage(flags, tracestate);
        for outgoing in fan_out(propagation::extract_map(&incoming)).await {
            assert_sends_the_request_on(&outgoing, tracestate.unwrap_or(""));
            assert!(outgoing["traceparent"].ends_with(flags), "{outgoing:?}");
        }
    }
}

#[traced(operation = "capture::propagation::waits_for")]
async fn waits_for(release: tokio::sync::oneshot::Receiver<()>) {
    let _ = release.await;
}

/// A handler whose span of OpenTelemetry's API (the global tracer) spawns a traced call
/// (its handle returned, for the test to wait on).
#[allow(clippy::async_yields_async)]
#[traced(operation = "capture::propagation::spawns_in_an_otel_span", parent = &parent)]
async fn spawns_in_an_otel_span(
    parent: Context,
    release: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    use godtrace::otel::trace::Tracer;
    let _ = &parent;
    godtrace::otel::global::tracer("capture").in_span("capture::propagation::otel_api_op", |_| {
        tokio::spawn(waits_for(release))
    })
}

/// What a spawned traced call takes along of the request's context is its baggage and
/// `tracestate`, not a span of OpenTelemetry's API current where it was made: that span ends
/// at the end of its scope, not when the task does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_traced_call_does_not_keep_an_opentelemetry_span_open() {
    let c = testing::capture();
    let (release, released) = tokio::sync::oneshot::channel();
    let incoming = request_with_baggage("01", Some(TRACESTATE_HELD_IN_PART));
    let task = spawns_in_an_otel_span(propagation::extract_map(&incoming), released).await;
    assert_eq!(
        c.spans_named("capture::propagation::otel_api_op").len(),
        1,
        "ended while the task it spawned still runs"
    );
    release.send(()).unwrap();
    task.await.unwrap();
}

#[traced(operation = "capture::propagation::job")]
async fn job() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
    headers
}

type Job = std::pin::Pin<Box<dyn std::future::Future<Output = HashMap<String, String>> + Send>>;

/// A root dropped by its rate, under `cx`, that hands a job out.
#[traced(operation = "capture::propagation::dropped_root_with_a_job", parent = cx, sample_rate = 0.0)]
async fn dropped_root_with_a_job(cx: Context) -> (HashMap<String, String>, Job) {
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
    (headers, Box::pin(job()))
}

#[traced(operation = "capture::propagation::worker")]
async fn worker(job: Job) -> HashMap<String, String> {
    job.await
}

/// A job made under a root sampled out, polled inside a span that records, goes on in the
/// dropped root's trace (not sampled), with baggage or without.
#[tokio::test]
async fn a_job_of_a_dropped_root_polled_in_a_recorded_span_stays_in_the_roots_trace() {
    let _c = testing::capture();
    for cx in [
        Context::new(),
        Context::new().with_baggage([KeyValue::new("tenant", "acme")]),
    ] {
        let (root_sends, job) = dropped_root_with_a_job(cx).await;
        let job_sends = worker(job).await;
        assert_eq!(
            job_sends["traceparent"][..35],
            root_sends["traceparent"][..35],
            "the root's trace: {root_sends:?} {job_sends:?}"
        );
        assert!(job_sends["traceparent"].ends_with("-02"), "{job_sends:?}");
    }
}

/// A third-party library's span (a tracer of the global provider) is bounded as godtrace's
/// own are: its name, keys and string values cut, its status description and its recorded
/// error's `exception.message` cut and redacted, and one attribute per key, the last value
/// given.
#[test]
fn library_spans_are_bounded_as_godtraces_are() {
    use godtrace::otel::trace::{Span as _, Status, Tracer as _};
    let c = testing::capture();
    let mut span = godtrace::otel::global::tracer("library").start("library.long.".repeat(200));
    span.set_attribute(KeyValue::new("long", "x".repeat(5000)));
    span.set_attribute(KeyValue::new("k".repeat(400), 1));
    span.set_attribute(KeyValue::new("dup", 1));
    span.set_attribute(KeyValue::new("dup", 2));
    // A key set again, past the count limit (128) of sets: one key, which leaves room.
    for i in 0..200 {
        span.set_attribute(KeyValue::new("same", i));
    }
    span.set_attribute(KeyValue::new("after", "kept"));
    span.record_error(&std::io::Error::other(format!(
        "GET https://u:pw@h.example/ failed{}",
        "!".repeat(5000)
    )));
    span.set_status(Status::error(format!(
        "GET https://u:pw@h.example/ failed{}",
        "!".repeat(5000)
    )));
    span.end();
    let span = c
        .spans()
        .into_iter()
        .find(|s| s.name.starts_with("library.long."))
        .expect("the library's span");
    assert!(span.name.len() <= 1100, "{}", span.name.len());
    let long = match span.attr("long") {
        Some(godtrace::otel::Value::String(s)) => s.as_str().len(),
        other => panic!("{other:?}"),
    };
    assert!(long <= 1100, "{long}");
    assert!(span.attributes.iter().all(|(k, _)| k.len() <= 256));
    let dups: Vec<_> = span.attributes.iter().filter(|(k, _)| k == "dup").collect();
    assert_eq!(dups.len(), 1, "{:?}", span.attributes);
    assert_eq!(dups[0].1, godtrace::otel::Value::I64(2));
    assert_eq!(span.attr("same"), Some(&godtrace::otel::Value::I64(199)));
    assert_eq!(
        span.attr("after"),
        Some(&godtrace::otel::Value::from("kept"))
    );
    let description = span.error_message().expect("failed");
    assert!(!description.contains("pw"), "{description}");
    assert!(description.len() <= 1100, "{}", description.len());
    let message = match span
        .event("exception")
        .and_then(|e| e.attr("exception.message"))
    {
        Some(godtrace::otel::Value::String(s)) => s.as_str().to_owned(),
        other => panic!("{other:?}"),
    };
    assert!(message.starts_with("GET https://"), "{message}");
    assert!(!message.contains("pw"), "{message}");
    assert!(message.len() <= 1100, "{}", message.len());
}

/// OpenTelemetry's global propagator is godtrace's once a capture has started godtrace, as
/// after `init`: other OpenTelemetry code (an instrumented HTTP client) sends the trace on.
#[test]
fn the_global_propagator_injects_under_a_capture() {
    let _c = testing::capture();
    let _request = godtrace::span("request");
    let mut headers = HashMap::new();
    godtrace::otel::global::get_text_map_propagator(|p| {
        p.inject_context(&godtrace::current_context(), &mut headers)
    });
    let span_id = godtrace::span_id().expect("a span is current");
    assert!(
        headers
            .get("traceparent")
            .is_some_and(|t| t.contains(&span_id)),
        "{headers:?}"
    );
}
