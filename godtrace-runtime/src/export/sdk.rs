//! The SDK's view of the installed sink pipeline, for spans other OpenTelemetry code starts
//! through the provider: its one span processor (with several, the SDK would clone every span
//! for each of them).
use crate::span::sink::Pipeline;
use opentelemetry::trace::{Span as _, Status, TraceContextExt as _};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

/// Hands the spans of other OpenTelemetry code to the pipeline's sinks.
#[derive(Debug)]
pub(crate) struct SdkProcessor(pub(crate) &'static Pipeline);

impl SpanProcessor for SdkProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        // The parent the SDK started the span under (none: a root).
        let parent = if cx.has_active_span() {
            cx.span().span_context().span_id()
        } else {
            opentelemetry::trace::SpanId::INVALID
        };
        self.0.on_start(span.span_context(), &parent);
    }

    fn on_end(&self, mut span: SpanData) {
        bound(&mut span);
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown(timeout)
    }
}

/// Applies to a span of other OpenTelemetry code what godtrace applies to its own: its end
/// not before its start, its name, keys, string values and status description cut as
/// godtrace's are (the attribute limit, 256-byte keys, the description's URLs redacted, and an
/// `exception.message`'s), one attribute per key, the last value given where the key was
/// first given (OTLP's attributes are a map; the SDK keeps every repeat), then godtrace's
/// count limits (the SDK, which counts repeats, keeps more: see `provider::sdk_span_limits`).
fn bound(span: &mut SpanData) {
    use crate::config::limits;
    // An end given before the start (`end_with_timestamp`): OTLP expects end >= start, and a
    // negative duration breaks backends' views; the span is kept, zero long.
    span.end_time = span.end_time.max(span.start_time);
    span.name = crate::value::bounded_name(std::mem::take(&mut span.name));
    span.dropped_attributes_count +=
        bound_attributes(&mut span.attributes, limits::span_attributes());
    for event in span.events.events.iter_mut() {
        event.name = crate::value::bounded_name(std::mem::take(&mut event.name));
        redact_exception_messages(&mut event.attributes);
        event.dropped_attributes_count +=
            bound_attributes(&mut event.attributes, limits::event_attributes());
    }
    for link in span.links.links.iter_mut() {
        link.dropped_attributes_count += bound_attributes(&mut link.attributes, usize::MAX);
    }
    if let Status::Error { description } = &mut span.status {
        let limit = crate::value::max_attribute_len();
        *description = Cow::Owned(crate::redact::error_text_within(description, limit));
    }
}

/// Redacts the URLs' credentials in each `exception.message` (`record_error` writes the
/// error's text there, as godtrace's own spans do their status: see `redact::error_text_within`),
/// before any cut, so that a cut inside a URL leaves no part of a password.
fn redact_exception_messages(attributes: &mut [KeyValue]) {
    let limit = crate::value::max_attribute_len();
    for attribute in attributes.iter_mut() {
        if attribute.key.as_str() == "exception.message"
            && let Value::String(text) = &attribute.value
        {
            let redacted = crate::redact::error_text_within(text.as_str(), limit);
            attribute.value = Value::from(redacted);
        }
    }
}

/// Cuts the keys and values of `attributes` and keeps one per key (see [`bound`]), leaving out
/// attributes with an empty key (a key is a non-empty string), then the first `count` keys;
/// returns how many were left out for their key or the count (not the repeats).
fn bound_attributes(attributes: &mut Vec<KeyValue>, count: usize) -> u32 {
    let limit = crate::value::max_attribute_len();
    for attribute in attributes.iter_mut() {
        if attribute.key.as_str().len() > crate::limits::MAX_ATTRIBUTE_KEY_LEN {
            let key = Cow::Owned(attribute.key.as_str().to_owned());
            attribute.key = Key::new(crate::value::bounded_key(key));
        }
        if !crate::value::is_within(&attribute.value, limit) {
            let whole = std::mem::replace(&mut attribute.value, Value::Bool(false));
            attribute.value = crate::value::bounded_value(whole, limit);
        }
    }
    let before = attributes.len();
    // Where each key was first given, by key: linear however many attributes the limits let in.
    let mut first: HashMap<Key, usize> = HashMap::with_capacity(before);
    let (mut kept, mut keyless) = (0, 0);
    for at in 0..before {
        if attributes[at].key.as_str().is_empty() {
            keyless += 1;
            continue;
        }
        match first.get(&attributes[at].key) {
            Some(&position) => {
                let value = std::mem::replace(&mut attributes[at].value, Value::Bool(false));
                attributes[position].value = value;
            }
            None => {
                first.insert(attributes[at].key.clone(), kept);
                attributes.swap(kept, at);
                kept += 1;
            }
        }
    }
    let over = kept.saturating_sub(count);
    attributes.truncate(kept - over);
    u32::try_from(keyless + over).unwrap_or(u32::MAX)
}

/// A `SpanData` with nothing in it (tests build spans from it).
#[cfg(test)]
pub(crate) fn empty_span_data() -> SpanData {
    SpanData {
        span_context: opentelemetry::trace::SpanContext::NONE,
        parent_span_id: opentelemetry::trace::SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: opentelemetry::trace::SpanKind::Internal,
        name: "".into(),
        start_time: std::time::UNIX_EPOCH,
        end_time: std::time::UNIX_EPOCH,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status: opentelemetry::trace::Status::Unset,
        instrumentation_scope: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// A span ended with a timestamp before its start (`end_with_timestamp`) is sent zero long,
    /// not with a negative duration OTLP does not expect.
    #[test]
    fn an_end_before_the_start_is_the_start() {
        let start = UNIX_EPOCH + Duration::from_secs(100);
        let mut span = SpanData {
            start_time: start,
            end_time: start - Duration::from_secs(5),
            ..empty_span_data()
        };
        bound(&mut span);
        assert_eq!(span.end_time, start);
        let mut span = SpanData {
            start_time: start,
            end_time: start + Duration::from_secs(5),
            ..empty_span_data()
        };
        bound(&mut span);
        assert_eq!(span.end_time, start + Duration::from_secs(5));
    }
}
