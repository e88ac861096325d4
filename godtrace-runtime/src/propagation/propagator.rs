//! [`W3cPropagator`]: the checks of this module as an OpenTelemetry [`TextMapPropagator`].
use super::baggage::encode;
use super::context::{remote_parent, tracestate_header, with_baggage};
use super::w3c::{Fields, baggage_field, field, traceparent};
use super::{BAGGAGE, TRACEPARENT, TRACESTATE};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use std::sync::OnceLock;

/// W3C Trace Context and Baggage as an OpenTelemetry [`TextMapPropagator`], with the checks
/// and counters described in the [module docs](crate::propagation).
///
/// [`inject`](super::inject) and [`extract`](super::extract) use it; hand it to code that takes a propagator, or install it
/// as OpenTelemetry's global one (after [`crate::init`], which installs its own):
///
/// ```
/// opentelemetry::global::set_text_map_propagator(godtrace_runtime::propagation::W3cPropagator::new());
/// ```
///
/// Unlike [`extract`](super::extract), its [`TextMapPropagator::extract_with_context`] keeps what the given
/// context holds (its span included) when the carrier has no valid trace context, as the
/// trait specifies.
#[derive(Debug, Clone, Copy)]
pub struct W3cPropagator {
    /// Whether `traceparent` and `tracestate` are carried (`init` installs one without for
    /// `baggage` in the configured propagators, beside one for `tracecontext`).
    pub(super) trace_context: bool,
    /// Whether `baggage` is carried (`init` installs it without, when the configured
    /// propagators leave baggage out).
    pub(super) baggage: bool,
}

impl Default for W3cPropagator {
    fn default() -> Self {
        W3cPropagator::new()
    }
}

impl W3cPropagator {
    /// The propagator: `traceparent`, `tracestate` and `baggage`.
    pub const fn new() -> Self {
        W3cPropagator {
            trace_context: true,
            baggage: true,
        }
    }

    /// The headers `OTEL_PROPAGATORS` names: the trace context's, `baggage`, both or neither.
    pub(super) const fn carrying(trace_context: bool, baggage: bool) -> Self {
        W3cPropagator {
            trace_context,
            baggage,
        }
    }

    /// `traceparent` and `tracestate` only (`OTEL_PROPAGATORS=tracecontext`).
    pub(crate) const fn trace_context_only() -> Self {
        W3cPropagator {
            trace_context: true,
            baggage: false,
        }
    }

    /// `baggage` only (`OTEL_PROPAGATORS=baggage`), with godtrace's codec.
    pub(crate) const fn baggage_only() -> Self {
        W3cPropagator {
            trace_context: false,
            baggage: true,
        }
    }
}

/// The header names [`W3cPropagator::fields`] lists: the trace context's two, then `baggage`.
fn fields() -> &'static [String; 3] {
    static FIELDS: OnceLock<[String; 3]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()])
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if self.trace_context {
            inject_trace_context(cx, injector);
        }
        if self.baggage
            && let Some(header) = encode(cx.baggage())
        {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let cx = if self.trace_context {
            let fields = Fields {
                traceparent: field(extractor.get_all(TRACEPARENT)),
                tracestate: field(extractor.get_all(TRACESTATE)),
            };
            match remote_parent(&fields) {
                Some(incoming) => incoming.under(cx),
                None => cx.clone(),
            }
        } else {
            cx.clone()
        };
        if !self.baggage {
            return cx;
        }
        with_baggage(cx, &baggage_field(extractor.get_all(BAGGAGE)))
    }

    fn fields(&self) -> FieldIter<'_> {
        let all = fields();
        let (from, to) = match (self.trace_context, self.baggage) {
            (true, true) => (0, 3),
            (true, false) => (0, 2),
            (false, _) => (2, 3),
        };
        FieldIter::new(&all[from..to])
    }
}

/// The `traceparent` of a request made in the span `sc`: its ids, or, when it is a span of
/// this process that is not recorded (not sampled), a span id new for this request. W3C's
/// `parent-id` is "the ID of this request as known by the caller" (its test suite checks that
/// three requests carry three): nothing recorded names an unrecorded span's id, so each
/// request can have its own, as a recorded span's client children each have theirs, while
/// the unrecorded calls make no ids of their own (their cost stays a flag test). A context
/// from another process, handed on as it came (a relay), goes on unchanged.
fn traceparent_of_request(sc: &SpanContext) -> String {
    if sc.is_sampled() || sc.is_remote() {
        return traceparent(sc);
    }
    let request = SpanContext::new(
        sc.trace_id(),
        crate::span::sampling::fresh_span_id(),
        sc.trace_flags(),
        false,
        TraceState::NONE,
    );
    traceparent(&request)
}

/// Writes `traceparent` and `tracestate` for the span of `cx`, when it has a valid one.
fn inject_trace_context(cx: &Context, injector: &mut dyn Injector) {
    let span = cx.span();
    // Handed the current context while godtrace's span is not attached to it (the
    // default): godtrace's span is the one to propagate.
    let own = crate::span::own_span_under(cx);
    let sc = own.as_ref().unwrap_or_else(|| span.span_context());
    if sc.is_valid() {
        injector.set(TRACEPARENT, traceparent_of_request(sc));
        // Written even when empty (as OpenTelemetry's propagator does): a `tracestate` the
        // carrier already held (headers copied from an incoming request) belongs to another
        // `traceparent`, and must not go out beside this one. `HeaderInjector` removes the
        // header for an empty value.
        injector.set(TRACESTATE, tracestate_header(cx, sc));
    }
}
