//! What is recorded on a traced call's span while it runs: attributes, events, links, status,
//! and the call's failure (its error or panic), which the duration histogram also reads.
use super::{OpSpan, PANIC_ERROR_TYPE};
use opentelemetry::trace::{SpanContext, Status};
use opentelemetry::{KeyValue, Value};
use std::any::Any;
use std::borrow::Cow;

impl OpSpan {
    /// Whether anything recorded on this span will be kept (tracing on and sampled in).
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.live.is_some()
    }

    /// The span's ids while it records (a metric's exemplar): `None` when sampled out.
    #[cfg(any(
        feature = "tower",
        feature = "reqwest",
        feature = "sqlx",
        feature = "redis"
    ))]
    pub(crate) fn recording_span_context(&self) -> Option<&SpanContext> {
        self.live.as_ref().map(|live| &live.span_context)
    }

    /// Sets attribute `key` to `value`.
    #[inline]
    pub fn record(&self, key: &'static str, value: Value) {
        self.record_owned(KeyValue::new(key, value));
    }

    pub(crate) fn record_owned(&self, attribute: KeyValue) {
        if let Some(live) = &self.live {
            live.set_attribute(attribute);
        }
    }

    /// Sets `error.type` to `error_type` if the span is failed and has none.
    #[cfg(feature = "tracing")]
    pub(crate) fn type_failure(&self, error_type: &'static str) {
        if let Some(live) = &self.live
            && live.is_failed()
        {
            live.set_attribute_if_absent(KeyValue::new("error.type", error_type));
        }
    }

    /// Sets `attribute` unless its key is set already (see `Live::set_attribute_if_absent`).
    pub(crate) fn record_owned_if_absent(&self, attribute: KeyValue) {
        if let Some(live) = &self.live {
            live.set_attribute_if_absent(attribute);
        }
    }

    pub(crate) fn add_event(&self, name: Cow<'static, str>, attrs: crate::value::EventAttributes) {
        if let Some(live) = &self.live {
            live.add_event(name, attrs);
        }
    }

    /// Links this span to `span_context` (see `Live::add_link`).
    pub(crate) fn add_link(&self, span_context: SpanContext) {
        if let Some(live) = &self.live {
            live.add_link(span_context);
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        if let Some(live) = &self.live {
            live.set_status(status);
        }
    }

    /// Sets a span's first attributes, just after it started: `fill` pushes them into the
    /// record's own list (a reused record's, with its capacity: nothing is allocated for them
    /// in the steady state; see `Live::record_start_attributes`, which also runs the caller's
    /// code safely) and returns how many it left out, counted dropped. `capacity`: how many it
    /// is likely to push.
    #[cfg(any(feature = "tracing", feature = "tower", feature = "reqwest"))]
    #[inline(always)]
    pub(crate) fn record_first_attributes(
        &self,
        capacity: usize,
        fill: impl FnOnce(&mut Vec<KeyValue>) -> usize,
    ) {
        if let Some(live) = &self.live {
            live.fill_start_attributes(capacity, fill);
        }
    }

    /// See `Live::rename`.
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    pub(crate) fn rename(
        &self,
        name: Option<Cow<'static, str>>,
        kind: Option<opentelemetry::trace::SpanKind>,
    ) {
        if let Some(live) = &self.live {
            live.rename(name, kind);
        }
    }

    /// Ends the span with status Error: `description()` (called only when the span is
    /// recording), and `error.type` = `error_type` (cut as the histogram's is, when long).
    pub fn record_error(&self, error_type: &'static str, description: impl FnOnce() -> String) {
        let error_type = crate::record::error_type::joinable(error_type);
        self.error_type.set(Some(error_type));
        let Some(live) = &self.live else { return };
        live.set_attribute(KeyValue::new("error.type", error_type));
        live.set_status(Status::error(description()));
    }

    /// Records a panic of the call: `error.type` `panic` (for the histogram too), and on a
    /// recording span the status and an `exception` event with the payload's message.
    pub(crate) fn record_panic(&self, payload: &(dyn Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        self.record_failure_by_panic(message, true);
    }

    /// Marks the span failed by a panic whose payload cannot be read here (the unwind goes
    /// on through a guard's or a future's drop): its `exception` event has the type alone,
    /// so that no text of ours passes for the panic's message; `whereabouts` is the status
    /// description.
    pub(crate) fn record_unread_panic(&self, whereabouts: &'static str) {
        self.record_failure_by_panic(whereabouts, false);
    }

    /// Marks the span failed by a panic: `description` is the status description, and the
    /// `exception` event's message when it `is_the_message` (the payload's own text).
    fn record_failure_by_panic(&self, description: &str, is_the_message: bool) {
        // The same value as the duration histogram's label (cut alike under a tiny limit), so
        // that a dashboard joins them.
        let error_type = crate::record::error_type::joinable(PANIC_ERROR_TYPE);
        self.error_type.set(Some(error_type));
        let Some(live) = &self.live else { return };
        live.set_attribute(KeyValue::new("error.type", error_type));
        // A panic's message is the user's text, as an error's is (see `set_status`).
        let limit = crate::value::max_attribute_len();
        let description = crate::redact::error_text_within(description, limit);
        let description = opentelemetry::Value::from(description);
        let mut attributes = vec![KeyValue::new("exception.type", PANIC_ERROR_TYPE)];
        if is_the_message {
            attributes.push(KeyValue::new("exception.message", description.clone()));
        }
        live.add_event("exception".into(), attributes);
        live.set_status(Status::error(description.as_str().into_owned()));
    }
}
