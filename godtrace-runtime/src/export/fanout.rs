//! Where every finished span goes: the test capture looks at it by reference, the tree printer
//! keeps a copy, the batch queue takes it.
//!
//! godtrace's own spans arrive here as [`Finished`] records. When only the batch queue wants
//! them, they go into it as they are, and the export thread builds their `SpanData`; the
//! application's thread then allocates nothing. Spans from other OpenTelemetry code come
//! through the SDK as `SpanData`, through [`SdkProcessor`]; it is the provider's one span
//! processor (with several, the SDK would clone every span for each of them).
use crate::span::clock::Tick;
use crate::span::{Finished, Live, LiveBox};
use crate::testing::CaptureRouter;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::sync::Arc;
use std::time::Duration;

/// The batch queue to the export thread (a concrete type, so that queuing a record is
/// inlined into the end of a span).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) type Queue = super::batch::BatchProcessor;

/// No exporter is built in: there is never a queue.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
#[derive(Debug)]
pub(crate) enum Queue {}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl Queue {
    fn accepts(&self) -> bool {
        match *self {}
    }
    fn push_own(&self, _span: Finished) {
        match *self {}
    }
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        match *self {}
    }
    fn on_end(&self, _span: SpanData) {
        match *self {}
    }
    fn force_flush(&self) -> OTelSdkResult {
        match *self {}
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        match *self {}
    }
}

#[derive(Debug, Default)]
pub(crate) struct Fanout {
    /// The tree printer, when spans are printed locally.
    local: Option<super::local::TreePrinter>,
    /// The batch exporter, when spans are exported.
    queue: Option<Queue>,
}

impl Fanout {
    pub(crate) fn new(local: Option<super::local::TreePrinter>, queue: Option<Queue>) -> Self {
        Fanout { local, queue }
    }

    /// A finished span of godtrace's own: queued as it is when only the queue wants it
    /// (or, when the queue is full, counted dropped and left in `live`); turned into
    /// `SpanData` here when the tree printer or a capture wants it too.
    #[inline]
    pub(crate) fn on_own_end(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
        if self.local.is_none() && !CaptureRouter::is_active() {
            if let Some(queue) = &self.queue
                && queue.accepts()
                && let Some(live) = live.take()
            {
                queue.push_own(live.finish(start, end));
            }
            return;
        }
        if let Some(live) = live.take() {
            self.on_own_end_slow(live.finish(start, end));
        }
    }

    #[cold]
    fn on_own_end_slow(&self, span: Finished) {
        let (data, emptied) = span.into_span_data();
        Live::recycle(emptied);
        self.on_span_data(data);
    }

    fn on_span_data(&self, span: SpanData) {
        CaptureRouter::offer(&span);
        match (&self.local, &self.queue) {
            (Some(local), Some(queue)) => {
                local.on_end(span.clone());
                queue.on_end(span);
            }
            (Some(local), None) => local.on_end(span),
            (None, Some(queue)) => queue.on_end(span),
            (None, None) => {}
        }
    }

    fn owners(&self) -> impl Iterator<Item = &dyn SpanProcessor> {
        let local = self.local.as_ref().map(|l| l as &dyn SpanProcessor);
        let queue = self.queue.as_ref().map(|q| q as &dyn SpanProcessor);
        local.into_iter().chain(queue)
    }

    pub(crate) fn force_flush(&self) -> OTelSdkResult {
        every(self.owners(), |o| o.force_flush())
    }

    pub(crate) fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        every(self.owners(), |o| o.shutdown_with_timeout(timeout))
    }
}

/// The SDK's view of the [`Fanout`], for spans other OpenTelemetry code starts through the
/// provider.
#[derive(Debug)]
pub(crate) struct SdkProcessor(pub(crate) Arc<Fanout>);

impl SpanProcessor for SdkProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        CaptureRouter.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_span_data(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// Runs `f` on every owner (one failing does not spare the others) and returns the first error.
fn every<'a>(
    owners: impl Iterator<Item = &'a dyn SpanProcessor>,
    f: impl Fn(&dyn SpanProcessor) -> OTelSdkResult,
) -> OTelSdkResult {
    let mut first = Ok(());
    for owner in owners {
        let result = f(owner);
        if first.is_ok() {
            first = result;
        }
    }
    first
}
