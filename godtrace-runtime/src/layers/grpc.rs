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
use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};
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
    let method = rpc_method(request);
    let span = crate::span_builder(span_name(method.as_deref()))
        .kind(SpanKind::Server)
        .parent(parent)
        .start_detached();
    describe(&span, request, method.as_deref(), Role::GrpcServer);
    // `server.address` is left out of the server's histogram: the client chooses it, so
    // every name a client sends would be a series (the HTTP conventions make it opt-in for
    // servers for the same reason).
    Exchange::new(span, Role::GrpcServer, metric_attributes(method, &[]))
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
    if !span.is_recording() {
        return address;
    }
    let mut attributes = Vec::with_capacity(4 + address.len());
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
    span.set_bounded_attributes(attributes);
    address
}

/// Methods this server has answered with a status a method's own handler gives (see
/// [`names_method`]), at most [`MAX_ANSWERED`].
static ANSWERED: LazyLock<RwLock<HashSet<String>>> = LazyLock::new(Default::default);

/// Methods [`ANSWERED`] keeps: a service defines a few dozen.
const MAX_ANSWERED: usize = 1024;

/// gRPC codes a layer or interceptor gives before the call reaches a method (no method by
/// that name, no credentials, no permission, over a quota): answered with one of these, a
/// path is only a path the client sent.
const GATE_CODES: [i64; 4] = [
    semconv::GRPC_UNIMPLEMENTED,
    16, // UNAUTHENTICATED
    7,  // PERMISSION_DENIED
    8,  // RESOURCE_EXHAUSTED
];

/// Whether a server call to `method` answered with `code` (`None`: broken off first) may be
/// named after its method, on its span and in the histogram. An answer that only a method's
/// handler gives shows the method exists: it is named, and remembered. A gate's answer
/// (tonic's interceptors, which sit inside `GrpcServerLayer`, answer UNAUTHENTICATED before
/// any routing), or none at all, names only a method already remembered; else the call is
/// `_OTHER`, so that a client making paths up fills no series. UNIMPLEMENTED never names one.
pub(super) fn names_method(method: &str, code: Option<i64>) -> bool {
    let answered = || {
        ANSWERED
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(method)
    };
    match code {
        Some(semconv::GRPC_UNIMPLEMENTED) => false,
        Some(code) if !GATE_CODES.contains(&code) => {
            if !answered() {
                let mut methods = ANSWERED.write().unwrap_or_else(|e| e.into_inner());
                if methods.len() < MAX_ANSWERED {
                    methods.insert(method.to_owned());
                }
            }
            true
        }
        _ => answered(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gates_answer_names_only_a_method_answered_before() {
        let (real, made_up) = ("grpc.rs.Test/Real", "grpc.rs.Test/MadeUp");
        for gate in [16, 7, 8] {
            assert!(!names_method(made_up, Some(gate)), "{gate}");
        }
        assert!(!names_method(real, None), "broken off, never answered");
        assert!(
            names_method(real, Some(5)),
            "NOT_FOUND comes from a handler"
        );
        assert!(names_method(real, Some(16)), "answered before");
        assert!(names_method(real, None));
        assert!(!names_method(real, Some(semconv::GRPC_UNIMPLEMENTED)));
        assert!(!names_method(made_up, Some(16)));
    }
}
