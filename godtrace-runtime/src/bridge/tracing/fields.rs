//! `tracing` field values as typed, bounded attributes, and the fields that follow
//! tracing-opentelemetry's conventions (`otel.name`, `otel.kind`, `otel.status_code`,
//! `otel.status_description`, `error`, an event's `message`).
use crate::value::{self, bounded_str, debug_text, display_text, key_prefix};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};
use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use tracing::field::{Field, Visit};

/// The span's new name.
const NAME: &str = "otel.name";
/// The span's kind: `server`, `client`, `producer`, `consumer` or `internal`, in any case.
const KIND: &str = "otel.kind";
/// The span's status: `ok` or `error`, in any case.
const STATUS_CODE: &str = "otel.status_code";
/// The description of an error status (tracing-opentelemetry's name, and the specification's).
const STATUS_DESCRIPTIONS: [&str; 2] = ["otel.status_description", "otel.status_message"];
/// The attribute an error value also lands in (OpenTelemetry's exception convention).
pub(super) const EXCEPTION_MESSAGE: &str = "exception.message";

/// What a span's fields say about the span itself rather than as attributes.
#[derive(Default, Debug)]
pub(super) struct SpanUpdates {
    pub(super) name: Option<Cow<'static, str>>,
    pub(super) kind: Option<SpanKind>,
    /// `Some(true)` for `ok`, `Some(false)` for `error`.
    pub(super) ok: Option<bool>,
    pub(super) description: Option<String>,
}

/// Whether any of `names` is one of the `otel.*` fields that change the span.
pub(super) fn has_span_updates<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|name| name.starts_with("otel."))
}

/// Reads a span's fields: the `otel.*` ones into `updates`, the others, when `attributes` is
/// given (the span is recording), as attributes.
pub(super) struct SpanVisitor<'a> {
    attributes: Option<&'a mut Vec<KeyValue>>,
    updates: &'a mut SpanUpdates,
    /// Error values read as attributes: each also added an `exception.message`.
    pub(super) errors: usize,
}

impl<'a> SpanVisitor<'a> {
    pub(super) fn new(
        attributes: Option<&'a mut Vec<KeyValue>>,
        updates: &'a mut SpanUpdates,
    ) -> SpanVisitor<'a> {
        SpanVisitor {
            attributes,
            updates,
            errors: 0,
        }
    }

    fn push(&mut self, field: &Field, value: impl FnOnce() -> Value) {
        if let Some(attributes) = &mut self.attributes {
            attributes.push(KeyValue::new(key_prefix(field.name()), value()));
        }
    }

    /// Records a field named `error` (`error = %e`, `?e` or text): an error's text, its URLs
    /// redacted as an event's `error` field's are.
    fn push_error_text(&mut self, field: &Field, text: impl FnOnce() -> String) {
        self.push(field, || Value::from(crate::redact::error_text(text())));
    }

    /// Handles `field` if it is one of the `otel.*` fields; returns whether it was. `text`
    /// gives the field's text cut at the limit it is handed: `otel.name`'s as a name
    /// ([`value::max_name_len`]: never below 256 bytes), the others' as a value.
    fn update(&mut self, field: &Field, text: impl FnOnce(usize) -> String) -> bool {
        let name = field.name();
        if !name.starts_with("otel.") {
            return false;
        }
        let limit = if name == NAME {
            value::max_name_len()
        } else {
            value::max_attribute_len()
        };
        match name {
            NAME => self.updates.name = Some(Cow::Owned(text(limit))),
            KIND => self.updates.kind = span_kind(&text(limit)),
            STATUS_CODE => self.updates.ok = status_ok(&text(limit)),
            _ if STATUS_DESCRIPTIONS.contains(&name) => {
                self.updates.description = Some(text(limit))
            }
            _ => return false,
        }
        true
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, || Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, || Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, || unsigned(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, || wide(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, || wide(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, || Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "error" {
            self.push_error_text(field, || bounded_owned(value));
        } else if !self.update(field, |limit| value::bounded_text(value, limit)) {
            self.push(field, || bounded_str(value));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if let Some(attributes) = &mut self.attributes {
            self.errors += 1;
            let text = Value::from(crate::redact::error_text(display_text(value)));
            attributes.push(KeyValue::new(EXCEPTION_MESSAGE, text.clone()));
            attributes.push(KeyValue::new(key_prefix(field.name()), text));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "error" {
            self.push_error_text(field, || debug_text(value));
        } else if !self.update(field, |limit| value::debug_prefix(value, limit)) {
            self.push(field, || Value::from(debug_text(value)));
        }
    }
}

/// Reads an event's fields: `message` names it, an `error` names it `exception` when there is
/// no message, the others become its attributes.
pub(super) struct EventVisitor {
    pub(super) attributes: Vec<KeyValue>,
    pub(super) message: Option<String>,
    /// The text of an error value (`record_error`, or a field named `error`).
    pub(super) error: Option<String>,
}

impl EventVisitor {
    pub(super) fn new(capacity: usize) -> EventVisitor {
        EventVisitor {
            attributes: Vec::with_capacity(capacity),
            message: None,
            error: None,
        }
    }

    /// The event's name and attributes: its message; else `exception` when it carries an
    /// error; else `fallback` (the event's name in its metadata). An error's text is its
    /// `exception.message`, message or not.
    pub(super) fn finish(mut self, fallback: &'static str) -> (Cow<'static, str>, Vec<KeyValue>) {
        let name = match (self.message, self.error) {
            (Some(message), Some(error)) => {
                self.attributes
                    .push(KeyValue::new(EXCEPTION_MESSAGE, Value::from(error)));
                Cow::Owned(crate::redact::message(message))
            }
            (Some(message), None) => Cow::Owned(crate::redact::message(message)),
            (None, Some(error)) => {
                self.attributes
                    .push(KeyValue::new(EXCEPTION_MESSAGE, Value::from(error)));
                Cow::Borrowed("exception")
            }
            (None, None) => Cow::Borrowed(fallback),
        };
        (name, self.attributes)
    }

    fn push(&mut self, field: &Field, value: Value) {
        self.attributes
            .push(KeyValue::new(key_prefix(field.name()), value));
    }
}

impl Visit for EventVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, unsigned(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, wide(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, wide(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            // The event's name: read to be redacted, then cut as names are (not at the
            // attribute limit).
            "message" => self.message = Some(value::message_text(value)),
            "error" => self.error = Some(crate::redact::error_text(bounded_owned(value))),
            _ => self.push(field, bounded_str(value)),
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let text = crate::redact::error_text(display_text(value));
        if field.name() == "error" {
            self.error = Some(text);
        } else {
            self.push(field, Value::from(text));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            // `format_args!`'s `Debug` is the formatted text, without quotes; the event's
            // name, cut as names are.
            "message" => self.message = Some(value::message_debug(value)),
            "error" => self.error = Some(crate::redact::error_text(debug_text(value))),
            _ => self.push(field, Value::from(debug_text(value))),
        }
    }
}

/// `value` cut to the attribute size limit, as an owned string.
fn bounded_owned(value: &str) -> String {
    value::bounded_text(value, value::max_attribute_len())
}

/// An unsigned value: an int when it fits OpenTelemetry's `i64`, else its decimal text.
fn unsigned(value: u64) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

/// A 128-bit value: an int when it fits `i64`, else its decimal text.
fn wide<T: TryInto<i64> + ToString + Copy>(value: T) -> Value {
    value
        .try_into()
        .map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

/// `otel.kind`'s text as a span kind (case-insensitive); `None` for anything else.
fn span_kind(text: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

/// `otel.status_code`'s text: `Some(true)` for `ok`, `Some(false)` for `error`
/// (case-insensitive); `None` (status left as it is) for anything else.
fn status_ok(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("ok") {
        Some(true)
    } else if text.eq_ignore_ascii_case("error") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_status_codes_are_read_in_any_case() {
        assert_eq!(span_kind("SERVER"), Some(SpanKind::Server));
        assert_eq!(span_kind("Consumer"), Some(SpanKind::Consumer));
        assert_eq!(span_kind("rpc"), None);
        assert_eq!(status_ok("OK"), Some(true));
        assert_eq!(status_ok("Error"), Some(false));
        assert_eq!(status_ok("unset"), None);
    }

    #[test]
    fn integers_beyond_i64_become_their_decimal_text() {
        assert_eq!(unsigned(7), Value::I64(7));
        assert_eq!(unsigned(u64::MAX), Value::from(u64::MAX.to_string()));
        assert_eq!(wide(-3i128), Value::I64(-3));
        assert_eq!(wide(u128::MAX), Value::from(u128::MAX.to_string()));
    }
}
