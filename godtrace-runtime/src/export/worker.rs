//! The export thread: owns a current-thread tokio runtime and the exporter, takes batches from
//! the queue by size, by delay, for a flush or at shutdown, and sends them one at a time.
//!
//! Everything the transport does (connections, retries, its own logging) runs on this thread,
//! inside a telemetry-suppressed context, so it never records spans of its own and never waits
//! on the application's runtime.
use super::batch::{Queued, Shared};
use crate::config::{deadline_after, url};
use crate::span::Live;
use crate::stats::Counters;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// An exporter the export thread can drive: the OTLP exporter, which encodes the queued
/// records itself, or any `SpanExporter` (the user's own), which gets them as `SpanData`.
pub(crate) trait Exporter: 'static {
    /// The resource of every span it exports.
    fn set_resource(&mut self, resource: &Resource);

    /// Exports `batch`, which it empties: the boxes of godtrace's own spans go into
    /// `emptied`, for reuse. An error says why the batch was not delivered.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn export_batch(
        &mut self,
        batch: &mut Vec<Queued>,
        emptied: &mut Vec<Box<Live>>,
    ) -> impl Future<Output = Result<(), String>>;

    /// Called once, after the last export.
    fn shutdown(&mut self, timeout: Duration);
}

impl<E: SpanExporter + 'static> Exporter for E {
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn export_batch(
        &mut self,
        batch: &mut Vec<Queued>,
        emptied: &mut Vec<Box<Live>>,
    ) -> impl Future<Output = Result<(), String>> {
        let spans: Vec<SpanData> = batch
            .drain(..)
            .map(|span| span.into_span_data(emptied))
            .collect();
        let export = SpanExporter::export(self, spans);
        async move { export.await.map_err(|e| e.to_string()) }
    }

    fn shutdown(&mut self, timeout: Duration) {
        let _ = self.shutdown_with_timeout(timeout);
    }
}

/// How often, at most, the thread reports dropped spans and failed exports on stderr.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// What the export thread needs besides the queue.
#[derive(Debug, Clone)]
pub(crate) struct ExportSetup {
    /// Bounds each export request (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub(crate) request_timeout: Duration,
    /// Where spans go, for messages (which show it, and errors quoting it, with any
    /// credentials in it redacted).
    pub(crate) destination: String,
    pub(crate) resource: Resource,
}

/// The thread's body. Reports on `ready` whether the exporter could be built.
pub(super) fn run<E: Exporter>(
    shared: Arc<Shared>,
    options: ExportSetup,
    make: impl FnOnce() -> Result<E, String>,
    ready: Sender<Result<(), String>>,
) {
    let build = || {
        make().map(|mut exporter| {
            exporter.set_resource(&options.resource);
            exporter
        })
    };
    let report = |result| {
        let _ = ready.send(result);
    };
    let Some(started) = crate::otlp::thread::start("godtrace-export-blocking", build, report)
    else {
        return;
    };
    let (runtime, mut exporter, _suppressed) =
        (started.runtime, started.client, started.suppressed);
    // Marks the thread exited however it ends, so flush and shutdown never wait on a dead one.
    let _exit = ExitGuard(&shared);
    let mut worker = ExportLoop {
        shared: &shared,
        counters: shared.counters,
        options: &options,
        drops: Reporter::default(),
        failures: Reporter::default(),
    };
    let deadline = worker.export_loop(&runtime, &mut exporter);
    let remaining = deadline.saturating_duration_since(Instant::now());
    exporter.shutdown(remaining);
    drop(exporter);
    // Blocking tasks (name resolution) are not waited for past the deadline.
    runtime.shutdown_timeout(remaining.min(Duration::from_millis(200)));
    worker.report(true);
}

/// Completes at the shutdown deadline; pending while there is none.
async fn shutdown_deadline(deadline: &mut tokio::sync::watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        if let Some(at) = current {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        if deadline.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

struct ExitGuard<'a>(&'a Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().exited = true;
        self.0.progress.notify_all();
    }
}

/// The export thread's loop state: what it reads from the queue and reports on stderr.
struct ExportLoop<'a> {
    shared: &'a Shared,
    counters: &'static Counters,
    options: &'a ExportSetup,
    drops: Reporter,
    failures: Reporter,
}

/// Rate-limits one kind of message: the first at once, then one summary per interval.
#[derive(Default)]
struct Reporter {
    reported: u64,
    last: Option<Instant>,
    last_error: String,
}

impl Reporter {
    /// The count since the last message, if a message is due.
    fn due(&mut self, total: u64, force: bool) -> Option<u64> {
        let now = Instant::now();
        let due = self.last.is_none_or(|at| now - at >= REPORT_INTERVAL) || force;
        if total > self.reported && due {
            let new = total - self.reported;
            self.reported = total;
            self.last = Some(now);
            Some(new)
        } else {
            None
        }
    }
}

impl ExportLoop<'_> {
    /// Exports until shutdown; returns the shutdown deadline.
    fn export_loop(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        exporter: &mut impl Exporter,
    ) -> Instant {
        let settings = self.shared.settings;
        let mut timer = deadline_after(settings.schedule_delay);
        // Reused from batch to batch: the export thread allocates nothing per span.
        let mut batch = Vec::with_capacity(settings.max_export_batch_size);
        let mut emptied = Vec::with_capacity(settings.max_export_batch_size);
        loop {
            let shutdown = self.take_batch(&mut timer, &mut batch);
            self.report(false);
            let taken = batch.len();
            if taken > 0 {
                self.export(runtime, exporter, &mut batch, &mut emptied, shutdown);
                // Whatever the exporter left (it failed before taking them) is dropped.
                for span in batch.drain(..) {
                    if let Queued::Own(span) = span {
                        emptied.push(span.into_live());
                    }
                }
                // The emptied boxes go back to the application's threads.
                crate::span::return_spares(&mut emptied);
            }
            let mut state = self.shared.lock();
            state.done += taken as u64;
            self.shared.progress.notify_all();
            if let Some(deadline) = state.shutdown_deadline
                && state.queue.is_empty()
            {
                return deadline;
            }
        }
    }

    /// Waits for a full batch, the timer, a flush or shutdown, and takes up to one batch into
    /// `batch`; returns the shutdown deadline, if shutdown has begun.
    fn take_batch(&self, timer: &mut Instant, batch: &mut Vec<Queued>) -> Option<Instant> {
        let settings = self.shared.settings;
        let mut state = self.shared.lock();
        loop {
            let now = Instant::now();
            let flush = state.flush_target > state.done;
            if state.shutdown_deadline.is_some()
                || flush
                || state.queue.len() >= settings.max_export_batch_size
                || now >= *timer
            {
                break;
            }
            state = self
                .shared
                .wake
                .wait_timeout(state, *timer - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let n = state.queue.len().min(settings.max_export_batch_size);
        batch.extend(state.queue.drain(..n));
        self.counters
            .queue_len
            .store(state.queue.len() as u64, Ordering::Relaxed);
        if state.queue.is_empty() {
            *timer = deadline_after(settings.schedule_delay);
        }
        state.shutdown_deadline
    }

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn export(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        exporter: &mut impl Exporter,
        batch: &mut Vec<Queued>,
        emptied: &mut Vec<Box<Live>>,
        shutdown: Option<Instant>,
    ) {
        let n = batch.len();
        let mut budget = self.options.request_timeout;
        if let Some(deadline) = shutdown {
            budget = budget.min(deadline.saturating_duration_since(Instant::now()));
        }
        let outcome = if budget.is_zero() {
            Err("shutdown ran out of time before sending them".to_owned())
        } else {
            let mut deadline = self.shared.deadline.subscribe();
            runtime.block_on(async {
                let send = tokio::time::timeout(budget, exporter.export_batch(batch, emptied));
                tokio::pin!(send);
                loop {
                    tokio::select! {
                        result = &mut send => break match result {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(e)) => Err(e),
                            Err(_) => Err(format!("no answer within {budget:?}")),
                        },
                        () = shutdown_deadline(&mut deadline) => {
                            break Err("shutdown ran out of time while sending them".to_owned());
                        }
                        // A slow backend does not hold back the report of dropped spans.
                        () = tokio::time::sleep(Duration::from_secs(1)) => self.report(false),
                    }
                }
            })
        };
        match outcome {
            Ok(()) => {
                Counters::add(&self.counters.exported, n);
                Counters::add(&self.counters.exports, 1);
            }
            Err(message) => {
                Counters::add(&self.counters.failed_spans, n);
                Counters::add(&self.counters.failed_exports, 1);
                // Transport errors quote the URL, credentials included.
                let message = crate::otlp::client::explain(&message);
                self.failures.last_error = url::scrub(&message, &self.options.destination);
            }
        }
    }

    /// Writes due summaries of dropped and undelivered spans to stderr.
    fn report(&mut self, force: bool) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        if let Some(new) = self.drops.due(dropped, force) {
            eprintln!(
                "godtrace: export queue full (max_queue_size {}): dropped {new} spans \
                 ({dropped} in all)",
                self.shared.settings.max_queue_size
            );
        }
        let failed = self.counters.failed_spans.load(Ordering::Relaxed);
        if let Some(new) = self.failures.due(failed, force) {
            eprintln!(
                "godtrace: could not export {new} spans to {} ({failed} in all): {}",
                url::redacted(&self.options.destination),
                self.failures.last_error
            );
        }
    }
}
