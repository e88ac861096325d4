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

#[cfg(feature = "log")]
/// Adds an event to the innermost current span: a `#[traced]` or manual span, or a `tracing`
/// span the bridge entered on this thread. Its attributes are bounded as every event's.
pub(crate) fn add_event_to_current(
    name: std::borrow::Cow<'static, str>,
    attributes: Vec<KeyValue>,
) {
    use crate::span::{Current, with_current};
    use opentelemetry::trace::TraceContextExt as _;
    let attributes = bounded_event_attributes(attributes);
    with_current(|current| match current {
        Current::Own(live) => live.add_event(name, attributes),
        Current::Other(cx) => {
            #[cfg(feature = "tracing")]
            let attributes = match tracing::add_event_to_entered(cx, name, attributes) {
                None => return,
                Some((name, attributes)) => (name, attributes),
            };
            #[cfg(not(feature = "tracing"))]
            let attributes = (name, attributes);
            // Another OpenTelemetry span (its SDK applies its own limits).
            cx.span()
                .add_event(attributes.0, attributes.1.into_parts().0);
        }
        Current::None | Current::Suppressed => {}
    });
}

/// `attributes` with keys and values bounded, and at most the event attribute count limit
/// of them kept (the rest counted as dropped). A key given twice (a field named `level` or
/// `target`, which the bridges also write) is kept once, with the last value, where it was
/// first given: OTLP's attributes are a map, whose keys a backend may reject when repeated.
pub(crate) fn bounded_event_attributes(attributes: Vec<KeyValue>) -> EventAttributes {
    let limit = value::max_attribute_len();
    let mut kept: Vec<KeyValue> = Vec::with_capacity(attributes.len());
    for KeyValue { key, value, .. } in attributes {
        let value = if value::is_within(&value, limit) {
            value
        } else {
            value::bounded_value(value, limit)
        };
        match kept.iter_mut().find(|earlier| earlier.key == key) {
            Some(earlier) => earlier.value = value,
            None => kept.push(KeyValue::new(key, value)),
        }
    }
    EventAttributes::new(kept, 0)
}

/// The ids to print beside a log line: the innermost current span's, if any.
pub(crate) fn current_ids() -> Option<SpanContext> {
    crate::span::current_span_context().filter(SpanContext::is_valid)
}

/// A `level` attribute as the events of tracing-opentelemetry carry it.
pub(crate) fn level_attribute(level: &'static str) -> KeyValue {
    KeyValue::new("level", Value::from(level))
}
