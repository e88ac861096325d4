use super::Config;
use crate::MetricsConfig;

/// A logged `Config` shows which settings are there, never a credential.
#[test]
fn debug_output_shows_no_credential() {
    let config = Config::new("svc")
        .endpoint("https://user:hunter2@collector:4318")
        .header("authorization", "Bearer s3cr3t-token")
        // A value given as the name by mistake.
        .header("authorization: Bearer s3cr3t-in-name", "")
        .with_env_vars([(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=env-s3cr3t,Authorization: Basic env-name-s3cr3t",
        )])
        .metrics(MetricsConfig::new().otlp_endpoint("http://m:pw-metrics@collector:4318"));
    let shown = format!("{config:?} {config:#?}");
    for secret in [
        "hunter2",
        "s3cr3t-token",
        "s3cr3t-in-name",
        "env-s3cr3t",
        "env-name-s3cr3t",
        "pw-metrics",
    ] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    for kept in [
        "authorization",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "collector:4318",
        "svc",
    ] {
        assert!(shown.contains(kept), "{kept} missing from {shown}");
    }
}

/// An exporter given in code takes the spans: no OTLP target for them, no local tree
/// unless asked for.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn a_span_exporter_replaces_otlp_and_the_local_tree() {
    #[derive(Debug, Clone)]
    struct Nowhere;
    impl opentelemetry_sdk::trace::SpanExporter for Nowhere {
        async fn export(
            &self,
            _batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }
    let exporter = Nowhere;
    let config = Config::new("svc").endpoint("http://collector:4317");
    assert!(config.resolve().unwrap().export.is_some());
    let settings = config.span_exporter(exporter.clone()).resolve().unwrap();
    assert!(settings.export.is_none() && !settings.local_tree);
    let with_tree = Config::new("svc").span_exporter(exporter).local_tree(true);
    assert!(with_tree.resolve().unwrap().local_tree);
}

/// Two reads of the environment combine: a later one neither drops the earlier one's values
/// unchecked nor hides them; a variable read again takes its later value.
#[test]
fn reads_of_the_environment_combine() {
    let bad_first = Config::new("svc")
        .with_env_vars([
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ])
        .with_env_vars([("OTEL_SERVICE_NAME", "svc")]);
    match bad_first.resolve() {
        Err(crate::InitError::InvalidValue { name, .. }) => {
            assert_eq!(name, "OTEL_TRACES_SAMPLER_ARG")
        }
        other => panic!("{other:?}"),
    }
    let fixed = Config::new("svc")
        .with_env_vars([("OTEL_TRACES_SAMPLER_ARG", "1.5")])
        .with_env_vars([
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ]);
    assert!(fixed.resolve().is_ok());
}

/// An empty variable counts as unset: read later, it leaves an earlier read's value.
#[test]
fn an_empty_variable_read_later_leaves_the_earlier_value() {
    let config = Config::new("svc")
        .with_env_vars([("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")])
        .with_env_vars([("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", " ")]);
    assert_eq!(config.resolve().unwrap().max_attribute_len, 20);
}

/// An error quotes a bad value bounded, whichever setting it was given to; the scheme-less
/// endpoint (read as gRPC's `host:port`) quoted it whole.
#[test]
fn a_bad_value_is_quoted_bounded_and_without_a_urls_credentials() {
    let long = "a".repeat(1 << 20);
    for config in [
        Config::new("svc").endpoint(long.clone()),
        Config::new("svc").with_env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", long.as_str())]),
        Config::new("svc").with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", long.as_str())]),
    ] {
        let Err(error) = config.resolve() else {
            panic!("accepted")
        };
        assert!(
            error.to_string().len() < 1024,
            "{}",
            error.to_string().len()
        );
        assert!(format!("{error:?}").len() < 1024);
    }
    // An endpoint put in the protocol's variable.
    let config = Config::new("svc").with_env_vars([(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "https://user:S3cretPW@collector:4318",
    )]);
    let Err(error) = config.resolve() else {
        panic!("accepted")
    };
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("S3cretPW"), "{shown}");
        assert!(shown.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{shown}");
    }
}
