//! Sampling in one place: the ratio rule, the parent-based rule, the head decision of
//! godtrace's own spans, and the SDK sampler that applies the same rules to the spans of other
//! OpenTelemetry code.
//!
//! The ratio decision is a pure function of the trace id (the rule every OpenTelemetry SDK's
//! `TraceIdRatioBased` sampler uses in the Rust and Go SDKs: the low 8 bytes of the id,
//! shifted right by one, compared with `ratio * 2^63`), so every godtrace service, and every
//! other SDK using that rule, keeps or drops a given trace the same way (not Java's, which
//! compares the absolute value of those bytes read as a signed number).
//!
//! The head decision is made before anything is built: a sampled-out call reads its parent,
//! decides, and allocates nothing; a sampled-in call gets its ids here too (a per-thread
//! xorshift generator: no lock, no syscall). A new trace dropped at its root draws no ids
//! either (see `sampled_out`).
//!
//! Trace flags (W3C Trace Context Level 2, *trace-flags*): a new trace sets the random flag
//! (`0x02`), as *Random Trace ID Flag* asks when at least the right-most 7 bytes of the
//! trace id are random (or pseudo-random, uniform over [0, 2^56-1]): they are the output of a
//! xorshift64* generator seeded from the operating system's randomness for each thread
//! (pseudo-random, uniform over 64 bits). A span continuing a trace keeps its parent's random
//! flag, set or unset, as the same section requires for every outgoing `traceparent` with
//! that trace id.
use super::live::this_thread;
use super::sampled_out::RANDOM;
use super::{CallSite, current, sampled_out};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The head decision of one call.
pub(super) enum Decision {
    /// Record the span, with these ids, under `parent` (`None`: a new trace).
    Sampled {
        span_context: SpanContext,
        parent: Option<SpanContext>,
    },
    /// Telemetry is suppressed here: nothing is recorded or measured.
    Suppressed,
    /// Do not record. `carry` is the context to make current while the call runs, so that
    /// its children follow the decision (`None`: the caller's context, already current);
    /// `sampled_out_root` is the mark of a trace dropped at its root here or above (see
    /// `sampled_out::hold`; 0 for none).
    NotSampled {
        carry: Option<Context>,
        sampled_out_root: u64,
    },
}

/// The head decision of a call under the current span as far as the thread's state tells,
/// before anything is built: where most calls godtrace does not record stop.
pub(super) enum Quick<'a> {
    /// Not traced: the thread exits, telemetry is suppressed, or a sync call under a dropped
    /// root has no duration to record.
    Untraced,
    /// Not recorded: under the dropped root with this mark, or a new trace dropped here and
    /// marked so (see `sampled_out`).
    SampledOut(u64),
    /// A new trace kept at its root, the low half of whose trace id is this.
    KeptRoot(u64),
    /// A span is current, found there: [`decide_under`] decides, under it.
    UnderParent(current::ParentAt<'a>),
    /// The thread's state is not set up yet (its first traced call) or it exits: [`decide`]
    /// decides, after the checks that set it up.
    Unknown,
}

/// [`Quick`] for a call at `site` under the current span.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(super) fn quick<'a>(site: &CallSite) -> Quick<'a> {
    // Nothing on this path calls out (the first call on a thread sets up what it reads).
    if !current::otel_context_known_usable() {
        return Quick::Unknown;
    }
    let mark = sampled_out::mark();
    if mark != 0 && !current::otel_shows_a_span_besides(mark) {
        // Under a root godtrace dropped on this thread (and nothing other code attached
        // inside it): dropped too. A sync call runs on this thread, inside the root's mark, so
        // it only has a duration to record; a future may be polled elsewhere, so it takes the
        // mark along.
        if !site.include_duration && !site.carries_parent {
            return Quick::Untraced;
        }
        return Quick::SampledOut(mark);
    }
    match current::parent_at() {
        Err(current::Suppressed) => Quick::Untraced,
        Ok(Some(at)) => Quick::UnderParent(at),
        Ok(None) => {
            // The rule reads the low half only: the high half is drawn for kept traces.
            let Some(low) = next_random_if_seeded() else {
                return Quick::Unknown;
            };
            if keeps_new_trace(site.sample_rate, low) {
                Quick::KeptRoot(low)
            } else {
                Quick::SampledOut(low)
            }
        }
    }
}

/// What the decision depends on besides the parent: the call site's options.
pub(super) struct SiteRule {
    /// `#[traced(sample_rate = ..)]`, instead of the configured ratio for new traces.
    pub(super) sample_rate: Option<f64>,
    /// Whether a sampled-out call must carry its parent along (it may run later, elsewhere).
    pub(super) carries_parent: bool,
}

/// Decides whether a call, under `explicit` or else the current span, is recorded.
#[inline(always)]
pub(super) fn decide(rule: SiteRule, explicit: Option<&Context>) -> Decision {
    let mark = sampled_out::mark();
    if explicit.is_none() && mark != 0 && !current::otel_shows_a_span_besides(mark) {
        return Decision::NotSampled {
            carry: None,
            sampled_out_root: mark,
        };
    }
    let parent = match explicit {
        // Suppressed where the call is made (the export thread, whose HTTP/2 client starts
        // `tracing` roots of its own), whatever the parent given: recording there would
        // trace the export itself, one batch after another.
        Some(cx) if cx.is_telemetry_suppressed() || current::telemetry_suppressed() => {
            return Decision::Suppressed;
        }
        Some(cx) => Some(cx.span().span_context().clone()).filter(SpanContext::is_valid),
        None => match current::parent() {
            Ok(parent) => parent,
            Err(current::Suppressed) => return Decision::Suppressed,
        },
    };
    decide_under(rule, explicit, parent)
}

/// [`decide`] once the parent is known (`parent`: the span of `explicit`, or else the current
/// span; `None` for a new trace), outside a sampled-out root's mark unless `explicit` is given.
#[inline(always)]
pub(super) fn decide_under(
    rule: SiteRule,
    explicit: Option<&Context>,
    parent: Option<SpanContext>,
) -> Decision {
    let Some(p) = &parent else {
        // The rule reads the low half only: the high half is drawn for kept traces.
        let low = next_random();
        if !keeps_new_trace(rule.sample_rate, low) {
            // A new trace sampled out: a thread-local mark (far cheaper than attaching a
            // context) keeps its children from starting traces of their own, and is all its
            // ids are made of. An explicit parent without a span still carries the request's
            // baggage, and shows the root's ids: attached while the root runs, a context
            // without a span would read as no change, and a span godtrace recorded around the
            // call would pass for the current one (its ids sent on, marked sampled).
            let carry = explicit
                .map(|cx| cx.with_remote_span_context(sampled_out::ids_of_sampled_out_root(low)));
            return Decision::NotSampled {
                carry,
                sampled_out_root: low,
            };
        }
        return Decision::Sampled {
            span_context: new_root(low),
            parent: None,
        };
    };
    if let Some(span_context) = kept_child_of(p) {
        return Decision::Sampled {
            span_context,
            parent,
        };
    }
    let carry = match (explicit, &parent) {
        (Some(cx), Some(p)) => Some(unrecorded_under(cx, p)),
        // A parent from another process, made current by the caller: outgoing requests must
        // not name it with flags this call changed (see `unrecorded_under`).
        (None, Some(p)) if p.is_remote() => Some(unrecorded_under(&current::context(), p)),
        // The caller's context is current while a sync body runs; a future may run later
        // elsewhere, so it takes a handle along.
        (None, Some(_)) if rule.carries_parent => Some(current::context()),
        // (A new trace is kept or has returned above.)
        (_, None) | (None, Some(_)) => None,
    };
    Decision::NotSampled {
        carry,
        sampled_out_root: 0,
    }
}

/// The ids of a span under `parent` when the installed sampler keeps it (by the installed
/// ratio where the sampler is not parent based: a call site's `sample_rate` is for its root
/// calls, and a child follows its trace, but for a dropped root's); `None` when it drops it.
#[inline(always)]
pub(super) fn kept_child_of(parent: &SpanContext) -> Option<SpanContext> {
    let sampler = installed();
    if sampler.keeps_child_of(parent, sampler.ratio) {
        return Some(child_of(parent, TraceFlags::SAMPLED));
    }
    None
}

/// Whether the installed sampler keeps a span under `parent`, a span godtrace records:
/// [`kept_child_of`] without the ids, and without reading the sampler where it is parent
/// based (the default).
///
/// The sampler asked out of line: a parent-based sampler's check is then all a kept child
/// pays (the ratio's arithmetic held registers on every call).
#[inline(always)]
pub(super) fn keeps_child_of_own(parent: &SpanContext) -> bool {
    if PARENT_BASED.load(Ordering::Relaxed) {
        return parent.is_sampled();
    }
    sampler_keeps_child_of_own(parent)
}

/// [`keeps_child_of_own`] where the installed sampler is not parent based.
#[cold]
#[inline(never)]
fn sampler_keeps_child_of_own(parent: &SpanContext) -> bool {
    let sampler = installed();
    sampler.keeps_child_of(parent, sampler.ratio)
}

/// Whether the installed sampler is parent based (as before `init`).
static PARENT_BASED: AtomicBool = AtomicBool::new(true);

/// Whether a new trace whose trace id has `low` as its low half is recorded, by the call site's
/// `sample_rate` or else the installed ratio: [`keeps_low_half`] with the installed ratio's
/// bound computed once, at install, rather than on every root call.
#[inline(always)]
pub(super) fn keeps_new_trace(sample_rate: Option<f64>, low: u64) -> bool {
    let bound = match sample_rate {
        None => ROOT_BOUND.load(Ordering::Relaxed),
        Some(rate) => low_half_bound(rate),
    };
    (low >> 1) < bound
}

/// The bound the ratio rule compares a trace id's low half, shifted right by one, with:
/// `rate * 2^63`, or above every such value when `rate >= 1` (all kept), or 0 when `rate` is
/// not above 0 (none kept).
#[inline]
fn low_half_bound(rate: f64) -> u64 {
    if rate >= 1.0 {
        return u64::MAX;
    }
    if rate.is_nan() || rate <= 0.0 {
        return 0;
    }
    // `rate < 1`, so the bound is below 2^63 and the cast does not saturate.
    (rate * (1u64 << 63) as f64) as u64
}

/// [`low_half_bound`] of the installed sampler's ratio (always on before `init`).
static ROOT_BOUND: AtomicU64 = AtomicU64::new(u64::MAX);

/// The span context of a new trace kept at its root, whose trace id's low half is `low` (the
/// bits the ratio rule read); the high half and the span id are drawn now.
#[inline]
pub(super) fn new_root(low: u64) -> SpanContext {
    let high = next_random();
    let span_id = fresh_span_id();
    SpanContext::new(
        TraceId::from(u128::from(high) << 64 | u128::from(low)),
        span_id,
        TraceFlags::SAMPLED | RANDOM,
        false,
        // Its tag alone written (see `child_of`).
        TraceState::default(),
    )
}

/// A span context of this process under `parent`: same trace, new span id, `sampled` as
/// given, the parent's random flag and trace state kept.
#[inline(always)]
pub(super) fn child_of(parent: &SpanContext, sampled: TraceFlags) -> SpanContext {
    // Drawn first: what is read of the parent below then goes straight where the caller
    // writes the ids, not through the stack around the generator's (cold) seeding call.
    let span_id = fresh_span_id();
    // Most traces carry no trace state: the empty one is then written as the value it is, not
    // copied from the parent. Built by `default()`, not copied from the `NONE` constant: that
    // writes its tag alone, where the constant was copied whole, through the stack.
    let trace_state = if *parent.trace_state() == TraceState::NONE {
        TraceState::default()
    } else {
        parent.trace_state().clone()
    };
    SpanContext::new(
        parent.trace_id(),
        span_id,
        (parent.trace_flags() & RANDOM) | sampled,
        false,
        trace_state,
    )
}

/// [`child_of`] a span godtrace records, sampled, written into `ids`: the ids of an emptied
/// record (they own no memory, see `Live::empty`), replaced in place. A parent's trace state
/// is cloned out of line, and written there: where the two cases made one value, the common
/// one was built on the stack and copied, or copied the clone's unwritten words.
#[inline(always)]
pub(super) fn write_kept_child_of(parent: &SpanContext, ids: &mut SpanContext) {
    let span_id = fresh_span_id();
    if *parent.trace_state() != TraceState::NONE {
        return write_kept_child_with_trace_state(parent, span_id, ids);
    }
    let kept = SpanContext::new(
        parent.trace_id(),
        span_id,
        (parent.trace_flags() & RANDOM) | TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    // What is replaced owns no memory: forgotten, not dropped (no drop code to branch over).
    std::mem::forget(std::mem::replace(ids, kept));
}

/// [`write_kept_child_of`] under a parent with a trace state, which the child keeps.
#[cold]
#[inline(never)]
fn write_kept_child_with_trace_state(parent: &SpanContext, span_id: SpanId, ids: &mut SpanContext) {
    *ids = SpanContext::new(
        parent.trace_id(),
        span_id,
        (parent.trace_flags() & RANDOM) | TraceFlags::SAMPLED,
        false,
        parent.trace_state().clone(),
    );
}

/// The context a call that is not recorded carries under `parent` (the span of `base`).
///
/// A parent from another process gets a span id of this call: outgoing requests then name
/// this service's operation as their parent with its own decision in the `sampled` flag
/// (W3C Trace Context, *Mutating the traceparent Field*: the flag may change only with
/// a new `parent-id`), instead of forwarding the caller's id with rewritten flags. The random
/// flag and the trace state are kept. A parent of this process is carried as it is: its
/// flags already say what this process does with the trace.
#[cold]
fn unrecorded_under(base: &Context, parent: &SpanContext) -> Context {
    if !parent.is_remote() {
        return base.clone();
    }
    base.with_remote_span_context(child_of(parent, TraceFlags::NOT_SAMPLED))
}

#[cold]
#[inline(never)]
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    // RandomState's keys come from the OS once per thread, then only count up: `fork` copies
    // them, and the forking thread's id, into every child. The process id and the time tell
    // the workers of one pre-forking parent apart (their ids would be the same otherwise).
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let this = (std::thread::current().id(), std::process::id(), since_epoch);
    // Never zero for xorshift.
    RandomState::new().hash_one(this) | 1
}

/// The next number of this thread's xorshift64* generator; never zero (the state never is,
/// and the multiplier is odd).
#[inline(always)]
pub(super) fn next_random() -> u64 {
    match next_random_if_seeded() {
        Some(random) => random,
        None => seed_and_next_random(),
    }
}

/// [`next_random`] on this thread's first draw: seeds its generator first.
#[cold]
#[inline(never)]
fn seed_and_next_random() -> u64 {
    this_thread().random.set(seed());
    next_random_if_seeded().expect("seeded: never zero")
}

/// [`next_random`] once this thread's generator is seeded; `None` before.
#[inline(always)]
fn next_random_if_seeded() -> Option<u64> {
    // A load and a store of a `const` thread-local without a destructor.
    let mut x = this_thread().random.get();
    if x == 0 {
        return None;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this_thread().random.set(x);
    Some(x.wrapping_mul(0x2545_f491_4f6c_dd1d))
}

/// A new random, non-zero span id.
#[inline(always)]
pub(crate) fn fresh_span_id() -> SpanId {
    SpanId::from(next_random().max(1))
}

/// Whether a root span of trace `trace_id` is recorded when the operation's ratio is `rate`
/// (0 = never, 1 = always; out-of-range values are clamped).
pub(crate) fn should_sample_root(trace_id: TraceId, rate: f64) -> bool {
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    keeps_low_half(u64::from_be_bytes(low), rate)
}

/// [`should_sample_root`] for a trace id whose low 64 bits are `low` (the rule reads nothing
/// else, so a new trace is decided before its high half is drawn).
#[inline]
pub(crate) fn keeps_low_half(low: u64, rate: f64) -> bool {
    (low >> 1) < low_half_bound(rate)
}

/// The sampler `init` installed (it is installed once).
static INSTALLED: OnceLock<RatioSampler> = OnceLock::new();

/// The installed sampler (always on, parent based, before `init`).
#[inline]
pub(crate) fn installed() -> &'static RatioSampler {
    INSTALLED.get().unwrap_or(&RatioSampler::ALWAYS_ON)
}

/// Installs `sampler` for godtrace's own spans (the SDK's provider gets its own copy).
pub(crate) fn install(sampler: RatioSampler) {
    if INSTALLED.set(sampler).is_ok() {
        ROOT_BOUND.store(low_half_bound(sampler.ratio), Ordering::Relaxed);
        PARENT_BASED.store(sampler.parent_based, Ordering::Relaxed);
    }
}

/// The sampler [`crate::init`] installs: trace-id ratio for roots and, when `parent_based`, a
/// child follows its parent's decision (local or remote parent alike).
///
/// `always_on` is ratio 1, `always_off` ratio 0 (see `OTEL_TRACES_SAMPLER`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatioSampler {
    pub(crate) ratio: f64,
    pub(crate) parent_based: bool,
}

impl RatioSampler {
    /// Every root recorded, children follow their parent.
    pub(crate) const ALWAYS_ON: RatioSampler = RatioSampler {
        ratio: 1.0,
        parent_based: true,
    };

    /// The parent-based rule, for godtrace's spans and the SDK's alike: when `parent_based`,
    /// a child follows its parent's decision (local or remote parent alike); otherwise the
    /// ratio (`ratio`: the call site's own, or the configured one) decides by trace id.
    ///
    /// Not parent based, a child of a root godtrace dropped (here or in another process) is
    /// dropped with it: recorded, it would name a parent that is never exported.
    #[inline]
    fn keeps_child_of(&self, parent: &SpanContext, ratio: f64) -> bool {
        if self.parent_based {
            parent.is_sampled()
        } else {
            let dropped =
                !parent.is_sampled() && sampled_out::is_dropped_root_trace(parent.trace_id());
            !dropped && should_sample_root(parent.trace_id(), ratio)
        }
    }

    fn decide(&self, parent: Option<&Context>, trace_id: TraceId) -> (bool, TraceState) {
        if let Some(cx) = parent
            && cx.has_active_span()
        {
            let parent_span = cx.span();
            let parent_cx = parent_span.span_context();
            if parent_cx.is_valid() {
                let state = parent_cx.trace_state().clone();
                return (self.keeps_child_of(parent_cx, self.ratio), state);
            }
        }
        (
            should_sample_root(trace_id, self.ratio),
            TraceState::default(),
        )
    }
}

impl ShouldSample for RatioSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        // godtrace's own spans never come here (`decide` above does); this serves
        // other OpenTelemetry code using the provider, with the same rule.
        let (sampled, trace_state) = self.decide(parent_context, trace_id);
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new trace is kept as the SDK's ratio sampler keeps it, by a site's own rate or by
    /// the installed ratio (whose bound is computed once, at install).
    #[test]
    fn a_new_trace_is_kept_as_the_sdk_ratio_sampler_keeps_it() {
        let _capture = crate::testing::capture(); // installs a sampler
        let rates = [0.0, -1.0, f64::NAN, 1e-9, 0.25, 0.5, 0.999, 1.0, 7.0];
        let lows = [
            0,
            1,
            2,
            (1 << 62) - 1,
            1 << 62,
            (1 << 63) - 2,
            1 << 63,
            u64::MAX,
        ];
        let sdk_keeps = |rate: f64, low: u64| {
            let sdk = opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(rate);
            let trace_id = TraceId::from(0xabcd_u128 << 64 | u128::from(low));
            matches!(
                sdk.should_sample(None, trace_id, "x", &SpanKind::Internal, &[], &[])
                    .decision,
                SamplingDecision::RecordAndSample
            )
        };
        for low in lows {
            for rate in rates {
                // NaN is not a rate: no root kept.
                let by_sdk = !rate.is_nan() && sdk_keeps(rate, low);
                assert_eq!(keeps_new_trace(Some(rate), low), by_sdk, "{rate} {low}");
            }
            let installed = installed().ratio;
            assert_eq!(
                keeps_new_trace(None, low),
                sdk_keeps(installed, low),
                "installed {installed}, {low}"
            );
        }
    }

    #[test]
    fn fresh_span_ids_are_valid_and_distinct() {
        let a = fresh_span_id();
        assert_ne!(a, SpanId::INVALID);
        assert_ne!(a, fresh_span_id());
    }

    #[test]
    fn a_remote_parent_gets_a_new_span_id_when_the_call_is_not_recorded() {
        let parent = SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            TraceFlags::SAMPLED | RANDOM,
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        );
        let cx = unrecorded_under(&Context::new(), &parent);
        let span = cx.span();
        let child = span.span_context();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.span_id(), parent.span_id());
        assert_eq!(child.trace_flags(), RANDOM, "not sampled, still random");
        assert_eq!(child.trace_state(), parent.trace_state());
    }

    mod sdk_sampler {
        use super::*;
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};

        fn id(low: u64) -> TraceId {
            TraceId::from_bytes(((0xabcd_u128) << 64 | u128::from(low)).to_be_bytes())
        }

        #[test]
        fn ratio_rule_compares_the_low_half_of_the_trace_id() {
            // low >> 1 = 2^62 - 1 is just under half of 2^63.
            assert!(should_sample_root(id((1 << 63) - 2), 0.5));
            assert!(!should_sample_root(id(1 << 63), 0.5));
            assert!(should_sample_root(id(u64::MAX), 1.0));
            assert!(!should_sample_root(id(0), 0.0));
            assert!(should_sample_root(id(0), 1e-9));
            assert!(!should_sample_root(id(0), f64::NAN));
        }

        #[test]
        fn ratio_rule_matches_the_sdk_ratio_sampler() {
            let sdk = opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.3);
            let ours = RatioSampler {
                ratio: 0.3,
                parent_based: false,
            };
            for i in 0..2000u64 {
                let trace_id = id(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let decide = |s: &dyn ShouldSample| {
                    s.should_sample(None, trace_id, "x", &SpanKind::Internal, &[], &[])
                        .decision
                };
                assert_eq!(decide(&sdk), decide(&ours), "trace {trace_id}");
            }
        }

        fn remote_parent(sampled: bool) -> Context {
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            let span = SpanContext::new(id(7), SpanId::from(9), flags, true, TraceState::NONE);
            Context::new().with_remote_span_context(span)
        }

        #[test]
        fn a_child_follows_its_remote_parent_when_parent_based() {
            let never = RatioSampler {
                ratio: 0.0,
                parent_based: true,
            };
            let always = RatioSampler {
                ratio: 1.0,
                parent_based: true,
            };
            assert!(never.decide(Some(&remote_parent(true)), id(7)).0);
            assert!(!always.decide(Some(&remote_parent(false)), id(7)).0);
            // No parent: the ratio decides.
            assert!(!never.decide(Some(&Context::new()), id(7)).0);
            assert!(always.decide(None, id(7)).0);
        }

        #[test]
        fn without_parent_based_the_ratio_decides_children_too() {
            let never = RatioSampler {
                ratio: 0.0,
                parent_based: false,
            };
            assert!(!never.decide(Some(&remote_parent(true)), id(7)).0);
        }
    }
}
