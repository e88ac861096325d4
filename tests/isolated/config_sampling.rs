//! Sampling configured through `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and its argument:
//! the observed share of root spans is within statistical bounds, and children follow their
//! parent's decision, a remote parent's included.
use godtrace::otel::Context;
use godtrace::otel::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use godtrace::{Config, testing};

const RATIO: f64 = 0.25;
const ROOTS: usize = 20_000;

/// The low half of a trace id the ratio rule drops (`sampled`) or keeps (`!sampled`).
fn low(sampled: bool, i: u64) -> u64 {
    if sampled { u64::MAX - i } else { i }
}

#[test]
fn the_ratio_and_the_parent_rule_hold() {
    crate::support::own_process!();
    let _guard = godtrace::init(Config::new("sampling").local_tree(false).with_env_vars([
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ]))
    .expect("init");
    let capture = testing::capture();
    for _ in 0..ROOTS {
        let _root = godtrace::span("root");
        let _child = godtrace::span("child");
    }
    let roots = capture.spans_named("root");
    let children = capture.spans_named("child");
    // Binomial(20000, 0.25): standard deviation ~61; six of them make a false failure
    // practically impossible while a wrong ratio (or none) fails at once.
    let n = ROOTS as f64;
    let sd = (n * RATIO * (1.0 - RATIO)).sqrt();
    let observed = roots.len() as f64;
    assert!(
        (observed - n * RATIO).abs() <= 6.0 * sd,
        "{observed} of {n} roots sampled, expected about {}",
        n * RATIO
    );
    // Every kept root kept its child, and no child of a dropped root was kept.
    assert_eq!(children.len(), roots.len());
    for child in &children {
        assert!(
            roots
                .iter()
                .any(|r| Some(r.span_id) == child.parent_span_id)
        );
    }

    // A remote parent's decision wins over the ratio, both ways: the trace ids are ones the
    // ratio alone would decide the other way.
    for sampled in [true, false] {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let kept_before = capture.spans_named("remote.child").len();
        for i in 0..200u64 {
            let parent = SpanContext::new(
                TraceId::from(u128::from(i + 1) << 64 | u128::from(low(sampled, i))),
                SpanId::from(i + 1),
                flags,
                true,
                TraceState::default(),
            );
            let _cx = Context::new().with_remote_span_context(parent).attach();
            let _child = godtrace::span("remote.child");
        }
        let kept = capture.spans_named("remote.child").len() - kept_before;
        assert_eq!(
            kept,
            if sampled { 200 } else { 0 },
            "remote parent sampled: {sampled}"
        );
    }
}

#[godtrace::traced(operation = "rate.zero", sample_rate = 0.0)]
fn rate_zero() {}

#[godtrace::traced(operation = "rate.root")]
fn rate_root() {
    rate_zero();
}

/// A call site's `sample_rate` is the share of its root calls: under any sampler, not only a
/// parent-based one, a call under a recorded span follows its trace (`always_on` keeps it).
#[test]
fn a_sites_rate_is_for_its_root_calls_under_any_sampler() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("site-rate")
            .local_tree(false)
            .with_env_vars([("OTEL_TRACES_SAMPLER", "always_on")]),
    )
    .expect("init");
    let capture = testing::capture();
    rate_zero();
    rate_root();
    let zero = capture.spans_named("rate.zero");
    let root = capture.span("rate.root");
    assert_eq!(
        zero.len(),
        1,
        "the root call is sampled out, the child kept"
    );
    assert_eq!(zero[0].parent_span_id, Some(root.span_id));
}
