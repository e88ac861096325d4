//! Manual spans (`godtrace::span`): entered when made, current on this thread until dropped.
use super::current;
use super::op::{Entry, MadeCurrent, OpSpan};
use std::marker::PhantomData;

/// A manual span, current on this thread until dropped, which ends it. The guard may move:
/// the thread's list points at the span's own record. Not `Send` (nor `Sync`): it is the
/// current span of the thread that made it, and leaving it on another would undo that
/// thread's state from the wrong one.
pub(crate) struct EnteredSpan {
    span: OpSpan,
    entered: Option<MadeCurrent>,
    _this_thread: PhantomData<*const ()>,
}

impl EnteredSpan {
    pub(crate) fn new(span: OpSpan) -> EnteredSpan {
        // SAFETY: the span is moved into an `EnteredSpan`, which is not `Send`, and left in its
        // `drop`: it stays on this thread until then.
        let entered = Some(unsafe { span.make_current() });
        EnteredSpan {
            span,
            entered,
            _this_thread: PhantomData,
        }
    }

    pub(crate) fn span(&self) -> &OpSpan {
        &self.span
    }
}

impl Drop for EnteredSpan {
    fn drop(&mut self) {
        // Exit first so that the parent is current again before this span is reported.
        if let Some(mut entered) = self.entered.take() {
            // A guard dropped while its thread exits (kept in a thread-local): OpenTelemetry's
            // context may already be dropped, so its entry there is left, not popped (the
            // thread is ending; the guard's `Drop` would abort).
            if !current::otel_context_usable() {
                std::mem::forget(entered.attached.take());
            }
            entered.undo(&self.span);
        }
        self.span.end_in_place();
    }
}

/// A manual span started detached: current nowhere until [`DetachedSpan::in_scope`], ended
/// when dropped. `Send`: it is current on a thread only within `in_scope`, which borrows it
/// mutably, so it never is on two threads' lists, nor left on one.
pub(crate) struct DetachedSpan {
    span: OpSpan,
}

impl DetachedSpan {
    pub(crate) fn new(span: OpSpan) -> DetachedSpan {
        DetachedSpan { span }
    }

    pub(crate) fn span(&self) -> &OpSpan {
        &self.span
    }

    /// Runs `f` with this span current on this thread; a panic in `f` marks the span failed
    /// (it ends when dropped) and goes on unwinding. While the thread exits (see `otel_context_usable`), `f` runs
    /// untraced.
    pub(crate) fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        if !current::otel_context_usable() {
            return f();
        }
        self.span.run_current(Entry::Scope, f)
    }

    /// This span as OpenTelemetry's context (see `OpSpan::context`).
    pub(crate) fn context(&self) -> opentelemetry::Context {
        self.span.context()
    }
}

impl Drop for DetachedSpan {
    fn drop(&mut self) {
        self.span.end_in_place();
    }
}
