//! The export thread: owns a current-thread tokio runtime and the exporter, takes batches from
//! the queue by size, by delay, for a flush or at shutdown, and sends them in order, up to the
//! exporter's number of requests in flight at once (the OTLP exporter encodes the next batches
//! meanwhile, so that the queue's slots are free while the receiver answers).
//!
//! Everything the transport does (connections, retries, its own logging) runs on this thread,
//! inside a telemetry-suppressed context, so it never records spans of its own and never waits
//! on the application's runtime.
use super::lanes::{Queued, Shared};
use crate::config::{deadline_after, url};
use crate::span::Live;
use crate::stats::Counters;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::task::Poll;
use std::time::{Duration, Instant};

/// An exporter the export thread can drive: the OTLP exporter, which encodes the queued
/// records itself, or any `SpanExporter` (the user's own), which gets them as `SpanData`.
pub(crate) trait Exporter: 'static {
    /// Requests it may have in flight at once: the thread prepares the next batch (and the
    /// receiver can work on one) while another is sent.
    const IN_FLIGHT: usize;

    /// Whether batches are taken from the queue and prepared while `IN_FLIGHT` requests are
    /// in flight, up to the queue's size in spans: then a slow answer does not hold the
    /// queue's slots, and spans recorded meanwhile find room. For exporters whose requests
    /// are compact (encoded bytes); a `SpanExporter`'s are `SpanData`, and wait in the queue.
    const PREPARE_AHEAD: bool = false;

    /// What a batch becomes before it is sent.
    type Request;

    /// The resource of every span it exports.
    fn set_resource(&mut self, resource: &Resource);

    /// Turns the first spans of `batch` into a request, taking them out of it (all of them,
    /// or as many as one request should hold, one at least): the boxes of godtrace's own spans
    /// go into `emptied`, for reuse.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) -> Self::Request;

    /// Sends `request`. An error says why it was not delivered. `closing` completes once
    /// shutdown has begun: what is not worth waiting for then (an unreachable receiver) is not.
    fn send(
        &self,
        request: Self::Request,
        closing: ShutdownBegun,
    ) -> impl Future<Output = Result<Accepted, String>> + '_;

    /// When the next request may start (see [`Pace`]); at once, by default.
    fn pace(&self) -> Pace {
        Pace::default()
    }

    /// Called when the export thread has nothing to take and is about to wait: `flushed`
    /// when a flush asked for everything recorded before it and that is prepared. Nothing,
    /// by default (the local tree prints what it held too long, or at a flush everything).
    fn between_batches(&self, flushed: bool) {
        let _ = flushed;
    }

    /// Called once, after the last export.
    fn shutdown(&mut self, timeout: Duration);
}

/// How requests may start now: after a failed request the receiver is given a pause (a
/// throttling collector's `Retry-After`, a backoff after other failures) before the next
/// batch is sent, which until then waits in the queue like the spans behind it; and while
/// requests fail they go one at a time, so that a receiver back from a pause gets one
/// request, not as many as may be in flight. Neither holds back shutdown's last flush.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pace {
    /// No request starts before then.
    pub(crate) not_before: Option<Instant>,
    /// At most one request in flight.
    pub(crate) one_at_a_time: bool,
    /// The last request failed without an answer (the receiver is not there, or hangs): once
    /// shutdown has begun, such a failure gives up what is left rather than trying each batch
    /// in turn for a request timeout each.
    pub(crate) unanswered: bool,
}

/// Why spans were not sent: shutdown's deadline came first.
const SHUTDOWN_OUT_OF_TIME: &str = "shutdown ran out of time before sending them";
/// Why spans were not sent: a request failed unanswered once shutdown had begun.
const RECEIVER_GONE: &str = "the rest were not sent: the receiver did not answer during shutdown";

/// `count` spans in words: "1 span", "2 spans" (stderr reports count them).
fn in_words(count: impl Into<u64>) -> String {
    match count.into() {
        1 => "1 span".to_owned(),
        n => format!("{n} spans"),
    }
}

/// Sleeps until `until`; for ever when it is `None`.
async fn sleep_until_some(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until.into()).await,
        None => std::future::pending().await,
    }
}

/// Completes once shutdown has begun (see [`Exporter::send`]).
pub(crate) struct ShutdownBegun(tokio::sync::watch::Receiver<Option<Instant>>);

impl ShutdownBegun {
    /// Waits for shutdown to begin; forever when it cannot (the processor is gone).
    pub(crate) async fn wait(mut self) {
        if self.0.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What the receiver took of a request it answered with success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Accepted {
    All,
    /// All but `rejected` spans: an OTLP partial success, with the receiver's reason.
    AllBut {
        rejected: u64,
        reason: String,
    },
}

impl<E: SpanExporter + 'static> Exporter for E {
    /// `SpanExporter::export` takes one batch at a time.
    const IN_FLIGHT: usize = 1;
    type Request = Vec<SpanData>;

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) -> Vec<SpanData> {
        batch
            .drain(..)
            .map(|span| span.into_span_data(emptied))
            .collect()
    }

    async fn send(
        &self,
        spans: Vec<SpanData>,
        _closing: ShutdownBegun,
    ) -> Result<Accepted, String> {
        // A panic of the user's exporter fails this batch only: uncaught, it would end the
        // export thread, leaving this batch uncounted and every later span dropped.
        let outcome = super::custom::caught(|| SpanExporter::export(self, spans)).await;
        if let Err(message) = &outcome {
            report_panic_once(message);
        }
        outcome?.map_err(|e| e.to_string())?;
        Ok(Accepted::All)
    }

    fn shutdown(&mut self, timeout: Duration) {
        let shutdown = || self.shutdown_with_timeout(timeout);
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(shutdown)) {
            // Its own message: no batch is involved, and the export one may have been said.
            let message = super::custom::panicked(&*payload);
            crate::stderr::say(format!(
                "godtrace: {message} (in its shutdown; nothing is lost by it)"
            ));
        }
    }
}

/// Says on stderr, the first time only, that the user's exporter panicked: its batches count
/// as failed, and the rate-limited failure summary repeats the message.
fn report_panic_once(message: &str) {
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        crate::stderr::say(format!(
            "godtrace: {message}; its batch counts as failed (spans_failed) and later \
             batches are still given to it"
        ));
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
        late_drops: Reporter::default(),
        failures: Reporter::default(),
        warned: false,
    };
    let deadline = runtime.block_on(worker.export_loop(&exporter));
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
        let mut state = self.0.lock();
        state.exited = true;
        // Nothing will send what the lanes hold: they refuse (and count) spans from now on.
        super::lanes::collect(self.0, &mut state, true);
        drop(state);
        self.0.progress.notify_all();
    }
}

/// The export thread's loop state: what it reads from the queue and reports on stderr.
struct ExportLoop<'a> {
    shared: &'a Shared,
    counters: &'static Counters,
    options: &'a ExportSetup,
    drops: Reporter,
    late_drops: Reporter,
    failures: Reporter,
    /// Whether a receiver's warning was reported (the first one is).
    warned: bool,
}

/// Rate-limits one kind of message: the first at once, then one summary per interval.
#[derive(Default)]
struct Reporter {
    reported: u64,
    last: Option<Instant>,
    last_error: String,
    /// Why spans were then counted failed without being sent, said after `last_error`
    /// (another request's failure, ending later, would otherwise be all the report says).
    gave_up: Option<&'static str>,
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

/// A request prepared and not sent yet: it waits for one in flight to finish.
struct Prepared<R> {
    request: R,
    spans: usize,
}

/// One request in flight.
struct Sending<'a> {
    send: Pin<Box<dyn Future<Output = Result<Accepted, String>> + 'a>>,
    spans: usize,
    /// Set once it has completed; it is accounted for in the order requests were made.
    outcome: Option<Result<Accepted, String>>,
}

impl ExportLoop<'_> {
    /// Exports until shutdown; returns the shutdown deadline. Runs inside the thread's
    /// runtime: the requests in flight progress while it waits for the next batch.
    ///
    /// A batch is taken from the queue (its slots given back) when it is due and either a
    /// request may start, or, with [`Exporter::PREPARE_AHEAD`], fewer than the queue's size
    /// of spans are prepared and waiting: the queue's slots then only ever hold spans nobody
    /// has taken, and memory stays bounded by the queue, the prepared requests (at most the
    /// queue's size in spans) and those in flight.
    async fn export_loop<E: Exporter>(&mut self, exporter: &E) -> Instant {
        let settings = self.shared.settings;
        let mut timer = deadline_after(settings.schedule_delay);
        // Reused from batch to batch: the export thread allocates nothing per span.
        let mut batch = Vec::with_capacity(settings.max_export_batch_size);
        let mut emptied = Vec::with_capacity(settings.max_export_batch_size);
        let mut in_flight: VecDeque<Sending<'_>> = VecDeque::with_capacity(E::IN_FLIGHT);
        let mut prepared: VecDeque<Prepared<E::Request>> = VecDeque::new();
        // A request failed unanswered after shutdown began: nothing more is sent.
        let mut receiver_gone = false;
        loop {
            self.report(false);
            // Past the deadline nothing more is prepared (encoding a large queue could take
            // longer than the caller still waits): what is queued is counted failed at once,
            // by this thread, which reports it before it exits.
            if self.past_deadline() {
                self.give_up_queued(SHUTDOWN_OUT_OF_TIME);
            }
            if receiver_gone {
                // Requests still out beside the one left unanswered (started with it once
                // shutdown lifted the one-at-a-time rule) are to the same receiver: not
                // waited for either, so the exit is held for one request timeout, not two.
                for sending in in_flight.drain(..) {
                    match sending.outcome {
                        Some(outcome) => self.account(sending.spans, outcome),
                        None => self.give_up(sending.spans, RECEIVER_GONE),
                    }
                }
                for waiting in prepared.drain(..) {
                    self.give_up(waiting.spans, RECEIVER_GONE);
                }
                self.give_up_queued(RECEIVER_GONE);
            }
            // Shutdown's last flush is not held back by a pause.
            let closing = self.shared.deadline.borrow().is_some();
            let pace = if closing {
                Pace::default()
            } else {
                exporter.pace()
            };
            let room = if pace.one_at_a_time { 1 } else { E::IN_FLIGHT };
            while pace.not_before.is_none()
                && in_flight.len() < room
                && let Some(next) = prepared.pop_front()
            {
                self.start_send(exporter, next, &mut in_flight);
            }
            // A batch waiting out a pause: woken when it ends.
            let paused = pace.not_before.filter(|_| !prepared.is_empty());
            let waiting: usize = prepared.iter().map(|p| p.spans).sum();
            let sending = waiting + in_flight.iter().map(|s| s.spans).sum::<usize>();
            // Beyond what may start now, only what preparing ahead allows: a pause does not
            // move the queue into prepared requests without bound.
            let may_take = (pace.not_before.is_none() && in_flight.len() < room)
                || (E::PREPARE_AHEAD
                    && waiting + settings.max_export_batch_size <= settings.max_queue_size);
            if may_take && self.take_batch(&mut timer, &mut batch, sending) {
                // One request or more: an exporter may take part of a batch at a time (the
                // OTLP one keeps each request under a receiver's bound on its size), each
                // time one span at least.
                while !batch.is_empty() {
                    let before = batch.len();
                    let request = exporter.prepare(&mut batch, &mut emptied);
                    let spans = before - batch.len();
                    prepared.push_back(Prepared { request, spans });
                    if spans == 0 {
                        break;
                    }
                }
                // Whatever was not taken (an exporter that took none) is dropped; the emptied
                // boxes go back to the application's threads.
                for span in batch.drain(..) {
                    if let Queued::Own(span) = span {
                        emptied.push(span.into_live());
                    }
                }
                crate::span::return_spares(&mut emptied);
                continue;
            }
            if !may_take {
                // Requests fill the exporter's room (or wait out a pause): nothing is taken,
                // but what the lanes hold is counted as waiting (`Stats::queue_len`).
                drop(self.collect());
            }
            let flushed = self.flush_seen_through(sending);
            exporter.between_batches(flushed);
            if flushed {
                self.shared.progress.notify_all();
            }
            if in_flight.is_empty() {
                if paused.is_none()
                    && let Some(deadline) = self.finished()
                {
                    return deadline;
                }
                // Paused: the timer is not waited for when nothing may be taken (it is past
                // once the schedule delay is: waiting for it would spin until the pause ends).
                let until = match paused {
                    Some(paused) if !may_take => paused,
                    Some(paused) => paused.min(timer),
                    None => timer,
                };
                self.wait_for_batch(until).await;
                continue;
            }
            tokio::select! {
                () = any_completes(&mut in_flight) => {}
                () = self.shared.wake.notified(), if may_take => {}
                // Shutdown is seen at once, also while nothing may be taken (its last flush
                // is not paced).
                () = self.shutdown_begun().wait(), if !closing => {}
                () = tokio::time::sleep_until(timer.into()), if may_take => {}
                () = sleep_until_some(paused) => {}
                // A slow backend does not hold back the report of dropped spans.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            while in_flight.front().is_some_and(|s| s.outcome.is_some()) {
                let done = in_flight.pop_front().expect("checked");
                let failed = done.outcome.as_ref().is_some_and(Result::is_err);
                self.account(done.spans, done.outcome.expect("checked"));
                receiver_gone |=
                    failed && self.shared.deadline.borrow().is_some() && exporter.pace().unanswered;
            }
        }
    }

    /// Starts sending `next`, bounded by the request timeout and the shutdown deadline; counts
    /// it failed when shutdown has no time left for it.
    fn start_send<'e, E: Exporter>(
        &mut self,
        exporter: &'e E,
        next: Prepared<E::Request>,
        in_flight: &mut VecDeque<Sending<'e>>,
    ) {
        let shutdown = *self.shared.deadline.borrow();
        match self.budget(shutdown) {
            Some(budget) => in_flight.push_back(Sending {
                send: self.bounded(exporter.send(next.request, self.shutdown_begun()), budget),
                spans: next.spans,
                outcome: None,
            }),
            None => self.give_up(next.spans, SHUTDOWN_OUT_OF_TIME),
        }
    }

    /// Completes once shutdown has begun.
    fn shutdown_begun(&self) -> ShutdownBegun {
        ShutdownBegun(self.shared.deadline.subscribe())
    }

    /// Moves what the lanes hold to the queue and shows its length (`Stats::queue_len`);
    /// returns the queue, locked.
    fn collect(&self) -> std::sync::MutexGuard<'_, super::lanes::QueueState> {
        let mut state = self.shared.lock();
        let closing = state.shutdown_deadline.is_some();
        super::lanes::collect(self.shared, &mut state, closing);
        self.counters
            .queue_len
            .store(state.queue.len() as u64, Ordering::Relaxed);
        state
    }

    /// Whether shutdown's deadline for this thread has passed.
    fn past_deadline(&self) -> bool {
        self.shared
            .deadline
            .borrow()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Counts failed the spans still queued (and those the lanes hold), without preparing
    /// them, for the reason `why` (shutdown has no time left, or no receiver, to send them).
    fn give_up_queued(&mut self, why: &'static str) {
        // Taken out of the lock (the lanes closed: shutdown has begun), freed outside it.
        let let_go = std::mem::take(&mut self.collect().queue);
        self.counters.queue_len.store(0, Ordering::Relaxed);
        let spans = let_go.len();
        drop(let_go);
        if spans > 0 {
            self.give_up(spans, why);
        }
    }

    /// Counts `spans` failed without sending them, for the reason `why`, said after the
    /// failure it follows from (which the report would lose otherwise).
    fn give_up(&mut self, spans: usize, why: &'static str) {
        let cause = std::mem::take(&mut self.failures.last_error);
        self.account(spans, Err(why.to_owned()));
        if !cause.is_empty() {
            self.failures.last_error = cause;
            self.failures.gave_up = Some(why);
        }
    }

    /// Waits for a full batch, the timer, a flush or shutdown.
    async fn wait_for_batch(&self, timer: Instant) {
        tokio::select! {
            () = self.shared.wake.notified() => {}
            () = tokio::time::sleep_until(timer.into()) => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }

    /// Whether a flush asked for is now seen through: what was queued before it has left the
    /// queue (it is prepared, in flight, or its export finished; `sending` spans are prepared
    /// or in flight). Spans recorded since do not hold it back.
    fn flush_seen_through(&self, sending: usize) -> bool {
        let mut state = self.shared.lock();
        let taken = state.done + sending as u64;
        if state.flushes_seen >= state.flushes_asked || state.flush_target > taken {
            return false;
        }
        state.flushes_seen = state.flushes_asked;
        true
    }

    /// The shutdown deadline, once shutdown has begun and the queue is empty (the caller
    /// has nothing in flight).
    fn finished(&self) -> Option<Instant> {
        let mut state = self.shared.lock();
        let closing = state.shutdown_deadline.is_some();
        super::lanes::collect(self.shared, &mut state, closing);
        state.shutdown_deadline.filter(|_| state.queue.is_empty())
    }

    /// Takes up to one batch into `batch` when one is due (full, the timer, a flush or
    /// shutdown) and the queue is not empty; `sending` spans are prepared or in flight.
    /// Returns whether it took one.
    fn take_batch(&self, timer: &mut Instant, batch: &mut Vec<Queued>, sending: usize) -> bool {
        let settings = self.shared.settings;
        // Slots in use before the lanes give back those they hold unused: a batch's worth is
        // what woke this thread. Collecting takes that credit back, so that the recording
        // thread's next span takes a chunk again and, were a batch of spans still required,
        // wakes this thread again: a wake-up every few spans until the batch fills.
        let slots_used = self.shared.budget.used(settings.max_queue_size);
        let mut state = self.collect();
        let now = Instant::now();
        if state.queue.is_empty() {
            if now >= *timer {
                *timer = deadline_after(settings.schedule_delay);
            }
            return false;
        }
        let flush = state.flush_target > state.done + sending as u64;
        let due = state.shutdown_deadline.is_some()
            || flush
            || state.queue.len() >= settings.max_export_batch_size
            || slots_used >= settings.max_export_batch_size
            || now >= *timer;
        if !due {
            return false;
        }
        let n = state.queue.len().min(settings.max_export_batch_size);
        take_front(&mut state.queue, n, batch);
        self.shared.budget.give_back(n);
        self.counters
            .queue_len
            .store(state.queue.len() as u64, Ordering::Relaxed);
        if state.queue.is_empty() {
            *timer = deadline_after(settings.schedule_delay);
        }
        true
    }

    /// How long the next request may take: the request timeout, or what is left before the
    /// shutdown deadline; `None` when nothing is.
    fn budget(&self, shutdown: Option<Instant>) -> Option<Duration> {
        let mut budget = self.options.request_timeout;
        if let Some(deadline) = shutdown {
            budget = budget.min(deadline.saturating_duration_since(Instant::now()));
        }
        (!budget.is_zero()).then_some(budget)
    }

    /// `send`, bounded by `budget` and by the shutdown deadline.
    fn bounded<'a>(
        &self,
        send: impl Future<Output = Result<Accepted, String>> + 'a,
        budget: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Accepted, String>> + 'a>> {
        let mut deadline = self.shared.deadline.subscribe();
        Box::pin(async move {
            tokio::select! {
                result = tokio::time::timeout(budget, send) => match result {
                    Ok(outcome) => outcome,
                    // Whole milliseconds: a budget the shutdown deadline trimmed reads as
                    // `889 ms`, not `889.569097ms`.
                    Err(_) => Err(format!("no answer within {} ms", budget.as_millis())),
                },
                () = shutdown_deadline(&mut deadline) => {
                    Err("shutdown ran out of time while sending them".to_owned())
                }
            }
        })
    }

    /// Counts a finished request of `spans` spans, and wakes flush and shutdown callers.
    fn account(&mut self, spans: usize, outcome: Result<Accepted, String>) {
        // Held until the counts are in: a flush woken by `done` reads them at once, and a
        // shutdown that ran out of time while this request was stuck has counted its spans
        // failed already (`BatchProcessor::shutdown`), so they are not counted twice.
        let mut state = self.shared.lock();
        let spans = spans.min(usize::try_from(state.pushed - state.done).unwrap_or(usize::MAX));
        match outcome {
            _ if spans == 0 => {}
            Ok(Accepted::All) => {
                Counters::add(&self.counters.exported, spans);
                Counters::add(&self.counters.exports, 1);
            }
            // A partial success: the request was delivered, and the spans the receiver
            // rejected are not exported. They count as failed, and its reason is reported
            // with the failures.
            // A warning (a partial success that rejected nothing): said once.
            Ok(Accepted::AllBut {
                rejected: 0,
                reason,
            }) => {
                Counters::add(&self.counters.exported, spans);
                Counters::add(&self.counters.exports, 1);
                if !std::mem::replace(&mut self.warned, true) {
                    let reason = crate::redact::urls_in(&reason).unwrap_or(reason);
                    let report = format!(
                        "godtrace: the receiver at {} took every span, with a warning \
                         (later ones are not reported): {reason}",
                        url::redacted(&self.options.destination),
                    );
                    let report = url::scrub(&report, &self.options.destination);
                    crate::stderr::say(crate::text::cut(report, crate::text::MAX_REPORT));
                }
            }
            Ok(Accepted::AllBut { rejected, reason }) => {
                let rejected = usize::try_from(rejected).unwrap_or(usize::MAX).min(spans);
                Counters::add(&self.counters.exported, spans - rejected);
                Counters::add(&self.counters.failed_spans, rejected);
                Counters::add(&self.counters.exports, 1);
                let message = format!(
                    "the receiver rejected {}: {reason}",
                    in_words(rejected as u64)
                );
                self.failures.last_error = url::scrub(&message, &self.options.destination);
            }
            Err(message) => {
                Counters::add(&self.counters.failed_spans, spans);
                Counters::add(&self.counters.failed_exports, 1);
                // Transport errors quote the URL, credentials included.
                let message = crate::otlp::client::explain(&message);
                self.failures.last_error = url::scrub(&message, &self.options.destination);
            }
        }
        state.done += spans as u64;
        drop(state);
        self.shared.progress.notify_all();
    }

    /// Writes due summaries of dropped and undelivered spans to stderr.
    fn report(&mut self, force: bool) {
        // In the reverse order of `count_shutdown_drop`'s: each drop at shutdown that
        // `dropped` counts is in `at_shutdown` (acquire: ordered after its increment).
        let dropped = self.counters.dropped.load(Ordering::Acquire);
        let at_shutdown = self.counters.dropped_at_shutdown.load(Ordering::Relaxed);
        let full = dropped.saturating_sub(at_shutdown);
        if let Some(new) = self.drops.due(full, force) {
            crate::stderr::say(format!(
                "godtrace: export queue full (max_queue_size {}): dropped {} ({full} in all)",
                self.shared.settings.max_queue_size,
                in_words(new)
            ));
        }
        if let Some(new) = self.late_drops.due(at_shutdown, force) {
            crate::stderr::say(format!(
                "godtrace: dropped {} that ended after shutdown had begun \
                 ({at_shutdown} in all): end them before the guard is dropped",
                in_words(new)
            ));
        }
        let failed = self.counters.failed_spans.load(Ordering::Relaxed);
        if let Some(new) = self.failures.due(failed, force) {
            let then = match self.failures.gave_up.take() {
                Some(why) => format!("; then {why}"),
                None => String::new(),
            };
            // No failure of a request to tell: they were cut off by a shutdown that could
            // not wait for them (`BatchProcessor::count_cut_off`).
            let why = match self.failures.last_error.as_str() {
                "" => "shutdown's wait for the export ran out before they were sent",
                said => said,
            };
            let report = format!(
                "godtrace: could not export {} to {} ({failed} in all): {why}{then}",
                in_words(new),
                url::redacted(&self.options.destination),
            );
            crate::stderr::say(crate::text::cut(report, crate::text::MAX_REPORT));
        }
    }
}

/// Moves the first `n` spans of `queue` into `batch` (empty) by handing over memory, not
/// span by span: the whole queue becomes the batch, and the queue takes the batch's memory;
/// or the rest of the queue moves to memory of its own, in one copy.
fn take_front(queue: &mut VecDeque<Queued>, n: usize, batch: &mut Vec<Queued>) {
    if !batch.is_empty() {
        // Not the export loop's case: what the batch holds is kept.
        batch.extend(queue.drain(..n));
        return;
    }
    let rest = if n == queue.len() {
        VecDeque::from(std::mem::take(batch))
    } else {
        queue.split_off(n)
    };
    *batch = Vec::from(std::mem::replace(queue, rest));
}

/// Completes when one of the requests in flight completes (its outcome is then set).
async fn any_completes(in_flight: &mut VecDeque<Sending<'_>>) {
    std::future::poll_fn(|cx| {
        let mut any = false;
        for sending in in_flight.iter_mut().filter(|s| s.outcome.is_none()) {
            if let Poll::Ready(outcome) = sending.send.as_mut().poll(cx) {
                sending.outcome = Some(outcome);
                any = true;
            }
        }
        if any { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
}

#[cfg(test)]
mod tests;
