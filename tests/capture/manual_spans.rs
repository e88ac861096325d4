//! Manual spans (`godtrace::span`) nest by what is current on the thread, however their guards
//! are moved or dropped: out of order, returned out of the traced call they were made in, or
//! kept across threads' work.
use godtrace::testing;
use godtrace::traced;

#[test]
fn a_guard_dropped_out_of_order_leaves_the_others_current() {
    let c = testing::capture();
    let a = godtrace::span("a");
    let b = godtrace::span("b");
    drop(a);
    {
        let _c = godtrace::span("c");
    }
    drop(b);
    {
        let _d = godtrace::span("d");
    }
    let (a, b, cs, d) = (c.span("a"), c.span("b"), c.span("c"), c.span("d"));
    assert_eq!(b.parent_span_id, Some(a.span_id));
    assert_eq!(
        cs.parent_span_id,
        Some(b.span_id),
        "b stayed current after a ended"
    );
    assert_eq!(d.parent_span_id, None, "nothing is current once both ended");
    assert_eq!(godtrace::span_id(), None);
}

#[traced(operation = "make_guard")]
fn make_guard() -> godtrace::SpanGuard {
    godtrace::span("outlives_its_call")
}

#[traced(operation = "after")]
fn after() {}

#[test]
fn a_guard_returned_out_of_a_traced_call_stays_current_until_dropped() {
    let c = testing::capture();
    let guard = make_guard();
    after();
    let inner_id = godtrace::span_id();
    drop(guard);
    after();
    let made = c.span("make_guard");
    let inner = c.span("outlives_its_call");
    let afters = c.spans_named("after");
    assert_eq!(inner.parent_span_id, Some(made.span_id));
    assert_eq!(inner_id, Some(inner.span_id.to_string()));
    assert_eq!(afters.len(), 2);
    assert_eq!(afters[0].parent_span_id, Some(inner.span_id));
    assert_eq!(afters[1].parent_span_id, None);
}

#[test]
fn guards_moved_around_keep_their_place() {
    let c = testing::capture();
    let mut guards: Vec<godtrace::SpanGuard> = Vec::new();
    for name in ["g0", "g1", "g2"] {
        guards.push(godtrace::span(name));
    }
    // Moved (the vector reallocates) and dropped from the middle.
    guards.reserve(64);
    drop(guards.remove(1));
    after();
    guards.clear();
    let (g0, g1, g2) = (c.span("g0"), c.span("g1"), c.span("g2"));
    assert_eq!(g1.parent_span_id, Some(g0.span_id));
    assert_eq!(g2.parent_span_id, Some(g1.span_id));
    assert_eq!(c.span("after").parent_span_id, Some(g2.span_id));
}
