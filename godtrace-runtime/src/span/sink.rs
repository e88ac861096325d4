//! Where finished spans go: the one seam between the hot path and everything that takes spans
//! (the batch exporter, the local tree printer, the test capture, each a [`Sink`]).
//!
//! `init` (or the test capture) installs one [`Pipeline`] for the life of the process; the hot
//! path reads it through [`installed`] and knows nothing of what its sinks are. This module
//! imports nothing of the crate outside `span`.
use super::clock::Tick;
use super::live::{Finished, Live, LiveBox};
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// Something that takes finished spans: godtrace's own (as records or as `SpanData`) and those
/// of other OpenTelemetry code using the provider (always as `SpanData`).
pub(crate) trait Sink: Send + Sync + fmt::Debug {
    /// Whether [`Sink::on_start`] does anything (only such sinks are told of starts).
    fn watches_starts(&self) -> bool {
        false
    }

    /// A recorded span of trace `trace_id` starts on this thread.
    fn on_start(&self, _trace_id: TraceId) {}

    /// Whether the sink has a use for finished spans as `SpanData` right now (the test
    /// capture: only while a capture is alive). When no sink does, godtrace's own spans go to
    /// the record sink as they are, and no `SpanData` is built on the application's thread.
    fn wants_span_data(&self) -> bool {
        true
    }

    /// A finished span.
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

    /// Delivers everything taken so far.
    fn flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Delivers what it can within `timeout`, then stops.
    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The sinks of the installed provider.
#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    sinks: Vec<Box<dyn Sink>>,
    /// The index of the sink that takes records, if one does.
    record_sink: Option<usize>,
    /// The indices of the sinks that watch starts.
    start_watchers: Vec<usize>,
}

impl Pipeline {
    /// A pipeline over `sinks` (the first that takes records gets them; any other one gets
    /// `SpanData` like the rest).
    pub(crate) fn new(sinks: Vec<Box<dyn Sink>>) -> Pipeline {
        let record_sink = sinks.iter().position(|s| s.takes_records());
        let start_watchers = (0..sinks.len())
            .filter(|&i| sinks[i].watches_starts())
            .collect();
        Pipeline {
            sinks,
            record_sink,
            start_watchers,
        }
    }

    /// A recorded span of trace `trace_id` starts on this thread.
    #[inline]
    pub(crate) fn on_start(&self, trace_id: TraceId) {
        for &i in &self.start_watchers {
            self.sinks[i].on_start(trace_id);
        }
    }

    /// A finished span of godtrace's own: handed as it is to the record sink when no other
    /// sink wants `SpanData` now; otherwise turned into `SpanData` here, for every sink that
    /// wants it. A span nothing takes stays in `live`.
    #[inline]
    pub(crate) fn on_own_end(&self, live: &mut Option<LiveBox>, start: Tick, end: Tick) {
        if !self.others_want_span_data() {
            if let Some(i) = self.record_sink {
                self.sinks[i].on_record(live, start, end);
            }
            return;
        }
        if let Some(live) = live.take() {
            self.on_own_end_slow(live.finish(start, end));
        }
    }

    /// Whether a sink other than the record sink wants `SpanData` now.
    #[inline]
    fn others_want_span_data(&self) -> bool {
        let mut sinks = self.sinks.iter().enumerate();
        sinks.any(|(i, sink)| Some(i) != self.record_sink && sink.wants_span_data())
    }

    #[cold]
    fn on_own_end_slow(&self, span: Finished) {
        let (data, emptied) = span.into_span_data();
        Live::recycle(emptied);
        self.on_end(data);
    }

    /// A finished span as `SpanData`: a copy to each sink that wants it, the span itself to
    /// the last one.
    pub(crate) fn on_end(&self, span: SpanData) {
        let mut wanting = self.sinks.iter().filter(|s| s.wants_span_data());
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
        first_error(self.sinks.iter().map(|s| s.flush()))
    }

    /// Shuts every sink down within `timeout`; the first error.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        first_error(self.sinks.iter().map(|s| s.shutdown(timeout)))
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
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
    use opentelemetry_sdk::error::OTelSdkError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

    /// Counts what reaches it.
    #[derive(Debug, Default)]
    struct Counting {
        wants_span_data: AtomicBool,
        takes_records: bool,
        fails: bool,
        span_data: AtomicUsize,
        records: AtomicUsize,
        flushes: AtomicUsize,
        shutdowns: AtomicUsize,
    }

    impl Sink for Arc<Counting> {
        fn wants_span_data(&self) -> bool {
            self.wants_span_data.load(Relaxed)
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
            wants_span_data: AtomicBool::new(wants_span_data),
            takes_records,
            fails,
            ..Counting::default()
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
        Some(Live::start(ids, None, Name::Given("s".into()), Vec::new()))
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
        capture.wants_span_data.store(true, Relaxed);
        assert!(end_own_span(&pipeline).is_none());
        assert_eq!(queue.records.load(Relaxed), 1);
        assert_eq!(queue.span_data.load(Relaxed), 1);
        assert_eq!(capture.span_data.load(Relaxed), 1);
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
