//! An exporter of the user's own ([`crate::Config::span_exporter`]), run on the same bounded
//! queue and export thread as OTLP.
//!
//! OpenTelemetry's `SpanExporter` returns `impl Future`, so it cannot be boxed as it is: the
//! user's exporter is wrapped here in an object-safe twin, whose futures are boxed (one
//! allocation per exported batch, on the export thread).
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The future of one export.
type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// `SpanExporter` with a boxed future: object safe.
trait DynSpanExporter: Send + Sync + fmt::Debug {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    fn force_flush(&self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter> DynSpanExporter for E {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(SpanExporter::export(self, batch))
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        SpanExporter::force_flush(self)
    }
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// Any `SpanExporter`, boxed.
#[derive(Debug)]
pub(crate) struct BoxedSpanExporter(Box<dyn DynSpanExporter>);

impl BoxedSpanExporter {
    pub(crate) fn new(exporter: impl SpanExporter + 'static) -> Self {
        BoxedSpanExporter(Box::new(exporter))
    }
}

impl SpanExporter for BoxedSpanExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.0.export_boxed(batch)
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// The exporter a `Config` was given, shared by its clones: the `init` that uses one of them
/// takes it.
#[derive(Clone)]
pub(crate) struct ExporterSlot(Arc<Mutex<Option<BoxedSpanExporter>>>);

impl ExporterSlot {
    pub(crate) fn new(exporter: impl SpanExporter + 'static) -> Self {
        ExporterSlot(Arc::new(Mutex::new(Some(BoxedSpanExporter::new(exporter)))))
    }

    /// The exporter, unless an earlier `init` took it.
    pub(crate) fn take(&self) -> Option<BoxedSpanExporter> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl fmt::Debug for ExporterSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExporterSlot")
    }
}
