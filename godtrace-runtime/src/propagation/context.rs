//! Between the parsed headers and OpenTelemetry's [`Context`]: the remote parent and baggage
//! put into a context (and counted when rejected), and the whole `tracestate` kept beside it.
use super::w3c::{Fields, Incoming, Rejected, parse_fields};
use super::{BAGGAGE, BAGGAGE_REJECTED, CONTEXTS_REJECTED, MAX_BAGGAGE_LEN};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId, TraceState};
use opentelemetry_sdk::propagation::BaggagePropagator;
use std::sync::atomic::Ordering;

/// The `tracestate` to send with `sc` from `cx`: the whole list extracted, when `cx` holds
/// one of this trace that OpenTelemetry's type could only hold in part and `sc` still holds
/// that part (see the module docs); else `sc`'s own.
pub(super) fn tracestate_header(cx: &Context, sc: &SpanContext) -> String {
    match cx.get::<FullTraceState>() {
        Some(full) if full.trace_id == sc.trace_id() && &full.held == sc.trace_state() => {
            full.header.clone()
        }
        _ => sc.trace_state().header(),
    }
}

/// An extracted `tracestate` that OpenTelemetry's [`TraceState`] holds only in part, kept
/// whole in the [`Context`] beside the span context.
#[derive(Debug)]
struct FullTraceState {
    /// The trace it came with.
    trace_id: TraceId,
    /// The part the span context's [`TraceState`] holds.
    held: TraceState,
    /// The whole list, as it goes out.
    header: String,
}

impl Incoming {
    /// `base` with this remote parent (and the whole trace state, when needed).
    pub(super) fn under(self, base: &Context) -> Context {
        let full = match self.full_state {
            Some(header) => Some(FullTraceState {
                trace_id: self.parent.trace_id(),
                held: self.parent.trace_state().clone(),
                header,
            }),
            // A whole list `base` holds from before must not be taken for this one's.
            None if base.get::<FullTraceState>().is_some() => Some(FullTraceState {
                trace_id: TraceId::INVALID,
                held: TraceState::NONE,
                header: String::new(),
            }),
            None => None,
        };
        let cx = base.with_remote_span_context(self.parent);
        match full {
            Some(full) => cx.with_value(full),
            None => cx,
        }
    }
}

/// The carrier's remote parent: `None` when there is no valid `traceparent`. Counts a
/// rejected `traceparent`, and a valid one whose `tracestate` was dropped in whole or part.
pub(super) fn remote_parent(fields: &Fields<'_>) -> Option<Incoming> {
    match parse_fields(fields) {
        Ok(incoming) => {
            if incoming.as_ref().is_some_and(|i| i.state_rejected) {
                CONTEXTS_REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            incoming
        }
        Err(Rejected) => {
            CONTEXTS_REJECTED.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// A new context with the carrier's remote parent (when valid) and baggage.
pub(super) fn from_fields(
    fields: &Fields<'_>,
    baggage: Option<&str>,
    baggage_not_text: bool,
) -> Context {
    let cx = match remote_parent(fields) {
        Some(incoming) => incoming.under(&Context::new()),
        None => Context::new(),
    };
    with_baggage(cx, baggage, baggage_not_text)
}

/// Adds the entries of a `baggage` header to `cx`; drops (and counts) one that is too long or
/// not text.
pub(super) fn with_baggage(cx: Context, header: Option<&str>, not_text: bool) -> Context {
    if not_text || header.is_some_and(|h| h.len() > MAX_BAGGAGE_LEN) {
        BAGGAGE_REJECTED.fetch_add(1, Ordering::Relaxed);
        return cx;
    }
    let Some(header) = header else {
        return cx;
    };
    struct One<'a>(&'a str);
    impl Extractor for One<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            (key == BAGGAGE).then_some(self.0)
        }
        fn keys(&self) -> Vec<&str> {
            vec![BAGGAGE]
        }
    }
    // Builds on `cx`, so its span context is kept.
    BaggagePropagator::new().extract_with_context(&cx, &One(header))
}
