//! What OpenTelemetry's context carries for a span's work besides the span's ids: baggage and
//! a `tracestate` kept whole. Where a span starts, both are in the context current there (an
//! incoming request's, made current by a layer or `parent = ..`); a span whose work may run
//! elsewhere (a traced future, which may be spawned; a detached span, handed to another
//! thread) keeps that context and makes it current while its work runs, so that what the work
//! sends on carries them there too ([`carried_context`]).
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt, KeyValueMetadata};
use opentelemetry::trace::{TraceContextExt, TraceId, TraceState};

/// An extracted `tracestate` that OpenTelemetry's [`TraceState`] holds only in part, kept
/// whole in the [`Context`] beside the span context (written and read by `propagation`).
#[derive(Debug, Clone)]
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
/// godtrace then only passes through).
pub(super) fn is_worth_carrying(cx: &Context) -> bool {
    carries_more_than_ids(cx)
        || (!super::switches::is_enabled() && cx.span().span_context().is_valid())
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

/// What OpenTelemetry's current context carries for a span's work: its baggage and whole
/// `tracestate` in a context of their own, when it carries either; for a span whose work may
/// run away from where it starts to keep. Not the context itself: a span of OpenTelemetry's
/// API it shows would be kept from ending (its end is its last context's drop) for as long
/// as the work runs. The caller has checked `otel_context_usable`.
pub(super) fn carried_context() -> Option<Context> {
    Context::map_current(|cx| carries_more_than_ids(cx).then(|| what_travels(cx)))
}

/// [`carried_context`] while tracing is off: with the span context OpenTelemetry's current
/// context shows (an incoming request's, passed through), when it shows one.
pub(super) fn passed_context() -> Option<Context> {
    Context::map_current(|cx| {
        let span = cx.span();
        let shown = span.span_context();
        if shown.is_valid() {
            Some(what_travels(cx).with_remote_span_context(shown.clone()))
        } else {
            carries_more_than_ids(cx).then(|| what_travels(cx))
        }
    })
}

/// `cx`'s baggage and whole `tracestate`, in a context of their own.
fn what_travels(cx: &Context) -> Context {
    let mut carried = Context::new();
    let baggage = cx.baggage();
    if !baggage.is_empty() {
        let copy: Baggage = baggage
            .iter()
            .map(|(key, (value, metadata))| {
                KeyValueMetadata::new(key.clone(), value.clone(), metadata.clone())
            })
            .collect();
        carried = carried.with_baggage(copy);
    }
    if let Some(full) = cx.get::<FullTraceState>() {
        carried = carried.with_value(full.clone());
    }
    carried
}
