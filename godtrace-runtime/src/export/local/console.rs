//! The local tree on the export thread: an [`Exporter`] that takes what the tree needs out of
//! each batch's records before handing the batch to the exporter it wraps (OTLP, the user's
//! own, or [`NoExporter`] when the tree is all there is). The application's threads only queue
//! their records, as they do for OTLP: no `SpanData`, lock, rendering or stderr write there.
use super::printer::TreePrinter;
use super::tree_span::TreeSpan;
use crate::config::{BatchSettings, Settings};
use crate::export::lanes::Queued;
use crate::export::worker::{Accepted, Exporter, ShutdownBegun};
use crate::span::Live;
use opentelemetry_sdk::Resource;
use std::cell::RefCell;
use std::future::Future;
use std::io::Stderr;
use std::time::Duration;

/// How long spans wait in the queue at most before their trees print, when the queue feeds the
/// console only and no schedule delay is configured: an interactive program shows a trace
/// about when it ends, not after OTLP's 5 s. An idle export thread then wakes ten times a second.
pub(crate) const CONSOLE_SCHEDULE_DELAY: Duration = Duration::from_millis(100);

/// The batch settings of a queue that feeds the local tree only: a tree shows shortly after
/// its trace ends unless a schedule delay was configured.
pub(crate) fn batch_settings(settings: &Settings) -> BatchSettings {
    let mut batch = settings.batch;
    if !settings.schedule_delay_given {
        batch.schedule_delay = CONSOLE_SCHEDULE_DELAY;
    }
    batch
}

/// `inner`, with each batch's spans also printed as trees to stderr.
pub(crate) struct WithTree<E> {
    /// Used by the export thread only, between sends.
    printer: RefCell<TreePrinter<Stderr>>,
    /// Whether the tree shows attributes and events, which are then taken from the records.
    verbose: bool,
    inner: E,
}

impl<E: Exporter> WithTree<E> {
    /// `inner`, printing trees too; with attributes and events when `verbose`.
    pub(crate) fn around(inner: E, verbose: bool) -> Self {
        WithTree {
            printer: RefCell::new(TreePrinter::new(verbose, std::io::stderr())),
            verbose,
            inner,
        }
    }
}

impl<E: Exporter> Exporter for WithTree<E> {
    const IN_FLIGHT: usize = E::IN_FLIGHT;
    const PREPARE_AHEAD: bool = E::PREPARE_AHEAD;
    type Request = E::Request;

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }

    /// Prints the trees the batch completes, then lets the inner exporter prepare it.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) -> E::Request {
        let verbose = self.verbose;
        let spans = batch.iter_mut().map(|span| tree_span(span, verbose));
        self.printer.borrow_mut().take_batch(spans);
        self.inner.prepare(batch, emptied)
    }

    fn send(
        &self,
        request: E::Request,
        closing: ShutdownBegun,
    ) -> impl Future<Output = Result<Accepted, String>> + '_ {
        self.inner.send(request, closing)
    }

    fn pace(&self) -> super::super::worker::Pace {
        self.inner.pace()
    }

    /// Prints what was held for its root too long, or at a flush everything held (a root
    /// still running shows its children as they stand; its later spans make a continued tree).
    fn between_batches(&self, flushed: bool) {
        let mut printer = self.printer.borrow_mut();
        if flushed {
            printer.print_all();
        } else {
            printer.print_held_since(std::time::Instant::now());
        }
        drop(printer);
        self.inner.between_batches(flushed);
    }

    /// Prints what is left, complete or not, then shuts the inner exporter down.
    fn shutdown(&mut self, timeout: Duration) {
        self.printer.get_mut().print_all();
        self.inner.shutdown(timeout);
    }
}

/// What the tree needs of a queued span.
fn tree_span(span: &mut Queued, verbose: bool) -> TreeSpan {
    match span {
        Queued::Own(own) => TreeSpan::of_record(own.recorded(), verbose),
        Queued::Sdk(data) => TreeSpan::of_span_data(data, verbose),
    }
}

/// The exporter behind the tree when spans go nowhere else: each batch's records go back to
/// their threads once the tree has read them.
pub(crate) struct NoExporter;

impl Exporter for NoExporter {
    const IN_FLIGHT: usize = 1;
    type Request = ();

    fn set_resource(&mut self, _resource: &Resource) {}

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) {
        for span in batch.drain(..) {
            if let Queued::Own(span) = span {
                emptied.push(span.into_live());
            }
        }
    }

    async fn send(&self, (): (), _closing: ShutdownBegun) -> Result<Accepted, String> {
        Ok(Accepted::All)
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}
