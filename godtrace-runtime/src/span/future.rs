//! The instrumented future: a traced future's span is current while it is polled (on any
//! thread) and ends when it completes, panics, or is dropped unfinished.
use super::clock::Tick;
use super::op::{self, Entry, OpSpan};
use super::{CallSite, carried, current, sampled_out, switches};
use opentelemetry::KeyValue;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, RefUnwindSafe, UnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::Poll;

/// For a fn that is not `async` but returns a future (`impl Future`, `Pin<Box<dyn Future>>`,
/// `#[async_trait]` methods): `make` builds the future with the span current, and the span
/// then covers the future until it completes.
#[inline(always)]
pub fn instrument_future<F: Future, Fin: FnOnce(&OpSpan, &F::Output) + Copy>(
    span: Option<OpSpan>,
    make: impl FnOnce() -> F,
    finish: Fin,
) -> Instrumented<F, Fin> {
    let Some(mut span) = span else {
        return Instrumented::new(None, make(), finish);
    };
    let inner = span.run_current(Entry::Call, make);
    Instrumented::new(Some(span), inner, finish)
}

/// [`instrument_future`] for a fn declared `-> impl Future<Output = T>`: `T` is named, so the
/// recording of the output (`finish`) is checked against the declared type.
#[inline(always)]
pub fn instrument_future_of<T, F, Make, Fin>(
    span: Option<OpSpan>,
    make: Make,
    finish: Fin,
) -> Instrumented<F, Fin>
where
    F: Future<Output = T>,
    Make: FnOnce() -> F,
    Fin: FnOnce(&OpSpan, &T) + Copy,
{
    instrument_future(span, make, finish)
}

/// A traced future: its span started when the traced function was called, is current while
/// the future is polled (on any thread), and ends when the future completes, panics, or is
/// dropped unfinished (then marked `godtrace.cancelled = true`).
pub struct Instrumented<F: Future, Fin> {
    /// Dropped only by `Drop` below, before the span ends (see there).
    inner: ManuallyDrop<F>,
    /// Dropped only by `Drop` below (taken when a span), so the other states have no drop
    /// glue to run.
    traced: ManuallyDrop<Traced>,
    /// Records the output of a call with a span to end (`Traced::Span`, `Traced::Measured`),
    /// run once: the state is `Off` once it ran. `Copy` (what `#[traced]` passes captures
    /// nothing): no flag to write, nothing to drop.
    finish: Fin,
}

// SAFETY: `&Instrumented` reaches none of its state: the fields are private, and nothing
// takes `&self`: the constructors take values, `poll` takes `Pin<&mut Self>`, the other
// methods and `Drop` take `&mut self`, and no other trait is implemented (no `Debug`). The
// span's `Cell`s and the pointer to its record (in `traced`), which make the type `!Sync`,
// are then only ever used through exclusive access; sharing the future between threads
// shares nothing but its address. Still asked of `F` and `Fin`, so that the traced future
// is `Sync` exactly when the untraced one is.
unsafe impl<F: Future + Sync, Fin: Sync> Sync for Instrumented<F, Fin> {}

/// A panic while the future is polled ends its span there (`ClearOnUnwind`, `poll_measured`)
/// and leaves `traced` in a state that is complete (`Off`, or the sampled-out mark, which
/// the thread got back on unwind): nothing half-written is left to be seen by a later poll
/// or by `Drop`, and nothing of it can be seen from outside (see `Sync`). So the future is as
/// unwind safe as the future it wraps.
impl<F: Future + UnwindSafe, Fin: UnwindSafe> UnwindSafe for Instrumented<F, Fin> {}

/// Nothing is reachable through `&Instrumented` (see `Sync`).
impl<F: Future + RefUnwindSafe, Fin: RefUnwindSafe> RefUnwindSafe for Instrumented<F, Fin> {}

/// What a traced future holds of its call's span. `Measured` is declared first: its niche tag
/// is then next to `Span`'s, so that `Drop` tells the two states that end a span from the
/// others with one comparison.
enum Traced {
    /// A sampled-out call that owns nothing but is measured by its site's duration histogram
    /// (the default): its mark is held while the future is polled, and its span is rebuilt
    /// when it ends, so that each poll skips the general path's context and list handling.
    Measured(Measured),
    /// Nothing: tracing is off, or the call is not traced.
    Off,
    /// A sampled-out call with nothing to carry, record or measure: only the mark of the
    /// sampled-out root it runs under (`OpSpan::unowned_parts`), held while the future is
    /// polled.
    Mark(u64),
    /// A span to make current on each poll and to end: one that records, or a sampled-out
    /// one that carries an OpenTelemetry context for its children.
    Span(OpSpan),
}

/// What a traced future keeps of a measured sampled-out call (`OpSpan::unowned_parts`).
#[derive(Clone, Copy)]
struct Measured {
    /// The sampled-out root's mark to hold while polled; 0 for none.
    mark: u64,
    /// The call site whose histogram records the duration.
    site: &'static CallSite,
    start: Tick,
}

impl Measured {
    /// The call's span, as `OpSpan::start` built it: it owns nothing, so it needs no drop.
    #[inline(always)]
    fn span(self) -> OpSpan {
        OpSpan::sampled_out(self.site, self.mark, Some(self.start))
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output) + Copy> Instrumented<F, Fin> {
    /// The future of a traced `async fn` whose span reads none of its arguments (no
    /// `include_args`, `fields` or `parent = ..`): `make` builds the future (an `async move`
    /// block: making it runs none of the body). When tracing is off that is all it does; else
    /// the future is made and the span starts out of line, so that the off path keeps nothing
    /// across a call (no frame to set up in the traced function).
    ///
    /// `site` gives the call site, as for `run_sync_at`: a function of the traced function's
    /// own, so that the site is a constant in `start_on`'s copy for it.
    #[inline(always)]
    pub fn start(
        site: impl FnOnce() -> &'static CallSite,
        make: impl FnOnce() -> F,
        finish: Fin,
    ) -> Self {
        // Off, with no context passed through ever (the common off state): untraced.
        if switches::is_idle() {
            return Self::untraced(make(), finish);
        }
        Self::start_on(site, make, finish)
    }

    /// `inner`, untraced.
    #[inline(always)]
    fn untraced(inner: F, finish: Fin) -> Self {
        Instrumented {
            inner: ManuallyDrop::new(inner),
            traced: ManuallyDrop::new(Traced::Off),
            finish,
        }
    }

    /// [`Instrumented::start`] when tracing is on, or off once godtrace has passed a
    /// context through (then the future takes along the one current here, if any).
    #[inline(never)]
    fn start_on(
        site: impl FnOnce() -> &'static CallSite,
        make: impl FnOnce() -> F,
        finish: Fin,
    ) -> Self {
        let site = site();
        // Each arm returns the whole future, its state made first by a call that writes it
        // straight where the future is returned (a state chosen by the arms and stored after
        // them was copied there whole, the size of the largest: 27 instructions more), then the
        // inner future (an `async fn`'s: making it runs none of its body, so the order is not
        // seen).
        if carried::may_be_carried() {
            return Instrumented {
                traced: ManuallyDrop::new(Traced::start_carrying(site)),
                inner: ManuallyDrop::new(make()),
                finish,
            };
        }
        if !switches::is_enabled() {
            return Self::untraced(make(), finish);
        }
        Instrumented {
            traced: ManuallyDrop::new(Traced::start_out_of_line(site)),
            inner: ManuallyDrop::new(make()),
            finish,
        }
    }

    /// Wraps `inner`, which runs under `span`; `finish` records the output.
    #[inline(always)]
    pub fn new(span: Option<OpSpan>, inner: F, finish: Fin) -> Self {
        let mut traced = Traced::of(span);
        if carried::may_be_carried() {
            traced = traced.carrying_context();
        }
        Instrumented {
            inner: ManuallyDrop::new(inner),
            traced: ManuallyDrop::new(traced),
            finish,
        }
    }
}

impl Traced {
    /// What a traced future holds of the span of a call at `site` (without `parent = ..` nor
    /// recorded arguments) that starts now. A call sampled out (the common case of a call
    /// godtrace does not record) has it built from the decision, as [`Traced::of`] would take
    /// it apart from its span: no span is written to be read back.
    #[inline(always)]
    fn start(site: &'static CallSite) -> Traced {
        let sampled_out =
            |mark, measured: Option<Tick>| Traced::unowned(mark, measured.map(|s| (site, s)));
        OpSpan::start_unread(site, sampled_out, Traced::of)
    }

    /// [`Traced::start`] out of line: each of its arms writes the state straight where it is
    /// returned, which the caller makes the future's own field (see `Instrumented::start_on`).
    #[inline(never)]
    fn start_out_of_line(site: &'static CallSite) -> Traced {
        Traced::start(site)
    }

    /// [`Traced::start`], where a context godtrace made current may carry what the future's
    /// work sends on (see [`Traced::carrying_context`]): out of line, so that the common path
    /// is left as it was.
    #[inline(never)]
    fn start_carrying(site: &'static CallSite) -> Traced {
        if !switches::is_enabled() {
            return Traced::Off.carrying_context();
        }
        Traced::start(site).carrying_context()
    }

    /// This state, taking along what the context where the future is made carries for the
    /// work under it (baggage, a whole `tracestate`; see `span::carried`): a future may be
    /// spawned and polled where that context is not current. While tracing is off, the
    /// context godtrace passes through (an incoming request's) is taken along too. A call
    /// sampled out under a root godtrace dropped (`Mark`, `Measured`) becomes a span that
    /// holds the root's mark and makes that context current, shown with the root's ids: its
    /// polls then hide the span of whoever polls it, as `poll_marked` does.
    /// Called only where such a context may be current (`carried::may_be_carried`): out of
    /// line, by value (the future is then still written in place where it is returned).
    #[inline(never)]
    fn carrying_context(self) -> Traced {
        // A future made while the thread exits is not traced (see `otel_context_usable`).
        if !current::otel_context_usable() {
            return self;
        }
        match self {
            Traced::Off if !switches::is_enabled() => match carried::passed_context() {
                Some(cx) => Traced::Span(OpSpan::passing_through(cx)),
                None => Traced::Off,
            },
            Traced::Span(mut span) if !span.makes_context_current() => {
                if let Some(cx) = carried::carried_context() {
                    span.carry(cx);
                }
                Traced::Span(span)
            }
            Traced::Mark(mark) => Traced::under_dropped_root(mark, None, self),
            Traced::Measured(m) => {
                Traced::under_dropped_root(m.mark, Some((m.site, m.start)), self)
            }
            other => other,
        }
    }

    /// A call sampled out under the root marked `mark` (`this`), taking along the context
    /// where it is made when that carries anything (see `OpSpan::under_dropped_root`).
    fn under_dropped_root(
        mark: u64,
        measured: Option<(&'static CallSite, Tick)>,
        this: Traced,
    ) -> Traced {
        match carried::carried_context() {
            Some(cx) => Traced::Span(OpSpan::under_dropped_root(mark, measured, cx)),
            None => this,
        }
    }

    /// What a traced future holds of `span`.
    #[inline(always)]
    fn of(span: Option<OpSpan>) -> Traced {
        let Some(span) = span else {
            return Traced::Off;
        };
        // Read field by field as `OpSpan::start` wrote them: the future then holds two words,
        // not a copy of the whole span whose wide loads would wait for the callee's narrower
        // stores.
        let Some((mark, measured)) = span.unowned_parts() else {
            return Traced::Span(span);
        };
        // Owns nothing (see `unowned_parts`): there is nothing to drop.
        std::mem::forget(span);
        Traced::unowned(mark, measured)
    }

    /// A sampled-out call's state: the mark of its root, and its site and start when it is
    /// `measured`.
    #[inline(always)]
    fn unowned(mark: u64, measured: Option<(&'static CallSite, Tick)>) -> Traced {
        match measured {
            None => Traced::Mark(mark),
            Some((site, start)) => Traced::Measured(Measured { mark, site, start }),
        }
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output) + Copy> Future for Instrumented<F, Fin> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: only `inner` is treated as pinned (by `poll_untraced` and the out-of-line
        // polls), and it is never moved out of `self`, nor by `Drop`; `traced` and `finish`
        // are not pinned (plain moves are fine).
        let this = unsafe { self.get_unchecked_mut() };
        // Off: the inner future's poll alone. The other states out of line, so that the
        // caller's frame holds nothing across the poll for them.
        if let Traced::Off = *this.traced {
            return this.poll_untraced(task);
        }
        this.poll_on(task)
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output) + Copy> Instrumented<F, Fin> {
    /// Polls the inner future, untraced. Called on the pinned future's fields only.
    #[inline(always)]
    fn poll_untraced(&mut self, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `self` is the pinned future `poll` was called on; `inner` is structurally
        // pinned there and never moved out of it (see `poll`).
        unsafe { Pin::new_unchecked(&mut *self.inner) }.poll(task)
    }

    /// `poll` of the states other than `Off`, each of which first checks that the thread is
    /// not exiting (see `otel_context_usable`; then the future is polled untraced): a span's
    /// and a measured call's go on out of line, with nothing of this frame kept across them.
    /// Called by `poll` only, on the pinned future's fields.
    #[inline(never)]
    fn poll_on(&mut self, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // One test per state, on the tag as stored (a `match` decodes it for a jump table).
        if let Traced::Measured(_) = *self.traced {
            return self.poll_measured(task);
        }
        if let Traced::Mark(mark) = *self.traced {
            return self.poll_mark(mark, task);
        }
        // A span (`Off` never comes here: `poll` polls it).
        self.poll_traced(task)
    }

    /// `poll` of a sampled-out call holding only its root's `mark` (see `poll_on`).
    #[inline(never)]
    fn poll_mark(&mut self, mark: u64, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        if !current::otel_context_usable() {
            return self.poll_untraced(task);
        }
        // SAFETY: as in `poll_untraced`.
        let inner = unsafe { Pin::new_unchecked(&mut *self.inner) };
        let output = poll_marked(mark, inner, task);
        if output.is_ready() {
            // Nothing to end, nor to mark cancelled; nothing owned to drop (`ManuallyDrop`).
            self.traced = ManuallyDrop::new(Traced::Off);
        }
        output
    }
}

/// Polls `inner` with the thread marked `mark` (a sampled-out root's), as its span would
/// mark it; the previous mark is back on return and on unwind, and the spans the poll entered
/// and left current (a recorded span's guard held across an `.await`) are taken off the
/// thread's list, as a traced future with a span of its own does (`Entry::Poll`): they are
/// the task's, not the thread's.
#[inline(always)]
fn poll_marked<F: Future>(
    mark: u64,
    inner: Pin<&mut F>,
    task: &mut std::task::Context<'_>,
) -> Poll<F::Output> {
    let _restore = RestoreMark(sampled_out::hold(mark), current::list_position());
    if mark != 0 && current::shows_a_span() {
        let _hidden = current::hide_under_mark();
        return inner.poll(task);
    }
    inner.poll(task)
}

/// Puts back the thread's sampled-out-root mark it holds, and the thread's list as it was
/// (its top then), when dropped.
struct RestoreMark(sampled_out::Held, super::live::ListPosition);

impl Drop for RestoreMark {
    #[inline(always)]
    fn drop(&mut self) {
        current::leave_above_top(self.1);
        sampled_out::release(self.0);
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output) + Copy> Instrumented<F, Fin> {
    /// `poll` of a measured sampled-out call: the mark held as its span would hold it, and on
    /// completion the span rebuilt to record the outcome and the duration, as `poll_traced`
    /// would; a panic is measured as one and goes on unwinding.
    #[inline(never)]
    fn poll_measured(&mut self, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        if !current::otel_context_usable() {
            return self.poll_untraced(task);
        }
        // SAFETY: `self` is the pinned future `poll` was called on; `inner` is structurally
        // pinned there and never moved out of it (see `poll`).
        let inner = unsafe { Pin::new_unchecked(&mut *self.inner) };
        let Traced::Measured(measured) = *self.traced else {
            unreachable!("checked by `poll_on`")
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| poll_marked(measured.mark, inner, task)));
        let output = match outcome {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => output,
            Err(payload) => {
                // Ended here: `Drop` finds nothing to measure as cancelled.
                self.traced = ManuallyDrop::new(Traced::Off);
                return measured.span().returned(Err(payload));
            }
        };
        // Ended: `Drop` finds nothing to measure as cancelled; nothing owned to drop.
        self.traced = ManuallyDrop::new(Traced::Off);
        let mut span = measured.span();
        (self.finish)(&span, &output);
        span.end_in_place();
        // Owns nothing (see `Measured::span`).
        std::mem::forget(span);
        Poll::Ready(output)
    }

    /// `poll` with a span (see `poll_on`).
    #[inline(never)]
    fn poll_traced(&mut self, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        if !current::otel_context_usable() {
            return self.poll_untraced(task);
        }
        // SAFETY: `self` is the pinned future `poll` was called on; `inner` is structurally
        // pinned there and never moved out of it (see `poll`).
        let inner = unsafe { Pin::new_unchecked(&mut *self.inner) };
        let slot = ClearOnUnwind(&mut self.traced);
        let Traced::Span(span) = &mut *slot.0 else {
            unreachable!("checked by `poll_on`")
        };
        let output = match span.run_current(Entry::Poll, || inner.poll(task)) {
            Poll::Pending => {
                std::mem::forget(slot);
                return Poll::Pending;
            }
            Poll::Ready(output) => output,
        };
        (self.finish)(span, &output);
        span.end_in_place();
        let owns_anything = span.owns_anything();
        std::mem::forget(slot);
        // Ended: `Drop` finds nothing to mark cancelled. A span owning nothing (most
        // sampled-out calls) only has the slot's tag written.
        let off = ManuallyDrop::new(Traced::Off);
        if owns_anything {
            drop(ManuallyDrop::into_inner(std::mem::replace(
                &mut self.traced,
                off,
            )));
        } else {
            self.traced = off;
        }
        Poll::Ready(output)
    }
}

/// Empties a traced future's span slot if polling it (or recording its outcome) unwinds: a
/// panic ends the span in `run_current`, and leaves nothing for `Drop` to mark as cancelled.
struct ClearOnUnwind<'a>(&'a mut Traced);

impl Drop for ClearOnUnwind<'_> {
    #[cold]
    fn drop(&mut self) {
        drop(std::mem::replace(self.0, Traced::Off));
    }
}

impl<F: Future, Fin> Drop for Instrumented<F, Fin> {
    #[inline]
    fn drop(&mut self) {
        // Finished (or never traced): the future alone.
        if let Traced::Off = *self.traced {
            // SAFETY: `inner` is dropped here only, once, and not used after (the struct is
            // being dropped). Dropping it in place is what pinning asks of a pinned field.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
            return;
        }
        // Unfinished: the future drops in its span, as a poll runs (what its locals' drops
        // record is the span's child), then the span ends, marked cancelled. The span is
        // taken out of the future first, and a panic of the drop is seen by a guard, not
        // caught: the calls out of line that enter and end the span are then handed no
        // address inside the future, which its callers can then keep where it was made (a
        // future whose address goes out of line is copied out of the call that made it).
        // SAFETY: `traced` is taken here only, once, and not used after (as `inner` below).
        let traced = unsafe { ManuallyDrop::take(&mut self.traced) };
        // Drops `inner` however this ends: below, in the span, or while a panic of entering
        // it unwinds. Pinning asks that a pinned value be dropped before its memory goes (the
        // memory of a boxed future goes right after this), whatever entering the span does.
        let inner = DropInPlace(&mut self.inner);
        let current = DroppingInSpan::enter(traced);
        drop(inner);
        drop(current);
    }
}

/// Drops the pinned inner future of an unfinished traced future when dropped (see
/// `Instrumented`'s `Drop`).
struct DropInPlace<'a, F>(&'a mut ManuallyDrop<F>);

impl<F> Drop for DropInPlace<'_, F> {
    fn drop(&mut self) {
        // SAFETY: made once, in `Instrumented`'s `Drop`, which then uses `inner` no more
        // (the struct is being dropped); dropping in place is what pinning asks of a pinned
        // field.
        unsafe { ManuallyDrop::drop(self.0) };
    }
}

/// The span of an unfinished traced future, current while the future drops (see
/// `Instrumented`'s `Drop`), then ended when this is dropped.
struct DroppingInSpan {
    traced: Traced,
    /// What entering the span did (`None`: not entered, the thread is exiting).
    entered: Option<Entered>,
    /// Whether the thread was unwinding already when the future started dropping: a panic
    /// of the drop itself is one seen only at the end.
    unwinding: bool,
}

impl DroppingInSpan {
    /// Makes `traced`'s span current (or its sampled-out root's mark, as a poll would hold it).
    #[cold]
    #[inline(never)]
    fn enter(mut traced: Traced) -> DroppingInSpan {
        let unwinding = std::thread::panicking();
        // The thread is exiting: nothing can be made current.
        let entered = if current::otel_context_usable() {
            match &mut traced {
                // SAFETY: left by `Drop` below before the span ends; `traced` moves in
                // between, but not the record the thread's list points to.
                Traced::Span(span) => Some(Entered::Span(unsafe { span.enter() })),
                Traced::Measured(Measured { mark, .. }) | Traced::Mark(mark) => {
                    let held = sampled_out::hold(*mark);
                    let hidden = (*mark != 0 && current::shows_a_span())
                        .then(current::hide_under_mark)
                        .flatten();
                    Some(Entered::Mark(held, hidden))
                }
                Traced::Off => None,
            }
        } else {
            None
        };
        DroppingInSpan {
            traced,
            entered,
            unwinding,
        }
    }
}

impl Drop for DroppingInSpan {
    /// Leaves the span once the future was dropped and ends it, cancelled; a panic of the
    /// drop is recorded on it first (its `error.type`, for the duration histogram too).
    #[cold]
    #[inline(never)]
    fn drop(&mut self) {
        match (self.entered.take(), &mut self.traced) {
            (Some(Entered::Span(entered)), Traced::Span(span)) => span.leave(entered),
            (Some(Entered::Mark(held, hidden)), _) => {
                drop(hidden);
                sampled_out::release(held);
            }
            _ => {}
        }
        // The payload is not ours to read here (the unwind goes on): the span says where.
        let panicked = !self.unwinding && std::thread::panicking();
        let panic = panicked.then_some("a panic while the unfinished future was dropped");
        cancel(&mut self.traced, panic);
    }
}

/// What [`DroppingInSpan::enter`] did.
enum Entered {
    Span(op::Entered),
    Mark(sampled_out::Held, Option<current::Attached>),
}

/// Dropped before completion: ends the span, marked cancelled (a measured sampled-out call
/// records nothing but its duration, without an `error.type`), and failed when the drop
/// panicked (`panic`).
#[cold]
fn cancel(traced: &mut Traced, panic: Option<&'static str>) {
    match std::mem::replace(traced, Traced::Off) {
        Traced::Span(span) => {
            if let Some(whereabouts) = panic {
                span.record_unread_panic(whereabouts);
            }
            span.record_owned(KeyValue::new("godtrace.cancelled", true));
            span.end();
        }
        Traced::Measured(measured) => {
            let span = measured.span();
            if let Some(whereabouts) = panic {
                span.record_unread_panic(whereabouts);
            }
            span.end();
        }
        Traced::Off | Traced::Mark(_) => {}
    }
}
