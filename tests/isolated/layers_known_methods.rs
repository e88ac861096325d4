//! `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`, read by `init`, replaces the HTTP methods the
//! framework layers know. (A process of its own: `init`, and the list is process-wide.)
use godtrace::otel::Value;
use godtrace::testing;
use godtrace::{Config, SpanKind};
use std::convert::Infallible;
use tower::{Layer, ServiceExt};

#[tokio::test]
async fn the_variable_replaces_the_known_methods_of_the_layers() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("known-methods")
            .local_tree(false)
            .with_env_vars([("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET, PURGE")]),
    )
    .unwrap();
    let capture = testing::capture();
    for method in ["PURGE", "GET", "POST"] {
        let service = godtrace::layers::HttpServerLayer::new().layer(tower::service_fn(
            |_req: http::Request<String>| async {
                Ok::<_, Infallible>(http::Response::new(String::from("ok")))
            },
        ));
        let request = http::Request::builder()
            .method(http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/cache")
            .body(String::new())
            .unwrap();
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    }
    let method = |name: &str| {
        let spans = capture.spans_named(name);
        assert_eq!(spans.len(), 1, "{name}: {:#?}", capture.spans());
        assert_eq!(spans[0].kind, SpanKind::Server);
        let original = spans[0].attr("http.request.method_original").cloned();
        (spans[0].attr("http.request.method").cloned(), original)
    };
    // Listed: known, though not a default method.
    assert_eq!(method("PURGE"), (Some(Value::from("PURGE")), None));
    assert_eq!(method("GET"), (Some(Value::from("GET")), None));
    // A default method the list leaves out is no longer known.
    assert_eq!(
        method("HTTP"),
        (Some(Value::from("_OTHER")), Some(Value::from("POST")))
    );
}
