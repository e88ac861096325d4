//! Headers come from the network: a malformed or hostile trace context never panics and never
//! fails the request; a bad `traceparent` starts a new root trace, a bad `tracestate` is
//! dropped while the trace continues, and both are counted in `godtrace::stats()`.
//!
//! One test function: the counters are process-wide, so nothing else in this process may move
//! them while it counts.
use godtrace::otel::Context;
use godtrace::propagation;
use godtrace::{testing, traced};
use std::collections::HashMap;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

#[traced(operation = "server.handle", parent = &parent)]
fn handle(parent: Context) -> String {
    godtrace::trace_id().expect("inside the handler's span")
}

fn rejected() -> u64 {
    godtrace::stats().contexts_rejected
}

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn hostile_trace_contexts_start_new_roots_and_are_counted() {
    crate::support::own_process!();
    let c = testing::capture();
    let valid = format!("00-{TID}-{SID}-01");
    let cases: Vec<(&str, HashMap<String, String>)> = vec![
        ("too short", headers(&[("traceparent", &valid[..54])])),
        (
            "too long for version 00",
            headers(&[("traceparent", &format!("{valid}-00"))]),
        ),
        (
            "trace id too long",
            headers(&[("traceparent", &format!("00-{TID}ab-{SID}-01"))]),
        ),
        (
            "not hex",
            headers(&[("traceparent", &format!("00-{}zz-{SID}-01", &TID[..30]))]),
        ),
        (
            "upper-case hex",
            headers(&[("traceparent", &valid.to_uppercase())]),
        ),
        (
            "all-zero trace id",
            headers(&[("traceparent", &format!("00-{}-{SID}-01", "0".repeat(32)))]),
        ),
        (
            "all-zero parent id",
            headers(&[("traceparent", &format!("00-{TID}-{}-01", "0".repeat(16)))]),
        ),
        (
            "forbidden version ff",
            headers(&[("traceparent", &format!("ff-{TID}-{SID}-01"))]),
        ),
        (
            "wrong separators",
            headers(&[("traceparent", &valid.replace('-', "_"))]),
        ),
        ("empty", headers(&[("traceparent", "")])),
        (
            "1 MB of junk",
            headers(&[("traceparent", &"7".repeat(1 << 20))]),
        ),
    ];

    let before = rejected();
    for (what, carrier) in &cases {
        let parent = propagation::extract_map(carrier);
        assert!(!propagation::is_remote_parent(&parent), "{what}: accepted");
        let trace_id = handle(parent);
        assert_ne!(trace_id, TID, "{what}: joined the hostile trace");
    }
    assert_eq!(
        rejected() - before,
        cases.len() as u64,
        "one count per rejected request"
    );
    let roots = c.spans_named("server.handle");
    assert_eq!(roots.len(), cases.len());
    assert!(
        roots.iter().all(|s| s.parent_span_id.is_none()),
        "every one a new root"
    );

    // A bad tracestate beside a valid traceparent: the trace continues without the
    // tracestate, and the rejection is counted.
    let members: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let too_many_members = members.join(",");
    let oversized_state = format!("a={}", "x,b=".repeat(5000));
    let bad_states = [
        ("33 tracestate members", too_many_members.as_str()),
        ("oversized tracestate", oversized_state.as_str()),
        ("invalid tracestate key", "Bad Key=1"),
        ("upper-case key", "FOO=1"),
        ("value with =", "foo=bar=baz"),
        ("duplicate key", "foo=1,foo=1"),
    ];
    let before = rejected();
    let kept_before = c.spans_named("server.handle").len();
    for (what, state) in bad_states {
        let parent =
            propagation::extract_map(&headers(&[("traceparent", &valid), ("tracestate", state)]));
        assert!(propagation::is_remote_parent(&parent), "{what}: trace lost");
        assert_eq!(handle(parent), TID, "{what}: the trace continues");
    }
    assert_eq!(
        rejected() - before,
        bad_states.len() as u64,
        "one count per dropped tracestate"
    );
    let handlers = c.spans_named("server.handle");
    assert_eq!(handlers.len() - kept_before, bad_states.len());
    assert!(
        handlers[kept_before..]
            .iter()
            .all(|s| s.parent_span_id.map(|p| p.to_string()).as_deref() == Some(SID)),
        "every handler under the caller's span"
    );

    // A valid context, and a request with no trace context at all, are not rejections.
    let before = rejected();
    assert!(propagation::is_remote_parent(&propagation::extract_map(
        &headers(&[("traceparent", &valid)])
    )));
    let _ = propagation::extract_map(&headers(&[("content-type", "application/json")]));
    let _ = propagation::extract_map(&headers(&[("tracestate", "a=1")]));
    assert_eq!(rejected(), before);

    // HTTP headers: several traceparents, or bytes that are not visible ASCII; a tracestate
    // that is not text is dropped (and counted) without losing the trace.
    let before = rejected();
    let mut twice = http::HeaderMap::new();
    twice.append("traceparent", valid.parse().unwrap());
    twice.append(
        "traceparent",
        format!("00-{TID}-{}-01", "1".repeat(16)).parse().unwrap(),
    );
    assert!(!propagation::is_remote_parent(
        &propagation::extract_headers(&twice)
    ));
    let mut opaque = http::HeaderMap::new();
    let mut bytes = valid.clone().into_bytes();
    bytes[10] = 0xE9;
    opaque.insert(
        "traceparent",
        http::HeaderValue::from_bytes(&bytes).unwrap(),
    );
    assert!(!propagation::is_remote_parent(
        &propagation::extract_headers(&opaque)
    ));
    let mut opaque_state = http::HeaderMap::new();
    opaque_state.insert("traceparent", valid.parse().unwrap());
    opaque_state.insert(
        "tracestate",
        http::HeaderValue::from_bytes(b"foo=\xe9").unwrap(),
    );
    assert!(propagation::is_remote_parent(
        &propagation::extract_headers(&opaque_state)
    ));
    assert_eq!(rejected() - before, 3);

    // A rejected trace context keeps the request's valid baggage; an oversized baggage header
    // is dropped and counted on its own.
    let baggage_before = godtrace::stats().baggage_rejected;
    let cx = propagation::extract_map(&headers(&[
        ("traceparent", "garbage"),
        ("baggage", "tenant=acme"),
    ]));
    assert_eq!(propagation::baggage(&cx).len(), 1);
    let huge = format!("k={}", "v".repeat(propagation::MAX_BAGGAGE_LEN));
    let cx = propagation::extract_map(&headers(&[("traceparent", &valid), ("baggage", &huge)]));
    assert!(
        propagation::is_remote_parent(&cx),
        "the trace context itself is fine"
    );
    assert!(propagation::baggage(&cx).is_empty());
    assert_eq!(godtrace::stats().baggage_rejected - baggage_before, 1);

    // Mutations of a valid header: never a panic; whatever is not accepted is counted.
    let before = rejected();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"0123456789abcdefABCDEF-xz \t\xc3\xa9";
    let mut not_accepted = 0;
    for _ in 0..20_000 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..(next() % 3 + 1) {
            let at = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if at < bytes.len() => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let value = String::from_utf8_lossy(&bytes).into_owned();
        let cx = propagation::extract_map(&headers(&[("traceparent", &value)]));
        if !propagation::is_remote_parent(&cx) {
            not_accepted += 1;
        }
    }
    assert!(
        not_accepted > 10_000,
        "most mutations break the header: {not_accepted}"
    );
    assert_eq!(rejected() - before, not_accepted);
}
