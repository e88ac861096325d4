//! Running code with a traced call's span current: the sync path ([`run_sync`]), a traced
//! future's polls and drop, a manual span's scope and guard; a panic in the code marks the span
//! and goes on unwinding.
use super::{OpSpan, current, sampled_out, switches};
use crate::span::current::Attached;
use crate::span::live::ListPosition;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

impl OpSpan {
    /// Makes this span current on this thread until [`MadeCurrent::undo`]; `self` may move in
    /// between (the thread's list points at the record, which does not).
    ///
    /// # Safety
    /// `self` stays on this thread until then (`current::push`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(in crate::span) unsafe fn make_current(&self) -> MadeCurrent {
        let marked = sampled_out::hold(self.scope);
        // OpenTelemetry's context first: the entry below records what it shows.
        let attached = self.cx.clone().and_then(current::attach);
        // SAFETY: forwarded to our caller.
        unsafe { self.push_current(attached.is_some()) };
        MadeCurrent { marked, attached }
    }

    /// [`OpSpan::make_current`]'s entry on the thread's list, once its context is attached
    /// (`attached`: OpenTelemetry took it; not inside its `map_current`).
    ///
    /// # Safety
    /// As for [`OpSpan::make_current`].
    #[inline(always)]
    unsafe fn push_current(&self, attached: bool) {
        if let Some(live) = &self.live {
            // What OpenTelemetry's context shows now: this span, when it was just attached
            // (`recording` attaches a span's own context exactly when this setting is on);
            // else it is read.
            let own = attached && switches::attaches_otel_context();
            let otel_seen = own.then(|| live.span_context.span_id());
            // SAFETY: forwarded to our caller.
            unsafe { current::push(live, otel_seen) };
        }
    }
}

/// What [`OpSpan::enter`] did, for [`OpSpan::leave`] to undo.
pub(in crate::span) struct Entered {
    marked: sampled_out::Held,
    attached: Option<Attached>,
}

/// Drops the guard of an OpenTelemetry context a traced call attached, if any. By value, out of
/// line: dropping it in place took its address, which had it stored to the stack on every
/// call, attached or not.
#[inline(always)]
fn detach(attached: Option<Attached>) {
    if let Some(guard) = attached {
        drop_guard(guard);
    }
}

#[cold]
#[inline(never)]
fn drop_guard(guard: Attached) {
    drop(guard);
}

/// What [`OpSpan::make_current`] changed on this thread, to undo.
pub(in crate::span) struct MadeCurrent {
    marked: sampled_out::Held,
    pub(in crate::span) attached: Option<Attached>,
}

impl MadeCurrent {
    /// Undoes [`OpSpan::make_current`] of `span`, wherever it is on the thread's list.
    #[inline(always)]
    pub(in crate::span) fn undo(self, span: &OpSpan) {
        let MadeCurrent {
            mut marked,
            attached,
        } = self;
        let mut entered_after = false;
        // Whether the thread's mark is now another span's, to be left as it is: a recorded
        // span entered after this one and still current holds it (none, whatever this one
        // held), and is handed what this one would put back; or this one was taken off the
        // list by the end of the poll of a future it was held across (`leave_above`), and
        // what it saved belongs to that poll, not to the code running now.
        let mark_is_anothers = match &span.live {
            Some(live) if !current::is_listed(live) => true,
            Some(live) if current::has_spans_above(live) => {
                sampled_out::hand_up(marked, live);
                entered_after = true;
                true
            }
            Some(live) => {
                marked = marked.or_handed(live);
                false
            }
            None => false,
        };
        match (&span.live, attached) {
            (Some(live), Some(guard)) if entered_after => current::detach_below(live, guard),
            (_, attached) => drop(attached),
        }
        if let Some(live) = &span.live {
            current::remove(live);
        }
        sampled_out::release_out_of_order(marked, span.scope, mark_is_anothers);
    }
}

/// Runs a traced sync body: the span is current while `body` runs; a panic marks the span
/// and goes on unwinding; `finish` records the outcome (errors always, for the duration
/// histogram; values only when the span is recording).
#[inline(always)]
pub fn run_sync<R>(
    mut span: Option<OpSpan>,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R),
) -> R {
    // By reference: `run_sync_traced` works on the span where `OpSpan::start` wrote it.
    let Some(traced) = &mut span else {
        return body();
    };
    let ret = run_sync_traced(traced, body, finish);
    // Released by `run_sync_traced`: nothing is left to drop (an unwind drops it as usual).
    std::mem::forget(span);
    ret
}

/// `run_sync` with a span, out of line: the traced function's own frame then stays as small
/// as the untraced body needs, which is what the off path pays for. Ends the span and
/// releases what it owns, leaving it nothing to drop.
#[inline(never)]
fn run_sync_traced<R>(
    span: &mut OpSpan,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R),
) -> R {
    let ret = span.run_current_once(body);
    finish(span, &ret);
    span.end_in_place();
    span.release();
    ret
}

/// What a span is entered for: it decides what leaving it does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::span) enum Entry {
    /// A traced call, or the making of a traced future: a panic ends the span as failed.
    Call,
    /// A poll of a traced future: as `Call`, and what the poll entered above the span and left
    /// there (a `SpanGuard` held across an `.await`) is taken off the thread's list, as that
    /// span is current inside the future only, never in the tasks polled after it.
    Poll,
    /// `Span::in_scope`: a panic is recorded on the span (status, `exception` event), which
    /// goes on: it ends when the `Span` does, and its context stays valid for the next
    /// `in_scope` should the caller catch the panic.
    Scope,
}

impl OpSpan {
    /// Runs `f` with this span current, entered for `entry` (see [`Entry`]); a panic in `f`
    /// goes on unwinding.
    #[inline(always)]
    pub(in crate::span) fn run_current<R>(&mut self, entry: Entry, f: impl FnOnce() -> R) -> R {
        // `make_current` and `MadeCurrent::undo`, with the guard held as in
        // `run_current_once` (dropped by hand, never by an unwind).
        let marked = sampled_out::hold(self.scope);
        // A poll of a span with no record (a call sampled out that carries a context) leaves
        // the thread's list as it found it, as a span on the list leaves what is above it.
        let floor = (entry == Entry::Poll && self.live.is_none()).then(current::list_position);
        let attached = ManuallyDrop::new(self.cx.clone().and_then(current::attach));
        // SAFETY: `self` is borrowed by this frame, on this thread, until `remove` below.
        unsafe { self.push_current(attached.is_some()) };
        self.run_entered(entry, marked, attached, floor, f)
    }

    /// Makes this span current as [`OpSpan::run_current`] does, until [`OpSpan::leave`] is
    /// given what this returns: for a traced future's drop (`span::future`), where the code
    /// that runs in between is the future's drop glue, kept in line by its caller.
    ///
    /// # Safety
    /// `self` is left with [`OpSpan::leave`] on this thread before it is ended or dropped
    /// (its record stays on the thread's list until then).
    pub(in crate::span) unsafe fn enter(&mut self) -> Entered {
        let marked = sampled_out::hold(self.scope);
        let attached = self.cx.clone().and_then(current::attach);
        // SAFETY: forwarded to our caller.
        unsafe { self.push_current(attached.is_some()) };
        Entered { marked, attached }
    }

    /// Leaves this span, entered by [`OpSpan::enter`] (what `entered` says): off the list
    /// with what was entered above it and left there, the context detached, the mark back.
    pub(in crate::span) fn leave(&mut self, entered: Entered) {
        let mut marked = entered.marked;
        if let Some(live) = &self.live {
            current::leave_above(live);
            current::remove(live);
            marked = marked.or_handed(live);
        }
        detach(entered.attached);
        sampled_out::release(marked);
    }

    /// [`OpSpan::run_current`] for a span current only this once, right after its start (a
    /// sync call): its OpenTelemetry context is attached as it is, not cloned (and the clone
    /// dropped), and OpenTelemetry's context shows what the start saw, when it looked (nothing
    /// ran since but the recording of the call's arguments), or else this span when it is
    /// attached there (see `OpSpan::attaches_own_context`).
    #[inline(always)]
    pub(super) fn run_current_once<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let marked = sampled_out::hold(self.scope);
        // OpenTelemetry's context first: the entry below records what it shows. Dropped by
        // hand below, never by an unwind (none passes in between: the call's panic is
        // caught), which spares it a slot in memory for the unwind path.
        let attaches = self.cx.is_some();
        let attached = ManuallyDrop::new(self.cx.take().and_then(current::attach));
        if let Some(live) = &self.live {
            // What the start noted, unless the context it meant to attach was refused (inside
            // OpenTelemetry's `map_current`): then what OpenTelemetry's context shows.
            let noted = live
                .otel_seen_at_start
                .get()
                .filter(|_| attached.is_some() || !attaches);
            // SAFETY: a span just started was never entered; `self` is borrowed by this
            // frame, on this thread, until `remove` below.
            unsafe { current::push_started(live, noted) };
        }
        self.run_entered(Entry::Call, marked, attached, None, f)
    }

    /// Runs `f` in this span, entered (on the thread's list, `attached` attached and `marked`
    /// the mark it replaced), then leaves it: off the list, the guard dropped, the mark back;
    /// the spans entered above `floor` in `f` and left there taken off.
    #[inline(always)]
    fn run_entered<R>(
        &mut self,
        entry: Entry,
        marked: sampled_out::Held,
        attached: ManuallyDrop<Option<Attached>>,
        floor: Option<ListPosition>,
        f: impl FnOnce() -> R,
    ) -> R {
        let outcome = catch_unwind(AssertUnwindSafe(f));
        if let Some(floor) = floor {
            current::leave_above_top(floor);
        }
        let mut marked = marked;
        if let Some(live) = &self.live {
            if entry == Entry::Poll {
                current::leave_above(live);
            }
            current::remove(live);
            marked = marked.or_handed(live);
        }
        detach(ManuallyDrop::into_inner(attached));
        if entry == Entry::Poll {
            sampled_out::release(marked);
        } else {
            sampled_out::release_call(marked);
        }
        match outcome {
            Err(payload) if entry == Entry::Scope => {
                self.record_panic(&*payload);
                resume_unwind(payload)
            }
            outcome => self.returned(outcome),
        }
    }

    /// What the call that ran in this span returned, or its panic resumed, with the span
    /// ended as failed.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(in crate::span) fn returned<R>(&mut self, outcome: std::thread::Result<R>) -> R {
        match outcome {
            Ok(ret) => ret,
            Err(payload) => {
                self.record_panic(&*payload);
                self.end_in_place();
                resume_unwind(payload)
            }
        }
    }
}
