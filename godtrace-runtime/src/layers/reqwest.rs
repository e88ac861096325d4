//! The HTTP client middleware (feature `reqwest`): a CLIENT span per request sent through a
//! [`reqwest_middleware::ClientWithMiddleware`], its context injected into the headers.
use super::exchange::{Exchange, METRIC_ATTRIBUTES_ADDED, MetricBase, Role};
use super::semconv;
use crate::propagation::{self, HeaderInjector};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue};
use reqwest_middleware::{Middleware, Next};
use std::sync::Arc;

/// A [`reqwest_middleware`] middleware: each request through it is a CLIENT span (its parent
/// the current span) named by its method, with the HTTP client attributes; 4xx, 5xx and
/// transport errors mark it Error. Put it after (inside) a retry middleware so that each
/// attempt is its own span: a resent request's span has `http.request.resend_count` (1 for
/// the first resend), counted in the request's extensions, which a retry middleware hands to
/// every attempt.
///
/// ```no_run
/// // (no_run: this repository's reqwest has no TLS provider of its own; yours has one.)
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(godtrace_runtime::layers::TracingMiddleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingMiddleware {
    _private: (),
}

impl TracingMiddleware {
    /// The middleware; it has no settings.
    pub fn new() -> TracingMiddleware {
        TracingMiddleware { _private: () }
    }
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // Dropped before the response (a timeout around `send`), the exchange ends the span
        // as cancelled by the caller: no error (see `Exchange::finish`).
        let resends = extensions.get::<Sent>().map_or(0, |sent| sent.0);
        extensions.insert(Sent(resends.saturating_add(1)));
        let mut exchange = start(&mut request, resends);
        // The rest of the stack runs under the client span; a panic there (a middleware after
        // this one, the client) fails it, with its message, not cancelled by the caller.
        let result = exchange
            .polled_in_scope(std::pin::pin!(next.run(request, extensions)))
            .await;
        match &result {
            Ok(response) => {
                if let Some(version) = semconv::protocol_version(response.version()) {
                    exchange.on_protocol_version(version);
                }
                exchange.on_response(response.status(), response.version(), response.headers());
            }
            Err(error) => exchange.on_transport_error(error_type(error)),
        }
        result
    }
}

/// How many times this middleware sent the request of these extensions before.
#[derive(Clone, Copy)]
struct Sent(u32);

fn start(request: &mut reqwest::Request, resends: u32) -> Exchange {
    let (method, method_original) = semconv::method(request.method());
    let url = request.url();
    // One copy of the host, shared by the span and the histogram.
    let host = url
        .host_str()
        .map(crate::text::unbracketed)
        .map(|h| server_address(semconv::cut(h, semconv::MAX_NAME_PART_LEN)));
    let port = url.port_or_known_default();
    let span = crate::span_builder(semconv::http_span_name(method, None))
        .kind(SpanKind::Client)
        .start_detached();
    span.fill_bounded_attributes(SPAN_ATTRIBUTES, |attributes| {
        semconv::push_http_method(attributes, method, method_original);
        let full = semconv::redacted_url(url.as_str()).into();
        attributes.push(KeyValue::new(
            "url.full",
            crate::value::bounded_value(full, crate::value::max_attribute_len()),
        ));
        if let Some(host) = &host {
            attributes.push(KeyValue::new("server.address", host.clone()));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        if resends > 0 {
            attributes.push(KeyValue::new(
                "http.request.resend_count",
                i64::from(resends),
            ));
        }
    });
    propagation::inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()));
    // `url.scheme` is opt-in on the client histogram (required on the server's): left out.
    let mut metric = Vec::with_capacity(3 + METRIC_ATTRIBUTES_ADDED);
    metric.push(KeyValue::new("http.request.method", method));
    if let Some(host) = host {
        metric.push(KeyValue::new("server.address", host));
    }
    if let Some(port) = port {
        metric.push(KeyValue::new("server.port", i64::from(port)));
    }
    Exchange::new(span, Role::HttpClient, MetricBase::Attributes(metric))
}

/// The most attributes a client span gets: six at the start (with the resend count), the
/// protocol version and status with the response, `error.type` at the end.
const SPAN_ATTRIBUTES: usize = 9;

/// `server.address` as a shared value. Not cut to the span attribute limit here: the
/// histogram's label is the whole host (a cut one would merge hosts into one series, or be
/// empty), and the span's copy is cut as its attributes are set.
fn server_address(host: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(host))
}

/// `error.type` of a request that got no response: what failed, in a few fixed words.
fn error_type(error: &reqwest_middleware::Error) -> &'static str {
    let reqwest_middleware::Error::Reqwest(error) = error else {
        return "middleware";
    };
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_decode() {
        "decode"
    } else if error.is_request() {
        "request"
    } else {
        "_OTHER"
    }
}
