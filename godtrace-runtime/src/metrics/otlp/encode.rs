//! A snapshot as an OTLP `ExportMetricsServiceRequest`: cumulative sums and explicit-bucket
//! histograms (with their exemplars), under the resource the tracer provider also uses.
use crate::metrics::{Exemplar, HistogramPoint, MetricData, MetricPoints, MetricsSnapshot};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::Attributes;
use prost::Message as _;
use std::time::{SystemTime, UNIX_EPOCH};

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attributes(kvs: &[KeyValue]) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    Attributes::from(kvs.iter().cloned()).0
}

/// The most a request's encoded metrics take: see [`crate::otlp::MAX_REQUEST_BYTES`].
pub(crate) use crate::otlp::MAX_REQUEST_BYTES;

/// The requests for `snapshot`, taken at `now`, cumulative since `start`: each holds whole
/// metrics, or a metric's points in runs, and takes at most `max_bytes` of metrics (but for
/// one point larger than that alone).
pub(crate) fn requests(
    snapshot: &MetricsSnapshot,
    resource: &[KeyValue],
    start: SystemTime,
    now: SystemTime,
    max_bytes: usize,
) -> Vec<ExportMetricsServiceRequest> {
    let (start, now) = (unix_nanos(start), unix_nanos(now));
    let mut split = Split {
        max_bytes,
        done: Vec::new(),
        current: Vec::new(),
        bytes: 0,
    };
    for m in snapshot.metrics() {
        split.add(metric(m, start, now));
    }
    split.close();
    split
        .done
        .into_iter()
        .map(|metrics| request_of(metrics, resource))
        .collect()
}

/// One request holding `metrics`.
fn request_of(metrics: Vec<Metric>, resource: &[KeyValue]) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: attributes(resource),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "godtrace".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Metrics sorted into requests of at most `max_bytes` each (as encoded).
struct Split {
    max_bytes: usize,
    /// The requests' metrics, full ones.
    done: Vec<Vec<Metric>>,
    /// The request being filled, and its size.
    current: Vec<Metric>,
    bytes: usize,
}

/// What a field adds to a message besides its value: its tag and its length (at most 5 bytes
/// each for these sizes), counted on every metric and point so that a request never exceeds
/// its bound by them.
const FRAMING: usize = 10;

impl Split {
    /// Adds `m` whole where it fits (the request being filled, else a new one), else its
    /// points in runs that fit.
    fn add(&mut self, mut m: Metric) {
        let whole = m.encoded_len() + FRAMING;
        if self.bytes + whole > self.max_bytes {
            self.close();
        }
        if whole <= self.max_bytes {
            self.push(m, whole);
            return;
        }
        match m.data.take() {
            Some(metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality,
                is_monotonic,
            })) => {
                self.add_points(&m, data_points, |data_points| {
                    metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality,
                        is_monotonic,
                    })
                });
            }
            Some(metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality,
            })) => {
                self.add_points(&m, data_points, |data_points| {
                    metric::Data::Histogram(Histogram {
                        data_points,
                        aggregation_temporality,
                    })
                });
            }
            data => {
                m.data = data;
                self.push(m, whole);
            }
        }
    }

    /// Adds the points of `header` (a metric without its data) in runs, each made a metric by
    /// `data`.
    fn add_points<P: prost::Message>(
        &mut self,
        header: &Metric,
        points: Vec<P>,
        data: impl Fn(Vec<P>) -> metric::Data,
    ) {
        let empty = header.encoded_len() + 2 * FRAMING;
        let mut run = Vec::new();
        let mut run_bytes = empty;
        for point in points {
            let bytes = point.encoded_len() + FRAMING;
            if self.bytes + run_bytes + bytes > self.max_bytes {
                if !run.is_empty() {
                    self.push_run(header, data(std::mem::take(&mut run)), run_bytes);
                    run_bytes = empty;
                }
                self.close();
            }
            run.push(point);
            run_bytes += bytes;
        }
        if !run.is_empty() {
            self.push_run(header, data(run), run_bytes);
        }
    }

    fn push_run(&mut self, header: &Metric, data: metric::Data, bytes: usize) {
        let metric = Metric {
            data: Some(data),
            ..header.clone()
        };
        self.push(metric, bytes);
    }

    fn push(&mut self, metric: Metric, bytes: usize) {
        self.current.push(metric);
        self.bytes += bytes;
    }

    /// Ends the request being filled, if it holds anything.
    fn close(&mut self) {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
        self.bytes = 0;
    }
}

fn metric(m: &MetricData, start: u64, now: u64) -> Metric {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match &m.points {
        MetricPoints::Counter(points) => metric::Data::Sum(Sum {
            data_points: points
                .iter()
                .map(|p| NumberDataPoint {
                    attributes: attributes(&p.attributes),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsDouble(p.value)),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: cumulative,
            is_monotonic: true,
        }),
        MetricPoints::Histogram(points) => metric::Data::Histogram(Histogram {
            data_points: points.iter().map(|p| histogram(p, start, now)).collect(),
            aggregation_temporality: cumulative,
        }),
    };
    Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        data: Some(data),
        ..Default::default()
    }
}

fn histogram(p: &HistogramPoint, start: u64, now: u64) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: attributes(&p.attributes),
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: p.count,
        sum: Some(p.sum),
        bucket_counts: p.bucket_counts.clone(),
        explicit_bounds: p.bounds.clone(),
        exemplars: p
            .exemplars
            .iter()
            .flatten()
            .map(|ex| exemplar(ex, start, now))
            .collect(),
        ..Default::default()
    }
}

/// An exemplar, its time held within its point's interval: it is read from the span's clock,
/// which may be a few microseconds off the system clock the interval is read from.
fn exemplar(
    ex: &Exemplar,
    start: u64,
    now: u64,
) -> opentelemetry_proto::tonic::metrics::v1::Exemplar {
    opentelemetry_proto::tonic::metrics::v1::Exemplar {
        time_unix_nano: unix_nanos(ex.time).clamp(start, now.max(start)),
        span_id: ex.span_id.to_bytes().to_vec(),
        trace_id: ex.trace_id.to_bytes().to_vec(),
        value: Some(exemplar::Value::AsDouble(ex.value)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{CounterPoint, MetricData};
    use opentelemetry::trace::{SpanId, TraceId};

    /// A counter and a histogram of `series` attribute sets each (one 100-byte attribute), and
    /// a small counter.
    fn many_series(series: usize) -> MetricsSnapshot {
        let attrs = |i: usize| vec![KeyValue::new("route", format!("/r/{i}/{}", "x".repeat(96)))];
        let counter = |name: &str, points| MetricData {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            points,
        };
        MetricsSnapshot {
            metrics: vec![
                counter(
                    "requests",
                    MetricPoints::Counter(
                        (0..series)
                            .map(|i| CounterPoint {
                                attributes: attrs(i),
                                value: i as f64,
                            })
                            .collect(),
                    ),
                ),
                counter(
                    "latency",
                    MetricPoints::Histogram(
                        (0..series)
                            .map(|i| HistogramPoint {
                                attributes: attrs(i),
                                bounds: vec![0.1, 1.0],
                                bucket_counts: vec![i as u64, 0, 1],
                                count: i as u64 + 1,
                                sum: 2.0,
                                exemplars: vec![None; 3],
                            })
                            .collect(),
                    ),
                ),
                counter(
                    "small",
                    MetricPoints::Counter(vec![CounterPoint {
                        attributes: Vec::new(),
                        value: 1.0,
                    }]),
                ),
            ],
        }
    }

    /// Each metric's points across `requests`, in order: (name, attribute value, value).
    fn points(requests: &[ExportMetricsServiceRequest]) -> Vec<(String, String, f64)> {
        let mut out = Vec::new();
        for request in requests {
            for m in &request.resource_metrics[0].scope_metrics[0].metrics {
                let attr = |a: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
                    a.first()
                        .map(|kv| format!("{:?}", kv.value))
                        .unwrap_or_default()
                };
                match m.data.as_ref().unwrap() {
                    metric::Data::Sum(sum) => out.extend(sum.data_points.iter().map(|p| {
                        let Some(number_data_point::Value::AsDouble(v)) = p.value else {
                            panic!("a double")
                        };
                        (m.name.clone(), attr(&p.attributes), v)
                    })),
                    metric::Data::Histogram(h) => out.extend(
                        h.data_points
                            .iter()
                            .map(|p| (m.name.clone(), attr(&p.attributes), p.count as f64)),
                    ),
                    _ => panic!("a sum or a histogram"),
                }
            }
        }
        out
    }

    /// A snapshot larger than a request may be goes in several requests, each within the
    /// bound, which together hold every point once, in order; a small one goes in one.
    #[test]
    fn a_large_snapshot_is_split_into_requests_within_the_bound() {
        let (start, now) = (UNIX_EPOCH, UNIX_EPOCH + std::time::Duration::from_secs(1));
        let snapshot = many_series(20_000);
        let whole = requests(&snapshot, &[], start, now, usize::MAX);
        assert_eq!(whole.len(), 1);
        assert!(
            whole[0].encoded_len() > 4 << 20,
            "{}",
            whole[0].encoded_len()
        );
        let split = requests(&snapshot, &[], start, now, MAX_REQUEST_BYTES);
        assert!(split.len() >= 4, "{} requests", split.len());
        for request in &split {
            assert!(
                request.encoded_len() <= MAX_REQUEST_BYTES + 64,
                "{}",
                request.encoded_len()
            );
        }
        assert_eq!(points(&split), points(&whole));
        // A metric split in runs keeps its name, unit and kind in every run.
        for request in &split {
            for m in &request.resource_metrics[0].scope_metrics[0].metrics {
                if let Some(metric::Data::Sum(sum)) = &m.data {
                    assert!(sum.is_monotonic, "{}", m.name);
                }
            }
        }
        let small = requests(&many_series(3), &[], start, now, MAX_REQUEST_BYTES);
        assert_eq!(small.len(), 1);
        assert_eq!(
            small[0].resource_metrics[0].scope_metrics[0].metrics.len(),
            3
        );
    }

    /// An exemplar read from the span's clock a little before the interval's start (or after
    /// its end) is held within the interval, where a receiver expects it.
    #[test]
    fn an_exemplar_is_timed_within_its_point() {
        let at = |nanos: u64| UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
        let ex = |nanos| Exemplar {
            trace_id: TraceId::from(1),
            span_id: SpanId::from(2),
            value: 0.5,
            time: at(nanos),
        };
        assert_eq!(exemplar(&ex(997), 1_000, 2_000).time_unix_nano, 1_000);
        assert_eq!(exemplar(&ex(1_500), 1_000, 2_000).time_unix_nano, 1_500);
        assert_eq!(exemplar(&ex(2_003), 1_000, 2_000).time_unix_nano, 2_000);
    }
}
