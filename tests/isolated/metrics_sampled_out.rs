//! Sampling does not affect metrics: with every trace sampled out, each call is still measured
//! (and leaves no exemplar). Also serves the result on a Prometheus endpoint bound by `init`,
//! which stops with the guard, and applies the configured cardinality limit and buckets. Its
//! own process: it needs its own `init`.
use godtrace::metrics::{metrics_snapshot, prometheus_addr, record_counter, record_histogram};
use godtrace::otel::KeyValue;
use godtrace::{Config, MetricsConfig, traced};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[traced(operation = "sampled_out.work")]
fn work(fail: bool) -> Result<(), std::fmt::Error> {
    if fail { Err(std::fmt::Error) } else { Ok(()) }
}

fn get(addr: SocketAddr, accept: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: test\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn sampled_out_calls_are_still_measured_and_served() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("metrics-sampled-out")
            .sample_ratio(0.0)
            .local_tree(false)
            .metrics(
                MetricsConfig::new()
                    .prometheus_listen("127.0.0.1:0")
                    .cardinality_limit_for("sampled_out.limited", 2)
                    .histogram_buckets("sampled_out.amounts", [1.0, 2.0]),
            ),
    )
    .unwrap();
    for i in 0..10 {
        work(i % 5 == 0).unwrap_or(());
    }
    let snap = metrics_snapshot();
    let ok = snap.operation("sampled_out.work").unwrap();
    assert_eq!(ok.count, 8);
    let err = snap
        .operation_errors("sampled_out.work", "core::fmt::Error")
        .unwrap();
    assert_eq!(err.count, 2);
    // No trace was sampled, so no bucket links to one.
    assert!(ok.exemplars.iter().all(Option::is_none));

    let addr = prometheus_addr().expect("the endpoint runs");
    let text = get(addr, "text/plain");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let scope = concat!(
        "otel_scope_name=\"godtrace\",otel_scope_version=\"",
        env!("CARGO_PKG_VERSION"),
        "\""
    );
    assert!(
        text.contains(&format!(
            "godtrace_operation_duration_seconds_count{{operation=\"sampled_out.work\",{scope}}} 8\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "godtrace_operation_duration_seconds_count{{error_type=\"core::fmt::Error\",operation=\"sampled_out.work\",{scope}}} 2\n"
    )));
    let om = get(addr, "application/openmetrics-text;version=1.0.0");
    assert!(
        om.contains("Content-Type: application/openmetrics-text"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(!om.contains(" # {trace_id="), "{om}");

    // Past the limit, new attribute sets share one overflow series.
    for user in 0..5 {
        record_counter("sampled_out.limited", 1, &[KeyValue::new("user", user)]);
    }
    let snap = metrics_snapshot();
    let user = |u: i64| snap.counter("sampled_out.limited", &[KeyValue::new("user", u)]);
    assert_eq!((user(0), user(1), user(2)), (Some(1.0), Some(1.0), None));
    let overflow = [KeyValue::new("otel.metric.overflow", true)];
    assert_eq!(snap.counter("sampled_out.limited", &overflow), Some(3.0));
    // Configured buckets.
    record_histogram("sampled_out.amounts", 1.5, &[]);
    let amounts = metrics_snapshot();
    let amounts = amounts.histogram("sampled_out.amounts", &[]).unwrap();
    assert_eq!(amounts.bounds, vec![1.0, 2.0]);
    assert_eq!(amounts.bucket_counts, vec![0, 1, 0]);

    drop(guard);
    assert_eq!(prometheus_addr(), None);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the endpoint stops with the guard"
    );
}

/// A name that only ever got values a metric cannot take (NaN, negative, infinite) makes no
/// metric: a thousand such names leave room for the names recorded after them.
#[test]
fn names_whose_values_are_all_refused_take_no_place() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("metrics-refused-values")
            .local_tree(false)
            .metrics(MetricsConfig::new().otlp(false)),
    )
    .unwrap();
    for i in 0..1000 {
        record_histogram(&format!("refused.histogram.{i}"), f64::NAN, &[]);
        record_counter(&format!("refused.counter.{i}"), -1.0, &[]);
    }
    record_counter("kept.counter", 1, &[]);
    record_histogram("kept.histogram", 0.5, &[]);
    let snap = metrics_snapshot();
    assert_eq!(snap.counter("kept.counter", &[]), Some(1.0));
    assert_eq!(
        snap.histogram("kept.histogram", &[]).map(|p| p.count),
        Some(1)
    );
}
