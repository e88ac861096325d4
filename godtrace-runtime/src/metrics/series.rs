//! One time series each: lock-free atomic cells that calls add to and collection reads.
use super::buckets::{DURATION_BOUNDS_SECONDS, DURATION_BUCKETS, TickBounds, value_bucket};
use super::exemplar::{ExemplarSlot, fresh_ticks};
use super::snapshot::{CounterPoint, HistogramPoint};
use super::thread_cells::ThreadCells;
use crate::span::clock::{self, Tick};
use opentelemetry::trace::SpanContext;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// An `f64` that threads add to.
#[derive(Debug, Default)]
pub(crate) struct AtomicF64(AtomicU64);

impl AtomicF64 {
    /// Adds `delta` (finite, non-negative), the total held at `f64::MAX`: a sum that became
    /// `+Inf` would stay so for the life of the process.
    pub(crate) fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).min(f64::MAX).to_bits())
            });
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A histogram series as read at one moment.
fn histogram_point(
    attributes: &[KeyValue],
    bounds: &[f64],
    counts: &[AtomicU64],
    sum: f64,
    exemplars: &[ExemplarSlot],
) -> HistogramPoint {
    let bucket_counts: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    HistogramPoint {
        attributes: attributes.to_vec(),
        bounds: bounds.to_vec(),
        count: bucket_counts.iter().sum(),
        bucket_counts,
        sum,
        exemplars: exemplars.iter().map(ExemplarSlot::read).collect(),
    }
}

/// The bytes `attributes` hold, on the heap: the vector and the text of every key and value
/// (counted even when borrowed from a `'static` string, for a bound that never falls short).
pub(crate) fn attributes_footprint(attributes: &[KeyValue]) -> usize {
    let text = |v: &Value| match v {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(a)) => a
            .iter()
            .map(|s| size_of::<StringValue>() + s.as_str().len())
            .sum(),
        Value::Array(Array::I64(a)) => a.len() * 8,
        Value::Array(Array::F64(a)) => a.len() * 8,
        Value::Array(Array::Bool(a)) => a.len(),
        _ => 0,
    };
    size_of_val(attributes)
        + attributes
            .iter()
            .map(|kv| kv.key.as_str().len() + text(&kv.value))
            .sum::<usize>()
}

/// An upper bound of the bytes one line of a series of `metric` with `attributes` takes in a
/// Prometheus exposition, newline included: the family name (the metric's, with a unit and a
/// suffix), the labels (`{key="value",..}`: names at most the key and a prefix; values
/// escaped, so at most doubled; numbers at most [`MAX_NUMBER_LEN`] characters, as the
/// exposition writes them; quotes and separators; the scope's labels), a bucket's `le`, the
/// value and an OpenMetrics exemplar.
pub(crate) fn rendered_line_bound(metric: &str, attributes: &[KeyValue]) -> usize {
    const NUMBER: usize = MAX_NUMBER_LEN;
    const SUFFIXES: usize = 40;
    const EXEMPLAR: usize = 160;
    // The scope's labels (`prometheus::render`'s `SCOPE_LABELS`), quotes and separators.
    const SCOPE: usize = r#"otel_scope_name="godtrace",otel_scope_version="","#.len()
        + env!("CARGO_PKG_VERSION").len();
    // Arrays are written `[a,b]`; their strings as JSON (a control character `\u0001`, six
    // characters), quoted, then escaped for the exposition (`\\u0001`: seven per byte).
    let value = |v: &Value| match v {
        Value::String(s) => 2 * s.as_str().len(),
        Value::Array(Array::String(a)) => {
            2 + a.iter().map(|s| 7 * s.as_str().len() + 5).sum::<usize>()
        }
        Value::Array(Array::I64(a)) => 2 + a.len() * (NUMBER + 1),
        Value::Array(Array::F64(a)) => 2 + a.len() * (NUMBER + 1),
        Value::Array(Array::Bool(a)) => 2 + a.len() * 6,
        _ => NUMBER,
    };
    metric.len()
        + SUFFIXES
        + SCOPE
        + 16
        + 2 * NUMBER
        + EXEMPLAR
        + attributes
            .iter()
            .map(|kv| kv.key.as_str().len() + 8 + value(&kv.value))
            .sum::<usize>()
}

/// The most characters a number takes in an exposition (`prometheus::render::number`): a
/// sign and the shortest digits that read back the same, plainly from 1e-7 to 1e21 and with
/// an exponent beyond (`-0.00000012345678901234567`, `-1.2345678901234567e-308`).
pub(crate) const MAX_NUMBER_LEN: usize = 26;

/// One `(operation, error.type)` series of the duration histogram. Calls are measured in the
/// clock's ticks, bucketed against the bounds made ticks once and summed in ticks, so that a
/// call compares and adds integers and scales nothing (the sum is made nanoseconds when read,
/// an exemplar's value when it is written); the counts are kept per recording thread
/// (`thread_cells`), so that a call adds to cells no other thread writes.
#[derive(Debug)]
pub(crate) struct DurationSeries {
    pub(crate) attributes: Vec<KeyValue>,
    bounds: TickBounds,
    /// How long, in ticks, an exemplar stands before a call replaces it ([`fresh_ticks`]).
    exemplar_fresh_ticks: u64,
    cells: ThreadCells,
    /// The sum past what the cells' `u64` of ticks holds (see [`SumRead`]).
    sum_read: Mutex<SumRead>,
    exemplars: [ExemplarSlot; DURATION_BUCKETS],
}

/// The cells' sum wraps after 2^64 ticks: about 195 years of calls at 3 GHz, but ten weeks for a
/// thousand calls that never end (streams, connections) measured in one series. Each read adds
/// how far the raw sum moved since the read before (less than 2^64 ticks, unless no read was
/// made in all that time), read under the lock, so that reads see raw sums in their order.
#[derive(Debug, Default)]
struct SumRead {
    last_raw: u64,
    total: u128,
}

impl DurationSeries {
    pub(crate) fn new(attributes: Vec<KeyValue>) -> Self {
        DurationSeries {
            attributes,
            bounds: TickBounds::of_clock(),
            exemplar_fresh_ticks: fresh_ticks(),
            cells: ThreadCells::default(),
            sum_read: Mutex::default(),
            exemplars: std::array::from_fn(|_| ExemplarSlot::new()),
        }
    }

    /// Adds one call that lasted `ticks` (`clock::ticks_between`); a sampled call also leaves
    /// its trace in the bucket. A short call (the first bucket, under 100 µs) in line; a longer
    /// one, for which a call is nothing, out of line: every traced function's end carries the
    /// first case alone.
    #[inline(always)]
    pub(crate) fn record(&self, ticks: u64, exemplar: Option<(&SpanContext, Tick)>) {
        if self.bounds.in_first(ticks) {
            self.record_in(0, ticks, exemplar);
        } else {
            self.record_long(ticks, exemplar);
        }
    }

    /// [`DurationSeries::record`] of a call beyond the first bucket.
    #[inline(never)]
    fn record_long(&self, ticks: u64, exemplar: Option<(&SpanContext, Tick)>) {
        self.record_in(self.bounds.bucket(ticks), ticks, exemplar);
    }

    /// [`DurationSeries::record`] of a call in `bucket`.
    #[inline(always)]
    fn record_in(&self, bucket: usize, ticks: u64, exemplar: Option<(&SpanContext, Tick)>) {
        self.cells.add(bucket, ticks);
        if let Some((span, at)) = exemplar
            && self.exemplars[bucket].is_due(at)
        {
            self.write_exemplar(bucket, span, at, ticks);
        }
    }

    /// Writes a traced call's exemplar into `bucket`'s slot, which is due: at most once a
    /// millisecond per slot, out of line.
    #[cold]
    #[inline(never)]
    fn write_exemplar(&self, bucket: usize, span: &SpanContext, at: Tick, ticks: u64) {
        let seconds = clock::nanos_of_ticks(ticks) as f64 / 1e9;
        self.exemplars[bucket].write_at(span, at, self.exemplar_fresh_ticks, seconds);
    }

    /// The bytes this series holds.
    pub(crate) fn footprint(&self) -> usize {
        size_of::<Self>() + self.cells.heap_bytes() + attributes_footprint(&self.attributes)
    }

    /// Its lines in a Prometheus exposition: the buckets (an exemplar slot each), the sum and
    /// the count.
    pub(crate) fn scrape_lines(&self) -> usize {
        self.exemplars.len() + 2
    }

    pub(crate) fn snapshot(&self) -> HistogramPoint {
        let (counts, sum_ticks) = {
            let mut sum = self.sum_read.lock().unwrap_or_else(PoisonError::into_inner);
            let (counts, raw) = self.cells.read();
            sum.total += u128::from(raw.wrapping_sub(sum.last_raw));
            sum.last_raw = raw;
            (counts, sum.total)
        };
        let bucket_counts = counts.to_vec();
        HistogramPoint {
            attributes: self.attributes.clone(),
            bounds: DURATION_BOUNDS_SECONDS.to_vec(),
            count: bucket_counts.iter().sum(),
            bucket_counts,
            sum: seconds_of_ticks(sum_ticks),
            exemplars: self.exemplars.iter().map(ExemplarSlot::read).collect(),
        }
    }
}

/// `ticks` in seconds, a total past a `u64` too: whole chunks of 2^40 ticks (minutes), the
/// chunk scaled once, and the rest.
fn seconds_of_ticks(ticks: u128) -> f64 {
    const CHUNK_BITS: u32 = 40;
    let chunks = (ticks >> CHUNK_BITS) as f64;
    let rest = (ticks & ((1 << CHUNK_BITS) - 1)) as u64;
    let chunk_nanos = clock::nanos_of_ticks(1 << CHUNK_BITS) as f64;
    (chunks * chunk_nanos + clock::nanos_of_ticks(rest) as f64) / 1e9
}

/// One attribute set of a manual histogram.
#[derive(Debug)]
pub(crate) struct ValueSeries {
    pub(crate) attributes: Vec<KeyValue>,
    bounds: Arc<[f64]>,
    counts: Box<[AtomicU64]>,
    sum: AtomicF64,
    exemplars: Box<[ExemplarSlot]>,
}

impl ValueSeries {
    pub(crate) fn new(attributes: Vec<KeyValue>, bounds: Arc<[f64]>) -> Self {
        let buckets = bounds.len() + 1;
        ValueSeries {
            attributes,
            counts: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicF64::default(),
            exemplars: (0..buckets).map(|_| ExemplarSlot::new()).collect(),
            bounds,
        }
    }

    pub(crate) fn record(&self, value: f64, exemplar: Option<&SpanContext>) {
        let bucket = value_bucket(&self.bounds, value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.add(value);
        if let Some(span) = exemplar {
            self.exemplars[bucket].write(span, value);
        }
    }

    /// The bytes this series holds (its bucket bounds are shared by the metric's series).
    pub(crate) fn footprint(&self) -> usize {
        size_of::<Self>()
            + self.counts.len() * size_of::<AtomicU64>()
            + self.exemplars.len() * size_of::<ExemplarSlot>()
            + attributes_footprint(&self.attributes)
    }

    /// Its lines in a Prometheus exposition: the buckets, the sum and the count.
    pub(crate) fn scrape_lines(&self) -> usize {
        self.counts.len() + 2
    }

    pub(crate) fn snapshot(&self) -> HistogramPoint {
        histogram_point(
            &self.attributes,
            &self.bounds,
            &self.counts,
            self.sum.get(),
            &self.exemplars,
        )
    }
}

/// One attribute set of a manual counter.
#[derive(Debug)]
pub(crate) struct CounterSeries {
    pub(crate) attributes: Vec<KeyValue>,
    total: AtomicF64,
}

impl CounterSeries {
    pub(crate) fn new(attributes: Vec<KeyValue>) -> Self {
        CounterSeries {
            attributes,
            total: AtomicF64::default(),
        }
    }

    pub(crate) fn add(&self, value: f64) {
        self.total.add(value);
    }

    /// The bytes this series holds.
    pub(crate) fn footprint(&self) -> usize {
        size_of::<Self>() + attributes_footprint(&self.attributes)
    }

    /// Its lines in a Prometheus exposition: the total.
    pub(crate) fn scrape_lines(&self) -> usize {
        1
    }

    pub(crate) fn snapshot(&self) -> CounterPoint {
        CounterPoint {
            attributes: self.attributes.clone(),
            value: self.total.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_past_the_largest_float_stays_finite() {
        let sum = AtomicF64::default();
        sum.add(f64::MAX);
        sum.add(f64::MAX);
        assert_eq!(sum.get(), f64::MAX);
    }

    #[test]
    fn durations_land_in_their_buckets_and_sum_in_seconds() {
        let s = DurationSeries::new(vec![KeyValue::new("operation", "t")]);
        // Durations in ticks that last 50 µs, 2 ms and 20 s (+Inf), within a tick.
        let ticks = |ns| clock::ticks_within(ns);
        s.record(ticks(50_000), None);
        s.record(ticks(2_000_000), None);
        s.record(ticks(20_000_000_000), None);
        let p = s.snapshot();
        assert_eq!(p.count, 3);
        assert_eq!(p.bucket_counts[0], 1);
        assert_eq!(p.bucket_counts[4], 1);
        assert_eq!(p.bucket_counts[16], 1);
        // Each duration is short of its nanoseconds by less than one tick.
        let tick_s = clock::nanos_of_ticks(1_000) as f64 / 1e12;
        assert!((p.sum - 20.00205).abs() <= 3.0 * tick_s + 1e-9, "{}", p.sum);
        assert!(p.exemplars.iter().all(Option::is_none));
    }

    /// The sum in ticks outgrows a `u64` (it wrapped to a smaller sum, which Prometheus reads
    /// as a counter reset) and goes on growing.
    #[test]
    fn the_duration_sum_goes_on_past_what_a_u64_of_ticks_holds() {
        let s = DurationSeries::new(vec![KeyValue::new("operation", "t")]);
        let half = 1u64 << 63;
        let mut last = 0.0;
        for calls in 1..=3 {
            s.record(half, None);
            let p = s.snapshot();
            assert_eq!(p.count, calls);
            assert!(p.sum > last, "{calls} calls: {} after {last}", p.sum);
            last = p.sum;
        }
        let tick_ns = clock::nanos_of_ticks(1 << 40) as f64 / (1u64 << 40) as f64;
        let expected = 3.0 * half as f64 * tick_ns / 1e9;
        assert!(
            (last - expected).abs() <= expected * 1e-9,
            "{last} for {expected}"
        );
    }

    #[test]
    fn values_and_totals_add_up() {
        let h = ValueSeries::new(vec![], Arc::from(vec![1.0, 2.0]));
        h.record(0.5, None);
        h.record(2.0, None);
        h.record(9.0, None);
        let p = h.snapshot();
        assert_eq!((p.count, p.bucket_counts.clone()), (3, vec![1, 1, 1]));
        assert_eq!(p.sum, 11.5);
        let c = CounterSeries::new(vec![]);
        c.add(1.0);
        c.add(2.5);
        assert_eq!(c.snapshot().value, 3.5);
    }
}
