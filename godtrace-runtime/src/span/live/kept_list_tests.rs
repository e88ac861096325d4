use super::*;
use crate::span::SiteOptions;
use crate::value::counting_alloc;
use opentelemetry::Value;
use opentelemetry::trace::{TraceFlags, TraceId};

static SITE: CallSite = CallSite::new(
    || "span::live::kept_list_tests::f",
    file!(),
    1,
    SiteOptions {
        operation: Some("live.tests.with_args"),
        include_duration: false,
        sample_rate: None,
        carries_parent: false,
        kind: SpanKind::Internal,
    },
);

/// The ids of a sampled root span.
fn ids(trace_id: u128, span_id: u64) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    )
}

/// A root of [`SITE`] on this thread's next record, with `args` recorded as a traced
/// call records its arguments.
fn root_with_args(span_id: u64, args: &[(&'static str, i64)]) -> LiveBox {
    let live = Live::start_with_ids(|| ids(9, span_id), ParentIds::NONE, Name::Site(&SITE));
    if !args.is_empty() {
        live.record_start_attributes(args.len(), &mut |attributes: &mut Vec<KeyValue>| {
            attributes.extend(args.iter().map(|&(key, value)| KeyValue::new(key, value)));
        });
    }
    live
}

/// How a span's box goes back to its thread: as it is (no exporter, or the queue full),
/// or after the `SpanData` was taken out of it (the SDK's exporters, the test capture).
#[derive(Clone, Copy, Debug)]
enum Given {
    AsItIs,
    AfterSpanData,
}

/// Ends `live`, checks what its span exports (`expected`: its recorded attributes, in
/// order) both as the OTLP encoder reads it and as `SpanData`, and gives its box back.
fn end_and_check(live: LiveBox, expected: &[(&'static str, i64)], given: Given) {
    let expected: Vec<KeyValue> = expected
        .iter()
        .map(|&(key, value)| KeyValue::new(key, Value::I64(value)))
        .collect();
    let finished = live.finish(Tick::from_raw(0), Tick::from_raw(1));
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    let finished = {
        let mut finished = finished;
        assert_eq!(finished.holds_nothing(), expected.is_empty());
        assert_eq!(finished.recorded().attributes, &expected[..]);
        finished
    };
    let boxed = match given {
        Given::AsItIs => finished.into_live(),
        Given::AfterSpanData => {
            let (data, boxed) = finished.into_span_data();
            // The call site's `code.*` attributes first.
            assert_eq!(data.attributes.len(), 3 + expected.len());
            assert_eq!(data.attributes[3..], expected[..]);
            boxed
        }
    };
    Live::recycle(boxed);
}

#[test]
fn a_reused_record_exports_only_its_own_attributes() {
    let three = [("n", 7), ("len", 44), ("deep", 1)];
    for first in [Given::AsItIs, Given::AfterSpanData] {
        println!("the first span's box given back {first:?}");
        let live = root_with_args(1, &three);
        let address: *const Live = &*live;
        end_and_check(live, &three, first);

        let live = root_with_args(2, &[]);
        assert!(std::ptr::eq(&*live, address), "the same box, reused");
        let kept = live.fields.borrow().attributes.capacity();
        assert!(kept >= three.len(), "the list's capacity is kept: {kept}");
        end_and_check(live, &[], Given::AsItIs);

        let live = root_with_args(3, &[("one", 1)]);
        assert!(std::ptr::eq(&*live, address), "the same box, reused");
        end_and_check(live, &[("one", 1)], Given::AfterSpanData);
    }
}

#[test]
fn recording_arguments_into_a_reused_record_allocates_nothing() {
    let three = [("n", 7), ("len", 44), ("deep", 1)];
    // The first span allocates the record's list; the box keeps it.
    end_and_check(root_with_args(1, &three), &three, Given::AsItIs);
    let ((), allocations) = counting_alloc::allocations_during(|| {
        let live = root_with_args(2, &three);
        let finished = live.finish(Tick::from_raw(0), Tick::from_raw(1));
        Live::recycle(finished.into_live());
    });
    assert_eq!(allocations, 0);
}

/// The spans on this thread's list, from the top down (`prev`), checked against the same
/// list read from the bottom up to the top (`next`, kept up below the top).
fn list_both_ways() -> Vec<u64> {
    let mut down = Vec::new();
    let mut node = list_top();
    let mut bottom = None;
    while let Some(link) = node {
        // SAFETY: read from this thread's list, which this test changes only between reads.
        let live = unsafe { link.get() };
        down.push(u64::from_be_bytes(live.span_context.span_id().to_bytes()));
        bottom = Some(link);
        node = live.prev.get();
    }
    let mut up = Vec::new();
    let mut node = bottom;
    while let Some(link) = node {
        // SAFETY: as above: `link` is the bottom, or read from the `next` of a span below the
        // top.
        let live = unsafe { link.get() };
        up.push(u64::from_be_bytes(live.span_context.span_id().to_bytes()));
        if list_top() == Some(link) {
            break;
        }
        node = live.next.get();
    }
    up.reverse();
    assert_eq!(down, up, "the list read down and up");
    down
}

/// Spans taken off the list in any order (guards dropped outermost first, from the middle,
/// innermost first) leave it linked both ways, each taken off at once, wherever it is.
#[test]
fn spans_leave_the_list_of_current_spans_in_any_order() {
    let orders: [&[usize]; 4] = [
        &[0, 1, 2, 3, 4, 5],
        &[5, 4, 3, 2, 1, 0],
        &[2, 0, 5, 3, 1, 4],
        &[3, 4, 0, 5, 2, 1],
    ];
    for order in orders {
        let spans: Vec<LiveBox> = (1..=6).map(|id| root_with_args(id, &[])).collect();
        for live in &spans {
            // SAFETY: just started, so on no list; each stays on this thread, and is taken
            // off below or when dropped.
            unsafe { push_unlinked(live, SpanId::INVALID) };
        }
        let mut expected: Vec<u64> = (1..=6).rev().collect();
        assert_eq!(list_both_ways(), expected);
        for &i in order {
            remove_current(&spans[i]);
            assert!(!spans[i].linked.get(), "{order:?}: {i} still linked");
            expected.retain(|&id| id != i as u64 + 1);
            assert_eq!(list_both_ways(), expected, "{order:?} after {i}");
        }
        // Entered again, on top, after the others left.
        // SAFETY: both were taken off the list above; they stay on this thread, and are taken
        // off below or when dropped.
        unsafe { push_unlinked(&spans[2], SpanId::INVALID) };
        // SAFETY: as just above.
        unsafe { push_unlinked(&spans[0], SpanId::INVALID) };
        assert_eq!(list_both_ways(), [1, 3]);
        leave_above(&spans[2]);
        assert_eq!(list_both_ways(), [3]);
        drop(spans);
        assert_eq!(list_both_ways(), Vec::<u64>::new());
    }
}

/// A span named at its start (a bridged `tracing` span's, a layer's) on this thread's next
/// record, with `attributes` set as the bridge sets them, in the record's own list.
#[cfg(feature = "tracing")]
fn named_with(span_id: u64, attributes: &[(&'static str, i64)]) -> LiveBox {
    let name = Name::Given(Cow::Borrowed("named"), SpanKind::Internal);
    let live = Live::start_with_ids(|| ids(11, span_id), ParentIds::NONE, name);
    live.fill_start_attributes(attributes.len(), |list| {
        list.extend(
            attributes
                .iter()
                .map(|&(key, value)| KeyValue::new(key, value)),
        );
        0
    });
    live
}

#[cfg(feature = "tracing")]
#[test]
fn a_named_spans_list_stays_with_its_box_when_its_span_data_is_taken() {
    let two = [("n", 7), ("len", 44)];
    let live = named_with(1, &two);
    let address: *const Live = &*live;
    let (data, boxed) = live
        .finish(Tick::from_raw(0), Tick::from_raw(1))
        .into_span_data();
    let exported: Vec<KeyValue> = two
        .iter()
        .map(|&(key, value)| KeyValue::new(key, Value::I64(value)))
        .collect();
    assert_eq!(data.attributes, exported, "no `code.*` for a named span");
    let kept = boxed.fields.borrow().attributes.capacity();
    assert!(kept >= two.len(), "the list's capacity is kept: {kept}");
    Live::recycle(boxed);

    // The next span of this thread fills the same list: nothing is allocated for it.
    let (live, allocations) = counting_alloc::allocations_during(|| named_with(2, &two));
    assert!(std::ptr::eq(&*live, address), "the same box, reused");
    assert_eq!(allocations, 0);
    let (data, boxed) = live
        .finish(Tick::from_raw(0), Tick::from_raw(1))
        .into_span_data();
    assert_eq!(data.attributes, exported);
    Live::recycle(boxed);
}

#[cfg(feature = "tracing")]
#[test]
fn attributes_a_fill_leaves_out_are_counted_dropped_with_those_past_the_limit() {
    let name = Name::Given(Cow::Borrowed("named"), SpanKind::Internal);
    let live = Live::start_with_ids(|| ids(13, 1), ParentIds::NONE, name);
    let limit = max_attributes();
    live.fill_start_attributes(limit + 3, |list| {
        list.extend((0..limit as i64 + 3).map(|i| KeyValue::new(format!("k{i}"), i)));
        2
    });
    let fields = live.fields.borrow();
    assert_eq!(fields.attributes.len(), limit);
    assert_eq!(fields.dropped_attributes, 3 + 2);
    drop(fields);
    Live::recycle(
        live.finish(Tick::from_raw(0), Tick::from_raw(1))
            .into_live(),
    );
}
