//! The framework layers (`godtrace::layers`, issue 14): an axum server on 127.0.0.1:0 with
//! `HttpServerLayer`, a reqwest client with `TracingMiddleware`, and a tonic service with the
//! gRPC layers, all on the test's own (current-thread) runtime so that every span of the
//! exchange belongs to this test's capture.
use godtrace::layers::{GrpcClientLayer, GrpcServerLayer, HttpServerLayer, TracingMiddleware};
use godtrace::metrics::metrics_snapshot;
use godtrace::otel::{KeyValue, Value};
use godtrace::testing::{self, Capture, FinishedSpan};
use godtrace::{SpanKind, traced};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::net::SocketAddr;
use std::time::Duration;
use tower::{Layer, ServiceExt};

#[traced(operation = "capture::layers::load_wallet")]
async fn load_wallet(id: &str) -> usize {
    tokio::task::yield_now().await; // the handler's span survives a suspension
    id.len()
}

/// Serves `routes` behind the server layer on a free port of 127.0.0.1, on this runtime.
async fn serve(routes: axum::Router) -> SocketAddr {
    let app = routes.layer(HttpServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// This workspace builds reqwest with `rustls-no-provider` (godtrace's OTLP client brings its
/// own): a reqwest client needs a process-wide provider.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain reqwest client.
fn plain_client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

fn client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(plain_client())
        .with(TracingMiddleware::new())
        .build()
}

fn str_attr<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    match span.attr(key)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

fn int_attr(span: &FinishedSpan, key: &str) -> Option<i64> {
    match span.attr(key)? {
        Value::I64(i) => Some(*i),
        _ => None,
    }
}

/// The one span of `kind`, named `name`.
fn one(capture: &Capture, name: &str, kind: SpanKind) -> FinishedSpan {
    let spans: Vec<FinishedSpan> = capture
        .spans_named(name)
        .into_iter()
        .filter(|s| s.kind == kind)
        .collect();
    assert_eq!(spans.len(), 1, "{name} {kind:?}: {:#?}", capture.spans());
    spans.into_iter().next().unwrap()
}

#[traced(operation = "capture::layers::checkout")]
async fn checkout(url: String) -> String {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn client_span_server_span_and_handler_spans_form_one_trace() {
    let capture = testing::capture();
    let routes = axum::Router::new().route(
        "/layers/wallets/{id}",
        axum::routing::get(
            |axum::extract::Path(id): axum::extract::Path<String>| async move {
                load_wallet(&id).await.to_string()
            },
        ),
    );
    let addr = serve(routes).await;
    let body = checkout(format!("http://{addr}/layers/wallets/7xKX?page=2")).await;
    assert_eq!(body, "4");

    let root = capture.span("capture::layers::checkout");
    let client = one(&capture, "GET", SpanKind::Client);
    let server = one(&capture, "GET /layers/wallets/{id}", SpanKind::Server);
    let handler = capture.span("capture::layers::load_wallet");
    // One trace: checkout → client span → (over HTTP) server span → handler span.
    for span in [&client, &server, &handler] {
        assert_eq!(span.trace_id, root.trace_id, "{span:#?}");
    }
    assert_eq!(client.parent_span_id, Some(root.span_id));
    assert_eq!(server.parent_span_id, Some(client.span_id));
    assert_eq!(handler.parent_span_id, Some(server.span_id));

    assert_eq!(str_attr(&server, "http.request.method"), Some("GET"));
    assert_eq!(
        str_attr(&server, "http.route"),
        Some("/layers/wallets/{id}")
    );
    assert_eq!(str_attr(&server, "url.path"), Some("/layers/wallets/7xKX"));
    assert_eq!(str_attr(&server, "url.scheme"), Some("http"));
    assert_eq!(int_attr(&server, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(&server, "server.address"), Some("127.0.0.1"));
    assert_eq!(
        int_attr(&server, "server.port"),
        Some(i64::from(addr.port()))
    );
    assert_eq!(str_attr(&server, "network.protocol.version"), Some("1.1"));
    assert!(!server.is_error());

    assert_eq!(str_attr(&client, "http.request.method"), Some("GET"));
    let url = format!("http://{addr}/layers/wallets/7xKX?page=2");
    assert_eq!(str_attr(&client, "url.full"), Some(url.as_str()));
    assert_eq!(str_attr(&client, "server.address"), Some("127.0.0.1"));
    assert_eq!(
        int_attr(&client, "server.port"),
        Some(i64::from(addr.port()))
    );
    assert_eq!(int_attr(&client, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(&client, "network.protocol.version"), Some("1.1"));
    assert!(!client.is_error());

    // One point in each duration histogram, with the conventions' buckets.
    let snapshot = metrics_snapshot();
    let served = snapshot
        .histogram(
            "http.server.request.duration",
            &[
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.route", "/layers/wallets/{id}"),
                // The conventions recommend it on both histograms.
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("http.response.status_code", 200),
            ],
        )
        .unwrap_or_else(|| panic!("{:#?}", snapshot.metric("http.server.request.duration")));
    assert_eq!(served.count, 1);
    assert_eq!(served.bounds[..3], [0.005, 0.01, 0.025]);
    assert_eq!(served.bounds.last(), Some(&10.0));
    let sent = snapshot
        .histogram(
            "http.client.request.duration",
            &[
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", i64::from(addr.port())),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("http.response.status_code", 200),
            ],
        )
        .unwrap_or_else(|| panic!("{:#?}", snapshot.metric("http.client.request.duration")));
    assert_eq!(sent.count, 1);
    // With the conventions' descriptions, which a backend shows beside them.
    for (histogram, description) in [
        (
            "http.server.request.duration",
            "Duration of HTTP server requests.",
        ),
        (
            "http.client.request.duration",
            "Duration of HTTP client requests.",
        ),
    ] {
        let metric = snapshot.metric(histogram).expect("recorded");
        assert_eq!(metric.description, description);
        assert_eq!(metric.unit, "s");
    }
}

#[tokio::test]
async fn a_5xx_fails_both_spans_and_a_4xx_only_the_client_span() {
    use axum::http::StatusCode;
    let capture = testing::capture();
    let routes = axum::Router::new()
        .route(
            "/layers/broken",
            axum::routing::post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/layers/absent",
            axum::routing::post(|| async { StatusCode::NOT_FOUND }),
        );
    let addr = serve(routes).await;
    let client = client();
    for path in ["broken", "absent"] {
        let _root = godtrace::span("capture::layers::probe");
        let response = client
            .post(format!("http://{addr}/layers/{path}"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error() || response.status().is_server_error());
    }

    let broken = one(&capture, "POST /layers/broken", SpanKind::Server);
    assert!(broken.is_error(), "{broken:#?}");
    assert_eq!(str_attr(&broken, "error.type"), Some("503"));
    // The status code says why: no description repeats it (the conventions' advice).
    assert_eq!(broken.error_message(), Some(""));
    assert_eq!(int_attr(&broken, "http.response.status_code"), Some(503));
    let absent = one(&capture, "POST /layers/absent", SpanKind::Server);
    assert!(
        !absent.is_error(),
        "a 4xx is the client's mistake: {absent:#?}"
    );
    assert_eq!(absent.attr("error.type"), None);

    let clients: Vec<FinishedSpan> = capture
        .spans_named("POST")
        .into_iter()
        .filter(|s| s.kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2);
    for (client, status) in clients.iter().zip(["503", "404"]) {
        assert!(client.is_error(), "{client:#?}");
        assert_eq!(str_attr(client, "error.type"), Some(status));
        assert_eq!(client.error_message(), Some(""), "{client:#?}");
    }

    let snapshot = metrics_snapshot();
    let failed = snapshot.histogram(
        "http.server.request.duration",
        &[
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", "/layers/broken"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("http.response.status_code", 503),
            KeyValue::new("error.type", "503"),
        ],
    );
    assert_eq!(failed.map(|p| p.count), Some(1));
}

#[tokio::test]
async fn hostile_request_heads_start_a_new_trace_and_never_fail_the_request() {
    let capture = testing::capture();
    let routes =
        axum::Router::new().route("/layers/hostile", axum::routing::get(|| async { "served" }));
    let addr = serve(routes).await;
    let plain = plain_client();
    let huge_agent = "A".repeat(64 * 1024);
    let response = plain
        .get(format!("http://{addr}/layers/hostile"))
        .header("traceparent", "00-zzzz-not-a-context-01")
        .header("tracestate", "x".repeat(10_000))
        .header("user-agent", huge_agent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "served");
    // Bytes that are not visible ASCII in the context headers.
    let response = plain
        .get(format!("http://{addr}/layers/hostile"))
        .header(
            "traceparent",
            reqwest::header::HeaderValue::from_bytes(b"00-\xff\xfe-01").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let served = capture.spans_named("GET /layers/hostile");
    assert_eq!(served.len(), 2, "{:#?}", capture.spans());
    for span in &served {
        assert_eq!(span.parent_span_id, None, "a new root: {span:#?}");
        assert_eq!(span.kind, SpanKind::Server);
    }
    assert_ne!(served[0].trace_id, served[1].trace_id);
    let agent = str_attr(&served[0], "user_agent.original").unwrap();
    assert!(agent.len() <= 4096, "bounded: {} bytes", agent.len());
}

/// An IPv6 literal is `server.address` without the brackets its URL or `Host` puts around it
/// (the conventions write bare addresses; the port is an attribute of its own), on the server
/// and on the client alike.
#[tokio::test]
async fn an_ipv6_server_address_has_no_brackets() {
    let capture = testing::capture();
    let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    }));
    let request = http::Request::builder()
        .uri("/layers/v6")
        .header("host", "[::1]:8080")
        .body(String::new())
        .unwrap();
    drop(service.oneshot(request).await.unwrap());
    let server = one(&capture, "GET", SpanKind::Server);
    assert_eq!(str_attr(&server, "server.address"), Some("::1"));
    assert_eq!(int_attr(&server, "server.port"), Some(8080));

    install_tls_provider();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let refusing = crate::support::examples::RefusingPort::new();
    let closed = refusing.port();
    // Refused, or unreachable where the host has no IPv6: the span names the address either way.
    let _ = client
        .get(format!("http://[::1]:{closed}/layers/v6"))
        .send()
        .await;
    let client = one(&capture, "GET", SpanKind::Client);
    assert_eq!(str_attr(&client, "server.address"), Some("::1"));
    assert_eq!(int_attr(&client, "server.port"), Some(i64::from(closed)));
}

/// A service failing with a boxed error (tower's `BoxError`, which its timeouts, buffers
/// and load shedders give) has its innermost cause for `error.type`, on the span and the
/// histogram, as a traced function's: every failure was
/// `alloc::boxed::Box<dyn core::error::Error + ..>`.
#[tokio::test]
async fn a_boxed_service_error_is_named_by_its_cause() {
    #[derive(Debug)]
    struct Overloaded;
    impl std::fmt::Display for Overloaded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service overloaded")
        }
    }
    impl std::error::Error for Overloaded {}
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let capture = testing::capture();
    for (path, error) in [
        ("/layers/boxed/overloaded", BoxError::from(Overloaded)),
        (
            "/layers/boxed/io",
            BoxError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        ),
    ] {
        let error = std::sync::Mutex::new(Some(error));
        let service =
            HttpServerLayer::new().layer(tower::service_fn(|_req: http::Request<String>| {
                let error = error.lock().unwrap().take().unwrap();
                async move { Err::<http::Response<String>, BoxError>(error) }
            }));
        let request = http::Request::get(path).body(String::new()).unwrap();
        assert!(service.oneshot(request).await.is_err());
    }
    let types: Vec<_> = capture
        .spans_named("GET")
        .iter()
        .map(|span| str_attr(span, "error.type").map(str::to_owned))
        .collect();
    assert!(types.contains(&Some("Overloaded".to_owned())), "{types:?}");
    assert!(
        types.contains(&Some("std::io::error::Error".to_owned())),
        "{types:?}"
    );
}

#[tokio::test]
async fn an_unknown_method_is_other_and_keeps_its_original() {
    let capture = testing::capture();
    let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    }));
    let request = http::Request::builder()
        .method(http::Method::from_bytes(b"PURGE").unwrap())
        .uri("/layers/cache")
        .header("host", "cache.internal:8080")
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    drop(response);

    let span = one(&capture, "HTTP", SpanKind::Server);
    assert_eq!(str_attr(&span, "http.request.method"), Some("_OTHER"));
    assert_eq!(
        str_attr(&span, "http.request.method_original"),
        Some("PURGE")
    );
    assert_eq!(str_attr(&span, "server.address"), Some("cache.internal"));
    assert_eq!(int_attr(&span, "server.port"), Some(8080));
}

#[tokio::test]
async fn query_is_a_known_method_and_names_its_route() {
    let capture = testing::capture();
    let app = axum::Router::new()
        .route("/layers/search", axum::routing::any(|| async { "found" }))
        .layer(HttpServerLayer::new());
    let request = http::Request::builder()
        .method(http::Method::from_bytes(b"QUERY").unwrap())
        .uri("/layers/search")
        .body(axum::body::Body::from("q=wallets"))
        .unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
    // The conventions know QUERY since v1.38 (the safe method with a body).
    let span = one(&capture, "QUERY /layers/search", SpanKind::Server);
    assert_eq!(str_attr(&span, "http.request.method"), Some("QUERY"));
    assert_eq!(span.attr("http.request.method_original"), None);
}

#[tokio::test]
async fn a_request_dropped_before_its_response_ends_its_span_as_cancelled() {
    let capture = testing::capture();
    let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
        load_wallet("never answered").await;
        std::future::pending::<Result<http::Response<String>, std::convert::Infallible>>().await
    }));
    let request = http::Request::builder()
        .uri("/layers/slow")
        .body(String::new())
        .unwrap();
    let timed_out = tokio::time::timeout(Duration::from_millis(20), service.oneshot(request)).await;
    assert!(timed_out.is_err());

    let span = one(&capture, "GET", SpanKind::Server);
    assert!(span.is_error(), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), Some("cancelled"));
    assert_eq!(span.error_message(), Some(""), "error.type says it all");
    assert_eq!(span.attr("http.response.status_code"), None);
    // The work done before the drop still nests under it.
    let handler = capture.span("capture::layers::load_wallet");
    assert_eq!(handler.parent_span_id, Some(span.span_id));
}

#[tokio::test]
async fn a_client_request_its_caller_drops_is_cancelled_not_failed() {
    let capture = testing::capture();
    let routes = axum::Router::new().route(
        "/layers/never",
        axum::routing::get(std::future::pending::<&'static str>),
    );
    let addr = serve(routes).await;
    let sent = client().get(format!("http://{addr}/layers/never")).send();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), sent)
            .await
            .is_err()
    );
    // A gRPC call its caller gives up on, likewise.
    let pending = tower::service_fn(|_: http::Request<axum::body::Body>| {
        std::future::pending::<Result<http::Response<axum::body::Body>, std::convert::Infallible>>()
    });
    let request = http::Request::post("http://127.0.0.1:1/pkg.Wallets/Get")
        .body(axum::body::Body::empty())
        .unwrap();
    let call = GrpcClientLayer::new().layer(pending).oneshot(request);
    assert!(
        tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err()
    );

    let http_client = one(&capture, "GET", SpanKind::Client);
    let grpc_client = one(&capture, "pkg.Wallets/Get", SpanKind::Client);
    for span in [&http_client, &grpc_client] {
        // The HTTP conventions (v1.41+): an intentional cancellation is no error.
        assert!(!span.is_error(), "{span:#?}");
        assert_eq!(span.attr("error.type"), None, "{span:#?}");
        assert_eq!(span.attr("godtrace.cancelled"), Some(&Value::Bool(true)));
    }
    let snapshot = metrics_snapshot();
    let point = snapshot.histogram(
        "http.client.request.duration",
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", i64::from(addr.port())),
        ],
    );
    assert_eq!(point.map(|p| p.count), Some(1), "no status, no error.type");
}

/// A middleware that panics: what breaks a request below the client's layer.
struct Explodes;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Explodes {
    async fn handle(
        &self,
        _: reqwest::Request,
        _: &mut http::Extensions,
        _: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        panic!("middleware (expected by this test)")
    }
}

/// A panic below a client's layer (a middleware after it, the service it wraps) failed the
/// request: `error.type` `panic` on the span and in the histogram, not cancelled by the caller.
#[tokio::test]
async fn a_panic_below_a_client_layer_fails_its_request() {
    let capture = testing::capture();
    let client = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(TracingMiddleware::new())
        .with(Explodes)
        .build();
    let sent =
        tokio::spawn(async move { client.get("http://127.0.0.1:1/layers/boom").send().await });
    assert!(sent.await.unwrap_err().is_panic());
    let panics = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        panic!("service (expected by this test)");
        #[allow(unreachable_code)]
        Ok::<http::Response<axum::body::Body>, std::convert::Infallible>(http::Response::default())
    });
    let request = http::Request::post("http://127.0.0.1:1/pkg.Wallets/Boom")
        .body(axum::body::Body::empty())
        .unwrap();
    let call = tokio::spawn(GrpcClientLayer::new().layer(panics).oneshot(request));
    assert!(call.await.unwrap_err().is_panic());

    for (name, message) in [
        ("GET", "middleware (expected by this test)"),
        ("pkg.Wallets/Boom", "service (expected by this test)"),
    ] {
        let span = one(&capture, name, SpanKind::Client);
        assert!(span.is_error(), "{span:#?}");
        assert_eq!(str_attr(&span, "error.type"), Some("panic"), "{span:#?}");
        assert_eq!(span.attr("godtrace.cancelled"), None, "{span:#?}");
        // The panic's message, as a traced function's panic gives it.
        assert_eq!(span.error_message(), Some(message), "{span:#?}");
        assert!(span.event("exception").is_some(), "{span:#?}");
    }
    let snapshot = metrics_snapshot();
    let http = [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", 1_i64),
        KeyValue::new("error.type", "panic"),
    ];
    let grpc = [
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", "pkg.Wallets/Boom"),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", 1_i64),
        KeyValue::new("error.type", "panic"),
    ];
    for (histogram, attributes) in [
        ("http.client.request.duration", &http[..]),
        ("rpc.client.call.duration", &grpc[..]),
    ] {
        let point = snapshot.histogram(histogram, attributes);
        let all = || format!("{:#?}", snapshot.metric(histogram));
        assert_eq!(point.map(|p| p.count), Some(1), "{}", all());
    }
}

// --- gRPC ---------------------------------------------------------------------------------

/// A trace service that answers by the number of resource spans it gets: 0 → OK,
/// 1 → INVALID_ARGUMENT (the caller's fault), 2 → INTERNAL (the server's), more → not
/// before a minute.
struct Collector;

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        load_wallet("collector").await;
        match request.into_inner().resource_spans.len() {
            0 => Ok(tonic::Response::new(ExportTraceServiceResponse::default())),
            1 => Err(tonic::Status::invalid_argument("bad batch")),
            2 => Err(tonic::Status::internal("store failed")),
            _ => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            }
        }
    }
}

/// A tonic server of `routes` on a free port behind `GrpcServerLayer`, and a channel to it
/// through `GrpcClientLayer`, with the origin that puts the server's address in the request
/// URI, where the client layer reads it.
async fn traced_grpc_pair(
    routes: tonic::service::Routes,
) -> (
    SocketAddr,
    godtrace::layers::TracedService<tonic::transport::Channel>,
    http::Uri,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new())
            .add_routes(routes)
            .serve_with_incoming(incoming),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let origin = format!("http://{addr}").parse().unwrap();
    (addr, GrpcClientLayer::new().layer(channel), origin)
}

#[tokio::test]
async fn grpc_calls_are_client_and_server_spans_with_their_status_codes() {
    const NAME: &str = "opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let capture = testing::capture();
    let routes = tonic::service::Routes::new(TraceServiceServer::new(Collector));
    let (addr, channel, origin) = traced_grpc_pair(routes).await;
    let mut client = TraceServiceClient::with_origin(channel, origin);
    let batch = |n: usize| ExportTraceServiceRequest {
        resource_spans: vec![Default::default(); n],
    };
    let calls = godtrace::span("capture::layers::grpc_calls");
    assert!(client.export(batch(0)).await.is_ok());
    let invalid = client.export(batch(1)).await.unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    let internal = client.export(batch(2)).await.unwrap_err();
    assert_eq!(internal.code(), tonic::Code::Internal);
    drop(calls);
    // Past its deadline: tonic's server drops the call (its timeout sits outside the layer)
    // and answers CANCELLED; the server span says why it was broken off.
    let mut late = tonic::Request::new(batch(3));
    late.set_timeout(Duration::from_millis(100));
    let late = client.export(late).await.unwrap_err();
    assert_eq!(late.code(), tonic::Code::Cancelled, "{late:?}");
    // (tonic's client stops waiting at the deadline too: the server's end may come after.)
    let late_server = || {
        capture.spans_named(NAME).into_iter().find(|s| {
            s.kind == SpanKind::Server
                && str_attr(s, "rpc.response.status_code") != Some("OK")
                && !["INVALID_ARGUMENT", "INTERNAL"]
                    .contains(&str_attr(s, "rpc.response.status_code").unwrap_or(""))
        })
    };
    for _ in 0..200 {
        if late_server().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let late_server = late_server().unwrap_or_else(|| panic!("{:#?}", capture.spans()));
    assert_eq!(
        str_attr(&late_server, "rpc.response.status_code"),
        Some("DEADLINE_EXCEEDED")
    );
    assert!(late_server.is_error(), "{late_server:#?}");

    let root = capture.span("capture::layers::grpc_calls");
    let under_root = |s: &FinishedSpan| s.parent_span_id == Some(root.span_id);
    let clients: Vec<FinishedSpan> = capture
        .spans_named(NAME)
        .into_iter()
        .filter(|s| s.kind == SpanKind::Client && under_root(s))
        .collect();
    let servers: Vec<FinishedSpan> = capture
        .spans_named(NAME)
        .into_iter()
        .filter(|s| {
            s.kind == SpanKind::Server
                && clients.iter().any(|c| s.parent_span_id == Some(c.span_id))
        })
        .collect();
    assert_eq!(
        (clients.len(), servers.len()),
        (3, 3),
        "{:#?}",
        capture.spans()
    );
    let handlers = capture.spans_named("capture::layers::load_wallet");
    let codes = [
        ("OK", false),
        ("INVALID_ARGUMENT", false),
        ("INTERNAL", true),
    ];
    for ((code, server_fails), client) in codes.iter().zip(&clients) {
        assert_eq!(client.parent_span_id, Some(root.span_id));
        let server = servers
            .iter()
            .find(|s| s.parent_span_id == Some(client.span_id))
            .unwrap_or_else(|| panic!("no server span under {client:#?}"));
        assert!(
            handlers
                .iter()
                .any(|h| h.parent_span_id == Some(server.span_id)),
            "the service's code runs under the server span"
        );
        for span in [client, server] {
            // The current RPC conventions' span attributes, as the histograms have them.
            assert_eq!(str_attr(span, "rpc.system.name"), Some("grpc"));
            assert_eq!(str_attr(span, "rpc.method"), Some(NAME), "{span:#?}");
            assert_eq!(span.attr("rpc.method_original"), None);
            assert_eq!(
                str_attr(span, "rpc.response.status_code"),
                Some(*code),
                "{span:#?}"
            );
            for old in ["rpc.system", "rpc.service", "rpc.grpc.status_code"] {
                assert_eq!(span.attr(old), None, "{old}: {span:#?}");
            }
        }
        assert_eq!(client.is_error(), *code != "OK", "{client:#?}");
        assert_eq!(server.is_error(), *server_fails, "{server:#?}");
        // The code is an attribute: no description repeats it.
        for span in [client, server].into_iter().filter(|s| s.is_error()) {
            assert_eq!(span.error_message(), Some(""), "{span:#?}");
        }
        assert_eq!(str_attr(client, "server.address"), Some("127.0.0.1"));
    }

    // One point per call in each call-duration histogram (seconds, the conventions' buckets),
    // by the current RPC conventions' attributes; error.type only on failures.
    let snapshot = metrics_snapshot();
    let common = [
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", NAME),
    ];
    let address = [
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", i64::from(addr.port())),
    ];
    for (status, server_error, client_error) in [
        ("OK", None, None),
        ("INVALID_ARGUMENT", None, Some("INVALID_ARGUMENT")),
        ("INTERNAL", Some("INTERNAL"), Some("INTERNAL")),
    ] {
        let with = |error: Option<&'static str>, extra: &[KeyValue]| {
            let mut attributes = common.to_vec();
            attributes.push(KeyValue::new("rpc.response.status_code", status));
            attributes.extend(error.map(|e| KeyValue::new("error.type", e)));
            attributes.extend_from_slice(extra);
            attributes
        };
        for (histogram, attributes) in [
            ("rpc.server.call.duration", with(server_error, &[])),
            ("rpc.client.call.duration", with(client_error, &address)),
        ] {
            let point = snapshot
                .histogram(histogram, &attributes)
                .unwrap_or_else(|| panic!("{attributes:?}: {:#?}", snapshot.metric(histogram)));
            assert_eq!(point.count, 1, "{histogram} {attributes:?}");
            assert_eq!(point.bounds.first(), Some(&0.005));
            assert_eq!(point.bounds.last(), Some(&10.0));
            assert!(
                point.sum > 0.0 && point.sum < 10.0,
                "seconds: {}",
                point.sum
            );
            let way = if histogram.starts_with("rpc.server") {
                "incoming"
            } else {
                "outgoing"
            };
            assert_eq!(
                snapshot.metric(histogram).expect("recorded").description,
                format!("Measures the duration of an {way} Remote Procedure Call (RPC).")
            );
        }
    }
}

/// Retries a request once when it answers 5xx: each attempt goes through the middlewares
/// after it, so each is a CLIENT span of its own.
struct RetryOnce;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for RetryOnce {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let again = request.try_clone().expect("a body that can be sent twice");
        let first = next.clone().run(request, extensions).await?;
        if first.status().is_server_error() {
            return next.run(again, extensions).await;
        }
        Ok(first)
    }
}

#[tokio::test]
async fn each_retry_is_a_client_span_and_credentials_never_reach_url_full() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let capture = testing::capture();
    let failed_once = std::sync::Arc::new(AtomicBool::new(false));
    let routes = axum::Router::new().route(
        "/layers/flaky",
        axum::routing::get(move || async move {
            if failed_once.swap(true, Ordering::SeqCst) {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::BAD_GATEWAY
            }
        }),
    );
    let addr = serve(routes).await;
    let client = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(RetryOnce)
        .with(TracingMiddleware::new())
        .build();
    let response = client
        .get(format!("http://alice:s3cret@{addr}/layers/flaky?page=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let attempts: Vec<FinishedSpan> = capture
        .spans_named("GET")
        .into_iter()
        .filter(|s| s.kind == SpanKind::Client)
        .collect();
    assert_eq!(attempts.len(), 2, "{:#?}", capture.spans());
    assert_eq!(
        int_attr(&attempts[0], "http.response.status_code"),
        Some(502)
    );
    assert!(attempts[0].is_error());
    assert_eq!(
        int_attr(&attempts[1], "http.response.status_code"),
        Some(200)
    );
    assert!(!attempts[1].is_error());
    // The resent attempt says which resend it is, as the HTTP conventions ask; the first says
    // nothing, and neither does a request sent anew.
    assert_eq!(int_attr(&attempts[0], "http.request.resend_count"), None);
    assert_eq!(int_attr(&attempts[1], "http.request.resend_count"), Some(1));
    let servers = capture.spans_named("GET /layers/flaky");
    for attempt in &attempts {
        assert_eq!(
            servers
                .iter()
                .filter(|s| s.parent_span_id == Some(attempt.span_id))
                .count(),
            1,
            "one server span under each attempt"
        );
        // reqwest moves `user:password@` into an Authorization header before middlewares
        // run (a URL that keeps it is redacted: the runtime's unit tests).
        let url = str_attr(attempt, "url.full").unwrap();
        assert_eq!(url, format!("http://{addr}/layers/flaky?page=1"));
    }
    assert!(
        capture
            .spans()
            .iter()
            .flat_map(|s| &s.attributes)
            .all(|(_, v)| !v.as_str().contains("s3cret")),
        "the password is nowhere"
    );
    // Sent anew (new extensions), a request is no resend, whatever was sent before.
    client
        .get(format!("http://{addr}/layers/flaky"))
        .send()
        .await
        .unwrap();
    let last = capture
        .spans_named("GET")
        .into_iter()
        .rfind(|s| s.kind == SpanKind::Client)
        .unwrap();
    assert_eq!(int_attr(&last, "http.request.resend_count"), None);
}

#[tokio::test]
async fn hostile_uris_and_hosts_are_bounded_or_left_out_never_a_panic() {
    let capture = testing::capture();
    let long_path = format!("/{}", "a".repeat(60_000));
    let cases: Vec<(String, &[u8])> = vec![
        // Absolute form, an odd port, escapes: recorded as they are.
        ("https://evil.example:65535/%00%ff?q=1".to_owned(), b"x"),
        // A path of 60 KB (near the longest URI `http` takes) and a host that is not text.
        (long_path, b"h\xffst:80"),
        // A host with a port out of range, and one with a space.
        ("/a".to_owned(), b"host:99999"),
        ("/b".to_owned(), b"ho st"),
    ];
    for (uri, host) in &cases {
        let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
        }));
        let request = http::Request::builder()
            .uri(uri.as_str())
            .header("host", http::HeaderValue::from_bytes(host).unwrap())
            .body(String::new())
            .unwrap();
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    }
    let spans: Vec<FinishedSpan> = capture
        .spans_named("GET")
        .into_iter()
        .filter(|s| s.kind == SpanKind::Server)
        .collect();
    assert_eq!(spans.len(), cases.len());
    assert_eq!(str_attr(&spans[0], "url.scheme"), Some("https"));
    assert_eq!(str_attr(&spans[0], "url.path"), Some("/%00%ff"));
    // The authority of an absolute-form URI wins over `Host`.
    assert_eq!(str_attr(&spans[0], "server.address"), Some("evil.example"));
    assert_eq!(int_attr(&spans[0], "server.port"), Some(65535));
    let path = str_attr(&spans[1], "url.path").unwrap();
    assert!(path.len() <= 2048 + 32, "bounded: {} bytes", path.len());
    for span in &spans[1..] {
        assert_eq!(span.attr("server.address"), None, "{span:#?}");
        assert_eq!(span.attr("server.port"), None);
    }
}

#[tokio::test]
async fn the_scheme_and_host_a_proxy_forwards_are_the_server_spans() {
    let capture = testing::capture();
    /// A request's headers (name, value).
    type Headers<'a> = &'a [(&'a str, &'a [u8])];
    // (headers, url.scheme, server.address, server.port), each request on its own path.
    let cases: [(Headers<'_>, &str, &str, i64); 7] = [
        // TLS ended at a proxy: the port is https's default, not http's.
        (
            &[("host", b"shop.example"), ("x-forwarded-proto", b"https")],
            "https",
            "shop.example",
            443,
        ),
        // `Forwarded` wins; its first element is the client's.
        (
            &[
                ("host", b"internal:8080"),
                (
                    "forwarded",
                    b"for=192.0.2.60;proto=https;host=\"api.example:8443\", proto=http;host=inner",
                ),
                ("x-forwarded-proto", b"http"),
                ("x-forwarded-host", b"other.example"),
            ],
            "https",
            "api.example",
            8443,
        ),
        // The first value of each list, the scheme in any case.
        (
            &[
                ("host", b"internal"),
                ("x-forwarded-host", b"edge.example, internal"),
                ("x-forwarded-proto", b"HTTPS, http"),
            ],
            "https",
            "edge.example",
            443,
        ),
        // Values that are no scheme or no host are ignored, down to `Host`.
        (
            &[
                ("host", b"real.example:81"),
                ("forwarded", b"proto=javascript;host=\"bad host\""),
                ("x-forwarded-proto", b"gopher"),
                ("x-forwarded-host", b"a b"),
            ],
            "http",
            "real.example",
            81,
        ),
        // A host header with user-info is no `host[:port]`.
        (
            &[
                ("host", b"real.example:81"),
                ("x-forwarded-host", b"user:pw@evil.example"),
            ],
            "http",
            "real.example",
            81,
        ),
        // Not visible ASCII, or far too long: ignored, never a panic.
        (
            &[
                ("host", b"plain.example"),
                ("forwarded", b"proto=https;host=\xff\xfe"),
                ("x-forwarded-host", &[b'a'; 4096]),
            ],
            "http",
            "plain.example",
            80,
        ),
        // No header at all: http and its default port.
        (&[("host", b"bare.example")], "http", "bare.example", 80),
    ];
    for (n, (headers, ..)) in cases.iter().enumerate() {
        let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
        }));
        let mut request = http::Request::builder().uri(format!("/layers/forwarded/{n}"));
        for (name, value) in *headers {
            request = request.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        let request = request.body(String::new()).unwrap();
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    }
    let spans: Vec<FinishedSpan> = capture
        .spans_named("GET")
        .into_iter()
        .filter(|s| s.kind == SpanKind::Server)
        .collect();
    assert_eq!(spans.len(), cases.len(), "{spans:#?}");
    for (n, (_, scheme, host, port)) in cases.iter().enumerate() {
        let path = format!("/layers/forwarded/{n}");
        let span = spans
            .iter()
            .find(|s| str_attr(s, "url.path") == Some(path.as_str()))
            .unwrap();
        assert_eq!(
            str_attr(span, "url.scheme"),
            Some(*scheme),
            "{n}: {span:#?}"
        );
        assert_eq!(
            str_attr(span, "server.address"),
            Some(*host),
            "{n}: {span:#?}"
        );
        assert_eq!(int_attr(span, "server.port"), Some(*port), "{n}: {span:#?}");
    }
}

/// A server that speaks TLS itself gets no scheme from hyper over HTTP/1.1: `https()` says
/// it, and a proxy's header still wins.
#[tokio::test]
async fn a_server_speaking_tls_itself_records_https() {
    let capture = testing::capture();
    /// A request's headers, and the scheme and port its span records.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, i64);
    let cases: [Case<'_>; 3] = [
        (&[("host", "tls.example")], "https", 443),
        (&[("host", "tls.example:8443")], "https", 8443),
        (
            &[("host", "tls.example"), ("x-forwarded-proto", "http")],
            "http",
            80,
        ),
    ];
    for (n, (headers, ..)) in cases.iter().enumerate() {
        let service = HttpServerLayer::new()
            .https()
            .layer(tower::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
            }));
        let mut request = http::Request::builder().uri(format!("/layers/tls/{n}"));
        for (name, value) in *headers {
            request = request.header(*name, *value);
        }
        let request = request.body(String::new()).unwrap();
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    }
    let spans = capture.spans_named("GET");
    for (n, (_, scheme, port)) in cases.iter().enumerate() {
        let path = format!("/layers/tls/{n}");
        let span = spans
            .iter()
            .find(|s| str_attr(s, "url.path") == Some(path.as_str()))
            .unwrap_or_else(|| panic!("{n}: no span of {path}"));
        assert_eq!(str_attr(span, "url.scheme"), Some(*scheme), "{n}");
        assert_eq!(int_attr(span, "server.port"), Some(*port), "{n}");
    }
}

#[tokio::test]
async fn transport_failures_are_client_errors_with_their_error_type() {
    let capture = testing::capture();
    let routes = axum::Router::new().route(
        "/layers/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let addr = serve(routes).await;
    install_tls_provider();
    let client = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
    .with(TracingMiddleware::new())
    .build();
    let refusing = crate::support::examples::RefusingPort::new();
    let closed = refusing.port();
    let refused = client
        .get(format!("http://127.0.0.1:{closed}/layers/nobody"))
        .send()
        .await;
    assert!(refused.is_err());
    let timed_out = client
        .get(format!("http://{addr}/layers/slow"))
        .send()
        .await;
    assert!(timed_out.is_err());

    let spans: Vec<FinishedSpan> = capture
        .spans_named("GET")
        .into_iter()
        .filter(|s| s.kind == SpanKind::Client)
        .collect();
    assert_eq!(spans.len(), 2, "{:#?}", capture.spans());
    let by_port = |port: u16| {
        spans
            .iter()
            .find(|s| int_attr(s, "server.port") == Some(i64::from(port)))
            .unwrap_or_else(|| panic!("no span to port {port}: {spans:#?}"))
    };
    for (span, error_type) in [
        (by_port(closed), "connect"),
        (by_port(addr.port()), "timeout"),
    ] {
        assert!(span.is_error(), "{span:#?}");
        assert_eq!(str_attr(span, "error.type"), Some(error_type));
        assert_eq!(span.error_message(), Some(""), "{span:#?}");
        assert_eq!(span.attr("http.response.status_code"), None);
    }
    let snapshot = metrics_snapshot();
    let refused_point = snapshot.histogram(
        "http.client.request.duration",
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", i64::from(closed)),
            KeyValue::new("error.type", "connect"),
        ],
    );
    assert_eq!(refused_point.map(|p| p.count), Some(1));
}

#[traced(operation = "capture::layers::chunk")]
fn chunk(i: u32) -> Result<String, std::io::Error> {
    Ok(format!("part{i};"))
}

#[tokio::test]
async fn a_streamed_body_runs_under_the_server_span() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    // A body of unknown length: the stream's code runs as the server polls the body, and its
    // spans nest under the request's (a body of known length is polled without the span).
    let routes = axum::Router::new().route(
        "/layers/stream",
        axum::routing::get(|| async {
            axum::body::Body::from_stream(tokio_stream::iter(0..3).map(chunk))
        }),
    );
    let addr = serve(routes).await;
    let body = plain_client()
        .get(format!("http://{addr}/layers/stream"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "part0;part1;part2;");

    let server = one(&capture, "GET /layers/stream", SpanKind::Server);
    let chunks = capture.spans_named("capture::layers::chunk");
    assert_eq!(chunks.len(), 3, "{:#?}", capture.spans());
    for chunk in &chunks {
        assert_eq!(chunk.parent_span_id, Some(server.span_id), "{chunk:#?}");
    }
}

/// A gRPC response from the inner service: `head` headers (a trailers-only status) and `body`.
fn grpc_response(
    head: Option<&'static str>,
    body: &'static str,
) -> http::Response<axum::body::Body> {
    let mut response = http::Response::new(axum::body::Body::from(body));
    if let Some(status) = head {
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static(status));
    }
    response
}

#[tokio::test]
async fn a_grpc_response_without_a_valid_status_is_an_unknown_error() {
    let capture = testing::capture();
    // (grpc-status in the head, body): no status at all, one gRPC does not define, and one
    // not written as gRPC writes it (tonic's client reads `05` as UNKNOWN, not NOT_FOUND).
    let cases = [(None, "payload"), (Some("99"), ""), (Some("05"), "")];
    for (head, body) in cases {
        let inner = tower::service_fn(move |_: http::Request<axum::body::Body>| async move {
            Ok::<_, std::convert::Infallible>(grpc_response(head, body))
        });
        for layered in [
            GrpcServerLayer::new().layer(inner).boxed_clone(),
            GrpcClientLayer::new().layer(inner).boxed_clone(),
        ] {
            let request = http::Request::post("http://127.0.0.1:1/pkg.Wallets/Get")
                .header("content-type", "application/grpc")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = layered.oneshot(request).await.unwrap();
            let read = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1024);
            assert_eq!(read.await.unwrap(), body.as_bytes());
        }
    }
    let spans = capture.spans_named("pkg.Wallets/Get");
    assert_eq!(spans.len(), 6, "{spans:#?}");
    for span in &spans {
        assert_eq!(
            str_attr(span, "rpc.response.status_code"),
            Some("UNKNOWN"),
            "{span:#?}"
        );
        assert_eq!(str_attr(span, "error.type"), Some("UNKNOWN"), "{span:#?}");
        assert!(span.is_error(), "{span:#?}");
    }
}

#[tokio::test]
async fn a_layer_on_a_nested_router_records_the_whole_path() {
    let capture = testing::capture();
    let users = axum::Router::new()
        .route("/users/{id}", axum::routing::get(|| async { "ok" }))
        .layer(HttpServerLayer::new());
    let app = axum::Router::new().nest("/api", users);
    let request = http::Request::get("/api/users/9")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    let span = capture.span("GET /api/users/{id}");
    assert_eq!(str_attr(&span, "http.route"), Some("/api/users/{id}"));
    assert_eq!(str_attr(&span, "url.path"), Some("/api/users/9"));
}

/// A gRPC request on `path` through `layered`, answered by a trailers-only `grpc-status`.
async fn grpc_call(
    layered: tower::util::BoxCloneService<
        http::Request<axum::body::Body>,
        http::Response<godtrace::layers::TracedBody<axum::body::Body>>,
        std::convert::Infallible,
    >,
    path: &str,
) {
    let request = http::Request::post(format!("http://127.0.0.1:1{path}"))
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = layered.oneshot(request).await.unwrap();
    let read = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1024);
    read.await.unwrap();
}

#[tokio::test]
async fn a_grpc_path_that_names_no_method_is_other_and_named_grpc() {
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_response(Some("12"), ""))
    });
    for layered in [
        GrpcServerLayer::new().layer(inner).boxed_clone(),
        GrpcClientLayer::new().layer(inner).boxed_clone(),
    ] {
        grpc_call(layered, "/not/a/grpc%20method").await;
    }
    // The RPC conventions: no method (or `_OTHER`) names the span by `rpc.system.name`.
    let spans = capture.spans_named("grpc");
    assert_eq!(spans.len(), 2, "{:#?}", capture.spans());
    assert!(capture.spans_named("_OTHER").is_empty());
    for span in &spans {
        assert_eq!(str_attr(span, "rpc.method"), Some("_OTHER"), "{span:#?}");
        assert_eq!(
            str_attr(span, "rpc.method_original"),
            Some("not/a/grpc%20method")
        );
    }
}

#[tokio::test]
async fn an_unimplemented_method_is_other_on_the_server_span_and_histogram() {
    const METHOD: &str = "capture.layers.Wallets/Unimplemented";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_response(Some("12"), ""))
    });
    let path = format!("/{METHOD}");
    grpc_call(GrpcServerLayer::new().layer(inner).boxed_clone(), &path).await;
    grpc_call(GrpcClientLayer::new().layer(inner).boxed_clone(), &path).await;

    // A method the server does not define: `_OTHER` (the conventions' rule for a method the
    // server does not know), so a client's made-up paths make neither names nor series.
    let server = one(&capture, "grpc", SpanKind::Server);
    assert_eq!(
        str_attr(&server, "rpc.method"),
        Some("_OTHER"),
        "{server:#?}"
    );
    assert_eq!(str_attr(&server, "rpc.method_original"), Some(METHOD));
    assert_eq!(
        str_attr(&server, "rpc.response.status_code"),
        Some("UNIMPLEMENTED")
    );
    assert!(server.is_error());
    // The client called a method its stub knows: it keeps its name.
    let client = one(&capture, METHOD, SpanKind::Client);
    assert_eq!(str_attr(&client, "rpc.method"), Some(METHOD));
    assert_eq!(client.attr("rpc.method_original"), None);

    let snapshot = metrics_snapshot();
    let series = |method: &'static str| {
        snapshot.histogram(
            "rpc.server.call.duration",
            &[
                KeyValue::new("rpc.system.name", "grpc"),
                KeyValue::new("rpc.method", method),
                KeyValue::new("rpc.response.status_code", "UNIMPLEMENTED"),
                KeyValue::new("error.type", "UNIMPLEMENTED"),
            ],
        )
    };
    assert!(series(METHOD).is_none(), "no series of its own");
    assert!(series("_OTHER").is_some_and(|p| p.count >= 1));
}

/// tonic's interceptors sit inside `GrpcServerLayer` and answer UNAUTHENTICATED before any
/// routing: a method never answered otherwise is `_OTHER`, so that clients making paths up
/// fill no series; once its handler answered, the method keeps its name.
#[tokio::test]
async fn a_gates_answer_names_a_method_only_once_its_handler_answered() {
    const METHOD: &str = "capture.layers.Locked/Get";
    let capture = testing::capture();
    let code = std::sync::Arc::new(std::sync::Mutex::new("16"));
    let answer = code.clone();
    let inner = tower::service_fn(move |_: http::Request<axum::body::Body>| {
        let code = *answer.lock().unwrap();
        async move { Ok::<_, std::convert::Infallible>(grpc_response(Some(code), "")) }
    });
    let path = format!("/{METHOD}");
    for made_up in 0..3 {
        let path = format!("/capture.layers.Locked/MadeUp{made_up}");
        grpc_call(
            GrpcServerLayer::new().layer(inner.clone()).boxed_clone(),
            &path,
        )
        .await;
    }
    grpc_call(
        GrpcServerLayer::new().layer(inner.clone()).boxed_clone(),
        &path,
    )
    .await;
    let gated = capture.spans_named("grpc");
    assert_eq!(gated.len(), 4, "{:#?}", capture.spans());
    assert!(
        gated
            .iter()
            .all(|s| str_attr(s, "rpc.method") == Some("_OTHER"))
    );
    // Its handler answers (NOT_FOUND), then the gate again: named both times.
    *code.lock().unwrap() = "5";
    grpc_call(
        GrpcServerLayer::new().layer(inner.clone()).boxed_clone(),
        &path,
    )
    .await;
    *code.lock().unwrap() = "16";
    grpc_call(GrpcServerLayer::new().layer(inner).boxed_clone(), &path).await;
    let named = capture.spans_named(METHOD);
    assert_eq!(named.len(), 2, "{:#?}", capture.spans());
    assert!(
        named
            .iter()
            .all(|s| str_attr(s, "rpc.method") == Some(METHOD))
    );
    let snapshot = metrics_snapshot();
    let unauthenticated = |method: &'static str| {
        snapshot.histogram(
            "rpc.server.call.duration",
            &[
                KeyValue::new("rpc.system.name", "grpc"),
                KeyValue::new("rpc.method", method),
                KeyValue::new("rpc.response.status_code", "UNAUTHENTICATED"),
            ],
        )
    };
    assert!(unauthenticated("_OTHER").is_some_and(|p| p.count >= 4));
    assert!(unauthenticated(METHOD).is_some_and(|p| p.count == 1));
}

fn explode() -> &'static str {
    panic!("handler (expected by this test)")
}

/// A response body whose own code panics where the layer calls it outside the span (its
/// size hint, an in-memory body's poll, its `Drop`).
struct PanickingBody(&'static str, std::cell::Cell<u8>);

impl http_body::Body for PanickingBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        assert_ne!(self.0, "poll", "poll_frame (expected by this test)");
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(
            axum::body::Bytes::from_static(b"x"),
        ))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        assert_ne!(self.0, "hint", "size_hint (expected by this test)");
        // The layer asks once; the server (here the test) asks again.
        self.1.set(self.1.get() + 1);
        assert!(
            self.0 != "hint-later" || self.1.get() < 2,
            "size_hint, second call (expected by this test)"
        );
        http_body::SizeHint::with_exact(2)
    }
}

impl Drop for PanickingBody {
    fn drop(&mut self) {
        if self.0 == "drop" && !std::thread::panicking() {
            panic!("drop (expected by this test)");
        }
    }
}

/// Each of those panics is the request's: `error.type` `panic`, not a success nor
/// `cancelled`; so is one in the handler's future's own `Drop` (a guard it holds), dropped
/// unfinished.
#[tokio::test]
async fn a_panic_in_the_bodys_own_code_outside_the_span_is_a_panic() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the handler's guard (expected by this test)");
        }
    }
    for at in ["hint", "hint-later", "poll", "drop", "future-drop"] {
        let capture = testing::capture();
        let service = HttpServerLayer::new().layer(tower::service_fn(move |_req| async move {
            if at == "future-drop" {
                let _guard = PanicsOnDrop;
                std::future::pending::<()>().await;
            }
            let body = PanickingBody(at, std::cell::Cell::new(0));
            Ok::<_, std::convert::Infallible>(http::Response::new(body))
        }));
        let served = tokio::spawn(async move {
            let request = http::Request::get("/layers/body")
                .body(String::new())
                .unwrap();
            let response = service.oneshot(request);
            let Ok(response) = tokio::time::timeout(Duration::from_millis(20), response).await
            else {
                return;
            };
            let mut body = response.unwrap().into_body();
            let _ = http_body::Body::size_hint(&body);
            let frame = std::future::poll_fn(|cx| {
                http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx)
            });
            drop(frame.await);
        });
        assert!(served.await.unwrap_err().is_panic(), "{at}");
        let server = one(&capture, "GET", SpanKind::Server);
        assert_eq!(str_attr(&server, "error.type"), Some("panic"), "{at}");
    }
}

/// Two requests joined in one task, one of whose handlers panics: the other one, dropped
/// while that panic unwinds, was cancelled, not panicked.
#[tokio::test]
async fn a_request_dropped_by_another_ones_panic_is_cancelled() {
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/waits",
            axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/layers/explodes",
            axum::routing::get(|| async { explode() }),
        )
        .layer(HttpServerLayer::new());
    let request = |path: &str| {
        http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (waits, explodes) = (app.clone(), app);
    let joined = tokio::spawn(async move {
        tokio::join!(
            waits.oneshot(request("/layers/waits")),
            explodes.oneshot(request("/layers/explodes"))
        )
    });
    assert!(joined.await.unwrap_err().is_panic());
    let waited = capture.span("GET /layers/waits");
    assert_eq!(str_attr(&waited, "error.type"), Some("cancelled"));
    let exploded = capture.span("GET /layers/explodes");
    assert_eq!(str_attr(&exploded, "error.type"), Some("panic"));
}

/// A handler's panic that a layer outside godtrace's catches (tower-http's
/// `CatchPanicLayer`, which answers 500 itself): the server span and the histogram say
/// `panic`, not `cancelled` (the exchange is dropped once the panic is caught, when nothing
/// unwinds any more).
#[tokio::test]
async fn a_panic_an_outer_layer_catches_is_a_panic() {
    let capture = testing::capture();
    let app = axum::Router::new()
        .route("/layers/caught", axum::routing::get(|| async { explode() }))
        .layer(HttpServerLayer::new())
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let request = http::Request::get("/layers/caught")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    let span = capture.span("GET /layers/caught");
    assert_eq!(str_attr(&span, "error.type"), Some("panic"));
    assert_eq!(
        span.error_message(),
        Some("handler (expected by this test)")
    );
    let snapshot = metrics_snapshot();
    let point = snapshot.histogram(
        "http.server.request.duration",
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", "/layers/caught"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("error.type", "panic"),
        ],
    );
    assert!(point.is_some_and(|p| p.count == 1));
}

/// A handler that panics, and a body that panics after a 200 head: the histogram says
/// `panic` as the span does, not `cancelled` nor a success, and the span keeps its status
/// code.
#[tokio::test]
async fn a_panic_in_the_handler_or_its_body_is_a_panic_in_the_histogram_too() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route("/layers/panics", axum::routing::get(|| async { explode() }))
        .route(
            "/layers/stream-panics",
            axum::routing::get(|| async {
                let chunks = tokio_stream::iter(0..3).map(|i| {
                    assert!(i < 1, "body (expected by this test)");
                    Ok::<_, std::io::Error>(axum::body::Bytes::from("chunk"))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .layer(HttpServerLayer::new());
    for path in ["/layers/panics", "/layers/stream-panics"] {
        let app = app.clone();
        let served = tokio::spawn(async move {
            let request = http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            axum::body::to_bytes(response.into_body(), 1 << 20).await
        });
        assert!(served.await.unwrap_err().is_panic(), "{path}");
    }
    let snapshot = metrics_snapshot();
    let point = |route: &'static str, status: Option<i64>| {
        let mut attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", route),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("error.type", "panic"),
        ];
        attributes.extend(status.map(|s| KeyValue::new("http.response.status_code", s)));
        snapshot.histogram("http.server.request.duration", &attributes)
    };
    let all = || format!("{:#?}", snapshot.metric("http.server.request.duration"));
    assert!(point("/layers/panics", None).is_some(), "{}", all());
    assert!(
        point("/layers/stream-panics", Some(200)).is_some(),
        "{}",
        all()
    );
    // The panic's message is the description (README, "Framework layers").
    assert_eq!(
        capture.span("GET /layers/panics").error_message(),
        Some("handler (expected by this test)")
    );
    let streamed = capture.span("GET /layers/stream-panics");
    assert!(streamed.is_error());
    assert_eq!(str_attr(&streamed, "error.type"), Some("panic"));
    assert_eq!(
        streamed.error_message(),
        Some("body (expected by this test)")
    );
    assert_eq!(
        streamed.attr("http.response.status_code"),
        Some(&Value::I64(200))
    );
}

/// A response body dropped in the middle of its sending (the client went away): the span and
/// the histogram say `cancelled`, not a clean 200.
#[tokio::test]
async fn a_response_cut_off_mid_body_is_cancelled() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/cut-off",
            axum::routing::get(|| async {
                let first = Ok::<_, std::io::Error>(axum::body::Bytes::from("first"));
                let never_ends = tokio_stream::iter([first]).chain(tokio_stream::pending());
                axum::body::Body::from_stream(never_ends)
            }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/cut-off")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    assert_eq!(body.next().await.unwrap().unwrap(), "first");
    drop(body);
    let span = capture.span("GET /layers/cut-off");
    assert!(span.is_error(), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), Some("cancelled"));
    assert_eq!(
        span.attr("http.response.status_code"),
        Some(&Value::I64(200))
    );
    let snapshot = metrics_snapshot();
    let cut = snapshot.histogram(
        "http.server.request.duration",
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", "/layers/cut-off"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("error.type", "cancelled"),
        ],
    );
    assert!(
        cut.is_some(),
        "{:#?}",
        snapshot.metric("http.server.request.duration")
    );
}

/// A streamed body sent with a `Content-Length` (a file tower-http serves, a relayed
/// download): an HTTP/1 server stops polling it once that length is out and drops it without
/// reading its end, as this test's reader does. The response was sent whole: no `cancelled`
/// (it was, on the span and the histogram).
#[tokio::test]
async fn a_streamed_body_that_sent_its_declared_length_is_not_cancelled() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/declared-length",
            axum::routing::get(|| async {
                let parts = ["first", "-last"].map(|part| {
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(part.as_bytes()))
                });
                // The end is never said: only the length tells the body is over.
                let body = tokio_stream::iter(parts).chain(tokio_stream::pending());
                (
                    [(http::header::CONTENT_LENGTH, "10")],
                    axum::body::Body::from_stream(body),
                )
            }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/declared-length")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    assert_eq!(body.next().await.unwrap().unwrap(), "first");
    assert_eq!(body.next().await.unwrap().unwrap(), "-last");
    drop(body);
    let span = capture.span("GET /layers/declared-length");
    assert!(!span.is_error(), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), None);
    let snapshot = metrics_snapshot();
    let sent = snapshot.histogram(
        "http.server.request.duration",
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", "/layers/declared-length"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("http.response.status_code", 200),
        ],
    );
    assert!(
        sent.is_some(),
        "{:#?}",
        snapshot.metric("http.server.request.duration")
    );
}

/// A streamed body that ends short of the `Content-Length` its response declared, or sends
/// more than it: the client gets a cut or failed response, so the span and the histogram say
/// `body` (they said the request succeeded).
#[tokio::test]
async fn a_body_that_breaks_its_declared_length_fails_its_span() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let declaring = |length: &'static str| {
        move || async move {
            let part = Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"first"));
            (
                [(http::header::CONTENT_LENGTH, length)],
                axum::body::Body::from_stream(tokio_stream::iter([part])),
            )
        }
    };
    let app = axum::Router::new()
        .route("/layers/short", axum::routing::get(declaring("10")))
        .route("/layers/long", axum::routing::get(declaring("3")))
        .layer(HttpServerLayer::new());
    for path in ["/layers/short", "/layers/long"] {
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let mut body = response.into_body().into_data_stream();
        while let Some(Ok(_)) = body.next().await {}
        drop(body);
        let span = capture.span(&format!("GET {path}"));
        assert!(span.is_error(), "{span:#?}");
        assert_eq!(str_attr(&span, "error.type"), Some("body"), "{path}");
    }
}

/// A session id in a path parameter (`;jsessionid=`) is a credential: `url.path` shows it
/// redacted, as the conventions ask of sensitive content they can identify.
#[tokio::test]
async fn a_session_id_in_the_path_is_redacted() {
    let capture = testing::capture();
    let service = HttpServerLayer::new().layer(tower::service_fn(|_req| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    }));
    let request = http::Request::builder()
        .uri("/cart;jsessionid=s3cr3tsession/items")
        .body(String::new())
        .unwrap();
    assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    let span = capture
        .spans()
        .into_iter()
        .find(|s| s.kind == SpanKind::Server)
        .expect("the server span");
    assert_eq!(
        str_attr(&span, "url.path"),
        Some("/cart;jsessionid=REDACTED/items")
    );
}

/// Answers that are not gRPC's, through the client layer: a 200 that ends with no
/// `grpc-status`, and a proxy's HTTP error without one. The span and the duration histogram
/// both give the code gRPC clients read from them (gRPC's HTTP to gRPC status mapping).
#[tokio::test]
async fn answers_without_a_grpc_status_give_the_code_clients_read_in_span_and_histogram() {
    let capture = testing::capture();
    for (path, status, code) in [
        ("/capture.NoStatus/Get", 200, "UNKNOWN"),
        ("/capture.Proxied/Unavailable", 503, "UNAVAILABLE"),
        ("/capture.Proxied/Unauthenticated", 401, "UNAUTHENTICATED"),
    ] {
        let inner = tower::service_fn(move |_: http::Request<axum::body::Body>| async move {
            let mut response = http::Response::new(axum::body::Body::from("not grpc"));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok::<_, std::convert::Infallible>(response)
        });
        grpc_call(GrpcClientLayer::new().layer(inner).boxed_clone(), path).await;
        let span = capture.span(&path[1..]);
        assert_eq!(
            str_attr(&span, "rpc.response.status_code"),
            Some(code),
            "{span:#?}"
        );
        assert_eq!(str_attr(&span, "error.type"), Some(code), "{span:#?}");
        assert!(span.is_error());
        let snapshot = metrics_snapshot();
        let attributes = [
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", &path[1..]),
            KeyValue::new("rpc.response.status_code", code),
            KeyValue::new("error.type", code),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 1_i64),
        ];
        let point = snapshot
            .histogram("rpc.client.call.duration", &attributes)
            .unwrap_or_else(|| {
                panic!("{path}: {:#?}", snapshot.metric("rpc.client.call.duration"))
            });
        assert_eq!(point.count, 1, "{path}");
    }
}

/// Made-up paths answered in front of the routing by a plain HTTP error (a rate limiter's
/// 429, a load shedder's 503, no `grpc-status`): the server layer records the code gRPC
/// clients read, but such an answer names no method, so the paths make neither span names
/// nor series.
#[tokio::test]
async fn a_plain_http_error_in_front_of_the_routing_names_no_method() {
    let capture = testing::capture();
    for (at, status) in [429_u16, 503, 400, 500].into_iter().enumerate() {
        let inner = tower::service_fn(move |_: http::Request<axum::body::Body>| async move {
            let mut response = http::Response::new(axum::body::Body::from("busy"));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok::<_, std::convert::Infallible>(response)
        });
        let path = format!("/capture.MadeUp/Path{at}");
        grpc_call(GrpcServerLayer::new().layer(inner).boxed_clone(), &path).await;
    }
    let spans = capture.spans();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    for span in &spans {
        assert_eq!(span.name, "grpc", "{span:#?}");
        assert_eq!(str_attr(span, "rpc.method"), Some("_OTHER"), "{span:#?}");
        assert!(
            str_attr(span, "rpc.response.status_code").is_some(),
            "{span:#?}"
        );
    }
}

/// A gRPC server call broken off before its answer: gRPC tells why, as gRPC servers report
/// it. Dropped before the deadline its caller set (`grpc-timeout`), or with none, the caller
/// cancelled: CANCELLED, no server error. Dropped once the deadline passed (tonic's own
/// timeout, outside the layer, drops the call then): DEADLINE_EXCEEDED, an error. Neither
/// names a method no handler answered.
#[tokio::test]
async fn a_grpc_call_broken_off_is_cancelled_or_past_its_deadline() {
    let capture = testing::capture();
    let never_answers = tower::service_fn(|_: http::Request<axum::body::Body>| {
        std::future::pending::<Result<http::Response<axum::body::Body>, std::convert::Infallible>>()
    });
    // (grpc-timeout sent, when the call is dropped, the status the span ends with)
    let cases = [
        (None, 20, "CANCELLED"),
        (Some("10S"), 20, "CANCELLED"),
        (Some("10m"), 60, "DEADLINE_EXCEEDED"),
    ];
    for (index, (timeout, dropped_after, _)) in cases.into_iter().enumerate() {
        let mut request = http::Request::post(format!(
            "http://127.0.0.1:1/capture.layers.BrokenOff/Call{index}"
        ))
        .header("content-type", "application/grpc");
        if let Some(timeout) = timeout {
            request = request.header("grpc-timeout", timeout);
        }
        let call = GrpcServerLayer::new()
            .layer(never_answers)
            .oneshot(request.body(axum::body::Body::empty()).unwrap());
        let dropped = tokio::time::timeout(Duration::from_millis(dropped_after), call).await;
        assert!(dropped.is_err());
    }
    let spans = capture.spans_named("grpc");
    assert_eq!(spans.len(), 3, "{:#?}", capture.spans());
    for (index, (_, _, status)) in cases.into_iter().enumerate() {
        let original = format!("capture.layers.BrokenOff/Call{index}");
        let span = spans
            .iter()
            .find(|s| str_attr(s, "rpc.method_original") == Some(original.as_str()))
            .unwrap_or_else(|| panic!("{original}: {spans:#?}"));
        assert_eq!(str_attr(span, "rpc.method"), Some("_OTHER"), "{span:#?}");
        assert_eq!(str_attr(span, "rpc.response.status_code"), Some(status));
        if status == "CANCELLED" {
            assert!(!span.is_error(), "{span:#?}");
            assert_eq!(str_attr(span, "error.type"), None, "{span:#?}");
        } else {
            assert!(span.is_error(), "{span:#?}");
            assert_eq!(str_attr(span, "error.type"), Some(status), "{span:#?}");
        }
    }
    let snapshot = metrics_snapshot();
    let point = |status: &'static str| {
        snapshot.histogram(
            "rpc.server.call.duration",
            &[
                KeyValue::new("rpc.system.name", "grpc"),
                KeyValue::new("rpc.method", "_OTHER"),
                KeyValue::new("rpc.response.status_code", status),
            ],
        )
    };
    assert!(point("CANCELLED").is_some_and(|p| p.count >= 2));
}

/// A response body that fails while being sent fails the server span, with the `error.type`
/// the HTTP client gives the same failure (`body`) and the status already sent.
#[tokio::test]
async fn a_response_body_that_fails_while_sent_is_a_body_error() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/failing-body",
            axum::routing::get(|| async {
                let chunks = [
                    Ok(axum::body::Bytes::from("first")),
                    Err(std::io::Error::other("disk gone")),
                ];
                axum::body::Body::from_stream(tokio_stream::iter(chunks))
            }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/failing-body")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    assert_eq!(body.next().await.unwrap().unwrap(), "first");
    assert!(body.next().await.unwrap().is_err());
    drop(body);
    let span = capture.span("GET /layers/failing-body");
    assert!(span.is_error(), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), Some("body"));
    assert_eq!(
        span.attr("http.response.status_code"),
        Some(&Value::I64(200))
    );
}

/// Reads `body` as hyper's servers send one: its frames up to its trailers (its last frame),
/// then drops it.
async fn send_up_to_trailers<B: http_body::Body + Unpin>(mut body: B)
where
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt as _;
    while let Some(frame) = body.frame().await {
        if frame.unwrap().is_trailers() {
            break;
        }
    }
}

/// A body made of a stream, data then trailers (`StreamBody`), never says it is over: hyper
/// stops polling it after the trailers, its last frame, and drops it. The response was
/// whole, not cut: it was recorded as cancelled, and a gRPC answer whose trailers hold no
/// `grpc-status` as CANCELLED (not an error), not UNKNOWN.
#[tokio::test]
async fn a_body_is_over_at_its_trailers() {
    fn streamed(trailer: (&'static str, &'static str)) -> axum::body::Body {
        let mut trailers = http::HeaderMap::new();
        trailers.insert(trailer.0, http::HeaderValue::from_static(trailer.1));
        let frames = [
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(
                axum::body::Bytes::from_static(&[0, 0, 0, 0, 0]),
            )),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        axum::body::Body::new(http_body_util::StreamBody::new(tokio_stream::iter(frames)))
    }
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/trailers",
            axum::routing::get(|| async { streamed(("server-timing", "db;dur=53")) }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/trailers")
        .body(axum::body::Body::empty())
        .unwrap();
    let grpc = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .body(streamed(("x-note", "no status")))
            .unwrap();
        Ok::<_, std::convert::Infallible>(response)
    });
    let grpc_request = http::Request::post("http://127.0.0.1:1/capture.Trailers/NoStatus")
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let grpc_response = GrpcServerLayer::new().layer(grpc).oneshot(grpc_request);
    for response in [
        app.oneshot(request)
            .await
            .unwrap()
            .map(axum::body::Body::new),
        grpc_response.await.unwrap().map(axum::body::Body::new),
    ] {
        send_up_to_trailers(response.into_body()).await;
    }
    let span = capture.span("GET /layers/trailers");
    assert!(!span.is_error(), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), None, "{span:#?}");
    let span = one(&capture, "capture.Trailers/NoStatus", SpanKind::Server);
    assert_eq!(
        str_attr(&span, "rpc.response.status_code"),
        Some("UNKNOWN"),
        "{span:#?}"
    );
    assert!(span.is_error(), "{span:#?}");
}

/// A body of known size with trailers after it (`Full::with_trailers`), in a response that
/// declares no length: hyper's HTTP/1 server declares the size itself and stops polling
/// once it is sent (no trailers over HTTP/1.1 with a length). The response was whole: it was
/// recorded as cancelled, and a gRPC one as CANCELLED where its status is missing (UNKNOWN).
#[tokio::test]
async fn a_body_of_known_size_is_over_once_sent() {
    use http_body_util::BodyExt as _;
    fn sized_with_trailers() -> axum::body::Body {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let full = http_body_util::Full::new(axum::body::Bytes::from_static(&[0, 0, 0, 0, 0]));
        axum::body::Body::new(full.with_trailers(async { Some(Ok(trailers)) }))
    }
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/sized-trailers",
            axum::routing::get(|| async { sized_with_trailers() }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/sized-trailers")
        .body(axum::body::Body::empty())
        .unwrap();
    let grpc = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .body(sized_with_trailers())
            .unwrap();
        Ok::<_, std::convert::Infallible>(response)
    });
    let grpc_request = http::Request::post("http://127.0.0.1:1/capture.Sized/H1")
        .version(http::Version::HTTP_11)
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let grpc_response = GrpcServerLayer::new().layer(grpc).oneshot(grpc_request);
    for response in [
        app.oneshot(request)
            .await
            .unwrap()
            .map(axum::body::Body::new),
        grpc_response.await.unwrap().map(axum::body::Body::new),
    ] {
        // As hyper's HTTP/1 server sends it: its size, then the body dropped.
        let mut body = response.into_body();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap().len(), 5);
        drop(body);
    }
    let span = capture.span("GET /layers/sized-trailers");
    assert_eq!(str_attr(&span, "error.type"), None, "{span:#?}");
    let span = one(&capture, "capture.Sized/H1", SpanKind::Server);
    assert_eq!(
        str_attr(&span, "rpc.response.status_code"),
        Some("UNKNOWN"),
        "{span:#?}"
    );
}

/// Over HTTP/2 a server polls a body to its end, past the length it declared (its trailers,
/// an error): the response is over there, not at the length. A body whose trailers fail
/// after its data was recorded as a success.
#[tokio::test]
async fn over_http2_a_body_is_over_at_its_end_not_its_length() {
    use http_body_util::BodyExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/h2-failing-trailers",
            axum::routing::get(|| async {
                let full = http_body_util::Full::new(axum::body::Bytes::from_static(b"hello"));
                let failing = full
                    .map_err(|never| match never {})
                    .with_trailers(async { Some(Err(axum::Error::new("trailers failed"))) });
                axum::body::Body::new(failing)
            }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/h2-failing-trailers")
        .version(http::Version::HTTP_2)
        .body(axum::body::Body::empty())
        .unwrap();
    let mut body = app.oneshot(request).await.unwrap().into_body();
    let data = body.frame().await.unwrap().unwrap();
    assert_eq!(data.into_data().unwrap(), "hello");
    assert!(body.frame().await.unwrap().is_err());
    drop(body);
    let span = capture.span("GET /layers/h2-failing-trailers");
    assert_eq!(str_attr(&span, "error.type"), Some("body"), "{span:#?}");
}

/// A response without a body (to a `HEAD`, a 204, a 304) may declare the length a `GET`
/// would have had (RFC 9110, 9.3.2): sent whole when its empty body ends (as an HTTP/2
/// server polls it), not a body cut short. A `Content-Length` of one value repeated
/// (`5, 5`) is that length (RFC 9110, 8.6), which an HTTP/1 server stops at: not cancelled.
#[tokio::test]
async fn a_declared_length_is_read_as_servers_read_it() {
    use http_body_util::BodyExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/head",
            axum::routing::get(|| async {
                let empty =
                    tokio_stream::iter(Vec::<Result<axum::body::Bytes, std::io::Error>>::new());
                http::Response::builder()
                    .header("content-length", 5)
                    .body(axum::body::Body::from_stream(empty))
                    .unwrap()
            }),
        )
        .route(
            "/layers/repeated-length",
            axum::routing::get(|| async {
                let full = http_body_util::Full::new(axum::body::Bytes::from_static(b"hello"));
                let body = full.with_trailers(async { None });
                http::Response::builder()
                    .header("content-length", "5, 5")
                    .body(axum::body::Body::new(body))
                    .unwrap()
            }),
        )
        .layer(HttpServerLayer::new());
    let head = http::Request::head("/layers/head")
        .version(http::Version::HTTP_2)
        .body(axum::body::Body::empty())
        .unwrap();
    let mut body = app.clone().oneshot(head).await.unwrap().into_body();
    assert!(body.frame().await.is_none());
    drop(body);
    let repeated = http::Request::get("/layers/repeated-length")
        .body(axum::body::Body::empty())
        .unwrap();
    let mut body = app.oneshot(repeated).await.unwrap().into_body();
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        "hello"
    );
    // What hyper's HTTP/1 server does once the declared length is sent.
    drop(body);
    for name in ["HEAD /layers/head", "GET /layers/repeated-length"] {
        let span = capture.span(name);
        assert_eq!(str_attr(&span, "error.type"), None, "{span:#?}");
    }
}

/// Over HTTP/2 a client closes the stream once it has the length the response declared, and
/// the server then drops the body before it says it is over: the response was whole (it was
/// recorded as cancelled), unless it is a gRPC call's, whose status was still owed.
#[tokio::test]
async fn over_http2_a_body_dropped_after_its_declared_length_was_whole() {
    use http_body_util::BodyExt as _;
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let app = axum::Router::new()
        .route(
            "/layers/h2-declared",
            axum::routing::get(|| async {
                let chunks = [Ok::<_, std::io::Error>(axum::body::Bytes::from("hello"))];
                // Says it is over only later (a stream's end, polled after the data).
                let later = tokio_stream::iter(chunks).chain(tokio_stream::pending());
                http::Response::builder()
                    .header("content-length", 5)
                    .body(axum::body::Body::from_stream(later))
                    .unwrap()
            }),
        )
        .layer(HttpServerLayer::new());
    let request = http::Request::get("/layers/h2-declared")
        .version(http::Version::HTTP_2)
        .body(axum::body::Body::empty())
        .unwrap();
    let mut body = app.oneshot(request).await.unwrap().into_body();
    let data = body.frame().await.unwrap().unwrap();
    assert_eq!(data.into_data().unwrap(), "hello");
    drop(body);
    let span = capture.span("GET /layers/h2-declared");
    assert_eq!(str_attr(&span, "error.type"), None, "{span:#?}");
}

/// An HTTP/1 server sends a trailer field only when the response's head names it in
/// `Trailer` and the request takes trailers (`TE: trailers`; hyper drops the others): a gRPC
/// answer over HTTP/1.1 without both reaches its client without a status (UNKNOWN), whatever
/// its trailers held.
#[tokio::test]
async fn over_http1_a_grpc_status_the_head_does_not_announce_is_not_sent() {
    let capture = testing::capture();
    // (path, the head names the trailer, the request takes trailers, status the client sees)
    for (path, announced, te, seen) in [
        ("/capture.H1Trailers/Unannounced", false, true, "UNKNOWN"),
        ("/capture.H1Trailers/Announced", true, true, "UNAVAILABLE"),
        ("/capture.H1Trailers/NotTaken", true, false, "UNKNOWN"),
    ] {
        let service = tower::service_fn(move |_: http::Request<axum::body::Body>| async move {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
            let frames = [
                Ok::<_, std::convert::Infallible>(http_body::Frame::data(
                    axum::body::Bytes::from_static(&[0, 0, 0, 0, 0]),
                )),
                Ok(http_body::Frame::trailers(trailers)),
            ];
            let mut response = http::Response::builder().header("content-type", "application/grpc");
            if announced {
                response = response.header("trailer", "grpc-status");
            }
            let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
            Ok::<_, std::convert::Infallible>(response.body(axum::body::Body::new(body)).unwrap())
        });
        let mut request = http::Request::post(format!("http://127.0.0.1:1{path}"))
            .version(http::Version::HTTP_11)
            .header("content-type", "application/grpc");
        if te {
            request = request.header("te", "trailers");
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let response = GrpcServerLayer::new().layer(service).oneshot(request).await;
        send_up_to_trailers(response.unwrap().into_body()).await;
        let method = path.trim_start_matches('/');
        let span = one(&capture, method, SpanKind::Server);
        assert_eq!(
            str_attr(&span, "rpc.response.status_code"),
            Some(seen),
            "{span:#?}"
        );
    }
}

/// A traced response body is `Sync` when the body it wraps is: it can be boxed as
/// `BoxBody` (and wrapped by reqwest), which ask it.
#[test]
fn a_traced_body_is_sync_when_its_body_is() {
    use http_body_util::BodyExt as _;
    fn boxed(
        body: godtrace::layers::TracedBody<http_body_util::Full<axum::body::Bytes>>,
    ) -> http_body_util::combinators::BoxBody<axum::body::Bytes, std::convert::Infallible> {
        body.boxed()
    }
    let _ = boxed;
}

/// A unary gRPC answer of one empty message with `grpc-status` `code` in its trailers, whose
/// size is known (as `http_body_util::Full` with trailers): hyper's HTTP/2 server declares
/// it in `content-length`, and so does the answer itself, for the server layer to see it.
struct SizedThenTrailers(Vec<http_body::Frame<axum::body::Bytes>>);

impl SizedThenTrailers {
    const MESSAGE: &[u8] = &[0, 0, 0, 0, 0];

    fn answer(code: &'static str) -> http::Response<axum::body::Body> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(code));
        let frames = vec![
            http_body::Frame::trailers(trailers),
            http_body::Frame::data(axum::body::Bytes::from_static(Self::MESSAGE)),
        ];
        http::Response::builder()
            .header("content-type", "application/grpc")
            .header("content-length", Self::MESSAGE.len())
            .body(axum::body::Body::new(SizedThenTrailers(frames)))
            .unwrap()
    }
}

impl http_body::Body for SizedThenTrailers {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let data = self.0.iter().filter_map(|frame| frame.data_ref());
        http_body::SizeHint::with_exact(data.map(|data| data.len() as u64).sum())
    }
}

/// A gRPC answer with a `content-length` (hyper's HTTP/2 server sets it for a body of known
/// size) ends at its trailers, not at the length it declared: the status they carry is the
/// call's, on both layers' spans and histograms, as tonic's client reads it.
#[tokio::test]
async fn a_grpc_answer_with_a_content_length_has_the_status_of_its_trailers() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as Request;
    type Codec = tonic_prost::ProstCodec<Request, ExportTraceServiceResponse>;
    let capture = testing::capture();
    let routes = axum::Router::new()
        .route(
            "/capture.Sized/Ok",
            axum::routing::post(|| async { SizedThenTrailers::answer("0") }),
        )
        .route(
            "/capture.Sized/NotFound",
            axum::routing::post(|| async { SizedThenTrailers::answer("5") }),
        );
    let (addr, channel, origin) = traced_grpc_pair(tonic::service::Routes::from(routes)).await;
    let mut client = tonic::client::Grpc::with_origin(channel, origin);
    for (method, code, tonic_code) in [
        ("capture.Sized/Ok", "OK", tonic::Code::Ok),
        ("capture.Sized/NotFound", "NOT_FOUND", tonic::Code::NotFound),
    ] {
        client.ready().await.unwrap();
        let path = format!("/{method}").parse().unwrap();
        let request = tonic::Request::new(Request::default());
        let answer = client.unary(request, path, Codec::default()).await;
        assert_eq!(
            answer.err().map_or(tonic::Code::Ok, |e| e.code()),
            tonic_code
        );
        // The server's span ends once hyper has sent the trailers, after the client read them.
        for _ in 0..200 {
            if capture.spans_named(method).len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let client_error = (code != "OK").then_some(code);
        for (kind, error_type) in [(SpanKind::Client, client_error), (SpanKind::Server, None)] {
            let span = one(&capture, method, kind);
            assert_eq!(
                str_attr(&span, "rpc.response.status_code"),
                Some(code),
                "{span:#?}"
            );
            assert_eq!(str_attr(&span, "error.type"), error_type, "{span:#?}");
        }
        let snapshot = metrics_snapshot();
        let mut server = vec![
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", method),
            KeyValue::new("rpc.response.status_code", code),
        ];
        let server_point = snapshot.histogram("rpc.server.call.duration", &server);
        assert_eq!(server_point.map(|p| p.count), Some(1), "{method}");
        server.extend([
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", i64::from(addr.port())),
        ]);
        server.extend(client_error.map(|code| KeyValue::new("error.type", code)));
        let client_point = snapshot.histogram("rpc.client.call.duration", &server);
        assert_eq!(client_point.map(|p| p.count), Some(1), "{method}");
    }
}

/// gRPC over HTTP/1.1 (no trailers after a declared length): an answer with a
/// `content-length` is over once that much is sent, as the HTTP/1 server that stops polling
/// it there sees it, and its status is then missing (UNKNOWN), not a call the client gave up.
#[tokio::test]
async fn a_grpc_answer_over_http1_ends_at_its_declared_length() {
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async move {
        let chunks = [Ok::<_, std::io::Error>(vec![0_u8; 5])];
        // More would follow (trailers never can over HTTP/1.1 with a length): never ends.
        let endless = tokio_stream::iter(chunks).chain(tokio_stream::pending());
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("content-length", 5)
            .body(axum::body::Body::from_stream(endless))
            .unwrap();
        Ok::<_, std::convert::Infallible>(response)
    });
    let request = http::Request::post("http://127.0.0.1:1/capture.H1/Sized")
        .version(http::Version::HTTP_11)
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = GrpcServerLayer::new().layer(inner).oneshot(request).await;
    let mut data = axum::body::Body::new(response.unwrap().into_body()).into_data_stream();
    assert_eq!(data.next().await.unwrap().unwrap().len(), 5);
    // What hyper's HTTP/1 server does once the declared length is sent.
    drop(data);
    let span = one(&capture, "capture.H1/Sized", SpanKind::Server);
    assert_eq!(
        str_attr(&span, "rpc.response.status_code"),
        Some("UNKNOWN"),
        "{span:#?}"
    );
    assert_eq!(str_attr(&span, "error.type"), Some("UNKNOWN"), "{span:#?}");
}

/// A gRPC-Web answer (tonic-web's, behind the layer) carries its status in the body's last
/// frame, a trailer frame: both layers read it there, whatever chunks it comes in, binary or
/// base64 (`-text`), with a `content-length` or not; a trailers-only answer's head still
/// gives it; and a trailer frame the layer cannot read (compressed) leaves the status unset
/// rather than inventing an UNKNOWN.
#[tokio::test]
async fn a_grpc_web_answer_has_the_status_of_its_trailer_frame() {
    /// A frame of `flag` around `payload`.
    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![flag];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }
    fn answer(path: &str) -> http::Response<axum::body::Body> {
        let message = frame(0, b"\x0a\x02ok");
        let (content_type, body, head) = match path {
            "/capture.Web/Ok" => {
                let body = [message, frame(0x80, b"grpc-status:0\r\ngrpc-message:\r\n")];
                ("application/grpc-web+proto", body.concat(), None)
            }
            "/capture.Web/NotFound" => {
                let body = [message, frame(0x80, b"grpc-status:5\r\n")];
                ("application/grpc-web", body.concat(), None)
            }
            // An empty message, then the status UNAVAILABLE, each frame in base64.
            "/capture.Web/Unavailable" => (
                "application/grpc-web-text+proto",
                b"AAAAAAA=gAAAACNncnBjLXN0YXR1czoxNA0KZ3JwYy1tZXNzYWdlOmRvd24NCg==".to_vec(),
                None,
            ),
            "/capture.Web/Denied" => ("application/grpc-web+proto", Vec::new(), Some("7")),
            // A status in the head and another in the body: clients read the head's.
            "/capture.Web/HeadWins" => {
                let body = [message, frame(0x80, b"grpc-status:0\r\n")];
                ("application/grpc-web+proto", body.concat(), Some("5"))
            }
            // A trailer frame without a status (UNKNOWN), in a body that never ends: the
            // client drops it once it has the trailer frame.
            "/capture.Web/NoStatus" => {
                let body = [message, frame(0x80, b"grpc-message:gone\r\n")];
                ("application/grpc-web+proto", body.concat(), None)
            }
            // Compressed as a whole: its trailer frame is not read.
            "/capture.Web/Gzipped" => {
                let body = [message, frame(0x80, b"grpc-status:0\r\n")];
                ("application/grpc-web+proto", body.concat(), None)
            }
            _ => {
                let body = [message, frame(0x81, b"\x1f\x8b compressed")];
                ("application/grpc-web+proto", body.concat(), None)
            }
        };
        let length = body.len();
        // In chunks of 3 bytes: frame headers and the trailer frame span several.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(3).map(|chunk| Ok(chunk.to_vec())).collect();
        let mut response = http::Response::builder().header("content-type", content_type);
        if path == "/capture.Web/Ok" {
            response = response.header("content-length", length);
        }
        if let Some(code) = head {
            response = response.header("grpc-status", code);
        }
        if path == "/capture.Web/Gzipped" {
            response = response.header("content-encoding", "gzip");
        }
        let stream = tokio_stream::iter(chunks);
        if path == "/capture.Web/NoStatus" {
            let endless = stream.chain(tokio_stream::pending());
            return response
                .body(axum::body::Body::from_stream(endless))
                .unwrap();
        }
        response
            .body(axum::body::Body::from_stream(stream))
            .unwrap()
    }
    use tokio_stream::StreamExt as _;
    let capture = testing::capture();
    let inner = tower::service_fn(|request: http::Request<axum::body::Body>| async move {
        Ok::<_, std::convert::Infallible>(answer(request.uri().path()))
    });
    let cases = [
        ("capture.Web/Ok", Some("OK")),
        ("capture.Web/NotFound", Some("NOT_FOUND")),
        ("capture.Web/Unavailable", Some("UNAVAILABLE")),
        ("capture.Web/Denied", Some("PERMISSION_DENIED")),
        ("capture.Web/Compressed", None),
        ("capture.Web/HeadWins", Some("NOT_FOUND")),
        ("capture.Web/NoStatus", Some("UNKNOWN")),
        ("capture.Web/Gzipped", None),
    ];
    for (method, _) in cases {
        for layered in [
            GrpcServerLayer::new().layer(inner).boxed_clone(),
            GrpcClientLayer::new().layer(inner).boxed_clone(),
        ] {
            let request = http::Request::post(format!("http://127.0.0.1:1/{method}"))
                .header("content-type", "application/grpc-web+proto")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = layered.oneshot(request).await.unwrap();
            let body = axum::body::Body::new(response.into_body());
            if method == "capture.Web/NoStatus" {
                // Up to the trailer frame's last byte (the body goes on), then dropped.
                let mut data = body.into_data_stream();
                let mut received = 0;
                while received < 9 + 24 {
                    received += data.next().await.unwrap().unwrap().len();
                }
                drop(data);
                continue;
            }
            axum::body::to_bytes(body, 1024).await.unwrap();
        }
    }
    for (method, code) in cases {
        for kind in [SpanKind::Server, SpanKind::Client] {
            // A server call with a gate's status (PERMISSION_DENIED) or none read names no
            // method that no handler answered: the span is `grpc`, the path its original.
            let named = code.is_some_and(|code| code != "PERMISSION_DENIED");
            let span = if kind == SpanKind::Server && !named {
                let grpc = capture.spans_named("grpc").into_iter();
                let mut grpc = grpc.filter(|s| str_attr(s, "rpc.method_original") == Some(method));
                grpc.next()
                    .unwrap_or_else(|| panic!("{method}: {:#?}", capture.spans()))
            } else {
                one(&capture, method, kind.clone())
            };
            assert_eq!(
                str_attr(&span, "rpc.response.status_code"),
                code,
                "{span:#?}"
            );
            let error = match kind {
                SpanKind::Client => code.filter(|code| *code != "OK"),
                _ => code.filter(|code| matches!(*code, "UNAVAILABLE" | "UNKNOWN")),
            };
            assert_eq!(str_attr(&span, "error.type"), error, "{span:#?}");
            assert_eq!(span.is_error(), error.is_some(), "{span:#?}");
        }
    }
    let ok = [
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", "capture.Web/Ok"),
        KeyValue::new("rpc.response.status_code", "OK"),
    ];
    let snapshot = metrics_snapshot();
    let point = snapshot.histogram("rpc.server.call.duration", &ok);
    assert_eq!(point.map(|p| p.count), Some(1));
}

/// A gRPC request on `path` over HTTP/2, for a layer's service called directly.
fn grpc_request(path: &str) -> http::Request<axum::body::Body> {
    http::Request::post(format!("http://127.0.0.1:1{path}"))
        .version(http::Version::HTTP_2)
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap()
}

/// A gRPC answer's head (200, no status: it comes in the trailers) over `body`.
fn grpc_answer(body: axum::body::Body) -> http::Response<axum::body::Body> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

/// The one span whose `rpc.method_original` or name is `method`.
fn grpc_span(capture: &Capture, method: &str) -> FinishedSpan {
    let mut spans = capture.spans_named(method);
    spans.extend(
        capture
            .spans_named("grpc")
            .into_iter()
            .filter(|s| str_attr(s, "rpc.method_original") == Some(method)),
    );
    assert_eq!(spans.len(), 1, "{method}: {:#?}", capture.spans());
    spans.remove(0)
}

/// hyper drops an answer's body unsent when its client reset the call first (a client stream
/// cancelled while its handler waited for it, which then answered): the call was broken off.
#[tokio::test]
async fn a_grpc_answer_dropped_before_it_is_sent_is_cancelled() {
    const METHOD: &str = "capture.layers.Unsent/Call";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_answer(axum::body::Body::from("\0\0\0\0\0")))
    });
    let layered = GrpcServerLayer::new().layer(inner);
    let response = layered.oneshot(grpc_request(&format!("/{METHOD}")));
    drop(response.await.unwrap());
    let span = grpc_span(&capture, METHOD);
    assert_eq!(
        str_attr(&span, "rpc.response.status_code"),
        Some("CANCELLED"),
        "{span:#?}"
    );
    assert!(!span.is_error(), "{span:#?}");
}

/// A request that is no gRPC call reaching the gRPC server layer (a browser's CORS preflight
/// answered by a CORS layer inside it, a REST route of a server that serves gRPC too) gets an
/// HTTP server span: its 200 is no failed call, and its path names no method.
#[tokio::test]
async fn a_request_that_is_no_grpc_call_gets_an_http_span_from_the_grpc_layer() {
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        let answer = http::Response::builder()
            .header("content-type", "text/plain")
            .body(axum::body::Body::from("ok"))
            .unwrap();
        Ok::<_, std::convert::Infallible>(answer)
    });
    let layered = GrpcServerLayer::new().layer(inner);
    let preflight = http::Request::options("http://127.0.0.1:1/made.Up/Anything")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let rest = http::Request::get("http://127.0.0.1:1/users/7")
        .body(axum::body::Body::empty())
        .unwrap();
    for request in [preflight, rest] {
        let response = layered.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
    }
    for (name, path) in [("OPTIONS", "/made.Up/Anything"), ("GET", "/users/7")] {
        let span = capture.span(name);
        assert_eq!(span.kind, SpanKind::Server, "{span:#?}");
        assert_eq!(str_attr(&span, "url.path"), Some(path), "{span:#?}");
        assert_eq!(int_attr(&span, "http.response.status_code"), Some(200));
        assert_eq!(str_attr(&span, "rpc.method"), None, "{span:#?}");
        assert!(!span.is_error(), "{span:#?}");
    }
    assert!(capture.spans_named("grpc").is_empty());
}

/// A body of one empty message, then trailers with `grpc-status` `code`.
fn message_then_status(code: &'static str) -> axum::body::Body {
    use tokio_stream::StreamExt as _;
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static(code));
    let frames = tokio_stream::iter([
        http_body::Frame::data(axum::body::Bytes::from_static(b"\0\0\0\0\0")),
        http_body::Frame::trailers(trailers),
    ])
    .map(Ok::<_, std::convert::Infallible>);
    axum::body::Body::new(http_body_util::StreamBody::new(frames))
}

/// A body that sends one message and panics when polled for the next.
fn panics_after_one_message() -> axum::body::Body {
    use tokio_stream::StreamExt as _;
    let message = axum::body::Bytes::from_static(b"\0\0\0\0\0");
    let panics = std::iter::from_fn(|| -> Option<axum::body::Bytes> {
        panic!("the stream's second message panics")
    });
    let frames = tokio_stream::iter(std::iter::once(message).chain(panics))
        .map(|data| Ok::<_, std::convert::Infallible>(http_body::Frame::data(data)));
    axum::body::Body::new(http_body_util::StreamBody::new(frames))
}

/// A server stream that panics after its first message: a method's handler answered (a gate
/// in front of the methods sends no message), so the span keeps the method's name.
#[tokio::test]
async fn a_grpc_stream_that_panics_after_a_message_keeps_its_methods_name() {
    use http_body::Body as _;
    const METHOD: &str = "capture.layers.Streams/PanicsMidway";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_answer(panics_after_one_message()))
    });
    let layered = GrpcServerLayer::new().layer(inner);
    let response = layered.oneshot(grpc_request(&format!("/{METHOD}")));
    let mut body = Box::pin(response.await.unwrap().into_body());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let first = body.as_mut().poll_frame(&mut cx);
    assert!(matches!(first, std::task::Poll::Ready(Some(Ok(_)))));
    let second = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = body.as_mut().poll_frame(&mut cx);
    }));
    assert!(second.is_err());
    drop(body);
    let span = capture.span(METHOD);
    assert_eq!(str_attr(&span, "rpc.method"), Some(METHOD), "{span:#?}");
    assert_eq!(str_attr(&span, "error.type"), Some("panic"), "{span:#?}");
}

/// A status in the answer's head is what the client reads (tonic's `Ok`), whatever trailers
/// follow.
#[tokio::test]
async fn a_grpc_status_in_the_head_is_not_replaced_by_later_trailers() {
    const METHOD: &str = "capture.layers.HeadStatus/Call";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        let mut answer = grpc_answer(message_then_status("13"));
        let ok = http::HeaderValue::from_static("0");
        answer.headers_mut().insert("grpc-status", ok);
        Ok::<_, std::convert::Infallible>(answer)
    });
    let response = GrpcClientLayer::new()
        .layer(inner)
        .oneshot(grpc_request(&format!("/{METHOD}")));
    let read = axum::body::to_bytes(
        axum::body::Body::new(response.await.unwrap().into_body()),
        64,
    );
    read.await.unwrap();
    let span = capture.span(METHOD);
    assert_eq!(str_attr(&span, "rpc.response.status_code"), Some("OK"));
    assert!(!span.is_error(), "{span:#?}");
}

/// A client's answer dropped before its status (the caller stopped reading a stream, or
/// tonic failed to decode a message): marked as a call dropped before its answer is.
#[tokio::test]
async fn a_grpc_answer_a_client_drops_before_its_status_is_marked_cancelled() {
    use http_body::Body as _;
    const METHOD: &str = "capture.layers.ClientCut/Call";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_answer(panics_after_one_message()))
    });
    let response = GrpcClientLayer::new()
        .layer(inner)
        .oneshot(grpc_request(&format!("/{METHOD}")));
    let mut body = Box::pin(response.await.unwrap().into_body());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let first = body.as_mut().poll_frame(&mut cx);
    assert!(matches!(first, std::task::Poll::Ready(Some(Ok(_)))));
    drop(body);
    // Dropped unread too: tonic fails a call from its head (an encoding it does not take).
    let unread = "capture.layers.ClientCut/Unread";
    let response = GrpcClientLayer::new()
        .layer(inner)
        .oneshot(grpc_request(&format!("/{unread}")));
    drop(response.await.unwrap());
    for method in [METHOD, unread] {
        let span = capture.span(method);
        assert_eq!(span.attr("godtrace.cancelled"), Some(&Value::Bool(true)));
        assert_eq!(str_attr(&span, "rpc.response.status_code"), None);
    }
}

/// tonic-web's `GrpcWebLayer` in front of the server layer hands it gRPC-Web calls turned into
/// gRPC, over HTTP/1.1, with the `accept-encoding` it sets; their trailers go back in the
/// body's trailer frame, not dropped by hyper: the status is the trailers'.
#[tokio::test]
async fn a_grpc_call_tonic_web_converted_has_the_status_of_its_trailers() {
    const METHOD: &str = "capture.layers.FromWeb/Call";
    let capture = testing::capture();
    let inner = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(grpc_answer(message_then_status("5")))
    });
    // As tonic-web's `coerce_request` leaves it.
    let request = http::Request::post(format!("http://127.0.0.1:1/{METHOD}"))
        .version(http::Version::HTTP_11)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("accept-encoding", "identity,deflate,gzip")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = GrpcServerLayer::new().layer(inner).oneshot(request);
    let read = axum::body::to_bytes(
        axum::body::Body::new(response.await.unwrap().into_body()),
        64,
    );
    read.await.unwrap();
    let span = capture.span(METHOD);
    assert_eq!(
        str_attr(&span, "rpc.response.status_code"),
        Some("NOT_FOUND"),
        "{span:#?}"
    );
}
