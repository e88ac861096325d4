use super::*;
use opentelemetry_sdk::trace::SpanData;

fn span(n: u64) -> Queued {
    let mut data = crate::export::sdk::empty_span_data();
    data.dropped_attributes_count = n as u32;
    Queued::Sdk(Box::new(data))
}

fn numbers<'a>(spans: impl IntoIterator<Item = &'a Queued>) -> Vec<u32> {
    spans
        .into_iter()
        .map(|q| match q {
            Queued::Sdk(data) => {
                let data: &SpanData = data;
                data.dropped_attributes_count
            }
            Queued::Own(_) => unreachable!(),
        })
        .collect()
}

/// A sampled span of other OpenTelemetry code, numbered `n`.
fn sampled(n: u64) -> SpanData {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let mut data = crate::export::sdk::empty_span_data();
    data.span_context = SpanContext::new(
        TraceId::from(u128::from(n) + 1),
        SpanId::from(n + 1),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    data
}

/// An exporter of two requests in flight that prepares ahead, whose requests are held
/// until `open`; it counts what it prepared, sent and delivered.
#[derive(Default)]
struct Gated {
    open: std::sync::atomic::AtomicBool,
    prepared: std::sync::atomic::AtomicU64,
    started: std::sync::atomic::AtomicU64,
    delivered: std::sync::atomic::AtomicU64,
    /// The most spans prepared and not yet sent at any time.
    most_waiting: std::sync::atomic::AtomicU64,
}

struct GatedHandle(Arc<Gated>);

impl Exporter for GatedHandle {
    const IN_FLIGHT: usize = 2;
    const PREPARE_AHEAD: bool = true;
    type Request = usize;

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) -> usize {
        let spans = batch.drain(..).count() as u64;
        let prepared = self.0.prepared.fetch_add(spans, Ordering::SeqCst) + spans;
        let waiting = prepared - self.0.started.load(Ordering::SeqCst);
        self.0.most_waiting.fetch_max(waiting, Ordering::SeqCst);
        spans as usize
    }

    async fn send(&self, spans: usize, _closing: ShutdownBegun) -> Result<Accepted, String> {
        let gated = &self.0;
        gated.started.fetch_add(spans as u64, Ordering::SeqCst);
        while !gated.open.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gated.delivered.fetch_add(spans as u64, Ordering::SeqCst);
        Ok(Accepted::All)
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// A processor exporting through `exporter`: a queue of 100 spans, batches of 10, sent when
/// flushed or full (the schedule's delay and the timeouts far beyond what the tests wait).
fn started(
    exporter: impl Exporter + Send,
    counters: &'static Counters,
) -> super::super::batch::BatchProcessor {
    let settings = crate::config::BatchSettings {
        max_queue_size: 100,
        max_export_batch_size: 10,
        schedule_delay: Duration::from_secs(600),
        export_timeout: Duration::from_secs(20),
    };
    let options = ExportSetup {
        request_timeout: Duration::from_secs(600),
        destination: "test".into(),
        resource: Resource::builder_empty().build(),
    };
    super::super::batch::BatchProcessor::start(settings, counters, options, move || Ok(exporter))
        .unwrap()
}

#[test]
fn spans_taken_while_both_requests_are_in_flight_leave_the_queue_room() {
    use crate::span::sink::Sink as _;
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let gated = Arc::new(Gated::default());
    let processor = started(GatedHandle(gated.clone()), counters);
    // Both requests hang. A batch at a time, each prepared before the next is recorded:
    // the queue's 100 slots hold none of them, and 2 requests of 10 are in flight, so
    // the next 100 spans fit in the prepared requests and the 100 after in the queue.
    let total = 20 + 100 + 100;
    for step in 0..total / 10 {
        for i in 0..10 {
            processor.on_end(sampled(step * 10 + i));
        }
        // The export thread's turn (a liveness wait, not a timing assertion).
        let waited = Instant::now();
        while gated.prepared.load(Ordering::SeqCst) < (step + 1) * 10
            && gated.prepared.load(Ordering::SeqCst) < 120
            && waited.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(counters.dropped.load(Ordering::SeqCst), 0);
    assert_eq!(
        gated.started.load(Ordering::SeqCst),
        20,
        "two requests in flight"
    );
    // Bounded: what waits prepared is at most the queue's size.
    assert_eq!(gated.most_waiting.load(Ordering::SeqCst), 100);
    // One more span finds the queue full.
    processor.on_end(sampled(total));
    assert_eq!(counters.dropped.load(Ordering::SeqCst), 1);
    gated.open.store(true, Ordering::SeqCst);
    processor.flush().unwrap();
    assert_eq!(gated.delivered.load(Ordering::SeqCst), total);
    assert_eq!(counters.exported.load(Ordering::SeqCst), total);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

/// An exporter whose requests hold at most three spans (as the OTLP one's hold at most about
/// a receiver's bound in bytes); it notes each request's spans.
#[derive(Default)]
struct ThreeAtATime(Arc<std::sync::Mutex<Vec<usize>>>);

impl Exporter for ThreeAtATime {
    const IN_FLIGHT: usize = 2;
    type Request = usize;

    fn set_resource(&mut self, _resource: &Resource) {}

    fn prepare(&self, batch: &mut Vec<Queued>, _emptied: &mut Vec<Box<Live>>) -> usize {
        batch.drain(..batch.len().min(3)).count()
    }

    async fn send(&self, spans: usize, _closing: ShutdownBegun) -> Result<Accepted, String> {
        self.0.lock().unwrap().push(spans);
        Ok(Accepted::All)
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}

/// A batch an exporter takes part of at a time is sent in as many requests as it takes, every
/// span exported and counted once.
#[test]
fn a_batch_taken_in_parts_is_sent_whole() {
    use crate::span::sink::Sink as _;
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let processor = started(ThreeAtATime(requests.clone()), counters);
    for i in 0..25 {
        processor.on_end(sampled(i));
    }
    processor.flush().unwrap();
    let sent = requests.lock().unwrap().clone();
    assert_eq!(sent.iter().sum::<usize>(), 25, "{sent:?}");
    assert!(sent.iter().all(|&n| (1..=3).contains(&n)), "{sent:?}");
    assert_eq!(counters.exported.load(Ordering::SeqCst), 25);
    assert_eq!(counters.dropped.load(Ordering::SeqCst), 0);
    processor.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn taking_the_front_of_the_queue_keeps_every_span_in_order() {
    for (len, n, wrap) in [
        (6, 6, 0),
        (6, 4, 0),
        (6, 4, 3),
        (6, 6, 5),
        (6, 0, 2),
        (1, 1, 0),
    ] {
        let mut queue = VecDeque::with_capacity(8);
        // Wrapped: the queue's first spans at the end of its memory, the rest at the start.
        for _ in 0..wrap {
            queue.push_back(span(99));
            queue.pop_front();
        }
        queue.extend((0..len).map(span));
        let mut batch = Vec::with_capacity(4);
        take_front(&mut queue, n, &mut batch);
        let all: Vec<u32> = (0..len as u32).collect();
        assert_eq!(numbers(&batch), all[..n], "{len} {n} {wrap}");
        assert_eq!(numbers(&queue), all[n..], "{len} {n} {wrap}");
        // Both go on being used.
        queue.push_back(span(7));
        assert_eq!(numbers(queue.back()), [7]);
        batch.clear();
        take_front(&mut queue, 1, &mut batch);
        assert_eq!(batch.len(), 1);
    }
    // A batch that already holds spans keeps them.
    let mut queue: VecDeque<Queued> = (0..3).map(span).collect();
    let mut batch = vec![span(9)];
    take_front(&mut queue, 2, &mut batch);
    assert_eq!(numbers(&batch), [9, 0, 1]);
    assert_eq!(numbers(&queue), [2]);
}

#[test]
fn one_span_is_a_span() {
    assert_eq!(super::in_words(1u64), "1 span");
    assert_eq!(super::in_words(0u64), "0 spans");
    assert_eq!(super::in_words(2u64), "2 spans");
}
