//! Between the parsed headers and OpenTelemetry's [`Context`]: the remote parent and baggage
//! put into a context (and counted when rejected), and the whole `tracestate` kept beside it.
use super::baggage::{Decoded, TooLong, decode};
use super::w3c::{Field, Fields, Incoming, Rejected, outgoing_tracestate, parse_fields};
use super::{BAGGAGE_REJECTED, CONTEXTS_REJECTED};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId, TraceState};
use std::sync::atomic::Ordering;

use crate::span::FullTraceState;

/// The `tracestate` to send with `sc` from `cx`: `sc`'s own, with the members of the whole
/// list `cx` holds of this trace, when OpenTelemetry's type could only hold part of it (see
/// [`outgoing_tracestate`] and the module docs).
pub(super) fn tracestate_header(cx: &Context, sc: &SpanContext) -> String {
    let whole = cx
        .get::<FullTraceState>()
        .filter(|full| full.trace_id == sc.trace_id());
    outgoing_tracestate(
        sc.trace_state(),
        whole.map(|full| (&full.held, full.header.as_str())),
    )
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
pub(super) fn from_fields(fields: &Fields<'_>, baggage: &Field<'_>) -> Context {
    let cx = match remote_parent(fields) {
        Some(incoming) => incoming.under(&Context::new()),
        None => Context::new(),
    };
    with_baggage(cx, baggage)
}

/// `cx` with the entries of the `baggage` headers in place of its own (kept when there is
/// none). Counts headers dropped wholly (too long, or not text) or in part (past the member
/// limit); a dropped one leaves `cx` as it is.
pub(super) fn with_baggage(cx: Context, headers: &Field<'_>) -> Context {
    let parts: &[&str] = match headers {
        Field::Absent => return cx,
        Field::NotText => {
            BAGGAGE_REJECTED.fetch_add(1, Ordering::Relaxed);
            return cx;
        }
        Field::One(value) => std::slice::from_ref(value),
        Field::Values(values) => values,
    };
    match decode(parts) {
        Ok(Decoded {
            baggage,
            over_limit,
        }) => {
            if over_limit {
                BAGGAGE_REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            // Builds on `cx`, so its span context is kept.
            cx.with_baggage(baggage)
        }
        Err(TooLong) => {
            BAGGAGE_REJECTED.fetch_add(1, Ordering::Relaxed);
            cx
        }
    }
}
