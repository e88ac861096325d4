//! The HTTP server layer (feature `tower`): a SERVER span per request, under the caller's
//! context, with the HTTP semantic conventions' attributes and duration histogram.
use super::exchange::{Exchange, METRIC_ATTRIBUTES_ADDED, MetricBase, Role};
#[cfg(feature = "axum")]
use super::routes;
use super::semconv;
use super::service::TracedService;
use crate::propagation;
use http::request::Parts;
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};
use std::borrow::Cow;
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
    /// See [`HttpServerLayer::https`].
    tls: bool,
}

impl HttpServerLayer {
    /// The layer, for a server that speaks plain HTTP or sits behind a proxy.
    pub fn new() -> HttpServerLayer {
        HttpServerLayer { tls: false }
    }

    /// For a server that speaks TLS itself (axum-server or hyper with rustls): a request that
    /// neither a proxy's header (`Forwarded` `proto=`, `X-Forwarded-Proto`) nor its URI
    /// names a scheme for records `url.scheme = https`, and port 443 when its host names none.
    /// hyper hands the layer no scheme for HTTP/1.1, so without this such a server's requests
    /// read as `http`.
    ///
    /// ```
    /// let layer = godtrace_runtime::layers::HttpServerLayer::new().https();
    /// # let _ = layer;
    /// ```
    pub fn https(self) -> HttpServerLayer {
        HttpServerLayer { tls: true }
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> TracedService<S> {
        let start = if self.tls {
            start::<true>
        } else {
            start::<false>
        };
        TracedService::new(inner, start)
    }
}

/// The request's exchange: its span, started under the extracted context, and the histogram
/// attributes known so far. `TLS`: the server speaks TLS itself ([`HttpServerLayer::https`]).
pub(super) fn start<const TLS: bool>(request: &mut Parts) -> Exchange {
    // Godtrace's own parser: hostile headers are rejected (a new trace) and counted.
    let parent = propagation::extract_headers(&request.headers);
    let (method, method_original) = semconv::method(&request.method);
    let route = matched_route(request);
    let forwarded = header_str(request, http::header::FORWARDED)
        .map_or((None, None), semconv::forwarded_proto_and_host);
    let scheme = original_scheme(request, forwarded.0, TLS);
    let version = semconv::protocol_version(request.version);
    let span = crate::span_builder(span_name(method, route))
        .kind(SpanKind::Server)
        .parent(parent)
        .start_detached();
    span.fill_bounded_attributes(SPAN_ATTRIBUTES, |attributes| {
        semconv::push_http_method(attributes, method, method_original);
        attributes.push(KeyValue::new("url.scheme", scheme));
        attributes.push(text("url.path", &redacted_path(request_path(request))));
        if let Some(route) = route {
            let limit = crate::value::max_attribute_len();
            let value = crate::value::bounded_value(route.value(), limit);
            attributes.push(KeyValue::new("http.route", value));
        }
        push_address(attributes, original_host(request, forwarded.1), scheme);
        if let Some(version) = version {
            attributes.push(KeyValue::new("network.protocol.version", version));
        }
        if let Some(agent) = header_str(request, http::header::USER_AGENT) {
            attributes.push(text("user_agent.original", agent));
        }
    });
    let metric = metric_base(method, scheme, route, version);
    Exchange::new(span, Role::HttpServer, metric)
}

/// The histogram's attributes: a shape whose series is kept when the route is, else the
/// attributes themselves.
fn metric_base(
    method: &'static str,
    scheme: &'static str,
    route: Option<MatchedRoute<'_>>,
    version: Option<&'static str>,
) -> MetricBase {
    let route = match route {
        None => None,
        #[cfg(feature = "axum")]
        Some(MatchedRoute::Kept(route)) => Some(route.template),
        Some(text @ MatchedRoute::Text(_)) => {
            let mut attributes = Vec::with_capacity(3 + METRIC_ATTRIBUTES_ADDED);
            attributes.push(KeyValue::new("http.request.method", method));
            attributes.push(KeyValue::new("url.scheme", scheme));
            attributes.push(KeyValue::new("http.route", text.value()));
            attributes.extend(version.map(|v| KeyValue::new("network.protocol.version", v)));
            return MetricBase::Attributes(attributes);
        }
    };
    MetricBase::Server {
        method,
        scheme,
        route,
        version,
    }
}

/// The route a request matched: kept for the process (no copy per request) or, past the
/// table's bound, its own text.
#[derive(Clone, Copy)]
enum MatchedRoute<'a> {
    #[cfg(feature = "axum")]
    Kept(&'static routes::Route),
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Text(&'a str),
}

impl MatchedRoute<'_> {
    fn value(self) -> Value {
        match self {
            #[cfg(feature = "axum")]
            MatchedRoute::Kept(route) => Value::from(route.template),
            MatchedRoute::Text(text) => Value::from(text.to_owned()),
        }
    }
}

fn span_name(method: &'static str, route: Option<MatchedRoute<'_>>) -> Cow<'static, str> {
    match route {
        #[cfg(feature = "axum")]
        Some(MatchedRoute::Kept(route)) => route.span_name(method),
        Some(MatchedRoute::Text(text)) => semconv::http_span_name(method, Some(text)),
        None => semconv::http_span_name(method, None),
    }
}

/// The most attributes a server span gets: ten at the start, the status and `error.type` at
/// the end.
const SPAN_ATTRIBUTES: usize = 12;

/// An attribute of text from the request: cut at [`semconv::MAX_TEXT_LEN`], then bounded by
/// the attribute size limit as [`Span::set_attribute`](crate::Span::set_attribute) bounds
/// values (one copy of what is kept).
pub(super) fn text(key: &'static str, value: &str) -> KeyValue {
    let value = semconv::cut(value, semconv::MAX_TEXT_LEN);
    KeyValue::new(
        key,
        crate::value::bounded_text(value, crate::value::max_attribute_len()),
    )
}

/// `path` redacted ([`crate::redact::path`]) within what `url.path` keeps of it, and a
/// margin, so that a parameter the cut falls in is still read as one (its name and `=` within
/// the margin; a longer name's value is past what is kept): a path of tens of KiB costs what
/// one of 2 KiB does.
fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    const PARAMETER_MARGIN: usize = 64;
    crate::redact::path(semconv::cut(path, semconv::MAX_TEXT_LEN + PARAMETER_MARGIN))
}

/// The request's path as the client sent it: inside a router nested in another (the layer
/// on the inner one), axum has cut the outer prefix from the URI and keeps the whole one as
/// `OriginalUri` (its matched route, `http.route`, keeps the prefix too).
#[cfg(feature = "axum")]
fn request_path(request: &Parts) -> &str {
    match request.extensions.get::<axum::extract::OriginalUri>() {
        Some(original) => original.path(),
        None => request.uri.path(),
    }
}

#[cfg(not(feature = "axum"))]
fn request_path(request: &Parts) -> &str {
    request.uri.path()
}

/// The route template axum matched (`/users/{id}`), with feature `axum`, cut to the name
/// part limit.
#[cfg(feature = "axum")]
fn matched_route(request: &Parts) -> Option<MatchedRoute<'_>> {
    let template = request
        .extensions
        .get::<axum::extract::MatchedPath>()?
        .as_str();
    let template = semconv::cut(template, semconv::MAX_NAME_PART_LEN);
    Some(match routes::interned(template) {
        Some(kept) => MatchedRoute::Kept(kept),
        None => MatchedRoute::Text(template),
    })
}

#[cfg(not(feature = "axum"))]
fn matched_route(_: &Parts) -> Option<MatchedRoute<'_>> {
    None
}

/// `url.scheme` of a server request: the scheme the client used, as a reverse proxy passed it
/// on (`Forwarded` `proto=`, given as `forwarded_proto`, then `X-Forwarded-Proto`), else the
/// request URI's (HTTP/2's `:scheme`; hyper leaves it empty for HTTP/1.1), else the server's
/// own (`https` when it speaks TLS itself), else `http`, as the conventions say. Only `http` or
/// `https` is taken: the value labels the histogram.
fn original_scheme(request: &Parts, forwarded_proto: Option<&str>, tls: bool) -> &'static str {
    let x_forwarded_proto =
        header_str(request, &X_FORWARDED_PROTO).and_then(semconv::first_list_value);
    let own = tls.then_some("https");
    semconv::server_scheme([
        forwarded_proto,
        x_forwarded_proto,
        request.uri.scheme_str(),
        own,
    ])
}

/// `server.address` and `server.port` of a server request: the host the client asked for,
/// the first that parses as `host[:port]` of `Forwarded` `host=` (`forwarded_host`),
/// `X-Forwarded-Host`, the URI's authority (`:authority` in HTTP/2) and `Host`, as the
/// conventions order them. A header that does not parse is skipped, never recorded.
fn original_host<'a>(
    request: &'a Parts,
    forwarded_host: Option<&'a str>,
) -> Option<(&'a str, Option<u16>)> {
    let x_forwarded_host =
        header_str(request, &X_FORWARDED_HOST).and_then(semconv::first_list_value);
    let authority = request.uri.authority().map(http::uri::Authority::as_str);
    let host = header_str(request, http::header::HOST);
    forwarded_host
        .and_then(semconv::host_header)
        .or_else(|| x_forwarded_host.and_then(semconv::host_header))
        .or_else(|| authority.and_then(semconv::host_and_port))
        .or_else(|| host.and_then(semconv::host_header))
}

/// Names made once: a `&str` name is parsed again on every lookup.
static X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");

/// `server.address` and `server.port`, from the `:authority` (HTTP/2) or the `Host` header
/// (the gRPC layers': a client's request carries the server's authority in its URI).
#[cfg(feature = "tonic")]
pub(super) fn push_server_address(attributes: &mut Vec<KeyValue>, request: &Parts, scheme: &str) {
    let authority = request
        .uri
        .authority()
        .map(http::uri::Authority::as_str)
        .map(semconv::host_and_port)
        .or_else(|| header_str(request, http::header::HOST).map(semconv::host_header))
        .flatten();
    push_address(attributes, authority, scheme);
}

/// `server.address` and `server.port` of `address`; without a port, the scheme's default
/// (443 for `https`, 80 for `http`).
fn push_address(
    attributes: &mut Vec<KeyValue>,
    address: Option<(&str, Option<u16>)>,
    scheme: &str,
) {
    if let Some((host, port)) = address {
        // Cut to the span attribute limit with the span's attributes, not here: the gRPC
        // client's histogram shares this value (a cut host would merge series).
        let host = semconv::cut(host, semconv::MAX_NAME_PART_LEN);
        attributes.push(KeyValue::new("server.address", host.to_owned()));
        if let Some(port) = port.or_else(|| semconv::default_port(scheme)) {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
    }
}

/// A header's value; `None` when absent or not visible ASCII.
fn header_str<K: http::header::AsHeaderName>(request: &Parts, name: K) -> Option<&str> {
    request.headers.get(name)?.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::redacted_path;
    use crate::layers::semconv::MAX_TEXT_LEN;

    /// A session id is redacted wherever `url.path` keeps it, also one the read's bound
    /// cuts; past the bound nothing is read.
    #[test]
    fn a_long_paths_session_ids_are_redacted_within_what_is_kept() {
        let session = ";jsessionid=0123456789abcdef0123456789abcdef";
        for at in [0, MAX_TEXT_LEN - 20, MAX_TEXT_LEN + 40, MAX_TEXT_LEN + 60] {
            let path = format!("/{}{session}/{}", "a".repeat(at), ";".repeat(60_000));
            let redacted = redacted_path(&path);
            assert!(!redacted.contains("0123"), "at {at}");
            assert!(redacted.len() <= MAX_TEXT_LEN + 64, "at {at}");
            if at < MAX_TEXT_LEN {
                assert!(redacted.contains(";jsessionid=REDACTED"), "at {at}");
            }
        }
    }
}
