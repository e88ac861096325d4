//! gRPC layers (feature `tonic`): SERVER and CLIENT spans named `{rpc.service}/{rpc.method}`
//! with the RPC semantic conventions' attributes. They are tower layers over HTTP/2 requests,
//! so they serve tonic and any other tower-based gRPC stack.
use super::exchange::{Exchange, Role};
use super::http_server::set_server_address;
use super::semconv;
use super::service::TracedService;
use crate::Span;
use crate::propagation::{self, HeaderInjector};
use http::request::Parts;
use opentelemetry::trace::SpanKind;
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
    let parent = propagation::extract_headers(&request.headers);
    let span = rpc_span(request, SpanKind::Server)
        .parent(parent)
        .start_detached();
    describe(&span, request);
    Exchange::new(span, Role::GrpcServer, Vec::new())
}

fn start_client(request: &mut Parts) -> Exchange {
    // Under the caller's current span (the default parent).
    let span = rpc_span(request, SpanKind::Client).start_detached();
    describe(&span, request);
    propagation::inject_context(&span.context(), &mut HeaderInjector(&mut request.headers));
    Exchange::new(span, Role::GrpcClient, Vec::new())
}

/// The span of a call: `{rpc.service}/{rpc.method}`, or `_OTHER` for a path that is not a
/// gRPC method's (its text is the peer's, so not a name).
fn rpc_span(request: &Parts, kind: SpanKind) -> crate::SpanBuilder {
    let name = match semconv::grpc_service_and_method(request.uri.path()) {
        Some((service, method)) => format!("{service}/{method}"),
        None => "_OTHER".to_owned(),
    };
    crate::span_builder(name).kind(kind)
}

fn describe(span: &Span, request: &Parts) {
    if !span.is_recording() {
        return;
    }
    span.set_attribute("rpc.system", "grpc");
    if let Some((service, method)) = semconv::grpc_service_and_method(request.uri.path()) {
        span.set_attribute("rpc.service", service.to_owned());
        span.set_attribute("rpc.method", method.to_owned());
    }
    let scheme = match request.uri.scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    set_server_address(span, request, scheme);
}
