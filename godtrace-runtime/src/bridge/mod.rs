//! Bridges to the `tracing` and `log` ecosystems: their spans, events and records in
//! godtrace's traces, and godtrace's trace ids on their output.
//!
//! Each is behind the cargo feature of its name; a build without them has none of this.
#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "tracing")]
pub mod tracing;

use crate::value::{self, EventAttributes};
use opentelemetry::trace::SpanContext;
use opentelemetry::{KeyValue, Value};

/// `attributes` with keys and values bounded, and at most the event attribute count limit
/// of them kept (the rest counted as dropped). A key given twice (a field named `level` or
/// `target`, which the bridges also write) is kept once, with the last value, where it was
/// first given (see [`value::one_per_key`]).
pub(crate) fn bounded_event_attributes(mut attributes: Vec<KeyValue>) -> EventAttributes {
    let limit = value::max_attribute_len();
    for attribute in &mut attributes {
        if !value::is_within(&attribute.value, limit) {
            let whole = std::mem::replace(&mut attribute.value, Value::Bool(false));
            attribute.value = value::bounded_value(whole, limit);
        }
    }
    EventAttributes::gather(attributes, 0)
}

/// The ids to print beside a log line: the innermost current span's, if any.
pub(crate) fn current_ids() -> Option<SpanContext> {
    crate::span::current_span_context().filter(SpanContext::is_valid)
}

/// Whether a record of `target` may come from inside OpenTelemetry's context code, which logs
/// (its `internal-logs` feature, a default one) while it holds the thread's context borrowed:
/// an attach past its stack's limit, a guard of such an attach dropped. Reading the context
/// there panics (a `RefCell` already borrowed), so such a record is handed on without ids and
/// is no span event.
pub(crate) fn may_be_inside_otel_context(target: &str) -> bool {
    target == "opentelemetry"
}

/// A `level` attribute as the events of tracing-opentelemetry carry it.
pub(crate) fn level_attribute(level: &'static str) -> KeyValue {
    KeyValue::new("level", Value::from(level))
}
