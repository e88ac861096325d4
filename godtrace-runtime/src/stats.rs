//! Counters of the export pipeline, read through [`stats`].
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};

/// Holds spans not counted yet (the export's per-thread buffers, which also count the spans
/// they refuse): counts them when asked.
pub(crate) trait Pending: Send + Sync {
    /// Counts every span handed over so far in [`Counters::queued`], or in
    /// [`Counters::dropped`] when it was refused.
    fn publish(&self);
}

/// The process's export counters. Only the batch processor of the one installed provider
/// writes them.
pub(crate) static COUNTERS: Counters = Counters::new();

/// Atomic counters behind [`Stats`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Of `dropped`, the spans that ended after shutdown had begun (their lane closed, or
    /// none made): reported apart, since a larger queue would not have kept them.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code, reason = "only the exporters count")
    )]
    pub(crate) dropped_at_shutdown: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) failed_spans: AtomicU64,
    pub(crate) exports: AtomicU64,
    pub(crate) failed_exports: AtomicU64,
    pub(crate) queue_len: AtomicU64,
    /// The batch processor's buffers, published before each snapshot so that the counts
    /// include every span recorded before it.
    pub(crate) pending: Mutex<Option<Weak<dyn Pending>>>,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Counters {
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_at_shutdown: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failed_spans: AtomicU64::new(0),
            exports: AtomicU64::new(0),
            failed_exports: AtomicU64::new(0),
            queue_len: AtomicU64::new(0),
            pending: Mutex::new(None),
        }
    }

    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code, reason = "only the exporters count")
    )]
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a span refused because shutdown had begun: in `dropped_at_shutdown` first, so
    /// that a reader of `dropped` then `dropped_at_shutdown` finds each such span it counted
    /// among those (see the export thread's report).
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code, reason = "only the exporters count")
    )]
    pub(crate) fn count_shutdown_drop(&self) {
        self.dropped_at_shutdown.fetch_add(1, Ordering::Relaxed);
        self.dropped.fetch_add(1, Ordering::Release);
    }

    /// The counts now, with every span the batch processor's buffers hold or dropped.
    /// In a forked child, the counts at the fork: the buffers' locks may have been held by
    /// a parent's thread, which the child has not (the child records nothing anyway).
    pub(crate) fn snapshot(&self) -> Stats {
        if !crate::span::switches::in_forked_child() {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(pending) = pending.as_ref().and_then(Weak::upgrade) {
                pending.publish();
            }
        }
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            spans_queued: get(&self.queued),
            spans_dropped: get(&self.dropped),
            spans_exported: get(&self.exported),
            spans_failed: get(&self.failed_spans),
            exports: get(&self.exports),
            failed_exports: get(&self.failed_exports),
            queue_len: get(&self.queue_len),
            contexts_rejected: crate::propagation::contexts_rejected(),
            baggage_rejected: crate::propagation::baggage_rejected(),
        }
    }
}

/// A snapshot of the OTLP export pipeline since `init`, and of rejected incoming contexts,
/// from [`stats`].
///
/// Every finished, sampled span is either accepted into the export queue (`spans_queued`) or
/// dropped because the queue was full or shutting down (`spans_dropped`: a span that ends
/// while or after the guard is dropped is counted there too). A queued span is later either
/// delivered (`spans_exported`) or lost with a failed export, rejected by the backend, or at a
/// shutdown that ran out of time (`spans_failed`).
///
/// The span counts are those of the export queue, which an OTLP exporter, an exporter of your
/// own (`Config::span_exporter`) or the local tree feeds. With the local tree alone (no
/// exporter), its spans are counted alike: queued, then exported once handed to the tree
/// (each batch one of `exports`). Built without the OTLP features, the tree prints from a
/// thread of its own, and only the spans it had no room for are counted, as dropped. With none
/// of them (`OTEL_TRACES_EXPORTER=none`, or `testing::capture` without `init`), nothing is
/// queued and the span counts stay zero. The propagation counts are kept either way.
///
/// A traced call made while its thread exits, from a thread-local destructor that runs after
/// OpenTelemetry's context on that thread is gone, runs untraced: its span is neither recorded
/// nor counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans accepted into the export queue.
    pub spans_queued: u64,
    /// Spans dropped because the export queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`), or ended
    /// once shutdown had started.
    pub spans_dropped: u64,
    /// Spans the backend accepted.
    pub spans_exported: u64,
    /// Queued spans that were not delivered: their export failed or timed out, shutdown ran
    /// out of time before sending them, or the backend rejected them (an OTLP partial
    /// success, whose reason is reported on stderr with the failures).
    pub spans_failed: u64,
    /// Export requests that succeeded.
    pub exports: u64,
    /// Export requests that failed or timed out.
    pub failed_exports: u64,
    /// Spans waiting in the queue to be taken for export: those the recording threads have
    /// handed over, as the export thread last counted them (at least once a second while it
    /// runs). Spans taken and being encoded or sent are not among them.
    pub queue_len: u64,
    /// Incoming trace contexts rejected, wholly or in part, as malformed or hostile since the
    /// process started: a bad `traceparent` starts a new root trace, a bad `tracestate` is
    /// dropped while the trace continues. See [`crate::propagation`].
    pub contexts_rejected: u64,
    /// Incoming baggage dropped, wholly (too long, or not text) or in part (entries past the
    /// 64th), since the process started; counted once per request. Malformed entries are
    /// skipped without being counted. See [`crate::propagation`]. Both propagation counts are
    /// kept with or without an exporter.
    pub baggage_rejected: u64,
}

/// The export counters now; see [`Stats`].
///
/// ```
/// let stats = godtrace_runtime::stats();
/// assert!(stats.spans_exported <= stats.spans_queued);
/// ```
pub fn stats() -> Stats {
    COUNTERS.snapshot()
}
