//! Headers, compression, resource and endpoint path as a receiver sees them, for either
//! transport: the environment gives some, code overrides part of it.
use super::{Kind, Receiver};
use godtrace::{Compression, Config};

pub fn run(kind: Kind, protocol_name: &str) {
    let receiver = Receiver::start(kind);
    let guard = godtrace::init(
        Config::new("options-from-code")
            .service_version("9.9.9")
            .header("Authorization", "Bearer from-code")
            .compression(Compression::Gzip)
            .resource_attribute("region", "eu-west-1")
            .with_env_vars([
                // The same base endpoint string as in code means the same thing.
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint().as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol_name),
                ("OTEL_SERVICE_NAME", "options-from-env"),
                ("OTEL_RESOURCE_ATTRIBUTES", "environment=staging,region=us"),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "authorization=Bearer%20from-env,x-tenant=acme",
                ),
            ]),
    )
    .expect("init");
    drop(godtrace::span("options.check"));
    guard.flush();
    let requests = receiver.sink.requests();
    let request = requests.first().expect("one export request");
    assert_eq!(request.span_names(), ["options.check"]);

    assert_eq!(request.header("authorization"), Some("Bearer from-code"));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    match kind {
        Kind::Http => {
            assert_eq!(request.path, "/v1/traces");
            assert_eq!(request.header("content-encoding"), Some("gzip"));
        }
        _ => assert_eq!(request.header("grpc-encoding"), Some("gzip")),
    }

    let resource = request.resource();
    let get = |k: &str| {
        resource
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("service.name"), Some("options-from-code"));
    assert_eq!(get("service.version"), Some("9.9.9"));
    assert_eq!(get("environment"), Some("staging"));
    assert_eq!(get("region"), Some("eu-west-1"));
    assert_eq!(get("telemetry.sdk.language"), Some("rust"));
    assert_eq!(
        get("process.pid"),
        Some(std::process::id().to_string().as_str())
    );
    assert!(
        get("host.name").is_some_and(|h| !h.is_empty()),
        "{resource:?}"
    );
    drop(guard);
}
