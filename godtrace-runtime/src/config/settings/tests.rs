use crate::config::{Compression, Protocol};
use crate::{Config, InitError};

fn settings(config: Config) -> super::Settings {
    config.resolve().unwrap()
}

#[test]
fn no_endpoint_anywhere_means_no_exporter_and_the_local_tree() {
    let s = settings(Config::new("svc").with_env_vars([("OTEL_SERVICE_NAME", "x")]));
    assert!(s.export.is_none());
    assert!(s.local_tree);
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn the_same_base_endpoint_means_the_same_url_in_code_and_env() {
    for protocol in ["http/protobuf", "grpc"] {
        let from_env = settings(Config::new("svc").with_env_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ]));
        let from_code = settings(
            Config::new("svc")
                .endpoint("http://c:4318")
                .with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]),
        );
        assert_eq!(from_env.export, from_code.export, "{protocol}");
    }
    let http = settings(Config::new("svc").endpoint("http://c:4318"));
    assert_eq!(http.export.unwrap().endpoint, "http://c:4318/v1/traces");
    let full = settings(Config::new("svc").with_env_vars([
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
    ]));
    assert_eq!(full.export.unwrap().endpoint, "http://c:9/custom");
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn defaults_follow_the_protocol() {
    let grpc = settings(Config::new("svc").protocol(Protocol::Grpc));
    assert_eq!(grpc.export.unwrap().endpoint, "http://localhost:4317");
    let http = settings(Config::new("svc").protocol(Protocol::HttpProtobuf));
    let http = http.export.unwrap();
    assert_eq!(http.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(http.timeout.as_millis(), 10_000);
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn code_wins_over_env_whatever_the_call_order() {
    let env = [
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=env,x-env=1"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "100"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_SDK_DISABLED", "true"),
    ];
    let before = Config::new("from-code")
        .endpoint("http://code:4317")
        .traces_endpoint("http://code:1")
        .header("Authorization", "code")
        .timeout(std::time::Duration::from_millis(7))
        .compression(Compression::None)
        .sample_ratio(0.5)
        .max_queue_size(20)
        .enabled(true);
    let s = settings(before.clone().with_env_vars(env));
    let after = settings(
        Config::default()
            .with_env_vars(env)
            .service_name("from-code"),
    );
    assert_eq!(after.resource[0].value.as_str(), "from-code");
    assert!(s.enabled);
    assert_eq!(s.sampler.ratio, 0.5);
    assert!(
        !s.sampler.parent_based,
        "env's always_off still says not parent-based"
    );
    assert_eq!(s.batch.max_queue_size, 20);
    let name = s
        .resource
        .iter()
        .find(|kv| kv.key.as_str() == "service.name");
    assert_eq!(name.unwrap().value.as_str(), "from-code");
    let e = s.export.unwrap();
    assert_eq!(e.endpoint, "http://code:1");
    assert_eq!(e.protocol, Protocol::Grpc);
    assert_eq!(e.timeout.as_millis(), 7);
    assert_eq!(e.compression, Compression::None);
    assert_eq!(
        e.headers,
        [
            ("x-env".to_owned(), "1".to_owned()),
            ("authorization".to_owned(), "code".to_owned())
        ]
    );
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn batch_settings_are_checked_together() {
    let err = Config::new("svc")
        .with_env_vars([
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
        ])
        .resolve()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"OTEL_BSP_MAX_EXPORT_BATCH_SIZE="200": expected at most the queue size (100)"#
    );
    let small = settings(Config::new("svc").max_queue_size(8));
    assert_eq!(small.batch.max_export_batch_size, 8);
    let err = Config::new("svc").sample_ratio(1.5).resolve().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"sample_ratio="1.5": expected a number from 0 to 1"#
    );
    let err = Config::new("svc")
        .endpoint("localhost:4317")
        .resolve()
        .unwrap_err();
    assert!(err.to_string().starts_with("endpoint=\"localhost:4317\""));
}

#[test]
fn durations_past_an_hour_are_rejected_by_name() {
    use std::time::Duration;
    let huge = "18446744073709551615";
    let cases = [
        (
            Config::new("s").export_timeout(Duration::MAX),
            "export_timeout",
        ),
        (
            Config::new("s").schedule_delay(Duration::MAX),
            "schedule_delay",
        ),
        (Config::new("s").timeout(Duration::MAX), "timeout"),
        (
            Config::new("s").export_timeout(Duration::from_millis(3_600_001)),
            "export_timeout",
        ),
        (
            Config::new("s").with_env_vars([("OTEL_BSP_EXPORT_TIMEOUT", huge)]),
            "OTEL_BSP_EXPORT_TIMEOUT",
        ),
        (
            Config::new("s").with_env_vars([("OTEL_BSP_SCHEDULE_DELAY", huge)]),
            "OTEL_BSP_SCHEDULE_DELAY",
        ),
        (
            Config::new("s").with_env_vars([("OTEL_EXPORTER_OTLP_TIMEOUT", "3600001")]),
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
    ];
    for (config, expected_name) in cases {
        match config.resolve().unwrap_err() {
            InitError::InvalidValue { name, expected, .. } => {
                assert_eq!(name, expected_name);
                assert!(expected.contains("1 hour"), "{name}: {expected}");
            }
            other => panic!("{expected_name}: {other:?}"),
        }
    }
    let hour = Duration::from_secs(3600);
    let s = settings(
        Config::new("s")
            .export_timeout(hour)
            .schedule_delay(hour)
            .with_env_vars([("OTEL_EXPORTER_OTLP_TIMEOUT", "3600000")]),
    );
    assert_eq!(
        (s.batch.export_timeout, s.batch.schedule_delay),
        (hour, hour)
    );
}

#[test]
fn code_values_are_held_to_the_environments_bounds() {
    use std::time::Duration;
    let cases = [
        (
            Config::new("s").schedule_delay(Duration::from_nanos(1)),
            "schedule_delay",
        ),
        (
            Config::new("s").export_timeout(Duration::from_micros(999)),
            "export_timeout",
        ),
        (Config::new("s").timeout(Duration::from_nanos(1)), "timeout"),
        (
            Config::new("s").resource_attribute("", "v"),
            "resource_attribute",
        ),
    ];
    for (config, expected_name) in cases {
        match config.resolve().unwrap_err() {
            InitError::InvalidValue { name, .. } => assert_eq!(name, expected_name),
            other => panic!("{expected_name}: {other:?}"),
        }
    }
    let s = settings(
        Config::new("s")
            .max_attribute_len(0)
            .schedule_delay(Duration::from_millis(1)),
    );
    assert_eq!(
        (s.max_attribute_len, s.batch.schedule_delay),
        (0, Duration::from_millis(1))
    );
}

#[test]
fn the_queue_size_has_an_upper_bound() {
    let over = (super::MAX_QUEUE_SIZE + 1).to_string();
    for (config, expected_name) in [
        (
            Config::new("s").max_queue_size(super::MAX_QUEUE_SIZE + 1),
            "max_queue_size",
        ),
        (
            Config::new("s").max_queue_size(usize::MAX),
            "max_queue_size",
        ),
        (
            Config::new("s").with_env_vars([("OTEL_BSP_MAX_QUEUE_SIZE", over.as_str())]),
            "OTEL_BSP_MAX_QUEUE_SIZE",
        ),
        (
            Config::new("s").with_env_vars([("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", over.as_str())]),
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        ),
    ] {
        match config.resolve().unwrap_err() {
            InitError::InvalidValue { name, expected, .. } => {
                assert_eq!(name, expected_name);
                assert!(expected.contains("1048576"), "{name}: {expected}");
            }
            other => panic!("{expected_name}: {other:?}"),
        }
    }
    let max = settings(Config::new("s").max_queue_size(super::MAX_QUEUE_SIZE));
    assert_eq!(max.batch.max_queue_size, 1 << 20);
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn binary_grpc_header_names_are_refused_over_grpc_only() {
    let grpc = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-token-bin=s3cr3t"),
    ];
    match Config::new("s").with_env_vars(grpc).resolve().unwrap_err() {
        InitError::InvalidValue { name, value, .. } => {
            assert_eq!(name, "OTEL_EXPORTER_OTLP_HEADERS");
            assert_eq!(value, "x-token-bin=<redacted>");
        }
        other => panic!("{other:?}"),
    }
    let http = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-token-bin=s3cr3t"),
    ];
    assert!(Config::new("s").with_env_vars(http).resolve().is_ok());
}

#[test]
fn builder_header_values_and_endpoint_credentials_never_appear_in_errors() {
    let err = Config::new("s")
        .header("authorization", "Bearer s3cr3t\r\n")
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(r#"header="authorization=<redacted>""#),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    // A credential mistyped into the name: not shown either.
    let err = Config::new("s")
        .header("Authorization: Bearer s3cr3t", "x")
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cr3t"), "{err}");
    for config in [
        Config::new("s").endpoint("https://u:s3cr3t@c:0"),
        Config::new("s").traces_endpoint("http://u:s3cr3t@c:99999/v1/traces"),
    ] {
        let err = config.resolve().unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}

#[test]
#[cfg_attr(
    not(all(feature = "otlp-grpc", feature = "otlp-http")),
    ignore = "needs the otlp-grpc and otlp-http features"
)]
fn upper_case_schemes_are_sent_in_lower_case_on_both_signals() {
    let s = settings(Config::new("s").endpoint("HTTP://c:4318"));
    let traces = s.export.clone().unwrap();
    assert_eq!(traces.endpoint, "http://c:4318/v1/traces");
    let config = Config::new("s")
        .endpoint("HTTP://c:4318")
        .metrics(crate::MetricsConfig::new().otlp_endpoint("Http://m:4318/v1/metrics"));
    let metrics = config.metrics_settings(&s).unwrap().otlp.unwrap();
    assert_eq!(metrics.endpoint, "http://m:4318/v1/metrics");
    let derived = Config::new("s").metrics_settings(&s).unwrap().otlp.unwrap();
    assert_eq!(derived.endpoint, "http://c:4318/v1/metrics");
}

#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
fn both(vars: &[(&str, &str)]) -> (super::OtlpTarget, super::OtlpTarget) {
    let config = Config::new("s").with_env_vars(vars.iter().copied());
    let spans = settings(config.clone());
    let metrics = config.metrics_settings(&spans).unwrap().otlp.unwrap();
    (spans.export.unwrap(), metrics)
}

// Both transports are built in (the default features).
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn each_signal_reads_its_own_variables_over_the_generic_ones() {
    let (traces, metrics) = both(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-generic=1"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-metrics=2"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3000"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
    ]);
    // Traces: their own protocol; the generic base endpoint, used as is over gRPC.
    assert_eq!(traces.protocol, Protocol::Grpc);
    assert_eq!(traces.endpoint, "http://base:4318");
    assert_eq!(traces.headers, [("x-generic".to_owned(), "1".to_owned())]);
    assert_eq!(traces.timeout.as_millis(), 2000);
    assert_eq!(traces.compression, Compression::None);
    // Metrics: their own endpoint as is, their own headers instead of the generic ones.
    assert_eq!(metrics.protocol, Protocol::HttpProtobuf);
    assert_eq!(metrics.endpoint, "http://m:9/custom");
    assert_eq!(metrics.headers, [("x-metrics".to_owned(), "2".to_owned())]);
    assert_eq!(metrics.timeout.as_millis(), 3000);
    assert_eq!(metrics.compression, Compression::Gzip);
}

// Both transports are built in (the default features).
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn a_generic_base_endpoint_gets_each_signals_path_over_http() {
    let (traces, metrics) = both(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318/otel/")]);
    assert_eq!(traces.endpoint, "https://c:4318/otel/v1/traces");
    assert_eq!(metrics.endpoint, "https://c:4318/otel/v1/metrics");
    let (traces, metrics) = both(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/v1/traces"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4317"),
    ]);
    assert_eq!(traces.endpoint, "http://t:1/v1/traces");
    assert_eq!(metrics.endpoint, "http://base:4317");
    // Metrics from the traces endpoint alone: its `/v1/traces` becomes `/v1/metrics`; another
    // path is a base, as the generic endpoint's is (the README's `otlp_endpoint` row).
    for (traces_endpoint, derived) in [
        (
            "http://t:1/v1/traces?tenant=a",
            "http://t:1/v1/metrics?tenant=a",
        ),
        ("http://t:1/custom", "http://t:1/custom/v1/metrics"),
        ("http://t:1", "http://t:1/v1/metrics"),
    ] {
        let (traces, metrics) = both(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_endpoint)]);
        assert_eq!(traces.endpoint, traces_endpoint);
        assert_eq!(metrics.endpoint, derived, "{traces_endpoint}");
    }
}

/// An international or `%`-escaped host is refused for gRPC only (HTTP's URI, which the gRPC
/// transport sends to, cannot hold it), not for HTTP/protobuf, whose URL parser converts it:
/// the gRPC check first ran on every endpoint given, whatever its protocol.
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn an_international_host_is_refused_over_grpc_only() {
    for host in ["http://bücher.example:4318", "http://%6c%6focalhost:4318"] {
        for var in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ] {
            let over = |protocol: &str| {
                Config::new("svc")
                    .with_env_vars([(var, host), ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)])
                    .resolve()
            };
            assert!(over("http/protobuf").is_ok(), "{var}={host}");
            match over("grpc") {
                Err(InitError::InvalidValue { name, expected, .. }) => {
                    assert_eq!(name, var);
                    assert!(expected.contains("over gRPC"), "{expected}");
                }
                other => panic!("{var}={host}: {other:?}"),
            }
        }
        let code = Config::new("svc")
            .endpoint(host)
            .protocol(Protocol::HttpProtobuf);
        assert!(code.resolve().is_ok(), "{host}");
    }
}

// Both transports are built in (the default features).
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn schemeless_grpc_endpoints_follow_insecure() {
    let secure = settings(Config::new("s").with_env_vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]));
    assert_eq!(secure.export.unwrap().endpoint, "https://collector:4317");
    let insecure = settings(Config::new("s").with_env_vars([
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ]));
    assert_eq!(insecure.export.unwrap().endpoint, "http://collector:4317");
    let http = Config::new("s")
        .with_env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")])
        .resolve()
        .unwrap_err();
    assert!(http.to_string().contains("http://"), "{http}");
}

// Both transports are built in (the default features).
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn otel_traces_exporter_chooses_otlp_console_or_none() {
    let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let none =
        settings(Config::new("s").with_env_vars([endpoint, ("OTEL_TRACES_EXPORTER", "none")]));
    assert!(none.export.is_none() && !none.local_tree);
    let console = settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "console")]));
    assert!(console.export.is_none() && console.local_tree);
    let otlp = settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "otlp")]));
    assert_eq!(
        otlp.export.unwrap().endpoint,
        "http://localhost:4318/v1/traces"
    );
    assert!(!otlp.local_tree);
    let both = settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "otlp,console")]));
    assert!(both.export.is_some() && both.local_tree);
    // An endpoint set in code wins over the environment's "none".
    let code = settings(
        Config::new("s")
            .endpoint("http://c:4318")
            .with_env_vars([("OTEL_TRACES_EXPORTER", "none")]),
    );
    assert!(code.export.is_some());
}

#[test]
fn span_limits_come_from_the_environment() {
    let s = settings(Config::new("s").with_env_vars([
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "5"),
    ]));
    assert_eq!(s.max_attribute_len, 64);
    let limits = s.span_limits;
    assert_eq!(
        (
            limits.attributes,
            limits.events,
            limits.event_attributes,
            limits.links
        ),
        (10, 3, 2, 5)
    );
    let code = settings(
        Config::new("s")
            .max_attribute_len(100)
            .with_env_vars([("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64")]),
    );
    assert_eq!(code.max_attribute_len, 100);
    assert_eq!(settings(Config::new("s")).span_limits.attributes, 128);
    assert_eq!(settings(Config::new("s")).span_limits.links, 128);
}

/// The specification's limits are non-negative (0 keeps nothing), a model's own limit wins
/// over the general one, and the general one stands in for the attribute counts.
#[test]
fn span_limits_follow_the_specifications_variables() {
    let limits = |vars: &[(&str, &str)]| {
        let s = settings(Config::new("s").with_env_vars(vars.iter().copied()));
        let l = s.span_limits;
        (
            s.max_attribute_len,
            l.attributes,
            l.events,
            l.event_attributes,
            l.links,
        )
    };
    assert_eq!(
        limits(&[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "0"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "0"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "0"),
        ]),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(
        limits(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "32"),
        ]),
        (32, 7, 128, 2, 128)
    );
    // A general variable is checked even where the span's own wins over it.
    match Config::new("s")
        .with_env_vars([
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "abc"),
        ])
        .resolve()
    {
        Err(InitError::InvalidValue { name, .. }) => assert_eq!(name, "OTEL_ATTRIBUTE_COUNT_LIMIT"),
        other => panic!("a bad general limit was ignored: {other:?}"),
    }
    for (name, value) in [
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "65537"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "-1"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1k"),
    ] {
        match Config::new("s").with_env_vars([(name, value)]).resolve() {
            Err(InitError::InvalidValue { name: given, .. }) => assert_eq!(given, name),
            other => panic!("{name}={value}: {other:?}"),
        }
    }
}

#[test]
fn resource_merges_env_then_code() {
    let s = settings(
        Config::new("svc")
            .service_version("1.2.3")
            .resource_attribute("region", "eu")
            .resource_attribute("shards", 4_i64)
            .with_env_vars([("OTEL_RESOURCE_ATTRIBUTES", "region=us,environment=prod")]),
    );
    let get = |k: &str| {
        s.resource
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(get("region").unwrap().as_str(), "eu");
    assert_eq!(get("environment").unwrap().as_str(), "prod");
    assert_eq!(get("shards"), Some(opentelemetry::Value::I64(4)));
    assert_eq!(get("service.version").unwrap().as_str(), "1.2.3");
}

/// With no name given anywhere, the resource conventions' fallback: `unknown_service:` and the
/// executable's name.
#[test]
fn an_unnamed_service_is_named_after_its_executable() {
    let executable = std::env::current_exe().unwrap();
    let executable = executable.file_name().unwrap().to_str().unwrap();
    // An empty name given in code is no name either.
    for config in [Config::default(), Config::new("")] {
        let s = settings(config);
        let name = s
            .resource
            .iter()
            .find(|kv| kv.key.as_str() == "service.name")
            .map(|kv| kv.value.as_str().into_owned());
        assert_eq!(name, Some(format!("unknown_service:{executable}")));
    }
}

/// `service.name=` in the resource attributes, from either layer, is no name: it neither
/// exports an empty name nor hides a name given elsewhere.
#[test]
fn an_empty_service_name_attribute_is_no_name() {
    let executable = std::env::current_exe().unwrap();
    let executable = executable.file_name().unwrap().to_str().unwrap();
    let name_of = |config: Config| {
        settings(config)
            .resource
            .iter()
            .find(|kv| kv.key.as_str() == "service.name")
            .map(|kv| kv.value.as_str().into_owned())
    };
    let env = [("OTEL_RESOURCE_ATTRIBUTES", "service.name=,k=v")];
    assert_eq!(
        name_of(Config::default().with_env_vars(env)),
        Some(format!("unknown_service:{executable}"))
    );
    assert_eq!(
        name_of(Config::default().resource_attribute("service.name", "")),
        Some(format!("unknown_service:{executable}"))
    );
    let blank = [("OTEL_RESOURCE_ATTRIBUTES", "service.name=%20%09")];
    assert_eq!(
        name_of(Config::default().with_env_vars(blank)),
        Some(format!("unknown_service:{executable}"))
    );
    let named = Config::default().with_env_vars([
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-env"),
        ("OTEL_SERVICE_NAME", ""),
    ]);
    assert_eq!(
        name_of(named.resource_attribute("service.name", "")),
        Some("from-env".to_owned())
    );
}

/// A header that frames the request or belongs to the connection would break every export:
/// refused by `init`, naming the variable (or `header`) and the header, never the value.
/// (A build without an OTLP feature refuses any endpoint.)
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn framing_and_hop_by_hop_headers_are_refused_by_name() {
    for header in [
        "content-length",
        "Transfer-Encoding",
        "Content-Type",
        "content-encoding",
        "grpc-encoding",
        "host",
        "te",
        "connection",
        "upgrade",
    ] {
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            let list = format!("x-tenant=a,{header}=s3cr3t");
            let config = Config::new("s").with_env_vars([
                (var, list.as_str()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ]);
            match config.resolve() {
                Err(InitError::InvalidValue {
                    name,
                    value,
                    expected,
                }) => {
                    assert_eq!(name, var);
                    assert!(!value.contains("s3cr3t"), "{value}");
                    let lower = header.to_ascii_lowercase();
                    assert!(
                        expected.contains(&format!("other than {lower}")),
                        "{expected}"
                    );
                }
                other => panic!("{var}={list}: {other:?}"),
            }
        }
        let code = Config::new("s")
            .endpoint("http://c:4318")
            .header(header, "s3cr3t")
            .resolve();
        let err = code.unwrap_err().to_string();
        assert!(err.starts_with("header"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    // Names that only start like one are headers like any other.
    let fine = Config::new("s")
        .endpoint("http://c:4318")
        .header("x-host", "a")
        .header("content-type-hint", "b");
    let resolved = fine.resolve();
    assert!(resolved.is_ok(), "{:?}", resolved.err());
}

/// An invalid value is quoted in the error, but not whole: a 120 KB resource list makes a
/// message of a few hundred bytes, which names the bad pair by its place.
#[test]
fn an_invalid_value_is_quoted_bounded() {
    let huge = format!("ok=1,a=%ZZ{}", "x".repeat(120_000));
    let vars = [("OTEL_RESOURCE_ATTRIBUTES", huge.as_str())];
    let err = Config::new("s").with_env_vars(vars).resolve().unwrap_err();
    let InitError::InvalidValue {
        name,
        value,
        expected,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "OTEL_RESOURCE_ATTRIBUTES");
    assert!(
        value.starts_with("ok=1,a=%ZZxxx") && value.len() <= 300,
        "{}",
        value.len()
    );
    assert!(expected.ends_with("(pair 2 is not)"), "{expected}");
    assert!(err.to_string().len() < 1024, "{}", err.to_string().len());
}

/// An endpoint is checked whether or not its signal is exported: `init` said nothing about a
/// garbled `OTEL_EXPORTER_OTLP_ENDPOINT` while traces were off, and failed only once they
/// were turned on.
#[test]
fn endpoints_are_checked_when_nothing_is_exported() {
    for (var, value, protocol) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "garbage endpoint", None),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "h:1/a b", None),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "h:99999", Some("grpc")),
    ] {
        let mut vars = vec![("OTEL_TRACES_EXPORTER", "none"), (var, value)];
        vars.extend(protocol.map(|p| ("OTEL_EXPORTER_OTLP_PROTOCOL", p)));
        match Config::new("svc").with_env_vars(vars).resolve() {
            Err(InitError::InvalidValue { name, .. }) => assert_eq!(name, var),
            other => panic!("{var}={value}: {other:?}"),
        }
    }
    // gRPC's `host:port` without a scheme stays valid, also where this signal's protocol
    // would not take it: the generic endpoint may be the other signal's.
    let grpc = Config::new("svc").with_env_vars([
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert!(grpc.resolve().is_ok());
}

/// Every export request carries the resource whole: one of megabytes would make each request
/// one span (or lose them all past a receiver's bound), so `init` refuses it, naming its
/// largest attribute and quoting no value.
#[test]
fn a_resource_too_large_for_export_requests_is_refused() {
    let name = "n".repeat(super::MAX_RESOURCE_BYTES + 1);
    let err = Config::new(name.clone()).resolve().unwrap_err().to_string();
    assert!(err.contains("`service.name`"), "{err}");
    assert!(err.contains("64 KiB"), "{err}");
    assert!(!err.contains("nnnn"), "{err}");
    // Many small attributes from the environment count together.
    let many: Vec<String> = (0..7000).map(|i| format!("key{i}=value{i}")).collect();
    let env = [("OTEL_RESOURCE_ATTRIBUTES", many.join(","))];
    let err = Config::new("s").with_env_vars(env).resolve().unwrap_err();
    assert!(
        err.to_string().starts_with("resource=\"7001 attributes"),
        "{err}"
    );
    // A large resource that fits is kept whole.
    let fits = Config::new("s")
        .resource_attribute("k8s.pod.labels", "l".repeat(60 * 1024))
        .resolve()
        .unwrap();
    assert!(
        fits.resource
            .iter()
            .any(|kv| kv.value.as_str().len() == 60 * 1024)
    );
}
