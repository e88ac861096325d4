//! Unit tests of the parsing rules and of what `inject` writes.
use super::w3c::{Field, Fields, Incoming, known_flags, parse_fields};
use super::*;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

fn incoming(traceparent: &str, tracestate: Option<&str>) -> Result<Option<Incoming>, ()> {
    let fields = Fields {
        traceparent: Field::Values(vec![traceparent]),
        tracestate: tracestate.map_or(Field::Absent, |s| Field::Values(vec![s])),
    };
    parse_fields(&fields).map_err(|_| ())
}

fn parent_of(traceparent: &str, tracestate: Option<&str>) -> Result<Option<SpanContext>, ()> {
    incoming(traceparent, tracestate).map(|i| i.map(|i| i.parent))
}

#[test]
fn valid_traceparents_parse() {
    let sc = parent_of(&format!("00-{TID}-{SID}-01"), None)
        .unwrap()
        .unwrap();
    assert_eq!(sc.trace_id().to_string(), TID);
    assert_eq!(sc.span_id().to_string(), SID);
    assert!(sc.is_sampled() && sc.is_remote());
    let unsampled = parent_of(&format!("00-{TID}-{SID}-00"), None)
        .unwrap()
        .unwrap();
    assert!(!unsampled.is_sampled());
    // Unknown flags are dropped; a future version may append fields.
    let future = parent_of(&format!("cc-{TID}-{SID}-09-what-the-future-holds"), None)
        .unwrap()
        .unwrap();
    assert_eq!(future.trace_flags(), TraceFlags::SAMPLED);
    // Of any length: the specification bounds no version's fields, and nothing past the
    // first four is read.
    let long = format!("01-{TID}-{SID}-01-{}", "x".repeat(64 << 10));
    let long = parent_of(&long, None).unwrap().unwrap();
    assert_eq!(long.span_id().to_string(), SID);
    assert!(parent_of(&format!(" 00-{TID}-{SID}-01\t"), None).is_ok());
}

#[test]
fn malformed_traceparents_are_rejected() {
    let long_tid = format!("{TID}00");
    let cases = [
        String::new(),
        "garbage".into(),
        format!("00-{TID}-{SID}"),
        format!("00-{TID}-{SID}-"),
        format!("00-{TID}-{SID}-01-"),
        format!("00-{TID}-{SID}-01-extra"),
        format!("00-{long_tid}-{SID}-01"),
        format!("00-{TID}-{SID}00-01"),
        format!("00-{}-{SID}-01", TID.to_uppercase()),
        format!("00-{TID}-{SID}-0G"),
        format!("0x-{TID}-{SID}-01"),
        format!("ff-{TID}-{SID}-01"),
        format!("00_{TID}-{SID}-01"),
        format!("00-{}-{SID}-01", "0".repeat(32)),
        format!("00-{TID}-{}-01", "0".repeat(16)),
        format!("00-{}é-{SID}-01", &TID[..31]),
        format!("01-{TID}-{SID}-01x{}", "-x".repeat(300)),
    ];
    for case in cases {
        assert!(parent_of(&case, None).is_err(), "accepted {case:?}");
    }
}

/// The `tracestate` kept of `state` (as it goes out), with a valid `traceparent`; `None`
/// when it was dropped. The trace itself is always kept.
fn kept_state(state: &str) -> Option<String> {
    let tp = format!("00-{TID}-{SID}-01");
    let incoming = incoming(&tp, Some(state)).unwrap().unwrap();
    assert_eq!(incoming.parent.trace_id().to_string(), TID, "{state:?}");
    let header = incoming
        .full_state
        .unwrap_or_else(|| incoming.parent.trace_state().header());
    (!incoming.state_rejected).then_some(header)
}

#[test]
fn tracestate_rules() {
    let kept = |s: &str| kept_state(s).is_some();
    assert!(kept("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
    assert!(kept("tenant@vendor=x, , a-b_c*d/e=1 2"));
    assert!(kept(""));
    let members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    assert!(kept(&members.join(",")));
    let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    assert!(!kept(&too_many.join(",")));
    assert!(!kept(&format!("a={}", "x".repeat(257))));
    assert!(!kept(&format!("a=b,{}", "c".repeat(MAX_TRACESTATE_LEN))));
    for bad in [
        "a", "A=1", "a=b=c", "a= ", "-a=1", "@a=1", "a=\u{7f}", "a=1,b=",
    ] {
        assert!(!kept(bad), "kept tracestate {bad:?}");
    }
    assert_eq!(kept_state("rojo=1,congo=2").unwrap(), "rojo=1,congo=2");
}

/// The list sent on from a valid `tracestate`, and whether it was counted as cut.
fn state_sent_on(state: &str) -> (String, bool) {
    let tp = format!("00-{TID}-{SID}-01");
    let incoming = incoming(&tp, Some(state)).unwrap().unwrap();
    let header = incoming
        .full_state
        .unwrap_or_else(|| incoming.parent.trace_state().header());
    (header, incoming.state_rejected)
}

#[test]
fn a_valid_tracestate_over_the_limit_is_trimmed_by_whole_members_long_ones_first() {
    // 32 members of 202-byte keys and 200-byte values: valid, 12,895 bytes.
    let long: Vec<String> = (0..32)
        .map(|i| format!("{}{i:02}={}", "k".repeat(200), "v".repeat(200)))
        .collect();
    let (sent, cut) = state_sent_on(&long.join(","));
    assert!(cut, "counted");
    assert!(sent.len() <= MAX_TRACESTATE_LEN, "{}", sent.len());
    assert_eq!(sent, long[..20].join(","), "the first 20 members fit");

    // Short members stay while long ones are left to remove, wherever they are.
    // 16 of 455 bytes and 16 of 104: 8,975 bytes, two long members too many.
    let mut mixed: Vec<String> = (0..16)
        .map(|i| format!("l{i:02}{}={}", "k".repeat(200), "x".repeat(250)))
        .collect();
    mixed.extend((0..16).map(|i| format!("s{i:02}={}", "y".repeat(100))));
    mixed.swap(0, 31);
    let (sent, cut) = state_sent_on(&mixed.join(","));
    assert!(cut);
    let kept: Vec<&str> = sent.split(',').collect();
    let short = mixed.iter().filter(|m| m.len() <= 128).count();
    assert_eq!(
        kept.iter().filter(|m| m.len() <= 128).count(),
        short,
        "{sent}"
    );
    assert_eq!(kept[0], mixed[0], "the first member is kept, the order too");
    assert!(sent.len() <= MAX_TRACESTATE_LEN);
    let long_kept: Vec<&&str> = kept.iter().filter(|m| m.len() > 128).collect();
    let long_in: Vec<&String> = mixed.iter().filter(|m| m.len() > 128).collect();
    assert_eq!(
        long_kept.len(),
        14,
        "long members left out from the end: {sent}"
    );
    assert!(
        long_kept
            .iter()
            .zip(&long_in)
            .all(|(a, b)| **a == b.as_str())
    );

    // At the limit nothing goes; past 64 KiB of headers the list is dropped whole.
    let (sent, cut) = state_sent_on(&long[..20].join(","));
    assert!(!cut);
    assert_eq!(sent, long[..20].join(","));
    assert!(kept_state(&format!("a=1,{}", " ,".repeat(33 * 1024))).is_none());
    assert!(kept_state(&format!("a=1,{}", " ,".repeat(30 * 1024))).is_some());
}

#[test]
fn level_2_keys_are_kept_whole_even_where_opentelemetry_refuses_them() {
    let system_14 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    for key in ["foo@", "foo@@bar", "foo@bar@baz", system_14.as_str(), "z@"] {
        let state = format!("a=1,{key}=2,b=3");
        assert_eq!(kept_state(&state).as_deref(), Some(state.as_str()));
    }
    assert!(kept_state(&format!("{}=1", "z".repeat(257))).is_none());
}

#[test]
fn duplicate_keys_keep_the_first_member() {
    let tp = format!("00-{TID}-{SID}-01");
    let incoming = incoming(&tp, Some("foo=1,bar=2,foo=3")).unwrap().unwrap();
    assert_eq!(incoming.parent.trace_state().header(), "foo=1,bar=2");
    assert!(incoming.state_rejected, "counted");
}

#[test]
fn tracestate_headers_join() {
    let fields = Fields {
        traceparent: Field::Values(vec![
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ]),
        tracestate: Field::Values(vec!["a=1", "b=2"]),
    };
    let incoming = parse_fields(&fields).ok().flatten().unwrap();
    assert_eq!(incoming.parent.trace_state().header(), "a=1,b=2");
}

#[test]
fn several_traceparents_are_rejected() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let fields = Fields {
        traceparent: Field::Values(vec![tp, tp]),
        tracestate: Field::Absent,
    };
    assert!(parse_fields(&fields).is_err());
}

#[test]
fn no_traceparent_is_a_root_not_a_rejection() {
    let fields = Fields {
        traceparent: Field::Absent,
        tracestate: Field::Values(vec!["a=1"]),
    };
    assert!(matches!(parse_fields(&fields), Ok(None)));
}

#[test]
fn flags_other_than_sampled_and_random_are_read_and_written_as_zero() {
    let sc = parent_of(&format!("00-{TID}-{SID}-ff"), None)
        .unwrap()
        .unwrap();
    assert_eq!(sc.trace_flags(), known_flags());
    let random = parent_of(&format!("00-{TID}-{SID}-02"), None)
        .unwrap()
        .unwrap();
    assert!(!random.is_sampled());
    let mut map: HashMap<String, String> = HashMap::new();
    inject_context(&Context::new().with_remote_span_context(random), &mut map);
    assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-02"));
    let all = SpanContext::new(
        TraceId::from_hex(TID).unwrap(),
        SpanId::from_hex(SID).unwrap(),
        TraceFlags::new(0xff),
        false,
        TraceState::NONE,
    );
    inject_context(&Context::new().with_remote_span_context(all), &mut map);
    assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-03"));
}

#[test]
fn inject_writes_sampled_flag_and_state() {
    let sc = SpanContext::new(
        TraceId::from_hex(TID).unwrap(),
        SpanId::from_hex(SID).unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::from_key_value([("k", "v")]).unwrap(),
    );
    let cx = Context::new().with_remote_span_context(sc);
    let mut map: HashMap<String, String> = HashMap::new();
    inject_context(&cx, &mut map);
    assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-01"));
    assert_eq!(map[TRACESTATE], "k=v");
    assert!(!map.contains_key(BAGGAGE));
}

/// The same headers through `extract_headers` and through `extract` of a `HeaderExtractor`:
/// whether each holds a remote parent, its `tracestate` and its baggage entries.
#[cfg(feature = "http")]
fn both_ways(headers: &[(&str, &[u8])]) -> [(bool, String, usize); 2] {
    use opentelemetry::baggage::BaggageExt;
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        map.append(name, http::HeaderValue::from_bytes(value).unwrap());
    }
    [
        super::extract_headers(&map),
        super::extract(&super::HeaderExtractor(&map)),
    ]
    .map(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        (
            sc.is_remote(),
            sc.trace_state().header(),
            cx.baggage().len(),
        )
    })
}

#[cfg(feature = "http")]
#[test]
fn a_header_extractor_rejects_values_that_are_not_text_as_extract_headers_does() {
    const VALID: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let cases: [&[(&str, &[u8])]; 3] = [
        // A second traceparent, not text: several traceparents, a new trace.
        &[("traceparent", VALID), ("traceparent", b"00-\xff\xfe")],
        // A tracestate header that is not text drops the whole tracestate.
        &[
            ("traceparent", VALID),
            ("tracestate", b"a=1"),
            ("tracestate", b"b=\xff"),
        ],
        // A baggage header that is not text is left out, the others kept (`extract_headers`
        // leaves out only its bad members: here all of it).
        &[("baggage", b"a=1"), ("baggage", b"b=\xff")],
    ];
    let expected = [
        (false, String::new(), 0),
        (true, String::new(), 0),
        (false, String::new(), 1),
    ];
    for (headers, expected) in cases.iter().zip(expected) {
        let [from_headers, from_extractor] = both_ways(headers);
        assert_eq!(from_headers, expected, "{headers:?}");
        assert_eq!(from_extractor, expected, "{headers:?}");
    }
}

#[test]
fn only_godtraces_own_extractors_mark_a_value_not_text() {
    use opentelemetry::baggage::BaggageExt;
    // `Baggage` sorts before `baggage`: the joined list is the same on every run.
    let map = HashMap::from([
        ("baggage".to_string(), "b=2".to_string()),
        ("Baggage".to_string(), "\u{7f}".to_string()),
    ]);
    let cx = super::extract_map(&map);
    let entries: Vec<_> = cx.baggage().iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        entries,
        ["b"],
        "the DEL member is skipped, the rest is kept"
    );
}

/// What `inject_context` writes as `tracestate` for a span context holding `state`, under
/// `cx` (which may hold the whole list a request came with).
fn tracestate_sent(cx: &Context, state: TraceState) -> String {
    let span = cx.span();
    let sc = span.span_context();
    let sc = SpanContext::new(sc.trace_id(), sc.span_id(), sc.trace_flags(), true, state);
    let mut map: HashMap<String, String> = HashMap::new();
    inject_context(&cx.with_remote_span_context(sc), &mut map);
    map.remove(TRACESTATE).unwrap_or_default()
}

#[test]
fn members_opentelemetry_refused_stay_when_its_code_changes_the_trace_state() {
    let headers = HashMap::from([
        (TRACEPARENT.to_string(), format!("00-{TID}-{SID}-01")),
        // `rojo@vendor12345678`: valid (a 14-character system id), refused by OpenTelemetry.
        (
            TRACESTATE.to_string(),
            "a=1,rojo@vendor12345678=x,congo=t61,b=2".to_string(),
        ),
    ]);
    let cx = extract_map(&headers);
    let held = cx.span().span_context().trace_state().clone();
    assert_eq!(held.header(), "a=1,congo=t61,b=2");
    // Unchanged: the whole list, as it came.
    assert_eq!(
        tracestate_sent(&cx, held.clone()),
        "a=1,rojo@vendor12345678=x,congo=t61,b=2"
    );
    // A vendor updates its own member: it goes first, the others keep their place.
    let updated = held.insert("congo", "new").unwrap();
    assert_eq!(
        tracestate_sent(&cx, updated.clone()),
        "congo=new,a=1,rojo@vendor12345678=x,b=2"
    );
    // A deleted member stays deleted; an added one goes first.
    let changed = updated.delete("a").unwrap().insert("n", "1").unwrap();
    assert_eq!(
        tracestate_sent(&cx, changed),
        "n=1,congo=new,rojo@vendor12345678=x,b=2"
    );
    // The limits still hold: 31 added members and the refused one make 32.
    let full = (0..31).fold(held, |state, i| state.insert(format!("k{i}"), "v").unwrap());
    let sent = tracestate_sent(&cx, full);
    assert_eq!(sent.split(',').count(), MAX_TRACESTATE_MEMBERS, "{sent}");
    assert!(sent.starts_with("k30=v,"), "{sent}");
}

#[test]
fn members_that_are_not_valid_w3c_never_go_out() {
    // OpenTelemetry's type takes any value without `,` or `=`.
    for (state, sent) in [
        (vec![("k", "a\r\nx-injected: 1"), ("ok", "1")], "ok=1"),
        (vec![("k", "café")], ""),
        (vec![("k", "trail ")], ""),
        (vec![("k", "v"), ("ok", "1")], "k=v,ok=1"),
    ] {
        let state = TraceState::from_key_value(state.iter().copied()).unwrap();
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex(TID).unwrap(),
            SpanId::from_hex(SID).unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ));
        assert_eq!(tracestate_sent(&cx, state), sent);
    }
}

#[cfg(feature = "http")]
#[test]
fn a_header_injector_removes_the_old_header_for_a_value_no_header_holds() {
    use opentelemetry::propagation::Injector;
    let mut headers = http::HeaderMap::new();
    headers.insert(TRACESTATE, http::HeaderValue::from_static("stale=1"));
    super::HeaderInjector(&mut headers).set(TRACESTATE, "k=a\nb".to_string());
    assert!(headers.get(TRACESTATE).is_none(), "{headers:?}");
    super::HeaderInjector(&mut headers).set(TRACESTATE, "k=v".to_string());
    assert_eq!(headers[TRACESTATE], "k=v");
}
