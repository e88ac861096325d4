//! The one span processor every provider gets: the test capture looks at each finished span
//! by reference, then the exporters take it. With several processors the SDK would clone every
//! span for each of them (`SpanData::clone`, about a third of a sampled span's cost).
use crate::testing::CaptureRouter;
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Fanout {
    /// Processors that keep the span (tree printer, batch exporter); the last one is handed
    /// the original, the others a copy.
    owners: Vec<Box<dyn SpanProcessor>>,
}

impl Fanout {
    pub(crate) fn new(owners: Vec<Box<dyn SpanProcessor>>) -> Self {
        Fanout { owners }
    }
}

impl SpanProcessor for Fanout {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        CaptureRouter.on_start(span, cx);
        for owner in &self.owners {
            owner.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        CaptureRouter::offer(&span);
        if let Some((last, rest)) = self.owners.split_last() {
            for owner in rest {
                owner.on_end(span.clone());
            }
            last.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        every(&self.owners, |o| o.force_flush())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        every(&self.owners, |o| o.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        for owner in &mut self.owners {
            owner.set_resource(resource);
        }
    }
}

/// Runs `f` on every owner (one failing does not spare the others) and returns the first error.
fn every(
    owners: &[Box<dyn SpanProcessor>],
    f: impl Fn(&dyn SpanProcessor) -> OTelSdkResult,
) -> OTelSdkResult {
    let mut first = Ok(());
    for owner in owners {
        let result = f(owner.as_ref());
        if first.is_ok() {
            first = result;
        }
    }
    first
}
