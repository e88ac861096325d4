//! Headers, compression, resource and endpoint path as a receiver sees them, for either
//! transport: the environment gives some, code overrides part of it.
use super::{Kind, Receiver};
use godtrace::{Compression, Config};

/// Three recorded arguments, past the span attribute count limit the test sets (2): its
/// call site's three `code.*` attributes take it all.
#[godtrace::traced(operation = "options.args", include_args)]
fn three_args(a: i64, b: i64, c: i64) -> i64 {
    a + b + c
}

/// The endpoint's user-info goes to the receiver as Basic credentials, decoded first, over
/// either transport (gRPC sent none before).
pub fn user_info_is_sent_as_basic_credentials(kind: Kind, protocol: godtrace::Protocol) {
    let receiver = Receiver::start(kind);
    let endpoint = receiver
        .endpoint()
        .replacen("://", "://collector:p%40ss%3Aword@", 1);
    let guard = godtrace::init(
        Config::new("options-user-info")
            .endpoint(endpoint)
            .protocol(protocol),
    )
    .expect("init");
    drop(godtrace::span("options.user_info"));
    guard.flush();
    let requests = receiver.sink.requests();
    let request = requests.first().expect("one export request");
    // base64 of `collector:p@ss:word`.
    assert_eq!(
        request.header("authorization"),
        Some("Basic Y29sbGVjdG9yOnBAc3M6d29yZA=="),
        "{kind:?}"
    );
}

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
                // The span limits of the specification.
                ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "16"),
                ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
                ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1"),
                ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "1"),
            ]),
    )
    .expect("init");
    {
        let _span = godtrace::span("options.check");
        godtrace::set_attribute("a.long", "x".repeat(100));
        godtrace::set_attribute("a.two", 2_i64);
        godtrace::set_attribute("a.three", 3_i64);
        for name in ["first", "second"] {
            godtrace::add_event(name, [("e.one", 1_i64.into()), ("e.two", 2_i64.into())]);
        }
        three_args(1, 2, 3);
    }
    guard.flush();
    let requests = receiver.sink.requests();
    let request = requests.first().expect("one export request");
    assert_eq!(request.span_names(), ["options.args", "options.check"]);
    let spans = &request.request.resource_spans[0].scope_spans[0].spans;
    let args = &spans[0];
    let keys: Vec<&str> = args.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert!(keys.iter().all(|k| k.starts_with("code.")), "{keys:?}");
    assert_eq!(args.dropped_attributes_count, 3);
    let span = &spans[1];
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert!(
        keys.contains(&"a.long") && keys.contains(&"a.two"),
        "{keys:?}"
    );
    assert!(!keys.contains(&"a.three"), "{keys:?}");
    let long = format!("{:?}", span.attributes.iter().find(|kv| kv.key == "a.long"));
    assert!(!long.contains(&"x".repeat(17)), "{long}");
    assert_eq!(span.events.len(), 1, "{:?}", span.events);
    assert_eq!(span.events[0].name, "first");
    assert_eq!(span.events[0].attributes.len(), 1);

    assert_eq!(request.header("authorization"), Some("Bearer from-code"));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    // Both transports say what sent the request, as the OTLP exporter specification asks.
    // The exporter, its language and its version, as the OTLP exporter specification asks.
    let agent = concat!("godtrace-OTLP-Exporter-Rust/", env!("CARGO_PKG_VERSION"));
    assert_eq!(request.header("user-agent"), Some(agent), "{kind:?}");
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
        get("telemetry.sdk.name"),
        Some("godtrace"),
        "not OpenTelemetry's own SDK"
    );
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

/// A receiver answering each request with a partial success (one span rejected): the spans
/// it rejected are failed, not exported, and the request itself is not a failed export.
pub fn rejected_spans_count_as_failed(kind: Kind, protocol: godtrace::Protocol) {
    let receiver = Receiver::start(kind);
    let guard = godtrace::init(
        Config::new("partial-success")
            .endpoint(receiver.endpoint())
            .protocol(protocol)
            .max_export_batch_size(3),
    )
    .expect("init");
    for i in 0..10 {
        super::deliver::work_sync(i);
    }
    guard.flush();
    let stats = godtrace::stats();
    let requests = receiver.sink.requests().len() as u64;
    assert!(requests > 1, "{stats:?}");
    assert_eq!(
        stats.spans_failed, requests,
        "one rejected per request: {stats:?}"
    );
    assert_eq!(
        stats.spans_exported,
        stats.spans_queued - requests,
        "{stats:?}"
    );
    assert_eq!(stats.failed_exports, 0, "{stats:?}");
    drop(guard);
}
