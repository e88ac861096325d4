//! The framework layers read incoming contexts with godtrace's own parser: a hostile
//! `traceparent` on an HTTP or gRPC request starts a new trace, is counted in
//! `godtrace::stats()`, and never fails the request. (A process of its own: the counter is
//! process-wide.)
use godtrace::SpanKind;
use godtrace::layers::{GrpcServerLayer, HttpServerLayer};
use godtrace::testing;
use std::convert::Infallible;
use tower::{Layer, ServiceExt};

fn request(path: &str, traceparent: &[u8]) -> http::Request<String> {
    http::Request::builder()
        .uri(path)
        .header(
            "traceparent",
            http::HeaderValue::from_bytes(traceparent).unwrap(),
        )
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn hostile_contexts_on_layered_requests_start_new_traces_and_are_counted() {
    crate::support::own_process!();
    let capture = testing::capture();
    let answer = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, Infallible>(http::Response::new(String::from("served")))
    });
    let before = godtrace::stats().contexts_rejected;
    let hostile: [&[u8]; 3] = [
        b"00-00000000000000000000000000000000-0000000000000000-01",
        b"00-\xff\xfe-01",
        b"garbage",
    ];
    for traceparent in hostile {
        let http = HttpServerLayer::new().layer(answer);
        let response = http
            .oneshot(request("/hostile", traceparent))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let grpc = GrpcServerLayer::new().layer(answer);
        let response = grpc
            .oneshot(request("/pkg.Svc/Call", traceparent))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(godtrace::stats().contexts_rejected - before, 6);

    let spans = capture.spans();
    assert_eq!(spans.len(), 6, "{spans:#?}");
    for span in &spans {
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.parent_span_id, None, "a new root: {span:#?}");
    }
}
