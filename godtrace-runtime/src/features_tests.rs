//! A build without a transport, asked for it, fails `init` with an error naming the setting and
//! the Cargo feature to enable: never a silent fallback to the other transport or to no export.
//! These run in the feature sets that leave a transport out (`scripts/features`).
use crate::{Config, MetricsConfig, Protocol};

/// `init`'s error for `config`, which must fail before installing anything.
fn init_error(config: Config) -> String {
    match crate::init(config) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("init accepted a transport this build does not have"),
    }
}

#[cfg(not(feature = "otlp-grpc"))]
#[test]
fn grpc_without_its_feature_names_the_feature() {
    let expected = "expected a protocol built into this godtrace (enable the otlp-grpc feature)";
    assert_eq!(
        init_error(Config::new("s").protocol(Protocol::Grpc)),
        format!(r#"protocol="grpc": {expected}"#)
    );
    assert_eq!(
        init_error(Config::new("s").with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])),
        format!(r#"OTEL_EXPORTER_OTLP_PROTOCOL="grpc": {expected}"#)
    );
    assert_eq!(
        init_error(Config::new("s").metrics(MetricsConfig::new().otlp_protocol(Protocol::Grpc))),
        format!(r#"otlp_protocol="grpc": {expected}"#)
    );
    assert_eq!(
        init_error(
            Config::new("s").with_env_vars([("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")])
        ),
        format!(r#"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="grpc": {expected}"#)
    );
}

#[cfg(not(feature = "otlp-http"))]
#[test]
fn http_without_its_feature_names_the_feature() {
    let expected = "expected a protocol built into this godtrace (enable the otlp-http feature)";
    assert_eq!(
        init_error(Config::new("s").protocol(Protocol::HttpProtobuf)),
        format!(r#"protocol="http/protobuf": {expected}"#)
    );
    assert_eq!(
        init_error(
            Config::new("s").with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])
        ),
        format!(r#"OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf": {expected}"#)
    );
    assert_eq!(
        init_error(
            Config::new("s").metrics(MetricsConfig::new().otlp_protocol(Protocol::HttpProtobuf))
        ),
        format!(r#"otlp_protocol="http/protobuf": {expected}"#)
    );
}

/// An endpoint alone, in a build with no transport, says which feature gives it one.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
#[test]
fn an_endpoint_without_any_transport_names_the_features() {
    for config in [
        Config::new("s").endpoint("http://c:4318"),
        Config::new("s").metrics(MetricsConfig::new().otlp_endpoint("http://m:4318/v1/metrics")),
    ] {
        let message = init_error(config);
        assert!(message.contains("otlp-http"), "{message}");
    }
}
