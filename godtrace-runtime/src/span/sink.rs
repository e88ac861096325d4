//! Where finished spans go: the one seam between the hot path and everything that takes spans
//! (the batch exporter, the local tree printer, the test capture, each a [`Sink`]).
//!
//! `init` (or the test capture) installs one [`Pipeline`] for the life of the process; the hot
//! path reads it through [`installed`] and knows nothing of what its sinks are. This module
//! imports nothing of the crate outside `span`.
use super::clock::Tick;
use super::live::{Live, LiveBox};
use opentelemetry::trace::{SpanContext, SpanId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// When a sink wants something: what the pipeline reads on the hot path, once per span, with
/// no call into the sink.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Interest {
    /// Always.
    Always,
    /// While this counter is not zero (the test capture: while a capture is alive).
    WhileNonZero(&'static AtomicUsize),
}

/// Something that takes finished spans: godtrace's own (as records or as `SpanData`) and those
/// of other OpenTelemetry code using the provider (always as `SpanData`).
pub(crate) trait Sink: Send + Sync + fmt::Debug {
    /// When the sink is told that a recorded span starts ([`Sink::on_start`]); `None`: never.
    fn watches_starts(&self) -> Option<Interest> {
        None
    }

    /// A recorded span of ids `ids`, child of the span `parent` (`SpanId::INVALID` for a
    /// root), starts on this thread (called while the sink's [`Sink::watches_starts`]
    /// interest holds, and possibly at other times).
    fn on_start(&self, _ids: &SpanContext, _parent: SpanId) {}

    /// When the sink wants finished spans as `SpanData`. While no sink but the record sink
    /// does, godtrace's own spans go to the record sink as they are, and no `SpanData` is
    /// built on the application's thread.
    fn wants_span_data(&self) -> Interest {
        Interest::Always
    }

    /// A finished span (called while the sink's [`Sink::wants_span_data`] interest holds).
    fn on_end(&self, span: SpanData);

    /// Whether the sink takes godtrace's own finished spans as records ([`Sink::on_record`]),
    /// building their `SpanData` later, off the application's thread. At most one sink of a
    /// pipeline does (the batch queue).
    fn takes_records(&self) -> bool {
        false
    }

    /// A finished span of godtrace's own, ended at `end`: the sink takes the box out of
    /// `live`, or leaves it there when it has no room (for this thread's next span). Called
    /// only when [`Sink::takes_records`].
    fn on_record(&self, _live: &mut Option<LiveBox>, _start: Tick, _end: Tick) {}

    /// The id of the record sink's lanes (`super::record_ring::RingFront::owner`, never 0),
    /// when it takes records through them: the pipeline then publishes a record into this
    /// thread's lane in line while it has room, and calls [`Sink::on_record`] otherwise.
    /// Read once, when the pipeline is built; `None`: [`Sink::on_record`] always.
    fn record_ring_owner(&self) -> Option<u64> {
        None
    }

    /// Delivers everything taken so far.
    fn flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Delivers what it can within `timeout`, then stops.
    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Whether any of a set of [`Interest`]s holds now, read without calling into the sinks: one
/// counter on the hot path (a constant one for "never" and "always", so that every gate reads
/// the same way, without a match), and the others only when there are more.
#[derive(Debug)]
struct Gate {
    /// Zero when the gate is closed; not zero when it may be open: the gate's counter when it
    /// has one, [`ALWAYS`] when it has several (then `several` decides, off the hot path).
    hint: &'static AtomicUsize,
    /// The counters of a gate of several (each opening it while not zero); else empty.
    several: Box<[&'static AtomicUsize]>,
}

/// The counter of a gate that never opens: never changed.
static NEVER: AtomicUsize = AtomicUsize::new(0);
/// The counter of a gate always open: never changed.
static ALWAYS: AtomicUsize = AtomicUsize::new(1);

impl Default for Gate {
    fn default() -> Gate {
        Gate::with(&NEVER, Vec::new())
    }
}

impl Gate {
    fn with(hint: &'static AtomicUsize, several: Vec<&'static AtomicUsize>) -> Gate {
        Gate {
            hint,
            several: several.into_boxed_slice(),
        }
    }

    fn of(interests: impl Iterator<Item = Interest>) -> Gate {
        let mut counters = Vec::new();
        for interest in interests {
            match interest {
                Interest::Always => return Gate::with(&ALWAYS, Vec::new()),
                Interest::WhileNonZero(counter) => counters.push(counter),
            }
        }
        match counters.len() {
            0 => Gate::default(),
            1 => Gate::with(counters[0], Vec::new()),
            _ => Gate::with(&ALWAYS, counters),
        }
    }

    /// Whether the gate may be open: `false` means closed; after `true`, [`Gate::is_open`]
    /// decides. One load and a branch.
    #[inline(always)]
    fn may_be_open(&self) -> bool {
        self.hint.load(Ordering::Relaxed) != 0
    }

    /// Whether the gate is open.
    #[cold]
    fn is_open(&self) -> bool {
        if self.several.is_empty() {
            self.may_be_open()
        } else {
            self.several.iter().any(|n| n.load(Ordering::Relaxed) != 0)
        }
    }
}

/// The record sink of a pipeline where no sink takes records: it takes nothing (a span it is
/// handed stays with its owner) and wants nothing, so that the hot path always has a record
/// sink to call and no `Option` to test.
#[derive(Debug)]
struct NoRecordSink;

impl Sink for NoRecordSink {
    fn wants_span_data(&self) -> Interest {
        Interest::WhileNonZero(&NEVER)
    }

    fn on_end(&self, _span: SpanData) {}
}

/// The sinks of the installed provider.
#[derive(Debug)]
pub(crate) struct Pipeline {
    /// Every sink but the record sink, in the order given.
    sinks: Vec<Box<dyn Sink>>,
    /// The sink that takes records ([`NoRecordSink`] when none does).
    record_sink: Box<dyn Sink>,
    /// When a sink other than the record sink wants `SpanData`.
    others_want_span_data: Gate,
    /// When a sink watches starts.
    watching_starts: Gate,
    /// The record sink's [`Sink::record_ring_owner`]; 0, which owns no lane: none. (Without
    /// an exporter there are no lanes to publish into.)
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        expect(dead_code, reason = "no lanes without an exporter")
    )]
    ring_owner: u64,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new(Vec::new())
    }
}

impl Pipeline {
    /// A pipeline over `sinks` (the first that takes records gets them; any other one gets
    /// `SpanData` like the rest).
    pub(crate) fn new(mut sinks: Vec<Box<dyn Sink>>) -> Pipeline {
        let record_sink = sinks.iter().position(|s| s.takes_records()).map_or_else(
            || Box::new(NoRecordSink) as Box<dyn Sink>,
            |i| sinks.remove(i),
        );
        let others_want_span_data = Gate::of(sinks.iter().map(|s| s.wants_span_data()));
        let watching_starts = Gate::of(
            sinks
                .iter()
                .chain(std::iter::once(&record_sink))
                .filter_map(|s| s.watches_starts()),
        );
        let ring_owner = record_sink.record_ring_owner().unwrap_or(0);
        Pipeline {
            sinks,
            ring_owner,
            record_sink,
            others_want_span_data,
            watching_starts,
        }
    }

    /// Every sink, the record sink last.
    fn all(&self) -> impl Iterator<Item = &dyn Sink> {
        self.sinks
            .iter()
            .chain(std::iter::once(&self.record_sink))
            .map(|s| &**s)
    }

    /// A recorded span of ids `ids` starts on this thread. By reference: its trace id is read
    /// only when a sink is told.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(crate) fn on_start(&self, ids: &SpanContext, parent: &SpanId) {
        if self.watching_starts.may_be_open() {
            self.tell_start(ids, *parent);
        }
    }

    #[cold]
    fn tell_start(&self, ids: &SpanContext, parent: SpanId) {
        if !self.watching_starts.is_open() {
            return;
        }
        for sink in self.all() {
            if sink.watches_starts().is_some() {
                sink.on_start(ids, parent);
            }
        }
    }

    /// A finished span of godtrace's own: handed as it is to the record sink when no other
    /// sink wants `SpanData` now; otherwise turned into `SpanData` here, for every sink that
    /// wants it. A span nothing takes stays in `live`.
    #[inline]
    pub(crate) fn on_own_end(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
        if !self.others_want_span_data.may_be_open() {
            self.record_sink.on_record(live, start, end);
            return;
        }
        self.on_own_end_gated(live, start, end);
    }

    /// [`Pipeline::on_own_end`] of a record held by value, the record sink's common path in
    /// line (see [`Sink::record_ring_owner`]): gives back the record when nothing took it.
    #[inline(always)]
    pub(crate) fn on_own_box_end(&self, live: LiveBox, start: Tick, end: Tick) -> Option<LiveBox> {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let live = if self.others_want_span_data.may_be_open() {
            live
        } else {
            match super::record_ring::try_take(self.ring_owner, live, start, end) {
                Ok(()) => return None,
                Err(live) => live,
            }
        };
        self.on_own_box_end_called(live, start, end)
    }

    /// [`Pipeline::on_own_box_end`] through the sinks, out of line.
    #[inline(never)]
    fn on_own_box_end_called(&self, live: LiveBox, start: Tick, end: Tick) -> Option<LiveBox> {
        let mut live = Some(live);
        self.on_own_end(&mut live, start, end);
        live
    }

    /// [`Pipeline::on_own_end`] while a sink other than the record sink may want `SpanData`.
    #[cold]
    fn on_own_end_gated(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
        if !self.others_want_span_data.is_open() {
            self.record_sink.on_record(live, start, end);
            return;
        }
        if let Some(live) = live.take() {
            let (data, emptied) = live.finish(start, end).into_span_data();
            Live::recycle(emptied);
            self.on_end(data);
        }
    }

    /// A finished span as `SpanData`: a copy to each sink that wants it now, the span itself
    /// to the last one.
    pub(crate) fn on_end(&self, span: SpanData) {
        let mut wanting = self.all().filter(|s| wants_now(s.wants_span_data()));
        let Some(mut sink) = wanting.next() else {
            return;
        };
        for next in wanting {
            sink.on_end(span.clone());
            sink = next;
        }
        sink.on_end(span);
    }

    /// Flushes every sink (one failing does not spare the others); the first error.
    pub(crate) fn flush(&self) -> OTelSdkResult {
        first_error(self.all().map(|s| s.flush()))
    }

    /// Shuts every sink down within `timeout`; the first error.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        first_error(self.all().map(|s| s.shutdown(timeout)))
    }
}

/// Whether `interest` holds now.
fn wants_now(interest: Interest) -> bool {
    match interest {
        Interest::Always => true,
        Interest::WhileNonZero(counter) => counter.load(Ordering::Relaxed) != 0,
    }
}

/// Runs every one of `results` (lazy: each is a sink's flush or shutdown, and one failing must
/// not spare the others) and returns the first error.
fn first_error(results: impl Iterator<Item = OTelSdkResult>) -> OTelSdkResult {
    let mut first = Ok(());
    for result in results {
        if first.is_ok() {
            first = result;
        }
    }
    first
}

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

/// Installs the process's pipeline; gives it back when one is installed already.
pub(crate) fn install(pipeline: Pipeline) -> Result<&'static Pipeline, Pipeline> {
    let mut ours = Some(pipeline);
    let installed = PIPELINE.get_or_init(|| ours.take().expect("taken once"));
    match ours {
        None => Ok(installed),
        Some(refused) => Err(refused),
    }
}

/// Tells the installed pipeline's sinks that watch starts that a recorded span of ids `ids`,
/// child of `parent`, starts on this thread (in line: a few loads while none wants to know;
/// both by reference, read only when a sink is told).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(crate) fn on_start(ids: &SpanContext, parent: &SpanId) {
    if let Some(pipeline) = installed() {
        pipeline.on_start(ids, parent);
    }
}

/// The installed pipeline, if any.
#[inline]
pub(crate) fn installed() -> Option<&'static Pipeline> {
    PIPELINE.get()
}

#[cfg(test)]
mod tests {
    use super::super::clock;
    use super::super::live::Name;
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::error::OTelSdkError;
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;

    /// Counts what reaches it.
    #[derive(Debug)]
    struct Counting {
        /// Non-zero while it wants `SpanData` (leaked: an interest's counter is `'static`).
        wants_span_data: &'static AtomicUsize,
        takes_records: bool,
        fails: bool,
        span_data: AtomicUsize,
        records: AtomicUsize,
        flushes: AtomicUsize,
        shutdowns: AtomicUsize,
    }

    impl Sink for Arc<Counting> {
        fn wants_span_data(&self) -> Interest {
            Interest::WhileNonZero(self.wants_span_data)
        }
        fn on_end(&self, _span: SpanData) {
            self.span_data.fetch_add(1, Relaxed);
        }
        fn takes_records(&self) -> bool {
            self.takes_records
        }
        fn on_record(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
            if let Some(live) = live.take() {
                self.records.fetch_add(1, Relaxed);
                Live::recycle(live.finish(start, end).into_live());
            }
        }
        fn flush(&self) -> OTelSdkResult {
            self.flushes.fetch_add(1, Relaxed);
            self.result()
        }
        fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
            self.shutdowns.fetch_add(1, Relaxed);
            self.result()
        }
    }

    impl Counting {
        fn result(&self) -> OTelSdkResult {
            if self.fails {
                Err(OTelSdkError::InternalFailure("refused".into()))
            } else {
                Ok(())
            }
        }
    }

    fn sink(wants_span_data: bool, takes_records: bool, fails: bool) -> Arc<Counting> {
        Arc::new(Counting {
            wants_span_data: Box::leak(Box::new(AtomicUsize::new(wants_span_data.into()))),
            takes_records,
            fails,
            span_data: AtomicUsize::new(0),
            records: AtomicUsize::new(0),
            flushes: AtomicUsize::new(0),
            shutdowns: AtomicUsize::new(0),
        })
    }

    fn pipeline(sinks: &[&Arc<Counting>]) -> Pipeline {
        let boxed = sinks
            .iter()
            .map(|s| Box::new(Arc::clone(s)) as Box<dyn Sink>);
        Pipeline::new(boxed.collect())
    }

    fn finished_span() -> Option<LiveBox> {
        let ids = SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        Some(Live::start(
            ids,
            None,
            Name::Given("s".into(), SpanKind::Internal),
            Vec::new(),
        ))
    }

    fn end_own_span(pipeline: &Pipeline) -> Option<LiveBox> {
        let mut live = finished_span();
        let now = clock::now();
        pipeline.on_own_end(&mut live, now, now);
        live
    }

    #[test]
    fn the_record_sink_takes_records_while_no_other_sink_wants_span_data() {
        let queue = sink(true, true, false);
        let capture = sink(false, false, false);
        let pipeline = pipeline(&[&capture, &queue]);
        assert!(end_own_span(&pipeline).is_none(), "the record was taken");
        assert_eq!(queue.records.load(Relaxed), 1);
        assert_eq!(queue.span_data.load(Relaxed), 0);
        assert_eq!(capture.span_data.load(Relaxed), 0);

        // A capture comes alive: every sink that wants it gets the span as `SpanData`.
        capture.wants_span_data.store(1, Relaxed);
        assert!(end_own_span(&pipeline).is_none());
        assert_eq!(queue.records.load(Relaxed), 1);
        assert_eq!(queue.span_data.load(Relaxed), 1);
        assert_eq!(capture.span_data.load(Relaxed), 1);
    }

    /// With several sinks that may want `SpanData`, each decides on its own: the records go
    /// to the record sink while none wants `SpanData`, and `SpanData` to each that does.
    #[test]
    fn with_several_sinks_wanting_span_data_each_decides_on_its_own() {
        let queue = sink(true, true, false);
        let first = sink(false, false, false);
        let second = sink(false, false, false);
        let pipeline = pipeline(&[&first, &second, &queue]);
        assert!(end_own_span(&pipeline).is_none());
        assert_eq!(queue.records.load(Relaxed), 1, "neither wants SpanData");
        second.wants_span_data.store(1, Relaxed);
        assert!(end_own_span(&pipeline).is_none());
        assert_eq!(queue.records.load(Relaxed), 1);
        assert_eq!(second.span_data.load(Relaxed), 1);
        assert_eq!(first.span_data.load(Relaxed), 0);
        assert_eq!(queue.span_data.load(Relaxed), 1);
        second.wants_span_data.store(0, Relaxed);
        assert!(end_own_span(&pipeline).is_none());
        assert_eq!(
            queue.records.load(Relaxed),
            2,
            "neither wants SpanData again"
        );
    }

    #[test]
    fn a_span_nothing_takes_stays_with_its_owner() {
        let idle = sink(false, false, false);
        assert!(end_own_span(&pipeline(&[&idle])).is_some());
        assert!(end_own_span(&Pipeline::default()).is_some());
    }

    #[test]
    fn flush_and_shutdown_reach_every_sink_when_one_fails() {
        let failing = sink(true, false, true);
        let fine = sink(true, false, false);
        let pipeline = pipeline(&[&failing, &fine]);
        assert!(pipeline.flush().is_err());
        assert!(pipeline.shutdown(Duration::from_secs(1)).is_err());
        for sink in [&failing, &fine] {
            assert_eq!(sink.flushes.load(Relaxed), 1);
            assert_eq!(sink.shutdowns.load(Relaxed), 1);
        }
    }
}
