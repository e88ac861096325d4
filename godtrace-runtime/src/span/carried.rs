//! What OpenTelemetry's context carries for a span's work besides the span's ids: baggage and
//! a `tracestate` kept whole. Where a span starts, both are in the context current there (an
//! incoming request's, made current by a layer or `parent = ..`); a span whose work may run
//! elsewhere (a traced future, which may be spawned; a detached span, handed to another
//! thread) keeps that context and makes it current while its work runs, so that what the work
//! sends on carries them there too ([`carried_context`]).
use opentelemetry::Context;
use opentelemetry::baggage::Baggage;
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
    cx.get::<Baggage>()
        .is_some_and(|baggage| !baggage.is_empty())
        || cx.get::<FullTraceState>().is_some()
}

/// Whether a context godtrace made current on this thread (a request's, made current by a
/// layer or `parent = ..`; see `current::attach`) carries baggage or a whole `tracestate`:
/// only then does a span that may run elsewhere look for one ([`carried_context`]). One load:
/// what every traced future pays. A context made current with OpenTelemetry's own
/// `Context::attach` is not seen here (the README says so).
#[inline(always)]
pub(super) fn may_be_carried() -> bool {
    super::live::this_thread().carrying_attached.get() != 0
}

/// OpenTelemetry's current context, when it carries baggage or a whole `tracestate`: for a
/// span whose work may run away from where it starts to keep. The caller has checked
/// `otel_context_usable`.
pub(super) fn carried_context() -> Option<Context> {
    Context::map_current(|cx| carries_more_than_ids(cx).then(|| cx.clone()))
}

/// OpenTelemetry's current context, when it shows a span or carries baggage or a whole
/// `tracestate`: what a traced future made while tracing is off passes on (an incoming
/// request's context, which godtrace then only passes through). The caller has checked
/// `otel_context_usable`.
pub(super) fn passed_context() -> Option<Context> {
    Context::map_current(|cx| {
        (cx.span().span_context().is_valid() || carries_more_than_ids(cx)).then(|| cx.clone())
    })
}
