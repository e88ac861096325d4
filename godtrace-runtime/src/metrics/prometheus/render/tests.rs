use super::*;
use crate::metrics::CounterPoint;
use opentelemetry::trace::{SpanId, TraceId};
use std::time::Duration;

fn sample() -> MetricsSnapshot {
    let ex = Exemplar {
        trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        value: 0.0002,
        time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    MetricsSnapshot {
        metrics: vec![
            MetricData {
                name: "godtrace.operation.duration".into(),
                description: "Duration of traced operations.".into(),
                unit: "s".into(),
                points: MetricPoints::Histogram(vec![HistogramPoint {
                    attributes: vec![
                        KeyValue::new("error.type", "app::Error"),
                        KeyValue::new("operation", "pay \"now\""),
                    ],
                    bounds: vec![0.0001, 0.00025],
                    bucket_counts: vec![1, 2, 0],
                    count: 3,
                    sum: 0.0005,
                    exemplars: vec![None, Some(ex), None],
                }]),
            },
            MetricData {
                name: "nft.mints.total".into(),
                description: String::new(),
                unit: String::new(),
                points: MetricPoints::Counter(vec![CounterPoint {
                    attributes: vec![KeyValue::new("chain", "sol")],
                    value: 3.0,
                }]),
            },
        ],
    }
}

#[test]
fn text_format() {
    let text = render(&sample(), Format::Text, &mut Families::default());
    let expected = "\
# HELP godtrace_operation_duration_seconds Duration of traced operations.
# TYPE godtrace_operation_duration_seconds histogram
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"0.0001\"} 1
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"0.00025\"} 3
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"+Inf\"} 3
godtrace_operation_duration_seconds_sum{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\"} 0.0005
godtrace_operation_duration_seconds_count{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\"} 3
# TYPE nft_mints_total counter
nft_mints_total{chain=\"sol\"} 3
";
    assert_eq!(text, expected);
}

#[test]
fn openmetrics_format_carries_exemplars() {
    let text = render(&sample(), Format::OpenMetrics, &mut Families::default());
    assert!(text.contains("# TYPE godtrace_operation_duration_seconds histogram\n"));
    assert!(text.contains("# UNIT godtrace_operation_duration_seconds seconds\n"));
    assert!(text.contains(
        "le=\"0.00025\"} 3 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",\
         span_id=\"b7ad6b7169203331\"} 0.0002 1700000000.123\n"
    ));
    assert!(text.contains("# TYPE nft_mints counter\nnft_mints_total{chain=\"sol\"} 3\n"));
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches(" # {").count(), 1);
}
