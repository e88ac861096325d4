//! What OpenTelemetry's context carries for a span's work besides the span's ids: baggage and
//! a `tracestate` kept whole. Where a span starts, both are in the context current there (an
//! incoming request's, made current by a layer or `parent = ..`); a span whose work may run
//! elsewhere (a traced future, which may be spawned; a detached span, handed to another
//! thread) keeps that context and makes it current while its work runs, so that what the work
//! sends on carries them there too ([`carried_context`]).
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{TraceContextExt, TraceId, TraceState};

/// An extracted `tracestate` that OpenTelemetry's [`TraceState`] holds only in part, kept
/// whole in the [`Context`] beside the span context (written and read by `propagation`).
#[derive(Debug)]
pub(crate) struct FullTraceState {
    /// The trace it came with.
    pub(crate) trace_id: TraceId,
    /// The part the span context's [`TraceState`] holds.
    pub(crate) held: TraceState,
    /// The whole list, as it goes out.
    pub(crate) header: String,
}

/// Whether `cx` carries baggage or a whole `tracestate`.
pub(super) fn carries_more_than_ids(cx: &Context) -> bool {
    !cx.baggage().is_empty() || cx.get::<FullTraceState>().is_some()
}

/// Whether a context godtrace makes current is one a span that may run elsewhere takes along
/// (counted while attached, see [`may_be_carried`]): one that carries baggage or a whole
/// `tracestate`, or, while tracing is off, one that shows a span (an incoming request's, which
/// godtrace then only passes through). Also with `Config::otel_context(true)`, where a
/// recorded span keeps its own context, made over the current one: a call sampled out under
/// a dropped root has none of its own, and takes the request's along.
pub(super) fn is_worth_carrying(cx: &Context) -> bool {
    if !super::switches::is_enabled() {
        return cx.span().span_context().is_valid() || carries_more_than_ids(cx);
    }
    carries_more_than_ids(cx)
}

/// Whether a context godtrace made current on this thread (a request's, made current by a
/// layer or `parent = ..`; see `current::attach`) is worth taking along ([`is_worth_carrying`]):
/// only then does a span that may run elsewhere look at OpenTelemetry's context. One load:
/// what every traced future pays. A context made current with OpenTelemetry's own
/// `Context::attach` is not seen here (the README says so).
#[inline(always)]
pub(super) fn may_be_carried() -> bool {
    super::live::this_thread().carrying_attached.get() != 0
}

/// OpenTelemetry's current context, when it carries baggage or a whole `tracestate`: for a
/// span whose work may run away from where it starts to keep. Shared, not copied (two
/// reference counts: a request's baggage is not copied for each traced call); but a span of
/// OpenTelemetry's API it shows that records is replaced by its ids, as that span ends with
/// its last context's drop and would otherwise last as long as the work. The caller has
/// checked `otel_context_usable`.
pub(super) fn carried_context() -> Option<Context> {
    Context::map_current(|cx| carries_more_than_ids(cx).then(|| without_a_recording_span(cx)))
}

/// [`carried_context`] while tracing is off: also a context that only shows a span (an
/// incoming request's, passed through).
pub(super) fn passed_context() -> Option<Context> {
    Context::map_current(|cx| {
        (cx.span().span_context().is_valid() || carries_more_than_ids(cx))
            .then(|| without_a_recording_span(cx))
    })
}

/// `cx`, or, when the span it shows records, `cx` with that span's ids in its place.
fn without_a_recording_span(cx: &Context) -> Context {
    let span = cx.span();
    if span.is_recording() {
        cx.with_remote_span_context(span.span_context().clone())
    } else {
        cx.clone()
    }
}
