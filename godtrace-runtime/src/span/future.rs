//! The instrumented future: a traced future's span is current while it is polled (on any
//! thread) and ends when it completes, panics, or is dropped unfinished.
use super::current;
use super::op::OpSpan;
use opentelemetry::KeyValue;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::Poll;

/// For a fn that is not `async` but returns a future (`impl Future`, `Pin<Box<dyn Future>>`,
/// `#[async_trait]` methods): `make` builds the future with the span current, and the span
/// then covers the future until it completes.
#[inline(always)]
pub fn instrument_future<F: Future, Fin: FnOnce(&OpSpan, &F::Output)>(
    span: Option<OpSpan>,
    make: impl FnOnce() -> F,
    finish: Fin,
) -> Instrumented<F, Fin> {
    let Some(mut span) = span else {
        return Instrumented::new(None, make(), finish);
    };
    let inner = span.run_current(make);
    Instrumented::new(Some(span), inner, finish)
}

/// A traced future: its span started when the traced function was called, is current while
/// the future is polled (on any thread), and ends when the future completes, panics, or is
/// dropped unfinished (then marked `godtrace.cancelled = true`).
pub struct Instrumented<F: Future, Fin> {
    inner: F,
    /// Dropped only by `Drop` below (taken when set), so the off path has no drop glue to run.
    span: ManuallyDrop<Option<OpSpan>>,
    finish: Option<Fin>,
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output)> Instrumented<F, Fin> {
    /// Wraps `inner`, which runs under `span`; `finish` records the output.
    #[inline(always)]
    pub fn new(span: Option<OpSpan>, inner: F, finish: Fin) -> Self {
        // Built in each arm, so that the off path writes the empty slot's tag alone, not a
        // copy of the whole (uninitialised) `Option<OpSpan>`.
        match span {
            None => Instrumented {
                inner,
                span: ManuallyDrop::new(None),
                finish: Some(finish),
            },
            Some(span) => Instrumented {
                inner,
                span: ManuallyDrop::new(Some(span)),
                finish: Some(finish),
            },
        }
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output)> Future for Instrumented<F, Fin> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: only `inner` is treated as pinned (below), and it is never moved out of
        // `self`, nor by `Drop`; `span` and `finish` are not pinned (plain moves are fine).
        let this = unsafe { self.get_unchecked_mut() };
        // Off: a discriminant test, no move of the (empty) span slot. Polled while the thread
        // exits (see `otel_context_usable`): untraced.
        if this.span.is_none() || !current::otel_context_usable() {
            // SAFETY: `inner` is structurally pinned: `self` is pinned, and `inner` is never
            // moved out of it (see above).
            return unsafe { Pin::new_unchecked(&mut this.inner) }.poll(task);
        }
        this.poll_traced(task)
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output)> Instrumented<F, Fin> {
    /// `poll` with a span, out of line: the off path's frame then stays as small as the
    /// inner future's poll needs. Called by `poll` only, on the pinned future's fields.
    #[inline(never)]
    fn poll_traced(&mut self, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `self` is the pinned future `poll` was called on; `inner` is structurally
        // pinned there and never moved out of it (see `poll`).
        let inner = unsafe { Pin::new_unchecked(&mut self.inner) };
        let slot = ClearOnUnwind(&mut self.span);
        let span = slot.0.as_mut().expect("checked by `poll`");
        let output = match span.run_current(|| inner.poll(task)) {
            Poll::Pending => {
                std::mem::forget(slot);
                return Poll::Pending;
            }
            Poll::Ready(output) => output,
        };
        if let Some(finish) = self.finish.take() {
            finish(span, &output);
        }
        span.end_in_place();
        std::mem::forget(slot);
        // Ended: `Drop` finds nothing to mark cancelled. A span owning nothing (most
        // sampled-out calls) only has the slot's tag written.
        if self.span.as_ref().is_some_and(OpSpan::owns_anything) {
            drop(self.span.take());
        } else {
            std::mem::forget(self.span.take());
        }
        Poll::Ready(output)
    }
}

/// Empties a traced future's span slot if polling it (or recording its outcome) unwinds: a
/// panic ends the span in `run_current`, and leaves nothing for `Drop` to mark as cancelled.
struct ClearOnUnwind<'a>(&'a mut Option<OpSpan>);

impl Drop for ClearOnUnwind<'_> {
    #[cold]
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

impl<F: Future, Fin> Drop for Instrumented<F, Fin> {
    #[inline]
    fn drop(&mut self) {
        if self.span.is_some() {
            self.cancel();
        }
    }
}

impl<F: Future, Fin> Instrumented<F, Fin> {
    /// Dropped before completion: ends the span, marked cancelled.
    #[cold]
    fn cancel(&mut self) {
        if let Some(span) = self.span.take() {
            span.record_owned(KeyValue::new("godtrace.cancelled", true));
            span.end();
        }
    }
}
