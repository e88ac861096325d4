//! The head-sampling decision, made before anything is built: a sampled-out call reads its
//! parent, decides, and allocates nothing; a sampled-in call gets its ids here too (a
//! per-thread xorshift generator: no lock, no syscall).
//!
//! A new trace dropped at its root draws no ids either: the thread is marked with the 64
//! random bits the decision drew (the low half of the trace id it would have had), and the
//! trace id and span id that go downstream are derived from that mark only when something
//! reads them ([`sampled_out_span_context`]): unique per trace, the same on every read under
//! one root, and free when nothing reads them.
//!
//! Trace flags (W3C Trace Context Level 2, *trace-flags*): a new trace sets the random flag
//! (`0x02`), as *Random Trace ID Flag* asks when at least the right-most 7 bytes of the
//! trace id are random (or pseudo-random, uniform over [0, 2^56-1]): they are the output of a xorshift64*
//! generator seeded from the operating system's randomness for each thread (pseudo-random,
//! uniform over 64 bits). A span continuing a trace keeps its parent's random flag, set or
//! unset, as the same section requires for every outgoing `traceparent` with that trace id.
use super::current;
use super::switches;
use crate::sampler::{keeps_low_half, should_sample_root};
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::cell::Cell;

/// The W3C Level 2 random-trace-id flag (`0x02`).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

pub(super) enum Head {
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
    /// [`enter`]; 0 for none).
    NotSampled {
        carry: Option<Context>,
        sampled_out_root: u64,
    },
}

/// What the decision depends on besides the parent.
pub(super) struct Rule {
    /// `#[traced(sample_rate = ..)]`, instead of the configured ratio for new traces.
    pub(super) sample_rate: Option<f64>,
    /// Whether a sampled-out call must carry its parent along (it may run later, elsewhere).
    pub(super) carries_parent: bool,
}

/// Decides whether a call, under `explicit` or else the current span, is recorded.
#[inline(always)]
pub(super) fn decide(rule: Rule, explicit: Option<&Context>) -> Head {
    let mark = sampled_out_root();
    if explicit.is_none() && mark != 0 {
        return Head::NotSampled {
            carry: None,
            sampled_out_root: mark,
        };
    }
    let parent = match explicit {
        Some(cx) if cx.is_telemetry_suppressed() => return Head::Suppressed,
        Some(cx) => Some(cx.span().span_context().clone()).filter(SpanContext::is_valid),
        None => match current::parent() {
            Ok(parent) => parent,
            Err(current::Suppressed) => return Head::Suppressed,
        },
    };
    let sampler = switches::sampler();
    let ratio = rule.sample_rate.unwrap_or(sampler.ratio);
    let (keep, trace_id) = match &parent {
        Some(p) if sampler.parent_based => (p.is_sampled(), p.trace_id()),
        Some(p) => (should_sample_root(p.trace_id(), ratio), p.trace_id()),
        None => {
            // The rule reads the low half only: the high half is drawn for kept traces.
            let low = next_random();
            if !keeps_low_half(low, ratio) {
                // A new trace sampled out: a thread-local mark (far cheaper than attaching a
                // context) keeps its children from starting traces of their own, and is all
                // its ids are made of. An explicit parent without a span still carries the
                // request's baggage.
                return Head::NotSampled {
                    carry: explicit.cloned(),
                    sampled_out_root: low,
                };
            }
            let high = next_random();
            (
                true,
                TraceId::from(u128::from(high) << 64 | u128::from(low)),
            )
        }
    };
    if keep {
        let span_context = match &parent {
            Some(p) => child_of(p, TraceFlags::SAMPLED),
            None => SpanContext::new(
                trace_id,
                fresh_span_id(),
                TraceFlags::SAMPLED | RANDOM,
                false,
                TraceState::NONE,
            ),
        };
        return Head::Sampled {
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
    Head::NotSampled {
        carry,
        sampled_out_root: 0,
    }
}

/// A span context of this process under `parent`: same trace, new span id, `sampled` as
/// given, the parent's random flag and trace state kept.
fn child_of(parent: &SpanContext, sampled: TraceFlags) -> SpanContext {
    SpanContext::new(
        parent.trace_id(),
        fresh_span_id(),
        (parent.trace_flags() & RANDOM) | sampled,
        false,
        parent.trace_state().clone(),
    )
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

/// Sets this thread's sampled-out-root mark (0 clears it) for as long as a call runs;
/// returns the previous mark, for [`leave`].
#[inline(always)]
pub(super) fn enter(mark: u64) -> u64 {
    SAMPLED_OUT_ROOT.replace(mark)
}

/// The mark of the root godtrace sampled out that this thread runs under; 0 for none.
#[inline(always)]
pub(super) fn sampled_out_root() -> u64 {
    SAMPLED_OUT_ROOT.get()
}

#[inline(always)]
pub(super) fn leave(previous: u64) {
    SAMPLED_OUT_ROOT.set(previous);
}

/// Under a root godtrace sampled out, the span context to show and propagate for it: valid
/// and not sampled (so remote children follow the decision), with ids derived from the
/// thread's mark, so that every such root has its own trace id and span id, stable while it
/// runs. `None` outside such a root.
pub(crate) fn sampled_out_span_context() -> Option<SpanContext> {
    let mark = sampled_out_root();
    (mark != 0).then(|| ids_of_sampled_out_root(mark))
}

/// The ids of the sampled-out root marked `mark`: the mark is the low half of the trace id
/// (the random bits the sampling decision read, as for a kept trace); the high half and the
/// span id are different bijective mixes of it.
fn ids_of_sampled_out_root(mark: u64) -> SpanContext {
    let high = mix(mark ^ 0x6a09_e667_f3bc_c908);
    let span = mix(mark ^ 0xbb67_ae85_84ca_a73b);
    SpanContext::new(
        TraceId::from(u128::from(high) << 64 | u128::from(mark)),
        SpanId::from(span.max(1)),
        RANDOM,
        false,
        TraceState::NONE,
    )
}

/// SplitMix64's finalizer: a bijection of `u64` that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

thread_local! {
    /// While a call whose trace was dropped at its root runs on this thread: that root's
    /// mark (never zero); 0 otherwise.
    static SAMPLED_OUT_ROOT: Cell<u64> = const { Cell::new(0) };
    /// Seeded on first use (zero means not yet: xorshift never reaches it).
    static RNG: Cell<u64> = const { Cell::new(0) };
}

#[cold]
#[inline(never)]
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    // RandomState is seeded from the OS once per thread; never zero for xorshift.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// The next number of this thread's xorshift64* generator; never zero (the state never is,
/// and the multiplier is odd).
#[inline]
fn next_random() -> u64 {
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            x = seed();
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A new random, non-zero span id.
fn fresh_span_id() -> SpanId {
    SpanId::from(next_random().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_span_ids_are_valid_and_distinct() {
        let a = fresh_span_id();
        assert_ne!(a, SpanId::INVALID);
        assert_ne!(a, fresh_span_id());
    }

    #[test]
    fn a_sampled_out_roots_ids_are_its_own_and_stable() {
        let a = ids_of_sampled_out_root(next_random());
        let b = ids_of_sampled_out_root(next_random());
        assert!(a.is_valid() && b.is_valid());
        assert!(!a.is_sampled() && a.trace_flags() & RANDOM == RANDOM);
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(a.span_id(), b.span_id());
        let mark = next_random();
        assert_eq!(ids_of_sampled_out_root(mark), ids_of_sampled_out_root(mark));
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
}
