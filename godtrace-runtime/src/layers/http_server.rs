//! The HTTP server layer (feature `tower`): a SERVER span per request, under the caller's
//! context, with the HTTP semantic conventions' attributes and duration histogram.
use super::exchange::{Exchange, Role};
use super::semconv;
use super::service::TracedService;
use crate::Span;
use crate::propagation;
use http::request::Parts;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tower_layer::Layer;

/// A tower [`Layer`] for HTTP servers (axum, hyper): each request becomes a SERVER span under
/// the context its `traceparent` carries, current while the handler runs. See
/// [`crate::layers`] for the attributes and the status rules.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// let app = axum::Router::<()>::new()
///     .route("/users/{id}", axum::routing::get(|| async { "ok" }))
///     .layer(godtrace_runtime::layers::HttpServerLayer::new());
/// # let _ = app; }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpServerLayer {
    _private: (),
}

impl HttpServerLayer {
    /// The layer; it has no settings.
    pub fn new() -> HttpServerLayer {
        HttpServerLayer { _private: () }
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> TracedService<S> {
        TracedService::new(inner, start)
    }
}

/// The request's exchange: its span, started under the extracted context, and the histogram
/// attributes known so far.
fn start(request: &mut Parts) -> Exchange {
    // Godtrace's own parser: hostile headers are rejected (a new trace) and counted.
    let parent = propagation::extract_headers(&request.headers);
    let (method, method_original) = semconv::method(&request.method);
    let route = matched_route(request).map(|r| semconv::cut(r, semconv::MAX_NAME_PART_LEN));
    let scheme = match request.uri.scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    let span = crate::span_builder(semconv::http_span_name(method, route))
        .kind(SpanKind::Server)
        .parent(parent)
        .start_detached();
    if span.is_recording() {
        span.set_attribute("http.request.method", method);
        if let Some(original) = method_original {
            span.set_attribute("http.request.method_original", original);
        }
        span.set_attribute("url.scheme", scheme);
        span.set_attribute("url.path", path(request));
        if let Some(route) = route {
            span.set_attribute("http.route", route.to_owned());
        }
        set_server_address(&span, request, scheme);
        if let Some(version) = semconv::protocol_version(request.version) {
            span.set_attribute("network.protocol.version", version);
        }
        if let Some(agent) = header_text(request, http::header::USER_AGENT) {
            span.set_attribute("user_agent.original", agent);
        }
    }
    let mut metric = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.scheme", scheme),
    ];
    if let Some(route) = route {
        metric.push(KeyValue::new("http.route", route.to_owned()));
    }
    Exchange::new(span, Role::HttpServer, metric)
}

/// The route template axum matched (`/users/{id}`), with feature `axum`.
#[cfg(feature = "axum")]
fn matched_route(request: &Parts) -> Option<&str> {
    request
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_route(_: &Parts) -> Option<&str> {
    None
}

fn path(request: &Parts) -> String {
    semconv::cut(request.uri.path(), semconv::MAX_TEXT_LEN).to_owned()
}

/// `server.address` and `server.port`, from the `:authority` (HTTP/2) or the `Host` header.
pub(super) fn set_server_address(span: &Span, request: &Parts, scheme: &str) {
    let authority = request
        .uri
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| {
            request
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
    if let Some((host, port)) = authority.and_then(semconv::host_and_port) {
        span.set_attribute("server.address", host.to_owned());
        if let Some(port) = port.or_else(|| semconv::default_port(scheme)) {
            span.set_attribute("server.port", i64::from(port));
        }
    }
}

/// A header's value as text, bounded; `None` when absent or not visible ASCII.
fn header_text(request: &Parts, name: http::header::HeaderName) -> Option<String> {
    let value = request.headers.get(name)?.to_str().ok()?;
    Some(semconv::cut(value, semconv::MAX_TEXT_LEN).to_owned())
}
