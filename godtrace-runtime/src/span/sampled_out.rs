//! The mark of a new trace godtrace dropped at its root on this thread.
//!
//! A new trace sampled out draws no ids: the thread is marked, while its root runs, with the
//! 64 random bits the decision drew (the low half of the trace id it would have had), and
//! the trace id and span id that go downstream are derived from that mark only when
//! something reads them ([`sampled_out_span_context`]): unique per trace, the same on every
//! read under one root, and free when nothing reads them.
use super::live::this_thread;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use std::cell::RefCell;

/// The W3C Level 2 random-trace-id flag (`0x02`).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// What [`hold`] replaced, to put back: the mark, and the hold it was made over.
#[derive(Clone, Copy)]
pub(super) struct Held {
    previous: u64,
    /// The number of the hold this one was made over (0: none); this one's is one more.
    below: u64,
}

impl Held {
    /// This hold's number: its depth, unique among the holds in place (a hold made at the
    /// same depth later is made after this one has left, and every hold that left early below
    /// a depth is passed over before the depth is reached again).
    fn number(self) -> u64 {
        self.below + 1
    }
}

thread_local! {
    /// The holds that left while a hold made after them was still in place (a manual guard
    /// dropped out of order, one that outlives the traced call it was made in): what each
    /// replaced, for the hold above it to put back when it leaves. Empty but for those.
    static LEFT_EARLY: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

/// Sets this thread's sampled-out-root mark (0: none, for a recorded span) for as long as a
/// span is current; [`release`] puts back what it replaced, in whatever order the spans
/// leave: the thread's mark is always that of the innermost hold still in place.
#[inline(always)]
pub(super) fn hold(mark: u64) -> Held {
    let this = this_thread();
    let below = this.top_hold.get();
    this.top_hold.set(below.wrapping_add(1));
    Held {
        previous: this.sampled_out_root.replace(mark),
        below,
    }
}

/// The mark of the root godtrace sampled out that this thread runs under; 0 for none.
#[inline(always)]
pub(super) fn mark() -> u64 {
    this_thread().sampled_out_root.get()
}

/// Undoes [`hold`]: when it is the innermost hold (a traced call, a poll, a scope, a guard
/// dropped in order), what it replaced is back; else a hold made after it is current and
/// stays so, and what this one replaced goes back when that one leaves (see [`LEFT_EARLY`]).
#[inline(always)]
pub(super) fn release(held: Held) {
    let this = this_thread();
    if this.top_hold.get() == held.number() && this.holds_left_early.get() == 0 {
        this.sampled_out_root.set(held.previous);
        this.top_hold.set(held.below);
        return;
    }
    release_out_of_order(held);
}

/// [`release`] while holds are out of order.
#[cold]
#[inline(never)]
fn release_out_of_order(held: Held) {
    let this = this_thread();
    // Unreachable while the thread's storage is destroyed: the mark is then put back as if
    // in order.
    let _ = LEFT_EARLY.try_with(|left_early| {
        let mut left_early = left_early.borrow_mut();
        if this.top_hold.get() == held.number() {
            // Innermost: what it replaced is back, passing over the holds below it that have
            // left already (each put back what it replaced).
            let mut back = held;
            while let Some(at) = left_early.iter().position(|h| h.number() == back.below) {
                back = left_early.swap_remove(at);
            }
            this.sampled_out_root.set(back.previous);
            this.top_hold.set(back.below);
        } else {
            left_early.push(held);
        }
        this.holds_left_early
            .set(u32::try_from(left_early.len()).unwrap_or(u32::MAX));
    });
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
    fn the_mark_is_the_innermost_holds_in_any_order_of_leaving() {
        // In order, a recorded span (0) inside a sampled-out root.
        let root = hold(44);
        let kept = hold(0);
        assert_eq!(mark(), 0);
        release(kept);
        assert_eq!(mark(), 44);
        release(root);
        assert_eq!(mark(), 0);
        // Guards: a root left before its child (the same mark), and two roots left outer
        // first.
        let (root, child) = (hold(33), hold(33));
        release(root);
        assert_eq!(mark(), 33, "the child is still current");
        release(child);
        assert_eq!(mark(), 0);
        let (outer, inner) = (hold(11), hold(22));
        release(outer);
        assert_eq!(mark(), 22, "the inner root is still current");
        release(inner);
        assert_eq!(mark(), 0);
        // Two recorded spans under a sampled-out root, the outer one left first: the inner
        // one is still current (recorded, so no mark), then the root's is back.
        let (root, outer, inner) = (hold(66), hold(0), hold(0));
        release(outer);
        assert_eq!(mark(), 0, "the inner recorded span is still current");
        release(inner);
        assert_eq!(mark(), 66, "the root is current again");
        release(root);
        assert_eq!(mark(), 0);
        // A guard left inside a traced call made under it, then the call: nothing is left.
        let guard = hold(55);
        let call = hold(77);
        release(guard);
        assert_eq!(mark(), 77);
        release(call);
        assert_eq!(mark(), 0);
        // A hold made at a depth freed by one that left: numbers stay unique.
        let (a, b) = (hold(1), hold(2));
        release(a);
        let c = hold(3);
        release(b);
        assert_eq!(mark(), 3);
        release(c);
        assert_eq!(mark(), 0);
        assert_eq!(this_thread().top_hold.get(), 0);
        assert_eq!(this_thread().holds_left_early.get(), 0);
    }

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
