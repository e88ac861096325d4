use super::*;
use opentelemetry::trace::{TraceFlags, TraceId};
use std::str::FromStr;

fn ids(span_id: u64, is_remote: bool, trace_state: TraceState) -> SpanContext {
    let trace_id = TraceId::from(7_u128);
    let span_id = SpanId::from(span_id);
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        is_remote,
        trace_state,
    )
}

/// What a span records before its box is recycled: each on its own (a record holding only
/// that must be emptied all the same), or all of it over every limit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Held {
    Attribute,
    Event,
    Link,
    StatusOk,
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    KindGivenLater,
    Everything,
}

const HELD: &[Held] = &[
    Held::Attribute,
    Held::Event,
    Held::Link,
    Held::StatusOk,
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    Held::KindGivenLater,
    Held::Everything,
];

/// Ends a span that recorded `held` and keeps its box for this thread's next span;
/// returns the box's address.
fn record_then_recycle(held: Held) -> *const Live {
    let parent = ids(1, true, TraceState::NONE);
    let every = held == Held::Everything;
    let (live, limits) = if every {
        let trace_state = TraceState::from_str("vendor=value").unwrap();
        let name = Name::Given(Cow::Owned("first".to_owned()), SpanKind::Server);
        let attributes = vec![KeyValue::new("given", 1)];
        let ids = ids(2, false, trace_state);
        let live = Live::start(ids, Some(&parent), name, attributes);
        // Over every limit: the dropped counts are set too.
        (live, (max_attributes(), max_events(), max_links()))
    } else {
        let name = Name::Given(Cow::Borrowed("first"), SpanKind::Internal);
        let live = Live::start(ids(2, false, TraceState::NONE), None, name, Vec::new());
        (live, (0, 0, 0))
    };
    // SAFETY: `live` stays on this thread, and its owner takes it off the list when it ends.
    unsafe { push_current(&live, || SpanId::from(3)) };
    if every || held == Held::Attribute {
        for i in 0..=limits.0 {
            live.set_attribute(KeyValue::new(format!("recorded.{i}"), format!("value {i}")));
        }
    }
    if every || held == Held::Event {
        for _ in 0..=limits.1 {
            live.add_event(Cow::Owned("event".to_owned()), vec![KeyValue::new("e", 1)]);
        }
    }
    if every || held == Held::Link {
        for _ in 0..=limits.2 {
            live.add_link(parent.clone());
        }
    }
    match held {
        Held::StatusOk => live.set_status(Status::Ok),
        Held::Everything => live.set_status(Status::error("failed".to_owned())),
        _ => {}
    }
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    match held {
        Held::KindGivenLater => live.rename(None, Some(SpanKind::Client)),
        Held::Everything => live.rename(
            Some(Cow::Owned("renamed".to_owned())),
            Some(SpanKind::Client),
        ),
        _ => {}
    }
    let address: *const Live = &*live;
    let finished = live.finish(Tick::from_raw(0), Tick::from_raw(1));
    Live::recycle(finished.into_live());
    address
}

/// What the next span from the same box must show: nothing of the span before (but a
/// bounded attribute list's capacity).
fn assert_clean(live: LiveBox, expected: &SpanContext, parent: (SpanId, bool), name: &str) {
    assert!(!live.linked.get(), "a new span is on no list");
    let fields = live.fields.borrow();
    assert!(fields.attributes.capacity() <= KEPT_ATTRIBUTE_CAPACITY);
    let capacities = (fields.events.capacity(), fields.links.capacity());
    assert_eq!(capacities, (0, 0), "no memory kept from the span before");
    drop(fields);
    let (data, _) = live
        .finish(Tick::from_raw(2), Tick::from_raw(3))
        .into_span_data();
    assert_eq!(&data.span_context, expected);
    assert_eq!(data.span_context.trace_state(), expected.trace_state());
    assert_eq!((data.parent_span_id, data.parent_span_is_remote), parent);
    assert_eq!(
        (data.name.as_ref(), &data.span_kind),
        (name, &SpanKind::Internal)
    );
    assert!(data.attributes.is_empty(), "{:?}", data.attributes);
    assert_eq!(data.dropped_attributes_count, 0);
    assert!(data.events.events.is_empty());
    assert_eq!(data.events.dropped_count, 0);
    assert!(data.links.links.is_empty());
    assert_eq!(data.links.dropped_count, 0);
    assert_eq!(data.status, Status::Unset);
}

#[test]
fn a_root_started_on_a_reused_record_shows_nothing_of_the_span_before() {
    for &held in HELD {
        let address = record_then_recycle(held);
        let expected = ids(4, false, TraceState::NONE);
        let name = Name::Given(Cow::Borrowed("second"), SpanKind::Internal);
        let live = Live::start(expected.clone(), None, name, Vec::new());
        assert!(std::ptr::eq(&*live, address), "the recycled box is reused");
        assert_eq!(live.otel_seen_at_start.get(), None);
        println!("after a span that held {held:?}");
        assert_clean(live, &expected, (SpanId::INVALID, false), "second");
    }
}

#[test]
fn a_child_started_on_a_reused_record_shows_nothing_of_the_span_before() {
    let parent = ids(5, false, TraceState::NONE);
    let name = Name::Given(Cow::Borrowed("parent"), SpanKind::Internal);
    let parent = Live::start(parent, None, name, Vec::new());
    // SAFETY: `parent` stays on this thread, and its owner takes it off the list when dropped.
    unsafe { push_current(&parent, || SpanId::from(6)) };
    for &held in HELD {
        let address = record_then_recycle(held);
        let name = Name::Given(Cow::Borrowed("child"), SpanKind::Internal);
        let expected = ids(8, false, TraceState::NONE);
        // What OpenTelemetry's context shows as the child starts: what the parent saw.
        let otel_seen = parent.otel_seen.get();
        let child = Live::start_child(&parent, otel_seen, |_, ids| *ids = expected.clone(), name);
        assert!(std::ptr::eq(&*child, address), "the recycled box is reused");
        assert_eq!(child.otel_seen_at_start.get(), Some(SpanId::from(6)));
        println!("after a span that held {held:?}");
        assert_clean(child, &expected, (SpanId::from(5), false), "child");
    }
}
