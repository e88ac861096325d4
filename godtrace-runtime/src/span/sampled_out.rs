//! The mark of a new trace godtrace dropped at its root on this thread.
//!
//! A new trace sampled out draws no ids: the thread is marked, while its root runs, with the
//! 64 random bits the decision drew (the low half of the trace id it would have had), and
//! the trace id and span id that go downstream are derived from that mark only when
//! something reads them ([`sampled_out_span_context`]): unique per trace, the same on every
//! read under one root, and free when nothing reads them.
use super::live::{Live, this_thread};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// The W3C Level 2 random-trace-id flag (`0x02`).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// The mark [`hold`] replaced, to put back.
#[derive(Clone, Copy)]
pub(super) struct Held {
    previous: u64,
    /// How many spans held a mark on this thread when this one took it: those still holding
    /// one are below it, so more holders than that and this one means a span held after it
    /// is still current (see [`release_out_of_order`]).
    below: u32,
}

impl Held {
    /// What leaving `live` puts back: the mark handed to it by a span entered before it that
    /// left first (see [`hand_up`]), else the one it saved.
    #[inline(always)]
    pub(super) fn or_handed(self, live: &Live) -> Held {
        if live.handed_mark.get().is_some() {
            return Held::handed(live);
        }
        self
    }

    /// [`Held::or_handed`] of a span a mark was handed to: out of line, as spans left out of
    /// order are rare and the test above runs wherever a span leaves.
    #[cold]
    #[inline(never)]
    fn handed(live: &Live) -> Held {
        Held {
            previous: live.handed_mark.take().unwrap_or_default(),
            below: u32::MAX,
        }
    }
}

/// For a span `live` that leaves while a span entered after it is still current: the mark
/// it would put back (`held`'s, or one handed to it) goes to the span entered right after it,
/// whose own saved mark is `live`'s (none, for a recorded span), to put back in its place
/// (`current::remove` hands it on). So spans left in any order leave the thread's mark as
/// leaving them in the reverse order would: a sampled-out root's body is under its mark
/// again once the kept spans made in it have ended.
#[inline]
pub(super) fn hand_up(held: Held, live: &Live) {
    if live.handed_mark.get().is_none() {
        live.handed_mark.set(Some(held.previous));
    }
}

/// Sets this thread's sampled-out-root mark (0: none, for a recorded span) for as long as a
/// span is current; [`release`] (or [`release_out_of_order`]) puts the previous one back.
/// The thread counts the spans holding one: when none is left, it has no mark.
#[inline(always)]
pub(super) fn hold(mark: u64) -> Held {
    let this = this_thread();
    let below = this.marks_held.get();
    this.marks_held.set(below.wrapping_add(1));
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

/// Undoes [`hold`] for a span left in the reverse order it entered (a traced call, a poll, a
/// scope): the previous mark is back, or none once no span holds one. A manual guard dropped
/// out of order in between (see [`release_out_of_order`]) may have left this span's saved
/// mark stale; the count then still clears it when the last holder leaves.
#[inline(always)]
pub(super) fn release(held: Held) {
    let this = this_thread();
    let holding = this.marks_held.get().saturating_sub(1);
    this.marks_held.set(holding);
    // A select, not a branch: this runs at the end of every traced call.
    this.sampled_out_root
        .set(if holding == 0 { 0 } else { held.previous });
}

/// [`release`] at the end of a sync call or a scope (not a poll): a span held after it and
/// still holding (a manual guard made in the body and returned out of it) keeps the thread's
/// mark, as such a guard of a kept call stays current after it.
#[inline(always)]
pub(super) fn release_call(held: Held) {
    let this = this_thread();
    let holding = this.marks_held.get().saturating_sub(1);
    this.marks_held.set(holding);
    let current = this.sampled_out_root.get();
    // Selects, not branches: this runs at the end of every sampled-out sync call.
    let back = if holding > held.below {
        current
    } else {
        held.previous
    };
    this.sampled_out_root
        .set(if holding == 0 { 0 } else { back });
}

/// Undoes [`hold`] of `mark` for a manual span's guard, which may be dropped in any order (a
/// struct drops its fields first to last) or outlive the traced call it was made in: the
/// previous mark is put back only while `mark` is still the thread's and the caller does not
/// know it to be another span's (`anothers`: a recorded span entered after this one is
/// still current, or this one was taken off the list by a poll's end; every recorded span
/// holds the same mark, none, so the mark alone cannot tell), else a span held later is
/// still current, or another already put back what was before; and none is left once no span
/// holds one, so that a mark never outlives every span that held one. A span held after
/// this one and still holding (more holders now than this one found below it, and itself:
/// those below can only have left) holds the mark too, when it is the same: a sampled-out
/// root's guard dropped before its child's, whose spans are on no list.
#[inline(always)]
pub(super) fn release_out_of_order(held: Held, mark: u64, anothers: bool) {
    let this = this_thread();
    let holding = this.marks_held.get().saturating_sub(1);
    this.marks_held.set(holding);
    let current = this.sampled_out_root.get();
    let held_after = holding > held.below;
    let back = if current == mark && !anothers && !held_after {
        held.previous
    } else {
        current
    };
    this.sampled_out_root
        .set(if holding == 0 { 0 } else { back });
}

/// Clears the mark after a traced call `live` that started with none and held none (a kept
/// span's quick path): whatever its body left behind is not under a sampled-out root, unless
/// a span still holds it (a manual guard made in the body that outlives it); then a mark
/// handed to `live` (see [`hand_up`]) is put back.
#[inline(always)]
pub(super) fn clear_unheld(live: &Live) {
    let this = this_thread();
    if this.marks_held.get() == 0 {
        this.sampled_out_root.set(0);
    } else {
        put_back_handed(live);
    }
}

/// The mark handed to `live`, if any, put back as the thread's (see [`clear_unheld`]). Out
/// of line: a span under a hold is the uncommon case of a kept call.
#[cold]
#[inline(never)]
fn put_back_handed(live: &Live) {
    if let Some(mark) = live.handed_mark.take() {
        this_thread().sampled_out_root.set(mark);
    }
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
    let high = mix(mark ^ HIGH_HALF);
    let span = mix(mark ^ SPAN_ID);
    SpanContext::new(
        TraceId::from(u128::from(high) << 64 | u128::from(mark)),
        SpanId::from(span.max(1)),
        RANDOM,
        false,
        TraceState::NONE,
    )
}

/// Whether `trace_id` is that of a root godtrace dropped, in this process or another: its
/// high half is the mix of its low half [`ids_of_sampled_out_root`] makes (a trace id drawn
/// at random is one by chance once in 2^64).
pub(super) fn is_dropped_root_trace(trace_id: TraceId) -> bool {
    let id = u128::from_be_bytes(trace_id.to_bytes());
    let (high, low) = ((id >> 64) as u64, id as u64);
    low != 0 && mix(low ^ HIGH_HALF) == high
}

/// What a sampled-out root's mark is mixed with for its trace id's high half, and for its
/// span id (two mixes of one mark that differ).
const HIGH_HALF: u64 = 0x6a09_e667_f3bc_c908;
const SPAN_ID: u64 = 0xbb67_ae85_84ca_a73b;

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
    fn a_mark_left_out_of_order_never_outlives_the_spans_holding_one() {
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
        release_out_of_order(root, 33, false);
        assert_eq!(
            mark(),
            33,
            "the child is still current, under the root's mark"
        );
        release_out_of_order(child, 33, false);
        assert_eq!(mark(), 0);
        // The same under an outer mark; none is left once every holder has left.
        let outer = hold(77);
        let (root, child) = (hold(33), hold(33));
        release_out_of_order(root, 33, false);
        assert_eq!(mark(), 33);
        release_out_of_order(child, 33, false);
        release_out_of_order(outer, 77, false);
        assert_eq!(mark(), 0);
        let (outer, inner) = (hold(11), hold(22));
        release_out_of_order(outer, 11, false);
        assert_eq!(mark(), 22, "the inner root is still current");
        release_out_of_order(inner, 22, false);
        assert_eq!(mark(), 0);
        // A guard left inside a traced call made under it: the call puts back the stale
        // mark it saved, but it is the last holder.
        let guard = hold(55);
        let call = hold(55);
        release_out_of_order(guard, 55, false);
        release(call);
        assert_eq!(mark(), 0);
        // Two recorded spans under a sampled-out root, the outer one left first while the
        // inner one is still current: the mark stays none until the inner one leaves.
        let (root, outer, inner) = (hold(66), hold(0), hold(0));
        release_out_of_order(outer, 0, true);
        assert_eq!(mark(), 0, "the inner recorded span is still current");
        release_out_of_order(inner, 0, false);
        release_out_of_order(root, 66, false);
        assert_eq!(mark(), 0);
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
        // Told from its trace id alone, and a drawn trace id is not one.
        assert!(is_dropped_root_trace(a.trace_id()));
        assert!(!is_dropped_root_trace(TraceId::from(
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736
        )));
    }
}
