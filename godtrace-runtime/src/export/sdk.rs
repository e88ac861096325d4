//! The SDK's view of the installed sink pipeline, for spans other OpenTelemetry code starts
//! through the provider: its one span processor (with several, the SDK would clone every span
//! for each of them).
use crate::span::sink::Pipeline;
use opentelemetry::Context;
use opentelemetry::trace::Span as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::time::Duration;

/// Hands the spans of other OpenTelemetry code to the pipeline's sinks.
#[derive(Debug)]
pub(crate) struct SdkProcessor(pub(crate) &'static Pipeline);

impl SpanProcessor for SdkProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        self.0.on_start(span.span_context());
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
