//! The SDK's view of the installed sink pipeline, for spans other OpenTelemetry code starts
//! through the provider: its one span processor (with several, the SDK would clone every span
//! for each of them).
use crate::span::sink::Pipeline;
use opentelemetry::Context;
use opentelemetry::trace::{Span as _, TraceContextExt as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
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

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown(timeout)
    }
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
