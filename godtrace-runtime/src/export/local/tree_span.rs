//! What the tree shows of a span, taken out of its record (or `SpanData`) so that the record
//! can go on to an exporter, or back to its thread, while its trace waits to be printed.
use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, SpanId, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::borrow::Cow;
use std::time::SystemTime;

/// The attribute a future's span carries when it was dropped before completing.
const CANCELLED: &str = "godtrace.cancelled";

/// One span of a tree: its place in the trace, its line, and (verbose) its details.
#[derive(Debug, Clone)]
pub(crate) struct TreeSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// No parent, or a parent in another process: its trace is complete here once it ends.
    pub(crate) is_local_root: bool,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    /// The description of an error status, or its `error.type` when it has none.
    pub(crate) error: Option<Cow<'static, str>>,
    pub(crate) cancelled: bool,
    /// Verbose only: the attributes but `code.*` (the call site is in the name already).
    pub(crate) attributes: Vec<KeyValue>,
    /// Verbose only: the names of its events.
    pub(crate) events: Vec<Cow<'static, str>>,
}

/// The parts of a span the tree reads, however the span is held.
pub(crate) struct SpanParts<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) status: &'a Status,
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) events: &'a [Event],
}

/// The span's `error.type` (empty when it has none), for an error without a description.
fn error_type(attributes: &[KeyValue]) -> Cow<'static, str> {
    attributes
        .iter()
        .rev() // the last value set wins, as in the exported span
        .find(|kv| kv.key.as_str() == "error.type")
        .map_or(Cow::Borrowed(""), |kv| {
            Cow::Owned(kv.value.as_str().into_owned())
        })
}

impl TreeSpan {
    /// What the tree needs of `parts`; the attributes and events only when `verbose`.
    pub(crate) fn of(parts: SpanParts<'_>, verbose: bool) -> TreeSpan {
        let error = match parts.status {
            // The framework layers leave the description empty when it would only repeat
            // `error.type` (as the conventions advise): the line shows that instead.
            Status::Error { description } if description.is_empty() => {
                Some(error_type(parts.attributes))
            }
            Status::Error { description } => Some(description.clone()),
            _ => None,
        };
        let cancelled = parts
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == CANCELLED);
        let (attributes, events) = if verbose {
            let shown = parts
                .attributes
                .iter()
                .filter(|kv| !kv.key.as_str().starts_with("code."));
            let events = parts.events.iter().map(|e| e.name.clone());
            (shown.cloned().collect(), events.collect())
        } else {
            (Vec::new(), Vec::new())
        };
        TreeSpan {
            trace_id: parts.trace_id,
            span_id: parts.span_id,
            parent_span_id: parts.parent_span_id,
            is_local_root: parts.parent_span_id == SpanId::INVALID || parts.parent_is_remote,
            name: parts.name,
            start: parts.start,
            end: parts.end,
            error,
            cancelled,
            attributes,
            events,
        }
    }

    /// What the tree needs of a span as the SDK hands it over.
    pub(crate) fn of_span_data(span: &SpanData, verbose: bool) -> TreeSpan {
        TreeSpan::of(
            SpanParts {
                trace_id: span.span_context.trace_id(),
                span_id: span.span_context.span_id(),
                parent_span_id: span.parent_span_id,
                parent_is_remote: span.parent_span_is_remote,
                name: span.name.clone(),
                start: span.start_time,
                end: span.end_time,
                status: &span.status,
                attributes: &span.attributes,
                events: &span.events.events,
            },
            verbose,
        )
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl TreeSpan {
    /// What the tree needs of one of godtrace's own records, read in place (the record goes on
    /// to the exporter, if any, untouched).
    pub(crate) fn of_record(span: crate::span::Recorded<'_>, verbose: bool) -> TreeSpan {
        let name = match span.name {
            crate::span::Name::Site(site) => Cow::Borrowed(site.name()),
            crate::span::Name::Given(name, _) => name.clone(),
        };
        let (start, end) = crate::span::clock::wall_span(span.start, span.end);
        TreeSpan::of(
            SpanParts {
                trace_id: span.span_context.trace_id(),
                span_id: span.span_context.span_id(),
                parent_span_id: span.parent_span_id,
                parent_is_remote: span.parent_is_remote,
                name,
                start,
                end,
                status: span.status,
                attributes: span.attributes,
                events: span.events,
            },
            verbose,
        )
    }
}
