//! This thread's list of current spans: the innermost entered span on top, each linked to the
//! one entered before it (`Live::prev`) and, below the top, to the one entered after it
//! (`Live::next`), so that a span leaves at once wherever it is.
use super::{Live, LiveBox, this_thread};
use opentelemetry::trace::SpanId;
use std::ptr::NonNull;

/// The top of this thread's list of current spans (`current` reads it).
#[inline]
pub(in crate::span) fn list_top() -> Option<Link> {
    this_thread().top.get()
}

/// Puts `live` on top of this thread's list of current spans until [`remove_current`] takes
/// it off (its owner does, at the latest, when it ends or is dropped); `otel_seen` gives the
/// span id OpenTelemetry's current context shows. A span already on the list stays where it
/// is.
///
/// # Safety
/// Until the span is taken off, its owner `live` stays on this thread: the list is this
/// thread's, and the record is not `Sync`.
#[inline]
pub(in crate::span) unsafe fn push_current(live: &LiveBox, otel_seen: impl FnOnce() -> SpanId) {
    if live.linked.get() {
        return;
    }
    // SAFETY: not on the list (checked just above); the rest is forwarded to our caller.
    unsafe { push_unlinked(live, otel_seen()) };
}

/// [`push_current`] of a span known not to be on the list (one just started), which
/// `otel_seen` entered.
///
/// # Safety
/// As for [`push_current`], and `live` is on no list.
#[inline(always)]
pub(in crate::span) unsafe fn push_unlinked(live: &LiveBox, otel_seen: SpanId) {
    live.linked.set(true);
    live.otel_seen.set(otel_seen);
    let top = &this_thread().top;
    let below = top.get();
    live.prev.set(below);
    let mut seen_below = SpanId::INVALID;
    if let Some(below) = below {
        // SAFETY: `below` was read from this thread's list, where it stays meanwhile.
        let below = unsafe { below.get() };
        below.next.set(Some(live.link()));
        // A span that noted itself (its own context attached) noted no older state.
        let noted = below.otel_seen.get();
        if noted != below.span_context.span_id() {
            seen_below = noted;
        }
    }
    live.otel_seen_below.set(seen_below);
    top.set(Some(live.link()));
}

/// Takes `live` off this thread's list, wherever it is: normally on top, but a manual span's
/// guard may be dropped out of order, or outlive the traced call it was made in. At once
/// wherever it is (the list is linked both ways): guards dropped outermost first (a
/// `Vec<SpanGuard>` dropped whole) cost as much as innermost first. Nothing when `live` is on
/// no list.
#[inline]
pub(in crate::span) fn remove_current(live: &Live) {
    let top = &this_thread().top;
    if top.get().is_some_and(|entered| entered.is(live)) {
        top.set(live.prev.get());
        live.linked.set(false);
    } else if live.linked.get() {
        unlink_below_top(live);
    }
}

/// Whether `live` is on this thread's list with a span entered after it still there (it is
/// not the top).
#[inline]
pub(in crate::span) fn has_spans_above(live: &Live) -> bool {
    live.linked.get() && !this_thread().top.get().is_some_and(|top| top.is(live))
}

/// Has each span entered above `live` (on this thread's list below its top) that noted
/// OpenTelemetry's context showing span `from` when it was entered note `to` instead (see
/// `current::detach_below`): the [`RESEATED_AT_MOST`] entered right after it, so that
/// guards dropped out of order under thousands of open spans cost no more each.
#[cold]
pub(in crate::span) fn reseat_otel_seen_above(live: &Live, from: SpanId, to: SpanId) {
    if !has_spans_above(live) {
        return;
    }
    let top = this_thread().top.get();
    let mut at = live.next.get();
    for _ in 0..RESEATED_AT_MOST {
        let Some(link) = at else { return };
        // SAFETY: `live` is on this thread's list below its top, so the spans entered after
        // it are too, each linked to the next by `next` (kept up below the top) up to the
        // top; they stay there meanwhile.
        let above = unsafe { link.get() };
        if above.otel_seen.get() == from {
            above.otel_seen.set(to);
        }
        at = if Some(link) == top {
            None
        } else {
            above.next.get()
        };
    }
}

/// How many spans above a guard dropped out of order [`reseat_otel_seen_above`] looks at.
const RESEATED_AT_MOST: usize = 64;

/// The span of id `span_id` among the [`RESEATED_AT_MOST`] innermost on this thread's list.
#[cold]
pub(in crate::span) fn find_listed(span_id: SpanId) -> Option<Link> {
    let mut at = this_thread().top.get();
    for _ in 0..RESEATED_AT_MOST {
        let link = at?;
        // SAFETY: read from this thread's list (its top, or a span's `prev` there), where it
        // stays meanwhile.
        let live = unsafe { link.get() };
        if live.span_context.span_id() == span_id {
            return Some(link);
        }
        at = live.prev.get();
    }
    None
}

/// For a context just attached to OpenTelemetry's, showing span `shown`, that the innermost
/// span noted (as `otel_seen` or `otel_seen_below`: the same span entered again above it, as
/// `tracing` enters a span anew in `in_scope`, or `in_current_span` its caller's): the
/// innermost span notes nothing instead, so that the context reads as one attached inside it
/// (see `current::innermost`), until what this returns is dropped. Nothing when the innermost
/// span noted neither, or is `shown`.
#[cold]
pub(in crate::span) fn unnote_shown(shown: SpanId) -> Option<Unnoted> {
    let top = this_thread().top.get()?;
    // SAFETY: the top of this thread's list is on it, and stays there meanwhile.
    let live = unsafe { top.get() };
    let span_id = live.span_context.span_id();
    // Only the note that matches: the other stays what a span entered above this one
    // notes as the state below it.
    let seen = live.otel_seen.get() == shown;
    let below = live.otel_seen_below.get() == shown;
    if shown == SpanId::INVALID || span_id == shown || !(seen || below) {
        return None;
    }
    if seen {
        live.otel_seen.set(SpanId::INVALID);
    }
    if below {
        live.otel_seen_below.set(SpanId::INVALID);
    }
    Some(Unnoted {
        link: top,
        span_id,
        shown,
        cleared: (seen, below),
    })
}

/// What [`unnote_shown`] changed: put back when dropped, if the span is still on this
/// thread's list (found by [`find_listed`], and at the same address: its record may have been
/// reused). Not `Send` (its `Link`).
pub(crate) struct Unnoted {
    link: Link,
    span_id: SpanId,
    /// The span id of the context attached again, which the cleared notes held.
    shown: SpanId,
    /// Whether `otel_seen` and `otel_seen_below` were cleared.
    cleared: (bool, bool),
}

impl Drop for Unnoted {
    fn drop(&mut self) {
        if find_listed(self.span_id) != Some(self.link) {
            return;
        }
        // SAFETY: found on this thread's list, where it stays meanwhile.
        let live = unsafe { self.link.get() };
        if self.cleared.0 && live.otel_seen.get() == SpanId::INVALID {
            live.otel_seen.set(self.shown);
        }
        if self.cleared.1 && live.otel_seen_below.get() == SpanId::INVALID {
            live.otel_seen_below.set(self.shown);
        }
    }
}

/// Takes off this thread's list every span entered above `live` and still on it, which is
/// what a poll of `live`'s future left there: a `SpanGuard` held across an `.await` is current
/// in that future only, not in the tasks the thread polls next (each such span is unlinked,
/// and its guard's drop then finds nothing to take off). Nothing when `live` is on no list.
#[inline]
pub(in crate::span) fn leave_above(live: &Live) {
    if !live.linked.get() {
        return;
    }
    take_off_down_to(Some(Link(NonNull::from(live))));
}

/// Takes off this thread's list the spans above `floor` (all of them for `None`), which the
/// caller knows to be on it (or `None`).
fn take_off_down_to(floor: Option<Link>) {
    let top = &this_thread().top;
    while let Some(entered) = top.get() {
        if Some(entered) == floor {
            return;
        }
        // SAFETY: `entered` was read from this thread's list, and is taken off it only below.
        let entered = unsafe { entered.get() };
        top.set(entered.prev.get());
        entered.linked.set(false);
        // Left by its owner later, off the list: nothing was handed for that.
        entered.handed_mark.set(None);
    }
}

/// Where this thread's list stands, to compare with later ([`leave_above_top`]): its top,
/// never read through afterwards.
#[derive(Clone, Copy)]
pub(in crate::span) struct ListPosition(Option<Link>);

/// This thread's list as it stands now (see [`ListPosition`]).
#[inline(always)]
pub(in crate::span) fn list_position() -> ListPosition {
    ListPosition(this_thread().top.get())
}

/// Takes off this thread's list the spans entered since `at` (when the poll of a future with
/// no span of its own began, a sampled-out call's) and left there, as [`leave_above`] does for
/// a future with a span.
#[inline(always)]
pub(in crate::span) fn leave_above_top(at: ListPosition) {
    if this_thread().top.get() != at.0 {
        leave_above_top_slow(at);
    }
}

/// [`leave_above_top`] with spans above: they are taken off down to the top at `at`, found
/// by its address. That span may have gone meanwhile (the poll ended the span current when
/// it began, a guard handed to it): then the list is left as it is, unless a span started
/// in the poll took its record again (the thread's last freed record is its next), found
/// at the same address: the spans above that one are taken off. Either way only addresses
/// are compared; every span read is on the list.
#[cold]
#[inline(never)]
fn leave_above_top_slow(at: ListPosition) {
    let mut found = this_thread().top.get();
    while found.is_some() && found != at.0 {
        // SAFETY: `found` was read from this thread's list (its top, or a span's `prev`
        // there), where it is.
        found = found.and_then(|entered| unsafe { entered.get() }.prev.get());
    }
    if found == at.0 {
        take_off_down_to(at.0);
    }
}

/// [`remove_current`] of a span on the list below its top: the span entered right above it
/// (its `next`, kept up for a span below the top) now follows what it followed, and the span
/// below it (if any) is followed by that one; a mark handed to `live` goes on to that span,
/// which now leaves where `live` would have.
#[cold]
#[inline(never)]
fn unlink_below_top(live: &Live) {
    let (below, above) = (live.prev.get(), live.next.get());
    // A span below the top has one above it: its `next`.
    if let Some(above) = above {
        // SAFETY: `above` was read from `live`, which is on this thread's list below its top,
        // so `above` is on it too, and stays there meanwhile.
        let above = unsafe { above.get() };
        above.prev.set(below);
        if let Some(mark) = live.handed_mark.take() {
            above.handed_mark.set(Some(mark));
        }
    }
    if let Some(below) = below {
        // SAFETY: `below` was read from `live`, which is on this thread's list: so is `below`.
        unsafe { below.get() }.next.set(above);
    }
    live.linked.set(false);
}

/// A pointer to a span on this thread's list of current spans (`current`): the list's top and
/// each span's `prev`. A span is linked (`Live::linked`) exactly while it is on the list, its
/// owner stays on that thread meanwhile (`current::push`'s contract), and takes it off before
/// it frees or recycles it (`LiveBox::take_box`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::span) struct Link(pub(super) NonNull<Live>);

impl Link {
    /// The span this points at.
    ///
    /// # Safety
    /// The span must be on this thread's list, and stay there while the reference is used.
    #[inline(always)]
    pub(in crate::span) unsafe fn get<'a>(self) -> &'a Live {
        // SAFETY: a span on the list is allocated (its owner takes it off before freeing it,
        // see the type's doc) and only read through shared references while it is there.
        unsafe { self.0.as_ref() }
    }

    /// Whether this points at `live`.
    #[inline(always)]
    pub(in crate::span) fn is(self, live: &Live) -> bool {
        std::ptr::eq(self.0.as_ptr(), live)
    }
}
