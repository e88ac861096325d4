//! Framework layers: server and client spans for the frameworks a service is made of, each
//! behind its own cargo feature (nothing of them is built without it).
//!
//! | feature | what |
//! |---|---|
//! | `tower` | [`HttpServerLayer`]: a tower layer for HTTP servers (axum, hyper) |
//! | `axum` | the server layer names spans by axum's matched route (`GET /users/{id}`) |
//! | `reqwest` | [`TracingMiddleware`]: a `reqwest-middleware` middleware for HTTP clients |
//! | `tonic` | [`GrpcServerLayer`] and [`GrpcClientLayer`]: gRPC servers and clients |
//!
//! Every incoming context is read with godtrace's own W3C parser ([`crate::propagation`]): a
//! malformed `traceparent` starts a new trace and is counted in
//! [`Stats::contexts_rejected`](crate::Stats::contexts_rejected), never failing the request.
//! Outgoing calls carry the client span's context in `traceparent` (and the current baggage).
//!
//! # Spans
//! They follow the OpenTelemetry semantic conventions for HTTP and RPC:
//!
//! - **HTTP server**: kind SERVER, named `{method} {http.route}` (`{method}` without a
//!   route; `HTTP` for a method outside the known ones: the conventions' default ten, with
//!   `QUERY`, or those `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` lists at `init`).
//!   Attributes `http.request.method`
//!   (`_OTHER` and `http.request.method_original` for unknown methods), `url.path`,
//!   `url.scheme`, `http.route`, `http.response.status_code`, `server.address`,
//!   `server.port` (the client's original request's: from `Forwarded`, `X-Forwarded-Proto`
//!   and `X-Forwarded-Host`, else the URI and `Host`), `network.protocol.version`,
//!   `user_agent.original`. A 5xx response is Error with `error.type` the status code; a 4xx
//!   is not (the client's mistake). The span is current while the handler runs and while a
//!   response body of unknown length streams, so `#[traced]` functions nest under it (a
//!   body whose length is known up front is in memory and runs no code of the
//!   application's); it ends when the body has been sent. Histogram
//!   `http.server.request.duration` (seconds).
//! - **HTTP client**: kind CLIENT, named `{method}`, attributes `http.request.method`,
//!   `url.full` (`user:password@` replaced by `REDACTED:REDACTED@`, the values of signature
//!   query keys redacted), `server.address`, `server.port`, `http.response.status_code`,
//!   `network.protocol.version`; 4xx and 5xx are Error, transport failures too, with
//!   `error.type` `timeout`, `connect`, `redirect`, `body`, `decode` or `request`. It ends
//!   when the response head arrives. Histogram `http.client.request.duration` (seconds).
//! - **gRPC**: kind SERVER or CLIENT, named by `rpc.method`, the fully-qualified
//!   `{package.Service}/{Method}` (`grpc` when the path names no method), with the current
//!   RPC conventions' attributes (v1.39+): `rpc.system.name` = `grpc`, `rpc.method`
//!   (`_OTHER` and `rpc.method_original` for a path that names no method, and on a server
//!   for a call answered UNIMPLEMENTED: a method it does not define), `rpc.response.status_code`
//!   (the code's name), `server.address`, `server.port`. The status comes from `grpc-status`
//!   in the response head (trailers-only responses: errors) or in the trailers (a streamed or
//!   unary body, with a `content-length` or not; for gRPC-Web, the trailer frame that ends
//!   the body); a call that ends without one (dropped mid-stream) has no
//!   `rpc.response.status_code`. Histograms `rpc.server.call.duration` and
//!   `rpc.client.call.duration` (seconds; `rpc.system.name`, `rpc.method`,
//!   `rpc.response.status_code`, `error.type`, and for clients `server.address` and
//!   `server.port`).
//!
//! Durations use the buckets the conventions advise (5 ms to 10 s) unless
//! [`MetricsConfig::histogram_buckets`](crate::MetricsConfig::histogram_buckets) sets others.
//! A server request whose future is dropped before a response (client gone, an outer
//! timeout) ends its span with status Error and `error.type` `cancelled`; a client request
//! dropped by its caller ends with its status unset, no `error.type` (the HTTP conventions'
//! rule for an intentional cancellation) and `godtrace.cancelled = true`. Error statuses have
//! no description when it would only repeat the status code or `error.type`. Values taken
//! from the request (path, host, user agent, URL) are bounded, and hostile ones never panic.
#[cfg(feature = "tower")]
mod body;
mod exchange;
#[cfg(feature = "tonic")]
mod grpc;
#[cfg(feature = "tonic")]
mod grpc_methods;
mod grpc_web;
#[cfg(feature = "tower")]
mod http_server;
#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(feature = "axum")]
mod routes;
mod semconv;
#[cfg(feature = "tower")]
mod series;
#[cfg(feature = "tower")]
mod service;

/// The longest value a layer puts on a span without cutting it to the attribute limit where
/// it makes it (a host shared with a histogram, fixed words): cut to the limit when the span's
/// attributes are set, only under a limit shorter than this (`Span::fill_bounded_attributes`).
pub(crate) const MAX_UNCUT_VALUE_LEN: usize = semconv::MAX_NAME_PART_LEN;

#[cfg(feature = "tower")]
pub use body::TracedBody;
#[cfg(feature = "tonic")]
pub use grpc::{GrpcClientLayer, GrpcServerLayer};
#[cfg(feature = "tower")]
pub use http_server::HttpServerLayer;
#[cfg(feature = "reqwest")]
pub use reqwest::TracingMiddleware;
#[cfg(feature = "tower")]
pub use service::{ResponseFuture, TracedService};
