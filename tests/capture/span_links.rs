//! Links on manual spans (`SpanGuard::follows_from`), as the capture sees them.
use godtrace::otel::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use godtrace::testing;

/// The span context of a finished span named `name`, started (and ended) here as a root.
fn finished_root(name: &'static str) -> SpanContext {
    let _span = godtrace::span(name);
    godtrace::current_context().span().span_context().clone()
}

#[test]
fn a_manual_span_links_to_the_spans_it_follows_from() {
    let c = testing::capture();
    let first = finished_root("links.produce.1");
    let second = finished_root("links.produce.2");
    {
        let consume = godtrace::span("links.consume");
        consume.follows_from(&first);
        consume.follows_from(&second);
        // Not a span: ignored.
        consume.follows_from(&SpanContext::NONE);
    }
    let consume = c.span("links.consume");
    let linked: Vec<_> = consume
        .links
        .iter()
        .map(|l| (l.trace_id(), l.span_id()))
        .collect();
    assert_eq!(
        linked,
        vec![
            (first.trace_id(), first.span_id()),
            (second.trace_id(), second.span_id())
        ]
    );
    assert_eq!(consume.dropped_links, 0);
    // A link is not a parent: the consumer is a root of its own trace.
    assert!(consume.parent_span_id.is_none());
    assert_ne!(consume.trace_id, first.trace_id());
}

#[test]
fn links_over_the_limit_are_counted_as_dropped() {
    let c = testing::capture();
    {
        let fan_in = godtrace::span("links.fan_in");
        for i in 1..=130u64 {
            fan_in.follows_from(&SpanContext::new(
                TraceId::from(u128::from(i)),
                SpanId::from(i),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            ));
        }
    }
    let fan_in = c.span("links.fan_in");
    // OTEL_SPAN_LINK_COUNT_LIMIT's default: the first 128 are kept.
    assert_eq!(fan_in.links.len(), 128);
    assert_eq!(fan_in.links[127].span_id(), SpanId::from(128));
    assert_eq!(fan_in.dropped_links, 2);
}
