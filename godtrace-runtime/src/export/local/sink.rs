//! The local tree in a build without an export thread (no OTLP feature): the spans reach it as
//! `SpanData` on the thread that ends them, and a trace prints there when its root ends. Memory
//! is bounded as with the export thread; the work and the stderr write are the caller's.
use super::printer::TreePrinter;
use super::tree_span::TreeSpan;
use crate::span::sink::Sink;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use std::io::Stderr;
use std::sync::Mutex;
use std::time::Duration;

/// Prints each finished trace to stderr.
#[derive(Debug)]
pub(crate) struct TreeSink {
    printer: Mutex<TreePrinter<Stderr>>,
}

impl TreeSink {
    /// With attributes and events when `verbose`.
    pub(crate) fn new(verbose: bool) -> Self {
        TreeSink {
            printer: Mutex::new(TreePrinter::new(verbose, std::io::stderr())),
        }
    }
}

impl Sink for TreeSink {
    fn on_end(&self, span: SpanData) {
        let mut printer = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        let span = TreeSpan::of_span_data(&span, printer.verbose());
        printer.take_batch(std::iter::once(span));
    }

    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        let mut printer = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        printer.print_all();
        Ok(())
    }
}
