//! gRPC layers (feature `tonic`): SERVER and CLIENT spans named `{rpc.service}/{rpc.method}`
//! with the RPC semantic conventions' attributes. They are tower layers over HTTP/2 requests,
//! so they serve tonic and any other tower-based gRPC stack.
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
    let parent = propagation::extract_headers(&request.headers);
    let name = rpc_name(request);
    let span = crate::span_builder(name.clone())
        .kind(SpanKind::Server)
        .parent(parent)
        .start_detached();
    describe(&span, request);
    // `server.address` is left out of the server's histogram: the client chooses it, so
    // every name a client sends would be a series (the HTTP conventions make it opt-in for
    // servers for the same reason).
    Exchange::new(span, Role::GrpcServer, metric_attributes(name, &[]))
}

fn start_client(request: &mut Parts) -> Exchange {
    // Under the caller's current span (the default parent).
    let name = rpc_name(request);
    let span = crate::span_builder(name.clone())
        .kind(SpanKind::Client)
        .start_detached();
    let address = describe(&span, request);
    propagation::inject_context(&span.context(), &mut HeaderInjector(&mut request.headers));
    Exchange::new(span, Role::GrpcClient, metric_attributes(name, &address))
}

/// The name of a call's span and its histogram's `rpc.method`: `{rpc.service}/{rpc.method}`,
/// or `_OTHER` for a path that is not a gRPC method's (its text is the peer's, so not a name).
fn rpc_name(request: &Parts) -> Cow<'static, str> {
    match semconv::grpc_service_and_method(request.uri.path()) {
        Some((service, method)) => Cow::Owned(format!("{service}/{method}")),
        None => Cow::Borrowed("_OTHER"),
    }
}

/// The attributes of `rpc.server.call.duration` and `rpc.client.call.duration` known at the
/// start, as the current RPC conventions name them: `rpc.system.name`, `rpc.method` (the
/// fully-qualified `service/method`) and, for clients, `server.address` and `server.port`.
fn metric_attributes(name: Cow<'static, str>, address: &[KeyValue]) -> MetricBase {
    let mut attributes = Vec::with_capacity(2 + address.len() + METRIC_ATTRIBUTES_ADDED);
    attributes.push(KeyValue::new("rpc.system.name", "grpc"));
    attributes.push(KeyValue::new("rpc.method", name));
    attributes.extend_from_slice(address);
    MetricBase::Attributes(attributes)
}

/// Sets the span's attributes; returns its `server.address` and `server.port`, for the
/// client's histogram.
fn describe(span: &Span, request: &Parts) -> Vec<KeyValue> {
    let scheme = match request.uri.scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    let mut address = Vec::new();
    push_server_address(&mut address, request, scheme);
    if !span.is_recording() {
        return address;
    }
    let mut attributes = Vec::with_capacity(6 + address.len());
    attributes.push(KeyValue::new("rpc.system", "grpc"));
    if let Some((service, method)) = semconv::grpc_service_and_method(request.uri.path()) {
        attributes.push(text("rpc.service", service));
        attributes.push(text("rpc.method", method));
    }
    attributes.extend_from_slice(&address);
    span.set_bounded_attributes(attributes);
    address
}
