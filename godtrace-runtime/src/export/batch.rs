//! Our batch span processor: a bounded queue on the application's side, one dedicated export
//! thread on the other (see [`super::worker`]).
//!
//! The application's threads append finished spans to their own lanes (see [`super::lanes`],
//! which also holds the queue state this processor and the export thread share)
//! and never take a lock another recording thread takes, nor wait for the network; a span
//! that finds the queue full is counted dropped. `force_flush` and
//! `shutdown` block the calling thread on a condition variable with a deadline, and nothing
//! they wait for runs on the caller's async runtime, so they cannot deadlock whatever runtime
//! (or none) the caller is on.
use super::lanes::{self, Budget, Handed, QueueState, Queued, Shared};
use super::worker::{self, Exporter};
use crate::InitError;
use crate::config::{BatchSettings, deadline_after};
use crate::span::clock::Tick;
use crate::span::sink::Sink;
use crate::span::{Finished, Live, LiveBox};
use crate::stats::{Counters, Pending};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The span processor that feeds the export thread.
#[derive(Debug)]
pub(crate) struct BatchProcessor {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The export thread's id: a flush or shutdown called there (from the user's
    /// `SpanExporter`) cannot wait for that thread.
    thread_id: std::thread::ThreadId,
}

impl BatchProcessor {
    /// Starts the export thread, which builds its exporter with `make` inside its own runtime,
    /// and returns once the exporter is built (or failed to build).
    pub(crate) fn start<E, F>(
        settings: BatchSettings,
        counters: &'static Counters,
        options: worker::ExportSetup,
        make: F,
    ) -> Result<Self, InitError>
    where
        E: Exporter,
        F: FnOnce() -> Result<E, String> + Send + 'static,
    {
        let shared = Arc::new_cyclic(|this| Shared {
            this: this.clone(),
            state: Mutex::new(QueueState::default()),
            wake: tokio::sync::Notify::new(),
            progress: Condvar::new(),
            settings,
            counters,
            budget: Budget::new(settings.max_queue_size, settings.max_export_batch_size),
            deadline: tokio::sync::watch::Sender::new(None),
        });
        let pending: Arc<dyn Pending> = shared.clone();
        *counters.pending.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::downgrade(&pending));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("godtrace-export".into())
            .spawn(move || worker::run(thread_shared, options, make, ready_tx))
            .map_err(|e| InitError::Exporter(format!("could not start the export thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(BatchProcessor {
                shared,
                thread_id: thread.thread().id(),
                thread: Mutex::new(Some(thread)),
            }),
            Ok(Err(message)) => {
                let _ = thread.join();
                Err(InitError::exporter(message))
            }
            Err(_) => Err(InitError::Exporter(
                "the export thread stopped while starting".into(),
            )),
        }
    }

    /// Whether this is the export thread (a user's exporter calling `flush` or dropping the
    /// guard): it would wait for itself until the timeout.
    fn on_export_thread(&self) -> bool {
        std::thread::current().id() == self.thread_id
    }

    /// Waits until `done(state)` or the thread exited, at most until `deadline`.
    fn wait_until(&self, deadline: Instant, done: impl Fn(&QueueState) -> bool) -> bool {
        let mut state = self.shared.lock();
        loop {
            if done(&state) {
                return true;
            }
            if state.exited {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .progress
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl BatchProcessor {
    /// Counts failed every span queued and not yet accounted for, when shutdown returns
    /// before the export thread has finished (an exporter that blocks the thread, or ignores
    /// its deadline): the counts then add up (`queued = exported + failed` once shutdown has
    /// returned, drops aside), and the export thread, should it finish later, counts none of
    /// them again (see `ExportLoop::account`).
    ///
    /// The spans still queued are let go here: counted failed, they are not waiting any more
    /// (`Stats::queue_len` reads 0), and a thread that finishes later has none to send.
    fn count_cut_off(&self) {
        let (cut_off, let_go) = {
            let mut state = self.shared.lock();
            let cut_off = state.pushed - state.done;
            state.done = state.pushed;
            (cut_off, std::mem::take(&mut state.queue))
        };
        let counters = self.shared.counters;
        counters.queue_len.store(0, Ordering::Relaxed);
        // Freed outside the lock.
        drop(let_go);
        // Counted, not reported: this is the application's thread, which never writes to
        // stderr (a stderr nobody reads would block it, and the stuck exporter may be the
        // one writing there: the local tree's).
        if cut_off > 0 {
            counters.failed_spans.fetch_add(cut_off, Ordering::Relaxed);
            counters.failed_exports.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a finished span of godtrace's own (or counts it dropped).
    #[inline]
    pub(crate) fn push_own(&self, span: Finished) {
        if let Err(Queued::Own(span)) = self.push(Queued::Own(span)) {
            // Refused after all (full, or shutting down): its box serves this thread again.
            Live::recycle(span.into_live());
        }
    }

    /// Queues `span`, or counts it dropped when the queue is full or shutting down (and
    /// gives it back).
    #[inline]
    fn push(&self, span: Queued) -> Result<(), Queued> {
        let counters = self.shared.counters;
        // A forked child records nothing (a span of OpenTelemetry's global tracer ends here
        // too): the queue's lock may have been held by a parent's thread at the fork.
        if crate::span::switches::in_forked_child() {
            return Err(span);
        }
        let mut state = self.shared.lock();
        if state.shutdown_deadline.is_some() || state.exited {
            drop(state);
            counters.count_shutdown_drop();
            return Err(span);
        }
        if self.shared.budget.take(1) == 0 {
            drop(state);
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(span);
        }
        state.queue.push_back(span);
        state.pushed += 1;
        let len = state.queue.len();
        counters.queue_len.store(len as u64, Ordering::Relaxed);
        drop(state);
        counters.queued.fetch_add(1, Ordering::Relaxed);
        if len == self.shared.settings.max_export_batch_size {
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

impl BatchProcessor {
    /// [`Sink::on_record`] of a span still on its thread's list (its owner let go of it
    /// without leaving it): taken off as it ends.
    #[cold]
    #[inline(never)]
    fn on_record_linked(&self, live: LiveBox, start: Tick, end: Tick) {
        self.append(live.finish(start, end));
    }

    /// Appends `span` to this thread's lane: in line when the lane has room, else through
    /// [`BatchProcessor::hand_over`].
    #[inline(always)]
    fn append(&self, span: Finished) {
        if let Err(span) = lanes::try_append(&self.shared, span) {
            self.hand_over(span);
        }
    }

    /// [`Sink::on_record`] of a span its lane's common path did not take (a first span, a new
    /// budget chunk, a lane out of reach, a full queue).
    #[cold]
    #[inline(never)]
    fn hand_over(&self, span: Finished) {
        let mut span = Some(span);
        let handed = lanes::hand_over(&self.shared, || span.take());
        let Some(span) = span else { return };
        if let Handed::Unreachable = handed {
            // This thread's lane is gone (its storage is being destroyed): the shared queue.
            self.push_own(span);
        } else {
            // Refused (counted dropped): its box serves this thread again.
            Live::recycle(span.into_live());
        }
    }
}

/// The batch queue as a sink: godtrace's own spans are queued as records, and their `SpanData`
/// is built on the export thread.
impl Sink for BatchProcessor {
    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            let _ = self.push(Queued::Sdk(Box::new(span)));
        }
    }

    fn takes_records(&self) -> bool {
        true
    }

    fn record_ring_owner(&self) -> Option<u64> {
        Some(self.shared.budget.id)
    }

    #[inline]
    fn on_record(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
        // A full queue refuses the span before anything is built for the hand-over: its box
        // stays in `live`, for this thread's next span.
        let Some(live) = live.take_if(|_| !lanes::refuses(&self.shared)) else {
            return;
        };
        // Ended before its lane is looked at, and a span still on the thread's list (rare)
        // taken off out of line: a call on this path would keep the sink and the ticks in
        // saved registers across it. With none but the slow paths' last calls, nothing here
        // is kept across a call. A span the queue refuses gives its box back to this thread.
        match live.finish_off_list(start, end) {
            Ok(span) => self.append(span),
            Err(linked) => self.on_record_linked(linked, start, end),
        }
    }

    /// Sends every span queued before the call; returns within the export timeout.
    fn flush(&self) -> OTelSdkResult {
        let timeout = self.shared.settings.export_timeout;
        let (target, ticket) = {
            let mut state = self.shared.lock();
            // Every span recorded before the call, on any thread, joins the queue now.
            lanes::collect(&self.shared, &mut state, false);
            if state.exited || state.shutdown_deadline.is_some() {
                if state.done >= state.pushed {
                    return Ok(());
                }
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.flush_target = state.flush_target.max(state.pushed);
            // Seen through by the export thread even with nothing queued: the local tree
            // then prints what it holds for roots still running.
            state.flushes_asked += 1;
            (state.pushed, state.flushes_asked)
        };
        self.shared.wake.notify_one();
        // Called by the exporter, on the thread that sends: what is queued goes once the
        // exporter returns, with nothing to wait for here.
        if self.on_export_thread() {
            return Ok(());
        }
        let flushed = |s: &QueueState| s.done >= target && s.flushes_seen >= ticket;
        if self.wait_until(deadline_after(timeout), flushed) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    /// Sends what it can of the queue within `timeout`, then stops the export thread.
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let deadline = deadline_after(timeout);
        // The thread stops sending a little before the caller stops waiting, so that it
        // normally gets to count what it could not send and exit in time.
        let worker_deadline = deadline - (timeout / 10).min(Duration::from_millis(100));
        {
            let mut state = self.shared.lock();
            if state.shutdown_deadline.is_some() {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            // What the lanes hold is sent with the rest; from now on they refuse spans.
            lanes::collect(&self.shared, &mut state, true);
            state.shutdown_deadline = Some(worker_deadline);
        }
        self.shared.deadline.send_replace(Some(worker_deadline));
        self.shared.wake.notify_one();
        // Called by the exporter, on the thread that sends: it stops once the exporter returns
        // (its deadline set above), and exits unjoined.
        if self.on_export_thread() {
            return Ok(());
        }
        if !self.wait_until(deadline, |s| s.exited) {
            // Still finishing (its own deadline is the same): leave it, never block longer.
            self.count_cut_off();
            return Err(OTelSdkError::Timeout(timeout));
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            // It has exited its loop: joining only collects it.
            let _ = thread.join();
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
