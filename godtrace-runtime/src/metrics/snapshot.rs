//! What collection reads: every metric's current values, cumulative since the process started.
//! The Prometheus endpoint, the OTLP push and tests all read this same model.
use super::attrs::{canonical, same_set};
use super::exemplar::Exemplar;
use opentelemetry::{KeyValue, Value};

/// The name of the duration histogram every traced operation records into.
pub(crate) const DURATION_METRIC: &str = "godtrace.operation.duration";

/// Every metric's values at one moment, from [`metrics_snapshot`](crate::metrics::metrics_snapshot).
///
/// ```
/// godtrace_runtime::metrics::record_counter("docs.snapshot.calls", 2, &[]);
/// let snapshot = godtrace_runtime::metrics::metrics_snapshot();
/// // Recorded only while godtrace is initialised (or `testing::capture` installed it).
/// let _ = snapshot.counter("docs.snapshot.calls", &[]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    pub(crate) metrics: Vec<MetricData>,
}

/// One metric: its name, description, unit and one point per attribute set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetricData {
    /// The OpenTelemetry name, e.g. `godtrace.operation.duration` or `nft.mints.total`.
    pub name: String,
    /// What it measures.
    pub description: String,
    /// Its unit in UCUM form (`s` for the duration histogram), empty when unknown.
    pub unit: String,
    /// One point per attribute set.
    pub points: MetricPoints,
}

/// The points of a counter or of a histogram.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MetricPoints {
    /// A monotonic sum.
    Counter(Vec<CounterPoint>),
    /// A histogram with explicit bucket bounds.
    Histogram(Vec<HistogramPoint>),
}

impl MetricPoints {
    /// Whether there is no point: no attribute set was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            MetricPoints::Counter(points) => points.is_empty(),
            MetricPoints::Histogram(points) => points.is_empty(),
        }
    }
}

/// A counter's total for one attribute set.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CounterPoint {
    /// The attribute set, sorted by key.
    pub attributes: Vec<KeyValue>,
    /// The sum of every increment.
    pub value: f64,
}

/// A histogram's state for one attribute set.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramPoint {
    /// The attribute set, sorted by key.
    pub attributes: Vec<KeyValue>,
    /// Inclusive upper bounds of every bucket but the last (`+Inf`).
    pub bounds: Vec<f64>,
    /// Measurements per bucket (not cumulative); one more entry than `bounds`.
    pub bucket_counts: Vec<u64>,
    /// Measurements in all.
    pub count: u64,
    /// The sum of every measurement.
    pub sum: f64,
    /// Per bucket, the latest sampled measurement that fell into it, if any.
    pub exemplars: Vec<Option<Exemplar>>,
}

impl HistogramPoint {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// The index of the bucket `value` falls into.
    pub fn bucket_of(&self, value: f64) -> usize {
        super::buckets::value_bucket(&self.bounds, value)
    }
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

impl MetricsSnapshot {
    /// Every metric, the duration histogram first, then the manual ones by name.
    pub fn metrics(&self) -> &[MetricData] {
        &self.metrics
    }

    /// The metric named `name` (in any case: names that differ in case only are one metric).
    pub fn metric(&self, name: &str) -> Option<&MetricData> {
        self.metrics
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// The point of histogram `name` with exactly these attributes (in any order), read as
    /// recording reads them (a key given twice: its last value; long values cut).
    pub fn histogram(&self, name: &str, attributes: &[KeyValue]) -> Option<&HistogramPoint> {
        let (given, _) = canonical(attributes);
        match &self.metric(name)?.points {
            MetricPoints::Histogram(points) => {
                points.iter().find(|p| same_set(&p.attributes, &given))
            }
            MetricPoints::Counter(_) => None,
        }
    }

    /// The total of counter `name` with exactly these attributes (in any order), read as
    /// recording reads them (a key given twice: its last value; long values cut).
    pub fn counter(&self, name: &str, attributes: &[KeyValue]) -> Option<f64> {
        let (given, _) = canonical(attributes);
        match &self.metric(name)?.points {
            MetricPoints::Counter(points) => points
                .iter()
                .find(|p| same_set(&p.attributes, &given))
                .map(|p| p.value),
            MetricPoints::Histogram(_) => None,
        }
    }

    /// The successful calls of `operation` in the duration histogram (seconds).
    pub fn operation(&self, operation: &str) -> Option<&HistogramPoint> {
        self.histogram(
            DURATION_METRIC,
            &[KeyValue::new("operation", operation.to_owned())],
        )
    }

    /// The calls of `operation` that failed with `error_type` (the `Err` type's name, or
    /// `panic`) in the duration histogram; a name longer than the attribute limit is looked
    /// up as recording cut it.
    pub fn operation_errors(&self, operation: &str, error_type: &str) -> Option<&HistogramPoint> {
        let error_type = crate::record::error_type::joinable_text(error_type).into_owned();
        self.histogram(
            DURATION_METRIC,
            &[
                KeyValue::new("operation", operation.to_owned()),
                KeyValue::new("error.type", error_type),
            ],
        )
    }

    /// Every duration-histogram point of `operation`: successes and each error type.
    pub fn operation_points(&self, operation: &str) -> Vec<&HistogramPoint> {
        let Some(MetricData {
            points: MetricPoints::Histogram(points),
            ..
        }) = self.metric(DURATION_METRIC)
        else {
            return Vec::new();
        };
        points
            .iter()
            .filter(|p| p.attr("operation").map(|v| v.as_str()).as_deref() == Some(operation))
            .collect()
    }
}
