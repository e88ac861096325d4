//! A finished span as a test sees it: plain data, converted from the SDK's `SpanData`.
use opentelemetry::Value;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::time::Duration;

/// One finished span, as a test sees it.
#[derive(Clone, Debug)]
pub struct FinishedSpan {
    /// The span name.
    pub name: String,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent's id; `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// Its kind (`Internal` unless `kind = ..` or [`SpanBuilder::kind`](crate::SpanBuilder::kind) said otherwise).
    pub kind: SpanKind,
    /// Attributes, in the order they were set.
    pub attributes: Vec<(String, Value)>,
    /// Unset, Ok, or Error with a description.
    pub status: Status,
    /// Events, in the order they were added.
    pub events: Vec<FinishedEvent>,
    /// The span contexts it links to (`SpanGuard::follows_from`), in the order they were added.
    pub links: Vec<SpanContext>,
    /// How many links were dropped over the span link count limit.
    pub dropped_links: u32,
    /// How long the span lasted.
    pub duration: Duration,
}

/// One event of a [`FinishedSpan`].
#[derive(Clone, Debug)]
pub struct FinishedEvent {
    /// The event name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<(String, Value)>,
}

impl FinishedSpan {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// Whether the span ended with status Error.
    pub fn is_error(&self) -> bool {
        matches!(self.status, Status::Error { .. })
    }

    /// The Error status description, if the span failed.
    pub fn error_message(&self) -> Option<&str> {
        match &self.status {
            Status::Error { description } => Some(description),
            _ => None,
        }
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&FinishedEvent> {
        self.events.iter().find(|e| e.name == name)
    }
}

impl FinishedEvent {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }
}

fn find<'a>(attrs: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl From<&SpanData> for FinishedSpan {
    fn from(data: &SpanData) -> Self {
        let kv = |attrs: &[opentelemetry::KeyValue]| {
            attrs
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.clone()))
                .collect()
        };
        FinishedSpan {
            name: data.name.to_string(),
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent_span_id: (data.parent_span_id != SpanId::INVALID).then_some(data.parent_span_id),
            kind: data.span_kind.clone(),
            attributes: kv(&data.attributes),
            status: data.status.clone(),
            events: data
                .events
                .iter()
                .map(|e| FinishedEvent {
                    name: e.name.to_string(),
                    attributes: kv(&e.attributes),
                })
                .collect(),
            links: data.links.iter().map(|l| l.span_context.clone()).collect(),
            dropped_links: data.links.dropped_count,
            duration: data
                .end_time
                .duration_since(data.start_time)
                .unwrap_or_default(),
        }
    }
}
