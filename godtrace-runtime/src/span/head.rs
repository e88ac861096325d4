//! The head-sampling decision, made before anything is built: a sampled-out call reads its
//! parent, decides, and allocates nothing.
//!
//! A sampled-in call is then built by the SDK with the decision handed over through two
//! thread-locals ([`Handoff`]): the trace id chosen here becomes the root's trace id (through
//! [`HandoffIds`], the provider's id generator) and the SDK sampler records it without deciding
//! again (it honours a per-operation `sample_rate` it knows nothing of).
use super::site::CallSite;
use crate::provider;
use crate::sampler::should_sample_root;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use std::cell::Cell;
use std::sync::LazyLock;

pub(super) enum Head {
    /// Record the span. `root_trace_id` is set for a new trace.
    Sampled { root_trace_id: Option<TraceId> },
    /// Do not record. `carry` is the context to make current while the call runs, so that
    /// its children follow the decision (`None`: the caller's context, already current);
    /// `sampled_out_root` marks a trace dropped at its root here (see [`enter`]).
    NotSampled {
        carry: Option<Context>,
        sampled_out_root: bool,
    },
}

/// Decides whether a call at `site`, under `explicit` or else the current context, is
/// recorded.
#[inline]
pub(super) fn decide(site: &CallSite, explicit: Option<&Context>) -> Head {
    if explicit.is_none() && in_sampled_out_root() {
        return Head::NotSampled {
            carry: None,
            sampled_out_root: true,
        };
    }
    let (valid, sampled, trace_id) = match explicit {
        Some(cx) => parent_of(cx),
        None => Context::map_current(parent_of),
    };
    let sampler = provider::sampler();
    let keep = if valid && sampler.parent_based {
        sampled
    } else {
        let trace_id = if valid { trace_id } else { fresh_trace_id() };
        let ratio = site.sample_rate.unwrap_or(sampler.ratio);
        if should_sample_root(trace_id, ratio) {
            return Head::Sampled {
                root_trace_id: (!valid).then_some(trace_id),
            };
        }
        false
    };
    if keep {
        return Head::Sampled {
            root_trace_id: None,
        };
    }
    let carry = match explicit {
        Some(cx) => Some(cx.clone()),
        // A new trace sampled out: a thread-local mark (far cheaper than attaching a
        // context) keeps its children from starting traces of their own.
        None if !valid => {
            return Head::NotSampled {
                carry: None,
                sampled_out_root: true,
            };
        }
        // The caller's context is current while a sync body runs; a future may run later
        // elsewhere, so it takes a handle (reference counts only, no allocation).
        None if site.carries_parent => Some(Context::current()),
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

fn parent_of(cx: &Context) -> (bool, bool, TraceId) {
    let span = cx.span();
    let sc = span.span_context();
    (sc.is_valid(), sc.is_sampled(), sc.trace_id())
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
    static RNG: Cell<u64> = Cell::new(seed());
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
    static DECIDED: Cell<bool> = const { Cell::new(false) };
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    // RandomState is seeded from the OS once per thread; never zero for xorshift.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// A new random, non-zero trace id (xorshift64*, per thread: no lock, no syscall).
fn fresh_trace_id() -> TraceId {
    RNG.with(|rng| {
        let next = || {
            let mut x = rng.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            rng.set(x);
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let id = (u128::from(next()) << 64) | u128::from(next());
        TraceId::from(id.max(1))
    })
}

/// Hands this thread's decision to the SDK for the span built next; cleared when dropped.
pub(super) struct Handoff;

impl Handoff {
    pub(super) fn set(root_trace_id: Option<TraceId>) -> Handoff {
        NEXT_TRACE_ID.set(root_trace_id);
        DECIDED.set(true);
        Handoff
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        NEXT_TRACE_ID.set(None);
        DECIDED.set(false);
    }
}

/// Whether the span being built was already decided (sampled in) by godtrace's hot path; the
/// SDK sampler then records it as is.
pub(crate) fn already_sampled() -> bool {
    DECIDED.get()
}

/// The provider's id generator: the trace id godtrace chose for a new trace, else random.
#[derive(Debug, Default)]
pub(crate) struct HandoffIds {
    random: RandomIdGenerator,
}

impl IdGenerator for HandoffIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .take()
            .unwrap_or_else(|| self.random.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.random.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_trace_ids_are_valid_and_distinct() {
        let a = fresh_trace_id();
        let b = fresh_trace_id();
        assert_ne!(a, TraceId::INVALID);
        assert_ne!(a, b);
    }

    #[test]
    fn the_handoff_is_used_once_then_cleared() {
        let ids = HandoffIds::default();
        let chosen = TraceId::from(42u128);
        {
            let _h = Handoff::set(Some(chosen));
            assert!(already_sampled());
            assert_eq!(ids.new_trace_id(), chosen);
            assert_ne!(ids.new_trace_id(), chosen);
        }
        assert!(!already_sampled());
    }
}
