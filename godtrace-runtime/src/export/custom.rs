//! An exporter of the user's own ([`crate::Config::span_exporter`]), run on the same bounded
//! queue and export thread as OTLP.
//!
//! OpenTelemetry's `SpanExporter` returns `impl Future`, so it cannot be boxed as it is: the
//! user's exporter is wrapped here in an object-safe twin, whose futures are boxed (one
//! allocation per exported batch, on the export thread).
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
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

/// The most of a panic's message shown: enough to tell which `panic!` it was, never a
/// payload of any size.
const MAX_PANIC_MESSAGE: usize = 200;

/// Runs `start` (a `SpanExporter::export` call) and drives the future it returns, both with
/// a panic caught: a user's exporter that panics fails its batch, with the panic's message,
/// and leaves the export thread to send the next ones.
pub(crate) async fn caught<F: Future>(start: impl FnOnce() -> F) -> Result<F::Output, String> {
    let future = panic::catch_unwind(AssertUnwindSafe(start)).map_err(|p| panicked(&*p))?;
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panicked(&*payload))),
        }
    })
    .await
}

/// What a panic of the exporter says, for the failure it becomes: its message (a `&str` or
/// `String` payload), cut to [`MAX_PANIC_MESSAGE`] bytes on a character boundary.
pub(crate) fn panicked(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let mut end = message.len().min(MAX_PANIC_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < message.len() { "…" } else { "" };
    format!("the span exporter panicked: {}{cut}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_starting_or_polling_is_an_error_with_its_message() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let started = runtime.block_on(caught(|| -> std::future::Ready<()> { panic!("at start") }));
        assert_eq!(started.unwrap_err(), "the span exporter panicked: at start");
        let polled = runtime.block_on(caught(|| async {
            tokio::task::yield_now().await;
            panic!("{}", "x".repeat(1000));
        }));
        let polled: Result<(), String> = polled;
        let message = polled.unwrap_err();
        assert!(message.ends_with('…'), "{message}");
        assert!(message.len() < 300, "{message}");
        assert_eq!(runtime.block_on(caught(|| async { 7 })), Ok(7));
    }
}
