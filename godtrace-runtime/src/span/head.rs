//! The head-sampling decision, made before anything is built: a sampled-out call reads its
//! parent, decides, and allocates nothing; a sampled-in call gets its ids here too (a
//! per-thread xorshift generator: no lock, no syscall).
use super::current;
use crate::provider;
use crate::sampler::{keeps_low_half, should_sample_root};
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use std::cell::Cell;
use std::sync::LazyLock;

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
    /// `sampled_out_root` marks a trace dropped at its root here (see [`enter`]).
    NotSampled {
        carry: Option<Context>,
        sampled_out_root: bool,
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
    if explicit.is_none() && in_sampled_out_root() {
        return Head::NotSampled {
            carry: None,
            sampled_out_root: true,
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
    let sampler = provider::sampler();
    let ratio = rule.sample_rate.unwrap_or(sampler.ratio);
    let (keep, trace_id) = match &parent {
        Some(p) if sampler.parent_based => (p.is_sampled(), p.trace_id()),
        Some(p) => (should_sample_root(p.trace_id(), ratio), p.trace_id()),
        None => {
            // The rule reads the low half only: the high half is drawn for kept traces.
            let low = next_random();
            let keep = keeps_low_half(low, ratio);
            let high = if keep { next_random() } else { 0 };
            (
                keep,
                TraceId::from((u128::from(high) << 64 | u128::from(low)).max(1)),
            )
        }
    };
    if keep {
        let state = parent
            .as_ref()
            .map_or(TraceState::NONE, |p| p.trace_state().clone());
        let span_context =
            SpanContext::new(trace_id, fresh_span_id(), TraceFlags::SAMPLED, false, state);
        return Head::Sampled {
            span_context,
            parent,
        };
    }
    let carry = match explicit {
        Some(cx) => Some(cx.clone()),
        // A new trace sampled out: a thread-local mark (far cheaper than attaching a
        // context) keeps its children from starting traces of their own.
        None if parent.is_none() => {
            return Head::NotSampled {
                carry: None,
                sampled_out_root: true,
            };
        }
        // The caller's context is current while a sync body runs; a future may run later
        // elsewhere, so it takes a handle along.
        None if rule.carries_parent => Some(current::context()),
        None => None,
    };
    Head::NotSampled {
        carry,
        sampled_out_root: false,
    }
}

/// Marks (or clears) this thread as running under a sampled-out root; returns the previous
/// mark, for [`leave`].
#[inline(always)]
pub(super) fn enter(sampled_out_root: bool) -> bool {
    IN_SAMPLED_OUT_ROOT.replace(sampled_out_root)
}

/// Whether this thread runs under a root godtrace sampled out.
#[inline(always)]
pub(super) fn in_sampled_out_root() -> bool {
    IN_SAMPLED_OUT_ROOT.get()
}

#[inline(always)]
pub(super) fn leave(previous: bool) {
    IN_SAMPLED_OUT_ROOT.set(previous);
}

/// Under a sampled-out root, the context to propagate instead of the current one: a parent
/// that is valid and not sampled, so downstream services drop the trace too.
pub(crate) fn sampled_out_context() -> Option<Context> {
    in_sampled_out_root().then(|| SAMPLED_OUT.clone())
}

/// What is propagated from under a sampled-out root: a parent that is valid and not sampled,
/// so remote children follow the decision. One per process; its ids carry no meaning.
static SAMPLED_OUT: LazyLock<Context> = LazyLock::new(|| {
    let ids = RandomIdGenerator::default();
    Context::new().with_remote_span_context(SpanContext::new(
        ids.new_trace_id(),
        ids.new_span_id(),
        TraceFlags::default(),
        false,
        TraceState::NONE,
    ))
});

thread_local! {
    /// Set while a call whose trace was dropped at its root runs on this thread.
    static IN_SAMPLED_OUT_ROOT: Cell<bool> = const { Cell::new(false) };
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

/// The next number of this thread's xorshift64* generator.
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
}
