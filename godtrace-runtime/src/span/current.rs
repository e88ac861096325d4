//! Which godtrace span is current on this thread: a stack of the spans entered and not yet
//! left, beside OpenTelemetry's own context stack.
//!
//! Each entry remembers which span OpenTelemetry's context showed when it was entered (the
//! span itself when godtrace attaches it there). While the two agree, godtrace's span is the
//! innermost one; once other code makes another OpenTelemetry context current (a third-party
//! span, a remote parent the user attached), that one is.
use super::live::Live;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use std::cell::RefCell;
use std::ptr::NonNull;

#[derive(Clone, Copy)]
struct Entry {
    live: NonNull<Live>,
    /// The span id OpenTelemetry's current context showed right after this entry was made.
    otel_seen: SpanId,
}

thread_local! {
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Makes `live` the current span of this thread until [`remove`] takes it off.
///
/// # Safety
/// `live` must stay valid, at the same address, until then.
pub(super) unsafe fn enter(live: &Live) {
    let otel_seen = otel_span_id();
    let entry = Entry {
        live: NonNull::from(live),
        otel_seen,
    };
    // During thread teardown the stack may be gone: the span then is not current.
    let _ = STACK.try_with(|stack| stack.borrow_mut().push(entry));
}

/// Takes `live` off, wherever it is: normally on top, but a manual span's guard may be
/// dropped out of order, or outlive the traced call it was made in.
pub(super) fn remove(live: &Live) {
    let target = NonNull::from(live);
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        if let Some(at) = stack.iter().rposition(|e| e.live == target) {
            stack.remove(at);
        }
    });
}

fn otel_span_id() -> SpanId {
    Context::map_current(|cx| cx.span().span_context().span_id())
}

/// The innermost current span: godtrace's own, or OpenTelemetry's when other code made a
/// newer context current.
pub(crate) enum Current<'a> {
    Own(&'a Live),
    Other(&'a Context),
    None,
    /// Telemetry is suppressed here (the export thread, or code that asked for it): nothing
    /// is recorded, so that exporting never produces spans of its own.
    Suppressed,
}

/// Runs `f` with the innermost current span of this thread.
pub(crate) fn with_current<R>(f: impl FnOnce(Current<'_>) -> R) -> R {
    let top = STACK
        .try_with(|stack| stack.borrow().last().copied())
        .ok()
        .flatten();
    Context::map_current(|cx| {
        if cx.is_telemetry_suppressed() {
            return f(Current::Suppressed);
        }
        let otel = cx.span().span_context().span_id();
        match top {
            // SAFETY: entries are valid until they are taken off (`enter`'s contract), and
            // the reference does not outlive this call.
            Some(entry) if entry.otel_seen == otel => {
                f(Current::Own(unsafe { entry.live.as_ref() }))
            }
            _ if cx.has_active_span() => f(Current::Other(cx)),
            _ => f(Current::None),
        }
    })
}

/// The span context of the innermost current span, if any.
pub(crate) fn span_context() -> Option<SpanContext> {
    parent().ok().flatten()
}

/// The parent of a span starting here: the innermost current span (`None` for a new trace),
/// or `Err` where telemetry is suppressed.
pub(super) fn parent() -> Result<Option<SpanContext>, Suppressed> {
    with_current(|current| match current {
        Current::Own(live) => Ok(Some(live.span_context.clone())),
        Current::Other(cx) => Ok(Some(cx.span().span_context().clone())),
        Current::None => Ok(None),
        Current::Suppressed => Err(Suppressed),
    })
    .map(|parent| parent.filter(SpanContext::is_valid))
}

/// Telemetry is suppressed on this thread.
pub(super) struct Suppressed;

/// OpenTelemetry's form of the innermost current span, for code that takes a [`Context`]: the
/// current context, with godtrace's span in it when that is the innermost one.
pub(crate) fn context() -> Context {
    let own = with_current(|current| match current {
        Current::Own(live) => Some(live.span_context.clone()),
        Current::Other(_) | Current::None | Current::Suppressed => None,
    });
    let cx = Context::current();
    match own {
        Some(sc) if cx.span().span_context().span_id() != sc.span_id() => {
            cx.with_remote_span_context(sc)
        }
        _ => cx,
    }
}
