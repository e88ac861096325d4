use super::*;

fn env(pairs: &[(&str, &str)]) -> Result<Layer, InitError> {
    let vars: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Ok(v.to_string())))
        .collect();
    parse(&vars)
}

fn message(pairs: &[(&str, &str)]) -> String {
    env(pairs).unwrap_err().to_string()
}

#[test]
fn sampler_variants_set_ratio_and_parent_rule() {
    let cases = [
        ("always_on", None, 1.0, false),
        ("always_off", None, 0.0, false),
        ("traceidratio", Some("0.25"), 0.25, false),
        ("traceidratio", None, 1.0, false),
        ("parentbased_always_on", None, 1.0, true),
        ("parentbased_always_off", None, 0.0, true),
        ("parentbased_traceidratio", Some("0.5"), 0.5, true),
    ];
    for (name, arg, ratio, parent) in cases {
        let mut pairs = vec![("OTEL_TRACES_SAMPLER", name)];
        pairs.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
        let layer = env(&pairs).unwrap();
        assert_eq!(layer.sample_ratio, Some(ratio), "{name}");
        assert_eq!(layer.parent_based, Some(parent), "{name}");
    }
}

#[test]
fn invalid_values_name_variable_value_and_what_is_accepted() {
    assert_eq!(
        message(&[("OTEL_TRACES_SAMPLER_ARG", "1.5")]),
        r#"OTEL_TRACES_SAMPLER_ARG="1.5": expected a number from 0 to 1"#
    );
    assert!(message(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]).contains("always_on"));
    assert!(message(&[("OTEL_SDK_DISABLED", "yes")]).contains("true or false"));
    // The same bound however large the number: past `usize` too.
    for queue in ["-1", "0", "1048577", "99999999999999999999999"] {
        assert!(
            message(&[("OTEL_BSP_MAX_QUEUE_SIZE", queue)]).contains("from 1 to 1048576"),
            "{queue}"
        );
    }
    assert!(message(&[("OTEL_BSP_SCHEDULE_DELAY", "5s")]).contains("milliseconds"));
    assert!(message(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).contains("grpc"));
    assert!(message(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c:4317")]).contains("http://"));
    assert!(message(&[("OTEL_PROPAGATORS", "b3")]).contains("tracecontext"));
    assert!(message(&[("OTEL_RESOURCE_ATTRIBUTES", "region")]).contains("key=value"));
    assert!(message(&[("OTEL_EXPORTER_OTLP_HEADERS", "a b=c")]).contains("header names"));
    assert!(message(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")]).contains("gzip"));
}

#[test]
fn header_values_never_appear_in_errors() {
    for v in [
        "authorization=Bearer%0As3cr3t",
        "authorization=s3cr3t,broken",
        "s3cr3t",
        "authorization=%zzs3cr3t",
        "bad name=s3cr3t",
        // Mistyped items whose credential ends in `=` (base64): split there, the credential
        // would be on the name's side.
        "Authorization: Basic s3cr3t=",
        "x-token:s3cr3t==",
        "a=1,x-api-key s3cr3t=",
    ] {
        let err = message(&[("OTEL_EXPORTER_OTLP_HEADERS", v)]);
        assert!(err.starts_with("OTEL_EXPORTER_OTLP_HEADERS="), "{err}");
        assert!(!err.contains("s3cr3t"), "{v}: {err}");
    }
    let err = message(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%0As3cr3t",
    )]);
    assert!(err.contains("authorization=<redacted>"), "{err}");
}

#[test]
fn endpoints_are_normalised_and_their_credentials_never_shown() {
    let layer = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTP://c:4318")]).unwrap();
    let endpoint = layer.otlp.endpoint.unwrap();
    assert_eq!(endpoint.value, "http://c:4318");
    assert_eq!(endpoint.name, "OTEL_EXPORTER_OTLP_ENDPOINT");
    for v in [
        "http://u:s3cr3t@c:70000",
        "https://u:s3cr3t@c:0",
        "http://u:s3cr3t@c:0",
    ] {
        let err = message(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v)]);
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{v}: {err}");
    }
}

#[test]
fn a_sampler_argument_without_a_sampler_is_an_error() {
    assert!(message(&[("OTEL_TRACES_SAMPLER_ARG", "0.1")]).contains("OTEL_TRACES_SAMPLER="));
    // The specification has the other samplers ignore it, whatever it holds.
    for (sampler, arg, ratio) in [
        ("always_on", "0.1", 1.0),
        ("always_off", "garbage", 0.0),
        ("parentbased_always_on", "1.5", 1.0),
    ] {
        let layer = env(&[
            ("OTEL_TRACES_SAMPLER", sampler),
            ("OTEL_TRACES_SAMPLER_ARG", arg),
        ])
        .unwrap();
        assert_eq!(layer.sample_ratio, Some(ratio), "{sampler}");
    }
    assert!(
        message(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "garbage"),
        ])
        .contains("a number from 0 to 1")
    );
}

#[test]
fn non_utf8_values_are_errors_that_never_show_the_value() {
    for (name, lossy) in [
        ("OTEL_SERVICE_NAME", "a\u{fffd}"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer s3cr3t\u{fffd}",
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://u:s3cr3t@h\u{fffd}:4318",
        ),
    ] {
        let vars = vec![(name.to_owned(), Err(lossy.to_owned()))];
        let err = parse(&vars).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.starts_with(&format!("{name}=")), "{shown}");
        assert!(shown.contains("UTF-8"), "{shown}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains('\u{fffd}'),
            "{shown}"
        );
    }
}

#[test]
fn pairs_are_trimmed_and_percent_decoded() {
    let layer = env(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            " environment=prod , region=eu%2Cwest ",
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20t0k,x-team=core",
        ),
    ])
    .unwrap();
    let resource: Vec<_> = layer
        .resource
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_string()))
        .collect();
    assert_eq!(
        resource,
        [("environment", "prod".into()), ("region", "eu,west".into())]
    );
    let headers: Vec<_> = layer.otlp.headers.into_iter().map(|h| h.value).collect();
    assert_eq!(
        headers,
        [
            ("authorization".to_owned(), "Bearer t0k".to_owned()),
            ("x-team".to_owned(), "core".to_owned())
        ]
    );
}

#[test]
fn empty_values_count_as_unset_and_propagators_parse() {
    let layer = env(&[
        ("OTEL_SERVICE_NAME", ""),
        ("OTEL_PROPAGATORS", "tracecontext, baggage,tracecontext"),
    ])
    .unwrap();
    assert_eq!(layer.service_name, None);
    assert_eq!(
        layer.propagators,
        Some(vec![Propagator::TraceContext, Propagator::Baggage])
    );
    let none = env(&[("OTEL_PROPAGATORS", "none")]).unwrap();
    assert_eq!(none.propagators, Some(vec![]));
    let disabled = env(&[("OTEL_SDK_DISABLED", "TRUE")]).unwrap();
    assert_eq!(disabled.enabled, Some(false));
}

/// `none` is "no exporter" (or propagator): beside another name one of the two is a mistake,
/// so the list is refused, for each variable alike.
#[test]
fn none_stands_alone_in_a_list() {
    for (var, v) in [
        ("OTEL_TRACES_EXPORTER", "otlp,none"),
        ("OTEL_TRACES_EXPORTER", "none,console"),
        ("OTEL_PROPAGATORS", "tracecontext,none"),
    ] {
        match env(&[(var, v)]) {
            Err(InitError::InvalidValue { name, .. }) => assert_eq!(name, var),
            other => panic!("{var}={v}: {other:?}"),
        }
    }
    let none = env(&[("OTEL_TRACES_EXPORTER", " None ")]).unwrap();
    let exporter = none.traces_exporter.unwrap();
    assert!(!exporter.otlp && !exporter.console);
}

/// Lists are read as the specification's other lists: empty items (a trailing comma, `a,,b`)
/// are skipped and a repeated name counts once, `none,none` included; a list naming nothing
/// is still refused.
#[test]
fn empty_items_and_repeats_in_lists_are_skipped() {
    let layer = env(&[
        ("OTEL_PROPAGATORS", "tracecontext,,baggage,"),
        ("OTEL_TRACES_EXPORTER", "otlp,"),
    ])
    .unwrap();
    assert_eq!(
        layer.propagators,
        Some(vec![Propagator::TraceContext, Propagator::Baggage])
    );
    let exporter = layer.traces_exporter.unwrap();
    assert!(exporter.otlp && !exporter.console);
    let none = env(&[
        ("OTEL_PROPAGATORS", "none,none"),
        ("OTEL_TRACES_EXPORTER", "none, NONE"),
    ])
    .unwrap();
    assert_eq!(none.propagators, Some(vec![]));
    let exporter = none.traces_exporter.unwrap();
    assert!(!exporter.otlp && !exporter.console);
    for var in ["OTEL_PROPAGATORS", "OTEL_TRACES_EXPORTER"] {
        assert!(env(&[(var, ",")]).is_err(), "{var}");
    }
}

/// The specification reads enum values case-insensitively: an upper-case sampler or exporter
/// name is the same setting, not an error that stops `init`.
#[test]
fn enum_values_are_read_in_any_case() {
    let layer = env(&[
        ("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ("OTEL_TRACES_EXPORTER", "OTLP,Console"),
        ("OTEL_PROPAGATORS", "TraceContext, BAGGAGE"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/Protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "GRPC"),
    ])
    .unwrap();
    assert_eq!(layer.sample_ratio, Some(0.5));
    assert_eq!(layer.parent_based, Some(true));
    let exporter = layer.traces_exporter.unwrap();
    assert!(exporter.otlp && exporter.console);
    assert_eq!(
        layer.propagators,
        Some(vec![Propagator::TraceContext, Propagator::Baggage])
    );
    assert_eq!(
        layer.otlp.protocol.map(|p| p.value),
        Some(Protocol::HttpProtobuf)
    );
    assert_eq!(layer.traces.protocol.map(|p| p.value), Some(Protocol::Grpc));
    assert_eq!(
        env(&[("OTEL_TRACES_SAMPLER", "ALWAYS_OFF")])
            .unwrap()
            .sample_ratio,
        Some(0.0)
    );
    assert!(env(&[("OTEL_PROPAGATORS", "NONE")]).unwrap().propagators == Some(Vec::new()));
}

/// `GODTRACE_JAEGER_UI` is checked like an endpoint: a link made of anything else (`notaurl`,
/// `javascript:..`) would open nothing, or something else.
#[test]
fn the_jaeger_ui_is_an_http_url() {
    for bad in [
        "notaurl",
        "javascript:alert(1)",
        "ftp://jaeger:16686",
        "http://",
    ] {
        assert!(
            message(&[("GODTRACE_JAEGER_UI", bad)]).contains("http://"),
            "{bad}"
        );
    }
    let layer = env(&[("GODTRACE_JAEGER_UI", " HTTPS://jaeger.example:16686/ ")]).unwrap();
    assert_eq!(
        layer.jaeger_ui.as_deref(),
        Some("https://jaeger.example:16686")
    );
}

/// The specification's *Timeout* type reads 0 as no limit (godtrace's longest, 1 hour), and
/// its *Duration* type allows 0 (godtrace's shortest, 1 ms); both were errors that stopped
/// `init` where another SDK starts.
#[test]
fn zero_timeouts_are_no_limit_and_zero_delays_the_shortest() {
    let layer = env(&[
        ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
    ])
    .unwrap();
    assert_eq!(layer.export_timeout, Some(MAX_DURATION));
    assert_eq!(layer.otlp.timeout.map(|t| t.value), Some(MAX_DURATION));
    assert_eq!(layer.traces.timeout.map(|t| t.value), Some(MAX_DURATION));
    assert_eq!(layer.schedule_delay, Some(Duration::from_millis(1)));
    // Past the hour, still an error saying what is accepted.
    assert!(message(&[("OTEL_BSP_EXPORT_TIMEOUT", "3600001")]).contains("from 0 to 3600000"));
}
