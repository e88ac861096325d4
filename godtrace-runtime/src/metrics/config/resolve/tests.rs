use super::*;
use crate::config::Compression;
use crate::metrics::config::env;

/// Metrics resolved with no generic OTLP setting in code or environment.
trait ResolveAlone {
    fn resolve_alone(
        &self,
        env: Option<&[(String, Result<String, String>)]>,
        traces: Option<&OtlpTarget>,
        bound: Duration,
    ) -> Result<MetricsSettings, InitError>;
}

impl ResolveAlone for MetricsConfig {
    fn resolve_alone(
        &self,
        env: Option<&[(String, Result<String, String>)]>,
        traces: Option<&OtlpTarget>,
        bound: Duration,
    ) -> Result<MetricsSettings, InitError> {
        let none = OtlpLayer::default();
        self.resolve(env, &none, &none, traces, bound)
    }
}

const B: Duration = Duration::from_secs(30);

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, Result<String, String>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Ok(v.to_string())))
        .collect()
}

fn traces(protocol: Protocol, endpoint: &str) -> OtlpTarget {
    OtlpTarget {
        protocol,
        endpoint: endpoint.to_owned(),
        headers: vec![("authorization".into(), "Bearer t".into())],
        timeout: Duration::from_secs(3),
        compression: Compression::Gzip,
        tls: Default::default(),
    }
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn metrics_follow_the_trace_export() {
    let config = crate::Config::new("s")
        .endpoint("http://c:4318")
        .header("authorization", "Bearer t")
        .timeout(Duration::from_secs(3))
        .compression(Compression::Gzip);
    let spans = config.resolve().unwrap();
    let s = config.metrics_settings(&spans).unwrap();
    let target = s.otlp.unwrap();
    let t = spans.export.unwrap();
    assert_eq!(target.endpoint, "http://c:4318/v1/metrics");
    assert_eq!(target.protocol, Protocol::HttpProtobuf);
    assert_eq!(target.headers, t.headers);
    assert_eq!(target.timeout, Duration::from_secs(3));
    assert_eq!(target.compression, Compression::Gzip);
    assert_eq!(s.interval, DEFAULT_INTERVAL);
    assert!(s.prometheus.is_none());

    let g = traces(Protocol::Grpc, "http://c:4317");
    let s = MetricsConfig::new()
        .resolve_alone(None, Some(&g), B)
        .unwrap();
    assert_eq!(s.otlp.unwrap().endpoint, "http://c:4317");
    // No trace export, no metrics push unless asked for.
    assert!(
        MetricsConfig::new()
            .resolve_alone(None, None, B)
            .unwrap()
            .otlp
            .is_none()
    );
    // An inherited request timeout longer than the flush bound is cut to it.
    let slow = crate::Config::new("s")
        .protocol(Protocol::Grpc)
        .timeout(Duration::from_secs(600))
        .export_timeout(B);
    let s = slow.metrics_settings(&slow.resolve().unwrap()).unwrap();
    assert_eq!(s.otlp.unwrap().timeout, B);
    assert_eq!(s.bound, B);
}

/// Metrics over gRPC sharing the traces' endpoint, whose host only the HTTP transport takes
/// (an international or `%`-escaped one), are refused at `init` by the setting that asks for
/// gRPC: they failed to build their exporter, the variable not named.
#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn metrics_over_grpc_cannot_share_a_host_only_http_takes() {
    for host in ["http://bücher.example:4318", "http://%6c%6focalhost:4318"] {
        let config = crate::Config::new("s").with_env_vars([
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", host),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ]);
        let spans = config.resolve().unwrap();
        match config.metrics_settings(&spans) {
            Err(InitError::InvalidValue { name, expected, .. }) => {
                assert_eq!(name, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
                assert!(expected.contains("gRPC takes"), "{expected}");
            }
            other => panic!("{host}: {other:?}"),
        }
    }
}

#[test]
#[cfg_attr(not(feature = "otlp-grpc"), ignore = "needs the otlp-grpc feature")]
fn environment_then_code() {
    let env = vars(&[
        ("GODTRACE_PROMETHEUS_LISTEN", "0.0.0.0:9464"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "700"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ("GODTRACE_METRICS_CARDINALITY_LIMIT", "10"),
    ]);
    let s = MetricsConfig::new()
        .resolve_alone(Some(&env), None, B)
        .unwrap();
    assert_eq!(s.prometheus.as_deref(), Some("0.0.0.0:9464"));
    assert_eq!(s.interval, Duration::from_millis(1500));
    let target = s.otlp.unwrap();
    assert_eq!(
        (target.endpoint.as_str(), target.protocol, target.timeout),
        ("http://m:4317", Protocol::Grpc, Duration::from_millis(700))
    );
    assert_eq!(s.limits.cardinality_limit, Some(10));

    // A push is one request: the sooner of its bound and the request timeout ends it.
    for (push, request, expected) in [("700", "300", 300), ("300", "700", 300)] {
        let env = vars(&[
            ("OTEL_METRIC_EXPORT_TIMEOUT", push),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", request),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ]);
        let s = MetricsConfig::new()
            .resolve_alone(Some(&env), None, B)
            .unwrap();
        assert_eq!(
            s.otlp.unwrap().timeout,
            Duration::from_millis(expected),
            "{push} {request}"
        );
    }

    let code = MetricsConfig::new()
        .prometheus_listen("127.0.0.1:0")
        .export_interval(Duration::from_secs(2))
        .cardinality_limit(3)
        .otlp(false);
    let s = code.resolve_alone(Some(&env), None, B).unwrap();
    assert_eq!(s.prometheus.as_deref(), Some("127.0.0.1:0"));
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.limits.cardinality_limit, Some(3));
    assert!(s.otlp.is_none());
}

#[test]
#[cfg_attr(not(feature = "otlp-grpc"), ignore = "needs the otlp-grpc feature")]
fn otel_metrics_exporter_switches_exporters() {
    let t = traces(Protocol::Grpc, "http://c:4317");
    let none = vars(&[("OTEL_METRICS_EXPORTER", "none")]);
    assert!(
        MetricsConfig::new()
            .resolve_alone(Some(&none), Some(&t), B)
            .unwrap()
            .otlp
            .is_none()
    );
    let prom = vars(&[("OTEL_METRICS_EXPORTER", "prometheus")]);
    let s = MetricsConfig::new()
        .resolve_alone(Some(&prom), Some(&t), B)
        .unwrap();
    assert!(s.otlp.is_none());
    assert_eq!(s.prometheus.as_deref(), Some(DEFAULT_PROMETHEUS_LISTEN));
    let both = vars(&[("OTEL_METRICS_EXPORTER", "otlp, prometheus")]);
    let s = MetricsConfig::new()
        .resolve_alone(Some(&both), None, B)
        .unwrap();
    assert!(s.otlp.is_some() && s.prometheus.is_some());
}

/// `OTEL_EXPORTER_PROMETHEUS_HOST` and `_PORT` (the specification's, defaults `localhost`, as
/// `127.0.0.1`, and 9464) place the endpoint `OTEL_METRICS_EXPORTER=prometheus` turns on; they were ignored.
/// `GODTRACE_PROMETHEUS_LISTEN` and code still win, and a bad value is an error.
#[test]
fn prometheus_host_and_port_variables_place_the_endpoint() {
    let resolve = |pairs: &[(&str, &str)]| {
        let mut all = vec![("OTEL_METRICS_EXPORTER", "prometheus")];
        all.extend_from_slice(pairs);
        let env = vars(&all);
        MetricsConfig::new()
            .resolve_alone(Some(&env), None, B)
            .map(|s| s.prometheus)
    };
    let port = [("OTEL_EXPORTER_PROMETHEUS_PORT", "19999")];
    assert_eq!(resolve(&port).unwrap().as_deref(), Some("127.0.0.1:19999"));
    let host = [("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0")];
    assert_eq!(resolve(&host).unwrap().as_deref(), Some("0.0.0.0:9464"));
    let v6 = [
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "::1"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "0"),
    ];
    assert_eq!(resolve(&v6).unwrap().as_deref(), Some("[::1]:0"));
    let ours = [port[0], ("GODTRACE_PROMETHEUS_LISTEN", "127.0.0.1:1234")];
    assert_eq!(resolve(&ours).unwrap().as_deref(), Some("127.0.0.1:1234"));
    for (var, v) in [
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "notaport"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "65536"),
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "a b"),
    ] {
        match resolve(&[(var, v)]) {
            Err(InitError::InvalidValue { name, .. }) => assert_eq!(name, var),
            other => panic!("{var}={v}: {other:?}"),
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "otlp-http"),
    ignore = "a schemeless endpoint is complete where gRPC is the only transport"
)]
fn bad_values_name_their_source() {
    let bad = |pairs: &[(&str, &str)]| {
        let InitError::InvalidValue { name, .. } = env::parse(&vars(pairs)).unwrap_err() else {
            panic!()
        };
        name
    };
    for listen in [
        "9464",
        "127.0.0.1:0,127.0.0.1:0",
        "host name:9464",
        "[::1:9464",
        "[nope]:9464",
        "a..b:9464",
    ] {
        assert_eq!(
            bad(&[("GODTRACE_PROMETHEUS_LISTEN", listen)]),
            "GODTRACE_PROMETHEUS_LISTEN",
            "{listen}"
        );
    }
    for listen in [
        "0.0.0.0:9464",
        "[::1]:0",
        "localhost:9464",
        "metrics-1.internal:80",
    ] {
        assert!(
            env::parse(&vars(&[("GODTRACE_PROMETHEUS_LISTEN", listen)])).is_ok(),
            "{listen}"
        );
    }
    assert_eq!(
        bad(&[("OTEL_METRIC_EXPORT_INTERVAL", "-1")]),
        "OTEL_METRIC_EXPORT_INTERVAL"
    );
    assert_eq!(
        bad(&[("OTEL_METRIC_EXPORT_INTERVAL", "1s")]),
        "OTEL_METRIC_EXPORT_INTERVAL"
    );
    assert_eq!(
        bad(&[("OTEL_METRICS_EXPORTER", "statsd")]),
        "OTEL_METRICS_EXPORTER"
    );
    // `none` stands alone (as for traces and propagators).
    assert_eq!(
        bad(&[("OTEL_METRICS_EXPORTER", "prometheus,none")]),
        "OTEL_METRICS_EXPORTER"
    );
    // Deltas asked for are not answered with cumulative points in silence.
    for temporality in ["delta", "LowMemory", "sometimes"] {
        assert_eq!(
            bad(&[(
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                temporality
            )]),
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
        );
    }
    let cumulative = [(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "Cumulative",
    )];
    assert!(env::parse(&vars(&cumulative)).is_ok());
    // Nor exponential histograms with explicit buckets.
    const AGGREGATION: &str = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION";
    for aggregation in ["base2_exponential_bucket_histogram", "linear"] {
        assert_eq!(bad(&[(AGGREGATION, aggregation)]), AGGREGATION);
    }
    assert!(env::parse(&vars(&[(AGGREGATION, "Explicit_Bucket_Histogram")])).is_ok());
    assert_eq!(
        bad(&[("GODTRACE_METRICS_CARDINALITY_LIMIT", "-1")]),
        "GODTRACE_METRICS_CARDINALITY_LIMIT"
    );
    assert_eq!(
        bad(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://c")]),
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
    );
    // Without a scheme, only a gRPC endpoint is complete (the scheme follows _INSECURE).
    let schemeless = vars(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "localhost:4317")]);
    match MetricsConfig::new().resolve_alone(Some(&schemeless), None, B) {
        Err(InitError::InvalidValue { name, .. }) => {
            assert_eq!(name, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        }
        other => panic!("{other:?}"),
    }
    let code_err = |c: MetricsConfig| match c.resolve_alone(None, None, B).unwrap_err() {
        InitError::InvalidValue { name, .. } => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code_err(MetricsConfig::new().cardinality_limit(0)),
        "cardinality_limit"
    );
    assert_eq!(
        code_err(MetricsConfig::new().histogram_buckets("h", [2.0, 1.0])),
        "histogram_buckets(\"h\")"
    );
    // Each series holds a count per bucket, and a point goes whole into one request.
    let many = (0..=1024).map(f64::from);
    assert_eq!(
        code_err(MetricsConfig::new().histogram_buckets("h", many)),
        "histogram_buckets(\"h\")"
    );
    assert!(
        MetricsConfig::new()
            .histogram_buckets("h", (0..1024).map(f64::from))
            .resolve_alone(None, None, B)
            .is_ok()
    );
    // Fixed buckets: refused, not set and silently unused (in any case: names that differ
    // in case only are one metric).
    assert_eq!(
        code_err(MetricsConfig::new().histogram_buckets("godtrace.operation.duration", [1.0])),
        "histogram_buckets(\"godtrace.operation.duration\")"
    );
    assert_eq!(
        code_err(MetricsConfig::new().histogram_buckets("GODTRACE.Operation.Duration", [1.0])),
        "histogram_buckets(\"GODTRACE.Operation.Duration\")"
    );
    assert_eq!(
        code_err(MetricsConfig::new().prometheus_listen("nope")),
        "prometheus_listen"
    );
    assert_eq!(
        code_err(MetricsConfig::new().export_interval(Duration::ZERO)),
        "export_interval"
    );
}

/// A metric's own setting names a metric an instrument can have, else it would be taken
/// and never used; named twice, the last one given counts (as every other setter).
#[test]
fn per_metric_settings_name_a_metric_and_the_last_one_counts() {
    let code_err = |c: MetricsConfig| match c.resolve_alone(None, None, B).unwrap_err() {
        InitError::InvalidValue { name, .. } => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code_err(MetricsConfig::new().histogram_buckets("bad name!", [1.0])),
        "histogram_buckets(\"bad name!\")"
    );
    assert_eq!(
        code_err(MetricsConfig::new().cardinality_limit_for("no such metric", 3)),
        "cardinality_limit_for(\"no such metric\")"
    );
    let settings = MetricsConfig::new()
        .cardinality_limit_for("dup.c", 2)
        .cardinality_limit_for("dup.c", 5)
        .histogram_buckets("dup.h", [1.0])
        .histogram_buckets("dup.h", [10.0, 20.0])
        .resolve_alone(None, None, B)
        .unwrap();
    assert_eq!(settings.limits.per_metric, [("dup.c".to_owned(), 5)]);
    assert_eq!(settings.limits.buckets.len(), 1);
    assert_eq!(&*settings.limits.buckets[0].1, [10.0, 20.0]);
}

#[test]
fn a_negative_zero_bucket_bound_is_the_bound_zero() {
    let settings = MetricsConfig::new()
        .histogram_buckets("h", [-0.0, 1.0])
        .resolve_alone(None, None, B)
        .unwrap();
    let (_, bounds) = &settings.limits.buckets[0];
    // Rendered `le="0"`, as `format!` writes the bound: `-0.0` would be `le="-0"`.
    assert_eq!(format!("{}", bounds[0]), "0");
}

/// Across transports the host is kept and a port given becomes the other protocol's: a
/// port serves one of them (HTTP sent to a gRPC port is refused, and the other way round).
#[test]
fn metrics_url_across_transports() {
    let (grpc, http) = (Protocol::Grpc, Protocol::HttpProtobuf);
    assert_eq!(
        metrics_url("http://c:4317", grpc, http),
        "http://c:4318/v1/metrics"
    );
    assert_eq!(
        metrics_url("http://c:4318/base/v1/traces", http, grpc),
        "http://c:4317"
    );
    assert_eq!(
        metrics_url("https://k:p%3A1@[::1]:27641", grpc, http),
        "https://k:p%3A1@[::1]:4318/v1/metrics"
    );
    assert_eq!(
        metrics_url("https://u@[2001:db8::1]/x", http, grpc),
        "https://u@[2001:db8::1]"
    );
    assert_eq!(
        metrics_url("https://api.vendor.example", grpc, http),
        "https://api.vendor.example/v1/metrics"
    );
    assert_eq!(
        metrics_url(
            "http://c:4318/base/v1/traces",
            Protocol::HttpProtobuf,
            Protocol::HttpProtobuf
        ),
        "http://c:4318/base/v1/metrics"
    );
}

/// Only the path's `/v1/traces` becomes `/v1/metrics`: a query stays after the path, and a
/// trailing slash does not hide the suffix.
#[test]
fn metrics_url_rewrites_the_path_and_keeps_the_query() {
    let http = Protocol::HttpProtobuf;
    for (traces_url, metrics) in [
        (
            "http://127.0.0.1:43181/v1/traces?tenant=a",
            "http://127.0.0.1:43181/v1/metrics?tenant=a",
        ),
        ("http://c:4318/v1/traces/", "http://c:4318/v1/metrics"),
        (
            "http://c:4318/base/v1/traces/?tenant=a/v1/traces",
            "http://c:4318/base/v1/metrics?tenant=a/v1/traces",
        ),
        (
            "http://c:4318?tenant=a",
            "http://c:4318/v1/metrics?tenant=a",
        ),
        ("http://c:4318/custom", "http://c:4318/custom/v1/metrics"),
    ] {
        assert_eq!(metrics_url(traces_url, http, http), metrics, "{traces_url}");
    }
    assert_eq!(
        metrics_url("http://c:4318/v1/traces?tenant=a", http, Protocol::Grpc),
        "http://c:4317"
    );
    assert_eq!(
        metrics_url("http://c:4317?tenant=a", Protocol::Grpc, http),
        "http://c:4318/v1/metrics"
    );
}

#[test]
fn intervals_and_timeouts_past_an_hour_are_rejected_by_name() {
    let name_of = |c: MetricsConfig, env: &[(&str, &str)]| match c
        .resolve_alone(Some(&vars(env)), None, B)
        .unwrap_err()
    {
        InitError::InvalidValue { name, expected, .. } => {
            assert!(expected.contains("1 hour"), "{name}: {expected}");
            name
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name_of(MetricsConfig::new().export_interval(Duration::MAX), &[]),
        "export_interval"
    );
    assert_eq!(
        name_of(MetricsConfig::new().export_timeout(Duration::MAX), &[]),
        "export_timeout"
    );
    for var in ["OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT"] {
        assert_eq!(
            name_of(MetricsConfig::new(), &[(var, "18446744073709551615")]),
            var
        );
    }
    let hour = MetricsConfig::new().export_interval(Duration::from_secs(3600));
    assert_eq!(
        hour.resolve_alone(None, None, B).unwrap().interval,
        Duration::from_secs(3600)
    );
}

/// The specification's zero values: an interval of 0 is as often as godtrace pushes (1 ms), a
/// push timeout of 0 is no limit (1 hour, then the sooner of that and the request timeout).
#[test]
#[cfg_attr(not(feature = "otlp-grpc"), ignore = "needs the otlp-grpc feature")]
fn zero_interval_is_the_shortest_and_zero_timeout_no_limit() {
    let env = vars(&[
        ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
    ]);
    let s = MetricsConfig::new()
        .resolve_alone(Some(&env), None, crate::config::MAX_DURATION)
        .unwrap();
    assert_eq!(s.interval, Duration::from_millis(1));
    assert_eq!(s.otlp.unwrap().timeout, crate::config::MAX_DURATION);
}
