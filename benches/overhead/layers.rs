//! Issue 14: the per-request cost of godtrace's HTTP server layer beside tower-http's
//! `TraceLayer` with tracing-subscriber and tracing-opentelemetry (batch processor,
//! discarding exporter), on an in-process tower service: no network, no runtime.
//!
//! ```text
//! cargo bench --bench overhead -- layers/
//! ```
//!
//! Each operation builds a request (method, path, `host`, `user-agent`, `traceparent`),
//! calls the service with `tower::ServiceExt::oneshot`, and drops the response (its body is
//! never read: both layers end their span when the body is dropped). The bare service is
//! the baseline the layers' overhead is measured from. tower-http's layer, as configured by
//! `TraceLayer::new_for_http()`, reads no `traceparent` and records no semantic-convention
//! attributes or duration histogram; godtrace's does all three.
use crate::cases::{Case, SAMPLED_IN, Setup};
use crate::figures::{View, fmt_ns, fmt_ratio};
use crate::measure::block_on;
use std::convert::Infallible;
use std::fmt::Write as _;
use tower::{Layer, ServiceExt};

const BARE: &str = "layers/bare-service";
const GODTRACE: &str = "layers/godtrace-HttpServerLayer/sampled-in";
const TOWER_HTTP: &str = "layers/tower-http-TraceLayer+tracing-otel/sampled-in";

/// The handler: answers a short body at once.
async fn handler(request: http::Request<String>) -> Result<http::Response<String>, Infallible> {
    Ok(http::Response::new(format!(
        "{}",
        request.uri().path().len()
    )))
}

fn request() -> http::Request<String> {
    http::Request::builder()
        .uri("/wallets/7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU")
        .header("host", "risk.internal:8080")
        .header("user-agent", "wallet-gateway/1.0")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(String::new())
        .expect("a valid request")
}

fn op_bare(x: u64) -> u64 {
    let service = tower::service_fn(handler);
    let response = block_on(service.oneshot(request()));
    response.map_or(x, |r| x ^ r.status().as_u16() as u64)
}

fn op_godtrace(x: u64) -> u64 {
    let service = godtrace::layers::HttpServerLayer::new().layer(tower::service_fn(handler));
    let response = block_on(service.oneshot(request()));
    response.map_or(x, |r| x ^ r.status().as_u16() as u64)
}

fn op_tower_http(x: u64) -> u64 {
    let service = tower_http::trace::TraceLayer::new_for_http().layer(tower::service_fn(handler));
    let response = block_on(service.oneshot(request()));
    response.map_or(x, |r| x ^ r.status().as_u16() as u64)
}

/// The three cases, timed like the others (each in a process of its own).
pub fn cases() -> Vec<Case> {
    vec![
        crate::cases::time(BARE, Setup::Nothing, op_bare),
        crate::cases::time(GODTRACE, SAMPLED_IN, op_godtrace),
        crate::cases::time(TOWER_HTTP, Setup::TracingOtel { ratio: 1.0 }, op_tower_http),
    ]
}

/// The layers' table: each layer's cost per request, its overhead over the bare service, and
/// godtrace's over tower-http's.
pub fn table(out: &mut String, v: &View<'_>) {
    let bare = v.ns(BARE);
    let (Some(_), Some(_)) = (v.ns(GODTRACE), v.ns(TOWER_HTTP)) else {
        return;
    };
    let overhead = |id: &str| Some(v.ns(id)? - bare?);
    let _ = write!(
        out,
        "\n### Server layers, per request (in-process tower service)\n\n\
         | case | best ns | × bare service | overhead ns | overhead ÷ tower-http's |\n\
         |---|---|---|---|---|\n"
    );
    for id in [BARE, GODTRACE, TOWER_HTTP] {
        let _ = writeln!(
            out,
            "| {id} | {} | {} | {} | {} |",
            fmt_ns(v.ns(id)),
            fmt_ratio(v.ns(id), bare),
            fmt_ns(overhead(id)),
            fmt_ratio(overhead(id), overhead(TOWER_HTTP)),
        );
    }
}
