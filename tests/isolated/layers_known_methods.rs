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

/// Under an attribute limit shorter than a status code, a failed request's `error.type` is
/// cut once, the same on its span and on `http.server.request.duration` (the span had `50`,
/// the series `503`); at a limit of 0 the series says `_OTHER` rather than nothing.
#[tokio::test]
async fn a_cut_error_type_is_the_same_on_the_server_span_and_its_histogram() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("layer-error-type")
            .local_tree(false)
            .max_attribute_len(2),
    )
    .unwrap();
    let capture = testing::capture();
    let service = godtrace::layers::HttpServerLayer::new().layer(tower::service_fn(
        |_req: http::Request<String>| async {
            let mut response = http::Response::new(String::new());
            *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, Infallible>(response)
        },
    ));
    let request = http::Request::builder()
        .uri("/busy")
        .body(String::new())
        .unwrap();
    assert_eq!(service.oneshot(request).await.unwrap().status(), 503);
    let spans = capture.spans_named("GET");
    assert_eq!(spans.len(), 1, "{:#?}", capture.spans());
    let on_span = spans[0]
        .attr("error.type")
        .expect("error.type")
        .as_str()
        .into_owned();
    let snapshot = godtrace::metrics::metrics_snapshot();
    let metric = snapshot
        .metric("http.server.request.duration")
        .expect("the server histogram");
    let godtrace::metrics::MetricPoints::Histogram(points) = &metric.points else {
        panic!("{metric:?}")
    };
    let on_series: Vec<String> = points
        .iter()
        .filter_map(|p| p.attr("error.type").map(|v| v.as_str().into_owned()))
        .collect();
    assert_eq!(on_series, [on_span]);
    // An unknown method's original is a span attribute too: cut to the limit (it was cut
    // only at 256 bytes).
    let service = godtrace::layers::HttpServerLayer::new().layer(tower::service_fn(
        |_req: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        },
    ));
    let request = http::Request::builder()
        .method(http::Method::from_bytes(b"PURGEPURGEPURGE").unwrap())
        .uri("/cache")
        .body(String::new())
        .unwrap();
    assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    let spans = capture.spans_named("HTTP");
    assert_eq!(spans.len(), 1, "{:#?}", capture.spans());
    let original = spans[0].attr("http.request.method_original");
    assert_eq!(original, Some(&Value::from("PU")), "{:#?}", spans[0]);
    // Every string a span carries is cut, the short fixed ones too (`url.scheme`,
    // `http.request.method`, `rpc.system.name`: they were left whole).
    for (key, cut) in [("url.scheme", "ht"), ("http.request.method", "_O")] {
        assert_eq!(spans[0].attr(key), Some(&Value::from(cut)), "{key}");
    }
    // A histogram's `server.address` is a label, not a span attribute: whole (cut to the
    // span limit, hosts merged into one series, or an empty label at a limit of 0).
    let answers = tower::service_fn(|_: http::Request<String>| async {
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .body(String::new())
            .unwrap();
        Ok::<_, Infallible>(response)
    });
    let request = http::Request::post("http://collector.internal:4317/pkg.Svc/Call")
        .header("content-type", "application/grpc")
        .body(String::new())
        .unwrap();
    let client = godtrace::layers::GrpcClientLayer::new().layer(answers);
    drop(client.oneshot(request).await.unwrap());
    let span = capture
        .spans()
        .into_iter()
        .find(|s| s.kind == SpanKind::Client)
        .expect("the client span");
    assert_eq!(span.attr("server.address"), Some(&Value::from("co")));
    assert_eq!(span.attr("rpc.system.name"), Some(&Value::from("gr")));
    let snapshot = godtrace::metrics::metrics_snapshot();
    let metric = snapshot
        .metric("rpc.client.call.duration")
        .expect("the client histogram");
    let godtrace::metrics::MetricPoints::Histogram(points) = &metric.points else {
        panic!("{metric:?}")
    };
    let hosts: Vec<String> = points
        .iter()
        .filter_map(|p| p.attr("server.address").map(|v| v.as_str().into_owned()))
        .collect();
    assert_eq!(hosts, ["collector.internal"]);
}
