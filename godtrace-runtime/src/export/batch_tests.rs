//! The batch processor against a scripted exporter: counts, flush, overflow, bounded shutdown.
use super::*;
use crate::export::worker::ExportSetup;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    Fail,
    Hang,
    /// Blocks the export thread itself for a few seconds, deaf to any deadline.
    Block,
}

#[derive(Debug)]
struct Scripted {
    mode: Mode,
    received: Arc<AtomicU64>,
}

impl SpanExporter for Scripted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self.mode {
            Mode::Accept => {
                self.received
                    .fetch_add(batch.len() as u64, Ordering::SeqCst);
                Ok(())
            }
            Mode::Fail => Err(OTelSdkError::InternalFailure("refused".into())),
            Mode::Hang => std::future::pending().await,
            Mode::Block => {
                std::thread::sleep(Duration::from_secs(3));
                Ok(())
            }
        }
    }
}

fn span(i: u64) -> SpanData {
    let context = SpanContext::new(
        TraceId::from(u128::from(i) + 1),
        SpanId::from(i + 1),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    SpanData {
        span_context: context,
        name: "work".into(),
        start_time: SystemTime::now(),
        end_time: SystemTime::now(),
        ..crate::export::sdk::empty_span_data()
    }
}

fn start(
    mode: Mode,
    queue: usize,
    batch: usize,
) -> (BatchProcessor, Arc<AtomicU64>, &'static Counters) {
    let settings = BatchSettings {
        max_queue_size: queue,
        max_export_batch_size: batch,
        // Long: only size, flush and shutdown trigger exports in these tests.
        schedule_delay: Duration::from_secs(600),
        export_timeout: Duration::from_secs(20),
    };
    start_with(mode, settings, Duration::from_secs(600))
}

/// A processor over a scripted exporter: what it received, and its counters.
fn start_with(
    mode: Mode,
    settings: BatchSettings,
    request_timeout: Duration,
) -> (BatchProcessor, Arc<AtomicU64>, &'static Counters) {
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let received = Arc::new(AtomicU64::new(0));
    let options = ExportSetup {
        request_timeout,
        destination: "scripted".into(),
        resource: Resource::builder_empty().build(),
    };
    let exporter_received = received.clone();
    let processor = BatchProcessor::start(settings, counters, options, move || {
        Ok(Scripted {
            mode,
            received: exporter_received,
        })
    })
    .unwrap();
    (processor, received, counters)
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::SeqCst)
}

/// Runs `f` on another thread and fails the test if it has not returned within a minute (a
/// deadlock guard, not a timing assertion).
fn returns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the call never returned")
}

#[test]
fn flush_delivers_every_queued_span() {
    let (processor, received, counters) = start(Mode::Accept, 5000, 512);
    for i in 0..1234 {
        processor.on_end(span(i));
    }
    processor.flush().unwrap();
    assert_eq!(get(&received), 1234);
    assert_eq!(get(&counters.exported), 1234);
    assert_eq!(get(&counters.queued), 1234);
    assert_eq!(get(&counters.dropped), 0);
    assert_eq!(get(&counters.queue_len), 0);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

/// Spans recorded after a flush was asked for do not hold it back: under steady recording the
/// queue is never empty, and the flush returns once what came before it is sent.
#[test]
fn spans_recorded_after_a_flush_do_not_hold_it_back() {
    let settings = BatchSettings {
        max_queue_size: 5000,
        max_export_batch_size: 512,
        schedule_delay: Duration::from_secs(600),
        export_timeout: Duration::from_secs(3),
    };
    let (processor, _, _) = start_with(Mode::Accept, settings, Duration::from_secs(600));
    let processor = Arc::new(processor);
    let recording = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let background = {
        let (processor, recording) = (processor.clone(), recording.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while recording.load(Ordering::Relaxed) {
                processor.on_end(span(i));
                i += 1;
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    for i in 0..5 {
        processor.on_end(span(1_000_000 + i));
        assert!(processor.flush().is_ok(), "flush {i} timed out");
    }
    recording.store(false, Ordering::Relaxed);
    background.join().unwrap();
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn shutdown_delivers_what_is_queued_then_refuses_more() {
    let (processor, received, counters) = start(Mode::Accept, 5000, 100);
    for i in 0..3000 {
        processor.on_end(span(i));
    }
    processor.shutdown(Duration::from_secs(20)).unwrap();
    assert_eq!(get(&received), 3000);
    processor.on_end(span(1));
    assert_eq!(get(&counters.dropped), 1);
    assert!(processor.shutdown(Duration::from_secs(1)).is_err());
}

#[test]
fn a_full_queue_drops_and_counts_the_excess() {
    let (processor, received, counters) = start(Mode::Hang, 10, 5);
    for i in 0..100 {
        processor.on_end(span(i));
    }
    let queued = get(&counters.queued);
    let dropped = get(&counters.dropped);
    assert_eq!(queued + dropped, 100);
    // At most one batch is in the hung export, the rest of the queue holds 10.
    assert!(dropped >= 100 - 10 - 5, "dropped {dropped}");
    returns(move || {
        let _ = processor.shutdown(Duration::from_millis(300));
    });
    assert_eq!(get(&received), 0);
}

#[test]
fn failed_exports_are_counted_with_their_spans() {
    let (processor, _, counters) = start(Mode::Fail, 100, 4);
    for i in 0..10 {
        processor.on_end(span(i));
    }
    processor.flush().unwrap();
    assert_eq!(get(&counters.failed_spans), 10);
    assert_eq!(get(&counters.failed_exports), 3);
    assert_eq!(get(&counters.exported), 0);
}

#[test]
fn shutdown_against_a_hung_backend_returns_and_counts_the_loss() {
    let (processor, _, counters) = start(Mode::Hang, 100, 10);
    for i in 0..25 {
        processor.on_end(span(i));
    }
    let counted = returns(move || {
        let result = processor.shutdown(Duration::from_millis(300));
        (result.is_ok(), processor)
    });
    // The thread got to count every span as lost before exiting, or shutdown gave up first.
    if counted.0 {
        assert_eq!(get(&counters.failed_spans), 25);
    }
}

#[test]
fn a_shutdown_cut_off_by_a_blocked_export_thread_leaves_no_span_counted_as_waiting() {
    let (processor, _, counters) = start(Mode::Block, 100, 10);
    for i in 0..25 {
        processor.on_end(span(i));
    }
    // The first batch went to the export, which holds the thread; the rest waits.
    let waited = Instant::now();
    while get(&counters.queue_len) > 15 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let cut_off = returns(move || processor.shutdown(Duration::from_millis(300)).is_err());
    assert!(cut_off, "the export thread was blocked past the deadline");
    let stats = counters.snapshot();
    assert_eq!(stats.queue_len, 0, "{stats:?}");
    assert_eq!(stats.spans_queued, 25, "{stats:?}");
    assert_eq!(
        stats.spans_exported + stats.spans_failed,
        stats.spans_queued,
        "{stats:?}"
    );
}

#[test]
fn unsampled_spans_are_ignored() {
    let (processor, _, counters) = start(Mode::Accept, 10, 5);
    let mut s = span(1);
    s.span_context = SpanContext::new(
        TraceId::from(5u128),
        SpanId::from(5u64),
        TraceFlags::default(),
        false,
        TraceState::default(),
    );
    processor.on_end(s);
    assert_eq!(get(&counters.queued), 0);
}

#[test]
fn an_exporter_that_cannot_be_built_is_an_init_error() {
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let options = ExportSetup {
        request_timeout: Duration::from_secs(1),
        destination: "nowhere".into(),
        resource: Resource::builder_empty().build(),
    };
    let err =
        BatchProcessor::start::<Scripted, _>(BatchSettings::default(), counters, options, || {
            Err("bad endpoint".into())
        })
        .unwrap_err();
    assert_eq!(err, InitError::Exporter("bad endpoint".into()));
}

#[test]
fn durations_past_what_an_instant_holds_never_panic() {
    let settings = BatchSettings {
        max_queue_size: 100,
        max_export_batch_size: 50,
        schedule_delay: Duration::MAX,
        export_timeout: Duration::MAX,
    };
    let (processor, received, _) = start_with(Mode::Accept, settings, Duration::MAX);
    for i in 0..10 {
        processor.on_end(span(i));
    }
    let processor = returns(move || {
        processor.flush().unwrap();
        processor
    });
    assert_eq!(
        get(&received),
        10,
        "the export thread is alive and sent them"
    );
    processor.on_end(span(11));
    returns(move || processor.shutdown(Duration::MAX).unwrap());
    assert_eq!(get(&received), 11);
}

/// An exporter that keeps two requests in flight, as the OTLP one does; each request waits
/// until two are in flight or some time has passed, and records how many were at once.
#[derive(Debug, Default)]
struct TwoAtOnce {
    in_flight: AtomicU64,
    most_at_once: AtomicU64,
    delivered: AtomicU64,
}

/// The exporter's handle on the export thread (the test keeps another).
struct TwoAtOnceHandle(Arc<TwoAtOnce>);

impl worker::Exporter for TwoAtOnceHandle {
    const IN_FLIGHT: usize = 2;
    type Request = usize;

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) -> usize {
        batch.drain(..).count()
    }

    async fn send(
        &self,
        spans: usize,
        _closing: worker::ShutdownBegun,
    ) -> Result<worker::Accepted, String> {
        let this = &self.0;
        let now = this.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        this.most_at_once.fetch_max(now, Ordering::SeqCst);
        for _ in 0..200 {
            if this.most_at_once.load(Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        this.in_flight.fetch_sub(1, Ordering::SeqCst);
        this.delivered.fetch_add(spans as u64, Ordering::SeqCst);
        Ok(worker::Accepted::All)
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// A processor over `exporter` (an exporter of the export thread's own kind), with a queue
/// of `queue` spans sent in batches of `batch`, and its counters.
fn start_exporter<E: worker::Exporter + Send>(
    exporter: E,
    queue: usize,
    batch: usize,
    schedule_delay: Duration,
) -> (BatchProcessor, &'static Counters) {
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let settings = BatchSettings {
        max_queue_size: queue,
        max_export_batch_size: batch,
        schedule_delay,
        export_timeout: Duration::from_secs(20),
    };
    let options = ExportSetup {
        request_timeout: Duration::from_secs(600),
        destination: "test exporter".into(),
        resource: Resource::builder_empty().build(),
    };
    let processor = BatchProcessor::start(settings, counters, options, move || Ok(exporter));
    (processor.unwrap(), counters)
}

#[test]
fn two_requests_are_in_flight_and_flush_waits_for_both() {
    let exporter = Arc::new(TwoAtOnce::default());
    let made = TwoAtOnceHandle(exporter.clone());
    let (processor, counters) = start_exporter(made, 5000, 100, Duration::from_secs(600));
    for i in 0..1000 {
        processor.on_end(span(i));
    }
    processor.flush().unwrap();
    // Every span queued before the flush is delivered and counted when it returns.
    assert_eq!(get(&exporter.delivered), 1000);
    assert_eq!(get(&counters.exported), 1000);
    assert_eq!(get(&counters.exports), 10);
    assert_eq!(get(&exporter.most_at_once), 2);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

/// The record of one of godtrace's own spans, `i`th of a test (its ids made of `i`).
fn own_record(i: u64) -> crate::span::LiveBox {
    let ids = SpanContext::new(
        TraceId::from(u128::from(i) + 1),
        SpanId::from(i + 1),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let name = crate::span::Name::Given("own".into(), SpanKind::Internal);
    crate::span::Live::start(ids, None, name, Vec::new())
}

/// Records one of godtrace's own spans through `processor`, as the recording path does;
/// returns whether the processor refused it (its record was left with the caller).
fn record_own(processor: &BatchProcessor, i: u64) -> bool {
    let mut live = Some(own_record(i));
    let start = crate::span::clock::now();
    processor.on_record(&mut live, start, crate::span::clock::now());
    live.is_some()
}

/// `processor` shared by `threads` threads, each recording `spans` spans then exiting.
fn record_on_threads(processor: &Arc<BatchProcessor>, threads: u64, spans: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let processor = processor.clone();
            std::thread::spawn(move || {
                for i in 0..spans {
                    record_own(&processor, t * spans + i);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn spans_from_many_threads_are_all_exported_on_flush() {
    let (processor, received, counters) = start(Mode::Accept, 100_000, 512);
    let processor = Arc::new(processor);
    // Threads that stay alive with spans in their lanes, and the test thread itself.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = Arc::new(Mutex::new(wait));
    let (recorded_tx, recorded) = std::sync::mpsc::channel();
    let alive: Vec<_> = (0..3u64)
        .map(|t| {
            let (processor, wait, recorded_tx) =
                (processor.clone(), wait.clone(), recorded_tx.clone());
            std::thread::spawn(move || {
                for i in 0..1000 {
                    record_own(&processor, 10_000 * (t + 1) + i);
                }
                recorded_tx.send(()).unwrap();
                let _ = wait.lock().unwrap().recv();
            })
        })
        .collect();
    for _ in 0..3 {
        recorded.recv().unwrap();
    }
    for i in 0..77 {
        record_own(&processor, 90_000 + i);
    }
    processor.flush().unwrap();
    assert_eq!(get(&received), 3077);
    assert_eq!(get(&counters.queued), 3077);
    assert_eq!(get(&counters.dropped), 0);
    drop(go);
    for thread in alive {
        thread.join().unwrap();
    }
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_thread_that_exits_with_buffered_spans_loses_none() {
    let (processor, received, counters) = start(Mode::Accept, 100_000, 512);
    let processor = Arc::new(processor);
    // Fewer than a batch per thread: every one of them is still buffered when its thread exits.
    record_on_threads(&processor, 4, 100);
    processor.flush().unwrap();
    assert_eq!(get(&received), 400);
    // And at shutdown, without a flush.
    record_on_threads(&processor, 2, 50);
    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(get(&received), 500);
    assert_eq!(get(&counters.exported), 500);
    assert_eq!(get(&counters.dropped), 0);
}

#[test]
fn an_idle_threads_spans_are_exported_within_the_schedule_delay() {
    let settings = BatchSettings {
        max_queue_size: 2048,
        max_export_batch_size: 512,
        schedule_delay: Duration::from_millis(50),
        export_timeout: Duration::from_secs(20),
    };
    let (processor, received, _) = start_with(Mode::Accept, settings, Duration::from_secs(20));
    // This thread keeps running (it is the test's) but records nothing more, and nobody
    // flushes: only the export thread's own schedule can send them.
    for i in 0..10 {
        record_own(&processor, i);
    }
    let waited = Instant::now();
    while get(&received) < 10 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(&received), 10);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn the_queue_bound_holds_across_threads_and_counts_drops() {
    // The export hangs: nothing leaves the queue once the first batch is in flight.
    let (processor, received, counters) = start(Mode::Hang, 100, 10);
    let processor = Arc::new(processor);
    record_on_threads(&processor, 4, 500);
    // Shutdown collects what the exited threads left: the bound is the queue plus the one
    // batch in flight, and every other span was counted dropped.
    returns(move || {
        let _ = processor.shutdown(Duration::from_millis(300));
    });
    let queued = get(&counters.queued);
    let dropped = get(&counters.dropped);
    assert_eq!(queued + dropped, 2000, "queued {queued}, dropped {dropped}");
    assert!(queued <= 100 + 10, "queued {queued}");
    assert_eq!(get(&received), 0);
}

#[test]
fn a_full_queue_leaves_the_records_it_refuses_with_their_thread_and_counts_each_once() {
    // The export hangs: the queue fills and stays full.
    let (processor, received, counters) = start(Mode::Hang, 10, 5);
    let refused = (0..100).filter(|&i| record_own(&processor, i)).count() as u64;
    let stats = counters.snapshot();
    assert_eq!(stats.spans_queued + stats.spans_dropped, 100, "{stats:?}");
    assert!(stats.spans_dropped >= 100 - 10 - 5, "{stats:?}");
    // Once the lane has found the queue full, a span is refused before anything is built for
    // it: its box is the caller's again (the recording path keeps it for the thread's next
    // span). Only the span that finds the budget empty, once after each time slots came back
    // (the export thread took a batch), goes the hand-over's whole way.
    assert!(
        refused <= stats.spans_dropped,
        "refused {refused}, {stats:?}"
    );
    assert!(
        refused + 5 >= stats.spans_dropped,
        "refused {refused}, {stats:?}"
    );
    returns(move || {
        let _ = processor.shutdown(Duration::from_millis(300));
    });
    assert_eq!(get(&received), 0);
}

#[test]
fn stats_count_every_span_dropped_by_running_and_exited_threads() {
    // The export hangs: the queue fills and stays full.
    let (processor, received, counters) = start(Mode::Hang, 100, 10);
    let processor = Arc::new(processor);
    // Three threads record and exit before the stats are read.
    record_on_threads(&processor, 3, 300);
    // Two threads record and are still running when they are read.
    let (recorded_tx, recorded) = std::sync::mpsc::channel();
    let (stop_tx, stop) = std::sync::mpsc::channel::<()>();
    let stop = Arc::new(Mutex::new(stop));
    let running: Vec<_> = (0..2u64)
        .map(|t| {
            let (processor, recorded_tx, stop) =
                (processor.clone(), recorded_tx.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..300 {
                    record_own(&processor, 10_000 * (t + 1) + i);
                }
                recorded_tx.send(()).unwrap();
                let _ = stop.lock().unwrap().recv();
            })
        })
        .collect();
    for _ in &running {
        recorded.recv().unwrap();
    }
    let stats = counters.snapshot();
    assert_eq!(
        stats.spans_queued + stats.spans_dropped,
        1500,
        "queued {}, dropped {}",
        stats.spans_queued,
        stats.spans_dropped
    );
    assert!(stats.spans_dropped >= 1500 - 200, "{stats:?}");
    // Read again once every thread has exited: nothing lost, nothing counted twice.
    drop(stop_tx);
    for thread in running {
        thread.join().unwrap();
    }
    let again = counters.snapshot();
    assert_eq!(
        (again.spans_queued, again.spans_dropped),
        (stats.spans_queued, stats.spans_dropped)
    );
    returns(move || {
        let _ = processor.shutdown(Duration::from_millis(300));
    });
    assert_eq!(get(&received), 0);
}

#[test]
fn recording_threads_never_wait_for_the_shared_queue_lock() {
    let (processor, received, _) = start(Mode::Accept, 100_000, 512);
    let processor = Arc::new(processor);
    let (registered_tx, registered) = std::sync::mpsc::channel();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let (done_tx, done) = std::sync::mpsc::channel();
    let recorder = {
        let processor = processor.clone();
        std::thread::spawn(move || {
            record_own(&processor, 0);
            registered_tx.send(()).unwrap();
            go.recv().unwrap();
            for i in 1..200 {
                record_own(&processor, i);
            }
            done_tx.send(()).unwrap();
        })
    };
    registered.recv().unwrap();
    // The export thread and flush hold this lock; a recording thread must not need it.
    let held = processor.shared.lock();
    go_tx.send(()).unwrap();
    let finished = done.recv_timeout(Duration::from_secs(20));
    drop(held);
    finished.expect("recording waited for the shared queue's lock");
    recorder.join().unwrap();
    processor.flush().unwrap();
    assert_eq!(get(&received), 200);
}

#[test]
fn a_batch_worth_of_queue_slots_is_sent_without_waiting_for_the_delay() {
    // A schedule delay of ten minutes: only the queue's filling can send these.
    let (processor, received, _) = start(Mode::Accept, 2048, 512);
    // Fewer spans than a batch, but with the slots this thread holds for its next ones, a
    // batch's worth of the queue: the export thread is woken and must not go back to sleep.
    for i in 0..500 {
        record_own(&processor, i);
    }
    let waited = Instant::now();
    while get(&received) == 0 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = get(&received);
    assert!(sent >= 400, "{sent} of 500 sent before the schedule delay");
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

/// An exporter whose requests never get an answer and whose batches take long to prepare (a
/// large queue to encode): counts the batches it prepared.
#[derive(Default)]
struct SlowToPrepare {
    prepared: AtomicU64,
}

struct SlowToPrepareHandle(Arc<SlowToPrepare>);

impl worker::Exporter for SlowToPrepareHandle {
    const IN_FLIGHT: usize = 1;
    type Request = ();

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) {
        self.0.prepared.fetch_add(1, Ordering::SeqCst);
        batch.clear();
        std::thread::sleep(Duration::from_millis(100));
    }

    async fn send(
        &self,
        _request: (),
        _closing: worker::ShutdownBegun,
    ) -> Result<worker::Accepted, String> {
        std::future::pending().await
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// Past its deadline the export thread prepares nothing more: what is still queued is
/// counted failed at once (by the thread, which reports it), however long it would take to
/// prepare.
#[test]
fn past_the_shutdown_deadline_the_queue_is_given_up_without_preparing_it() {
    let exporter = Arc::new(SlowToPrepare::default());
    let made = SlowToPrepareHandle(exporter.clone());
    let (processor, counters) = start_exporter(made, 1000, 10, Duration::from_secs(600));
    for i in 0..500 {
        processor.on_end(span(i));
    }
    // The first batch is sent (and never answered); the rest waits in the queue.
    let waited = Instant::now();
    while get(&exporter.prepared) == 0 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = returns(move || processor.shutdown(Duration::from_millis(500)));
    // Time for a thread still preparing past the deadline to be caught at it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&exporter.prepared), 1, "prepared past the deadline");
    let stats = counters.snapshot();
    assert_eq!((stats.spans_failed, stats.queue_len), (500, 0), "{stats:?}");
}

/// While requests in flight fill the exporter's room, the spans recording threads hand over
/// show in `queue_len`: the queue is seen filling before it drops spans.
#[test]
fn spans_waiting_behind_requests_in_flight_show_in_the_queue_length() {
    let exporter = Arc::new(SlowToPrepare::default());
    let made = SlowToPrepareHandle(exporter.clone());
    let (processor, counters) = start_exporter(made, 1000, 10, Duration::from_millis(50));
    let processor = Arc::new(processor);
    record_own(&processor, 0);
    // That span's batch is sent and never answered: the exporter's one request is in flight.
    let waited = Instant::now();
    while get(&exporter.prepared) == 0 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    record_on_threads(&processor, 1, 300);
    let waited = Instant::now();
    while get(&counters.queue_len) != 300 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(counters.snapshot().queue_len, 300);
    let _ = returns(move || processor.shutdown(Duration::from_millis(200)));
}

/// An exporter whose first request fails and asks for a pause (as `Pace` tells the export
/// thread): it records when each request starts.
#[derive(Debug, Default)]
struct Paced {
    starts: std::sync::Mutex<Vec<std::time::Instant>>,
    pause_until: std::sync::Mutex<Option<std::time::Instant>>,
    delivered: AtomicU64,
    /// How often the export thread asked how requests may start: once per turn of its loop.
    pace_asked: AtomicU64,
}

struct PacedHandle(Arc<Paced>);

/// How long the first failed request's pause lasts.
const PAUSE: Duration = Duration::from_millis(600);

impl worker::Exporter for PacedHandle {
    const IN_FLIGHT: usize = 2;
    const PREPARE_AHEAD: bool = true;
    type Request = usize;

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) -> usize {
        batch.drain(..).count()
    }

    async fn send(
        &self,
        spans: usize,
        _closing: worker::ShutdownBegun,
    ) -> Result<worker::Accepted, String> {
        let this = &self.0;
        let first = {
            let mut starts = this.starts.lock().unwrap();
            starts.push(std::time::Instant::now());
            starts.len() == 1
        };
        if first {
            *this.pause_until.lock().unwrap() = Some(std::time::Instant::now() + PAUSE);
            return Err("429 Too Many Requests".into());
        }
        this.delivered.fetch_add(spans as u64, Ordering::SeqCst);
        Ok(worker::Accepted::All)
    }

    fn pace(&self) -> worker::Pace {
        self.0.pace_asked.fetch_add(1, Ordering::SeqCst);
        let until = *self.0.pause_until.lock().unwrap();
        worker::Pace {
            not_before: until.filter(|until| *until > std::time::Instant::now()),
            one_at_a_time: until.is_some() && self.0.delivered.load(Ordering::SeqCst) == 0,
            unanswered: false,
        }
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// A processor over a [`Paced`] exporter (a queue of `queue` spans, batches of 100) whose
/// first batch, of 100 spans, has gone and failed: its pause has begun.
fn paused(
    queue: usize,
    schedule_delay: Duration,
) -> (BatchProcessor, &'static Counters, Arc<Paced>) {
    let exporter = Arc::new(Paced::default());
    let handle = PacedHandle(exporter.clone());
    let (processor, counters) = start_exporter(handle, queue, 100, schedule_delay);
    for i in 0..100 {
        processor.on_end(span(i));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while exporter.pause_until.lock().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first request went"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (processor, counters, exporter)
}

/// After a failed request the receiver asks for a pause: no request starts before it ends,
/// the batches recorded meanwhile wait (in the queue, or prepared) and go once it has, one
/// request at a time until one gets through; none is failed for the pause. (They were sent
/// at once, one after the other, each failing.)
#[test]
fn no_request_starts_during_a_pause_and_nothing_waiting_is_lost() {
    let (processor, counters, exporter) = paused(5000, Duration::from_millis(20));
    for i in 100..1000 {
        processor.on_end(span(i));
    }
    let processor = returns(move || {
        processor.flush().unwrap();
        processor
    });
    let starts = exporter.starts.lock().unwrap().clone();
    let paused_from = starts[0];
    for start in &starts[1..] {
        assert!(
            start.duration_since(paused_from) >= PAUSE,
            "a request started {:?} into the pause",
            start.duration_since(paused_from)
        );
    }
    assert_eq!(get(&counters.failed_spans), 100, "the first batch only");
    assert_eq!(get(&exporter.delivered), 900);
    returns(move || processor.shutdown(Duration::from_secs(5)).unwrap());
}

/// While a pause lasts and the export thread can take nothing more (prepared requests fill
/// the queue's size), it sleeps until the pause ends: it spun, at half a core or more, once the
/// schedule delay had passed. Meanwhile the queue's length is still shown.
#[test]
fn a_paused_export_thread_sleeps_when_it_can_take_nothing() {
    let (processor, counters, exporter) = paused(300, Duration::from_millis(10));
    // Prepared requests fill the queue's size; then spans wait in the queue behind them.
    for i in 100..400 {
        processor.on_end(span(i));
    }
    std::thread::sleep(Duration::from_millis(100));
    for i in 400..500 {
        processor.on_end(span(i));
    }
    std::thread::sleep(Duration::from_millis(50));
    let asked = get(&exporter.pace_asked);
    std::thread::sleep(Duration::from_millis(300));
    let turns = get(&exporter.pace_asked) - asked;
    assert!(
        turns < 20,
        "{turns} turns of the export loop in 300 ms of pause"
    );
    assert_eq!(get(&counters.queue_len), 100, "the spans waiting are shown");
    returns(move || processor.shutdown(Duration::from_secs(5)).unwrap());
}

/// A kept span's end as the hot path runs it: through the pipeline, whose record sink is the
/// processor, into the thread's ring in line (`record_ring::try_take`), or through the lane's
/// locked path when the ring is full.
fn end_own_in_line(pipeline: &crate::span::sink::Pipeline, i: u64) {
    let start = crate::span::clock::now();
    let left = pipeline.on_own_box_end(own_record(i), start, crate::span::clock::now());
    assert!(left.is_none(), "the queue has room: the record is taken");
}

/// Records handed over in line from threads that go on and threads that exit with records in
/// their rings are all exported: the rings' slots are written by their threads and read by
/// the export thread once each (run under Miri too, with fewer spans: `scripts/miri`).
#[test]
fn records_handed_over_in_line_by_threads_that_stay_and_exit_are_all_exported() {
    let per_thread: u64 = if cfg!(miri) { 150 } else { 3000 };
    let (processor, received, counters) = start(Mode::Accept, 100_000, 512);
    let pipeline = Arc::new(crate::span::sink::Pipeline::new(vec![Box::new(processor)]));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let pipeline = pipeline.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    end_own_in_line(&pipeline, (t + 1) * 1_000_000 + i);
                }
            })
        })
        .collect();
    for i in 0..per_thread {
        end_own_in_line(&pipeline, i);
    }
    for thread in threads {
        thread.join().unwrap();
    }
    pipeline.flush().unwrap();
    assert_eq!(get(&received), 3 * per_thread);
    assert_eq!(get(&counters.queued), 3 * per_thread);
    assert_eq!(get(&counters.dropped), 0);
    pipeline.shutdown(Duration::from_secs(5)).unwrap();
}

/// An exporter whose receiver never answers: each request fails unanswered (as the
/// transport's request does when its time runs out) after `hang` says.
#[derive(Debug, Default)]
struct Silent {
    hang: Hang,
    sent: AtomicU64,
    /// Requests that ran to their end (were not given up by the export loop).
    ran_out: AtomicU64,
    unanswered: std::sync::atomic::AtomicBool,
}

/// How long a [`Silent`] request goes unanswered.
#[derive(Debug, Default)]
enum Hang {
    /// Until shutdown begins, and 50 ms more.
    #[default]
    UntilShutdown,
    /// [`Hang::TIMEOUT`], the request timeout, sending one request at a time (as after a
    /// failure) until shutdown.
    OneAtATime,
}

impl Hang {
    const TIMEOUT: Duration = Duration::from_millis(1500);
}

struct SilentHandle(Arc<Silent>);

impl worker::Exporter for SilentHandle {
    const IN_FLIGHT: usize = 2;
    const PREPARE_AHEAD: bool = true;
    type Request = usize;

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) -> usize {
        batch.drain(..).count()
    }

    async fn send(
        &self,
        _spans: usize,
        closing: worker::ShutdownBegun,
    ) -> Result<worker::Accepted, String> {
        self.0.sent.fetch_add(1, Ordering::SeqCst);
        match self.0.hang {
            Hang::UntilShutdown => {
                closing.wait().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Hang::OneAtATime => tokio::time::sleep(Hang::TIMEOUT).await,
        }
        self.0.ran_out.fetch_add(1, Ordering::SeqCst);
        self.0.unanswered.store(true, Ordering::SeqCst);
        Err("no answer".into())
    }

    fn pace(&self) -> worker::Pace {
        worker::Pace {
            one_at_a_time: matches!(self.0.hang, Hang::OneAtATime),
            unanswered: self.0.unanswered.load(Ordering::SeqCst),
            ..worker::Pace::default()
        }
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// A receiver that does not answer during shutdown is not sent the batches behind the
/// request it left unanswered, each for a request timeout of its own (a process whose
/// collector hangs or is gone took the whole export timeout to exit): they are counted failed
/// at once, and the report says why after the failure.
#[test]
fn shutdown_sends_nothing_more_once_a_request_went_unanswered() {
    let exporter = Arc::new(Silent::default());
    let (processor, counters) = start_exporter(
        SilentHandle(exporter.clone()),
        2000,
        100,
        Duration::from_secs(600),
    );
    for i in 0..1000 {
        processor.on_end(span(i));
    }
    // The two requests in flight hang; the rest wait, prepared or queued.
    let waited = Instant::now();
    while get(&exporter.sent) < 2 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = processor.shutdown(Duration::from_secs(10));
    assert_eq!(
        get(&exporter.sent),
        2,
        "batches sent after an unanswered one"
    );
    assert_eq!(get(&counters.failed_spans), 1000);
    assert_eq!(get(&counters.exported), 0);
}

/// Shutdown while a request hangs and others wait, prepared: the exit is held for what is
/// left of that request's timeout, not for another request started beside it once shutdown
/// began (which ran to its own timeout: the exit took the request timeout and most of
/// another), and shutdown is seen at once while nothing more may be taken (it was seen at
/// the loop's one-second tick).
#[test]
fn shutdown_behind_a_hung_request_waits_for_it_alone() {
    let exporter = Arc::new(Silent {
        hang: Hang::OneAtATime,
        ..Silent::default()
    });
    let (processor, counters) = start_exporter(
        SilentHandle(exporter.clone()),
        200,
        100,
        Duration::from_millis(10),
    );
    for i in 0..100 {
        processor.on_end(span(i));
    }
    let waited = Instant::now();
    while get(&exporter.sent) < 1 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let first_sent = Instant::now();
    // Two batches more, prepared behind the hung request: nothing more may be taken.
    for i in 100..300 {
        processor.on_end(span(i));
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = processor.shutdown(Duration::from_secs(10));
    let exit = first_sent.elapsed();
    assert_eq!(
        get(&exporter.sent),
        2,
        "the next request went once shutdown began"
    );
    assert_eq!(
        get(&exporter.ran_out),
        1,
        "the request beside the hung one was waited for"
    );
    assert!(
        exit < Hang::TIMEOUT + Duration::from_millis(800),
        "{exit:?}"
    );
    assert_eq!(
        get(&counters.failed_spans) + get(&counters.dropped),
        300,
        "every span counted once"
    );
}

/// An exporter that flushes, then shuts down, the processor it exports for (a user's
/// `SpanExporter` that calls `Guard::flush` or drops the guard): on the export thread.
struct Reentrant {
    processor: Arc<std::sync::OnceLock<Arc<BatchProcessor>>>,
    took: Arc<Mutex<Vec<Duration>>>,
}

impl std::fmt::Debug for Reentrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reentrant")
    }
}

impl SpanExporter for Reentrant {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some(processor) = self.processor.get() {
            let started = Instant::now();
            let _ = processor.flush();
            let _ = processor.shutdown(Duration::from_secs(20));
            self.took.lock().unwrap().push(started.elapsed());
        }
        Ok(())
    }
}

/// A flush or shutdown the exporter calls on the export thread returns at once: it waited for
/// that thread, itself, for the whole export timeout (20 s here, 30 s by default), and no
/// span went out meanwhile.
#[test]
fn a_flush_or_shutdown_from_the_exporter_does_not_wait_for_its_own_thread() {
    let cell = Arc::new(std::sync::OnceLock::new());
    let took = Arc::new(Mutex::new(Vec::new()));
    let exporter = Reentrant {
        processor: cell.clone(),
        took: took.clone(),
    };
    let (processor, counters) = start_exporter(exporter, 5000, 512, Duration::from_secs(600));
    let processor = Arc::new(processor);
    cell.set(processor.clone()).unwrap();
    for i in 0..100 {
        processor.on_end(span(i));
    }
    let flushing = processor.clone();
    let _ = returns(move || flushing.flush());
    let took = took.lock().unwrap().clone();
    assert!(!took.is_empty(), "the exporter ran");
    assert!(took.iter().all(|t| *t < Duration::from_secs(5)), "{took:?}");
    assert_eq!(get(&counters.exported), 100);
}
