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
use std::time::{SystemTime, UNIX_EPOCH};

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attributes(kvs: &[KeyValue]) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    Attributes::from(kvs.iter().cloned()).0
}

/// The request for `snapshot`, taken at `now`, cumulative since `start`.
pub(crate) fn request(
    snapshot: &MetricsSnapshot,
    resource: &[KeyValue],
    start: SystemTime,
    now: SystemTime,
) -> ExportMetricsServiceRequest {
    let (start, now) = (unix_nanos(start), unix_nanos(now));
    let metrics = snapshot
        .metrics()
        .iter()
        .map(|m| metric(m, start, now))
        .collect();
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
    use opentelemetry::trace::{SpanId, TraceId};

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
