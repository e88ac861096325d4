//! Which godtrace span is current on this thread: a list of the spans entered and not yet
//! left, linked through the spans themselves, beside OpenTelemetry's own context stack.
//!
//! Each span remembers which span OpenTelemetry's context showed when it was entered (the
//! span itself when godtrace attaches it there). While the two agree, godtrace's span is the
//! innermost one; once other code makes another OpenTelemetry context current (a third-party
//! span, a remote parent the user attached), that one is.
use super::live::Live;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use std::cell::Cell;
use std::ptr::NonNull;

thread_local! {
    /// The innermost entered span; each links to the one entered before it (`Live::prev`).
    static TOP: Cell<Option<NonNull<Live>>> = const { Cell::new(None) };
}

/// Makes `live` the current span of this thread until [`remove`] takes it off. `otel_seen` is
/// the span id OpenTelemetry's current context shows, when the caller knows it (it is read
/// otherwise).
///
/// # Safety
/// `live` must stay valid, at the same address, until then.
#[inline]
pub(super) unsafe fn enter(live: &Live, otel_seen: Option<SpanId>) {
    live.otel_seen.set(otel_seen.unwrap_or_else(otel_span_id));
    TOP.with(|top| {
        live.prev.set(top.get());
        top.set(Some(NonNull::from(live)));
    });
}

/// Takes `live` off, wherever it is: normally on top, but a manual span's guard may be
/// dropped out of order, or outlive the traced call it was made in.
pub(super) fn remove(live: &Live) {
    let target = NonNull::from(live);
    TOP.with(|top| {
        if top.get() == Some(target) {
            top.set(live.prev.get());
            return;
        }
        let mut node = top.get();
        while let Some(entered) = node {
            // SAFETY: every span on the list is valid until it is taken off (`enter`).
            let entered = unsafe { entered.as_ref() };
            if entered.prev.get() == Some(target) {
                entered.prev.set(live.prev.get());
                return;
            }
            node = entered.prev.get();
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
    let top = top();
    Context::map_current(|cx| match innermost(cx, top) {
        Seen::Own => f(Current::Own(
            top.expect("`Own` is only seen with a span on the list"),
        )),
        Seen::Other => f(Current::Other(cx)),
        Seen::Nothing => f(Current::None),
        Seen::Suppressed => f(Current::Suppressed),
    })
}

/// The innermost span this thread entered and has not left.
#[inline]
fn top<'a>() -> Option<&'a Live> {
    // SAFETY: spans on the list are valid until they are taken off (`enter`'s contract); the
    // callers use the reference within the call that read it, while the span is entered.
    TOP.with(Cell::get)
        .map(|entered| unsafe { entered.as_ref() })
}

/// The one rule for which span is innermost: godtrace's own while OpenTelemetry's context
/// still shows what it showed when that span was entered; else OpenTelemetry's, if it has a
/// span. Only compares ids, so the hot path's closure over OpenTelemetry's context stays small.
#[inline]
fn innermost(cx: &Context, top: Option<&Live>) -> Seen {
    if cx.is_telemetry_suppressed() {
        return Seen::Suppressed;
    }
    let current = cx.span().span_context().span_id();
    if top.is_some_and(|entered| entered.otel_seen.get() == current) {
        Seen::Own
    } else if current != SpanId::INVALID {
        Seen::Other
    } else {
        Seen::Nothing
    }
}

/// The span context of the innermost current span, if any; under a root godtrace sampled
/// out (nothing current), the ids that root propagates.
pub(crate) fn span_context() -> Option<SpanContext> {
    parent()
        .ok()
        .flatten()
        .or_else(super::head::sampled_out_span_context)
}

/// The parent of a span starting here: the innermost current span (`None` for a new trace),
/// or `Err` where telemetry is suppressed.
///
/// Every traced call reads this, sampled out or not, so OpenTelemetry's context is looked at
/// through a closure that only compares ids; a parent is cloned outside it.
#[inline]
pub(super) fn parent() -> Result<Option<SpanContext>, Suppressed> {
    let top = top();
    match Context::map_current(|cx| innermost(cx, top)) {
        Seen::Own => Ok(top.map(|entered| entered.span_context.clone())),
        Seen::Other => Ok(other_parent()),
        Seen::Nothing => Ok(None),
        Seen::Suppressed => Err(Suppressed),
    }
}

/// What OpenTelemetry's current context shows, next to this thread's innermost span.
enum Seen {
    Own,
    Other,
    Nothing,
    Suppressed,
}

/// The span context of OpenTelemetry's current context (set by other code), if valid.
#[cold]
fn other_parent() -> Option<SpanContext> {
    Context::map_current(|cx| Some(cx.span().span_context().clone()).filter(SpanContext::is_valid))
}

/// Telemetry is suppressed on this thread.
pub(super) struct Suppressed;

/// OpenTelemetry's form of the innermost current span, for code that takes a [`Context`]: the
/// current context, with godtrace's span in it when that is the innermost one, or the ids of
/// the sampled-out root this thread runs under when no span is current.
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
        Some(_) => cx,
        None if cx.has_active_span() => cx,
        None => match super::head::sampled_out_span_context() {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx,
        },
    }
}
