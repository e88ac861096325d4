//! The mark of a new trace godtrace dropped at its root on this thread.
//!
//! A new trace sampled out draws no ids: the thread is marked, while its root runs, with the
//! 64 random bits the decision drew (the low half of the trace id it would have had), and
//! the trace id and span id that go downstream are derived from that mark only when
//! something reads them ([`sampled_out_span_context`]): unique per trace, the same on every
//! read under one root, and free when nothing reads them.
use super::live::this_thread;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// The W3C Level 2 random-trace-id flag (`0x02`).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// Sets this thread's sampled-out-root mark (0 clears it) for as long as a call runs;
/// returns the previous mark, for [`restore_mark`].
#[inline(always)]
pub(super) fn replace_mark(mark: u64) -> u64 {
    this_thread().sampled_out_root.replace(mark)
}

/// The mark of the root godtrace sampled out that this thread runs under; 0 for none.
#[inline(always)]
pub(super) fn mark() -> u64 {
    this_thread().sampled_out_root.get()
}

/// Puts back the mark [`replace_mark`] returned.
#[inline(always)]
pub(super) fn restore_mark(previous: u64) {
    this_thread().sampled_out_root.set(previous);
}

/// Under a root godtrace sampled out, the span context to show and propagate for it: valid
/// and not sampled (so remote children follow the decision), with ids derived from the
/// thread's mark, so that every such root has its own trace id and span id, stable while it
/// runs. `None` outside such a root.
pub(crate) fn sampled_out_span_context() -> Option<SpanContext> {
    let mark = mark();
    (mark != 0).then(|| ids_of_sampled_out_root(mark))
}

/// The ids of the sampled-out root marked `mark`: the mark is the low half of the trace id
/// (the random bits the sampling decision read, as for a kept trace); the high half and the
/// span id are different bijective mixes of it.
pub(super) fn ids_of_sampled_out_root(mark: u64) -> SpanContext {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::atomic::Ordering::Relaxed;

    static NEXT: AtomicU64 = AtomicU64::new(0x0123_4567_89ab_cdef);

    #[test]
    fn a_sampled_out_roots_ids_are_its_own_and_stable() {
        let a = ids_of_sampled_out_root(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed));
        let b = ids_of_sampled_out_root(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed));
        assert!(a.is_valid() && b.is_valid());
        assert!(!a.is_sampled() && a.trace_flags() & RANDOM == RANDOM);
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(a.span_id(), b.span_id());
        let mark = 0x1234_5678_9abc_def1;
        assert_eq!(ids_of_sampled_out_root(mark), ids_of_sampled_out_root(mark));
    }
}
