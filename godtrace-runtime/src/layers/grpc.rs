//! gRPC layers (feature `tonic`): SERVER and CLIENT spans named by their fully-qualified
//! `rpc.method` (`{package.Service}/{Method}`), with the current RPC semantic conventions'
//! attributes (v1.39+), the same the call-duration histograms have. They are tower layers
//! over HTTP/2 requests, so they serve tonic and any other tower-based gRPC stack.
use super::exchange::{Exchange, METRIC_ATTRIBUTES_ADDED, MetricBase, Role};
use super::http_server::{push_server_address, text};
use super::semconv;
use super::service::TracedService;
use crate::Span;
use crate::propagation::{self, HeaderInjector};
use http::request::Parts;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use std::borrow::Cow;
use tower_layer::Layer;

/// A tower [`Layer`] for gRPC servers (tonic's `Server::builder().layer(..)`): a SERVER span
/// per call under the caller's context. Only the codes that mean the server failed
/// (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS) mark it
/// Error.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcServerLayer {
    _private: (),
}

impl GrpcServerLayer {
    /// The layer; it has no settings.
    pub fn new() -> GrpcServerLayer {
        GrpcServerLayer { _private: () }
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> TracedService<S> {
        TracedService::new(inner, start_server)
    }
}

/// A tower [`Layer`] for gRPC clients (around a tonic `Channel`): a CLIENT span per call,
/// its context injected into the request's headers. Every code but OK marks it Error.
///
/// ```text
/// let channel = tonic::transport::Endpoint::from_static("http://risk:50051").connect().await?;
/// let origin = "http://risk:50051".parse()?; // server.address and server.port on the spans
/// let client = ScoringClient::with_origin(GrpcClientLayer::new().layer(channel), origin);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcClientLayer {
    _private: (),
}

impl GrpcClientLayer {
    /// The layer; it has no settings.
    pub fn new() -> GrpcClientLayer {
        GrpcClientLayer { _private: () }
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> TracedService<S> {
        TracedService::new(inner, start_client)
    }
}

fn start_server(request: &mut Parts) -> Exchange {
    // A request that is no gRPC call (a browser's CORS preflight, a REST route or an HTTP
    // health check of a server that serves gRPC too): its answer is no call's status, and
    // its path no method. An HTTP server span, as `HttpServerLayer` records it.
    if !is_grpc_call(request) {
        return super::http_server::start::<false>(request);
    }
    let parent = propagation::extract_headers(&request.headers);
    let method = rpc_method(request);
    let span = crate::span_builder(span_name(method.as_deref()))
        .kind(SpanKind::Server)
        .parent(parent)
        .start_detached();
    describe(&span, request, method.as_deref(), Role::GrpcServer);
    // `server.address` is left out of the server's histogram: the client chooses it, so
    // every name a client sends would be a series (the HTTP conventions make it opt-in for
    // servers for the same reason).
    let deadline = request
        .headers
        .get("grpc-timeout")
        .and_then(|value| semconv::grpc_timeout(value.as_bytes()));
    Exchange::new(span, Role::GrpcServer, metric_attributes(method, &[])).with_deadline(deadline)
}

fn start_client(request: &mut Parts) -> Exchange {
    // Under the caller's current span (the default parent).
    let method = rpc_method(request);
    let span = crate::span_builder(span_name(method.as_deref()))
        .kind(SpanKind::Client)
        .start_detached();
    let address = describe(&span, request, method.as_deref(), Role::GrpcClient);
    propagation::inject_context(&span.context(), &mut HeaderInjector(&mut request.headers));
    Exchange::new(span, Role::GrpcClient, metric_attributes(method, &address))
}

/// Whether `request` is a gRPC call: a `POST` of `application/grpc` (with a `+format` or
/// parameters) or of gRPC-Web's `application/grpc-web` and `application/grpc-web-text`, as
/// gRPC's HTTP/2 protocol and gRPC-Web define calls.
fn is_grpc_call(request: &Parts) -> bool {
    use super::grpc_web;
    let content_type = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .map_or(&b""[..], |value| value.as_bytes());
    request.method == http::Method::POST
        && (grpc_web::is_of_type(content_type, b"application/grpc")
            || grpc_web::encoding(content_type).is_some())
}

/// `rpc.method` of a call: the fully-qualified `{package.Service}/{Method}` its path names
/// (bounded), or `None` for a path that is not a gRPC method's.
fn rpc_method(request: &Parts) -> Option<String> {
    let path = request.uri.path();
    semconv::grpc_service_and_method(path)?;
    Some(path[1..].to_owned()) // without the leading `/`, checked just above
}

/// The span's name: `rpc.method`, or `grpc` (`rpc.system.name`) for a path that names no
/// method (its text is the peer's, so not a name).
fn span_name(method: Option<&str>) -> Cow<'static, str> {
    match method {
        Some(method) => Cow::Owned(method.to_owned()),
        None => Cow::Borrowed(semconv::GRPC_SYSTEM),
    }
}

/// The attributes of `rpc.server.call.duration` and `rpc.client.call.duration` known at the
/// start, as the current RPC conventions name them: `rpc.system.name`, `rpc.method` (the
/// fully-qualified method, or `_OTHER`) and, for clients, `server.address` and `server.port`.
fn metric_attributes(method: Option<String>, address: &[KeyValue]) -> MetricBase {
    let mut attributes = Vec::with_capacity(2 + address.len() + METRIC_ATTRIBUTES_ADDED);
    attributes.push(KeyValue::new("rpc.system.name", semconv::GRPC_SYSTEM));
    attributes.push(match method {
        Some(method) => KeyValue::new("rpc.method", method),
        None => KeyValue::new("rpc.method", semconv::OTHER_METHOD),
    });
    attributes.extend_from_slice(address);
    MetricBase::Attributes(attributes)
}

/// Sets the span's attributes known at the start; returns its `server.address` and
/// `server.port`, for the client's histogram. A server span's `rpc.method` waits for its end,
/// when an UNIMPLEMENTED answer makes it `_OTHER` (see `Exchange::finish_grpc`).
fn describe(span: &Span, request: &Parts, method: Option<&str>, role: Role) -> Vec<KeyValue> {
    let scheme = match request.uri.scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    let mut address = Vec::new();
    push_server_address(&mut address, request, scheme);
    span.fill_bounded_attributes(4 + address.len(), |attributes| {
        attributes.push(KeyValue::new("rpc.system.name", semconv::GRPC_SYSTEM));
        match method {
            Some(method) if role == Role::GrpcClient => attributes.push(text("rpc.method", method)),
            Some(_) => {}
            None => {
                let path = request.uri.path();
                attributes.push(KeyValue::new("rpc.method", semconv::OTHER_METHOD));
                let original = path.strip_prefix('/').unwrap_or(path);
                attributes.push(text("rpc.method_original", original));
            }
        }
        attributes.extend_from_slice(&address);
    });
    address
}
