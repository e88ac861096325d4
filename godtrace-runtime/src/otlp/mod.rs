//! The OTLP plumbing both signals share: the export thread's runtime ([`thread`]), the
//! connection settings ([`client`]: headers, TLS, proxies), the gRPC connection
//! (`connection`), the HTTP/1.1 client (`http1`), the root certificates (`roots`), the bodies of requests ([`body`]: gzip, gRPC frames) and the transport
//! that sends an encoded request over them ([`transport`]). The span exporter (`export::otlp`)
//! and the metrics push (`metrics::otlp`) are built on them.
pub(crate) mod answer;
pub(crate) mod body;
pub(crate) mod client;
#[cfg(feature = "otlp-grpc")]
pub(crate) mod connection;
pub(crate) mod gzip;
#[cfg(feature = "otlp-http")]
pub(crate) mod http1;
pub(crate) mod retry;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod roots;
pub(crate) mod thread;
pub(crate) mod transport;

/// The most a request's encoded spans or metrics take, about: more go in further requests.
/// Receivers refuse a larger message whole (gRPC's default bound on a message received, which
/// the OpenTelemetry Collector keeps, is 4 MiB; its HTTP receiver's, 20 MiB), and a batch of
/// spans that record their arguments, or the metrics of a service with a few thousand series,
/// reach that: each request keeps within this, but for a span (or a metric's point) larger
/// than it alone, which goes in a request of its own.
pub(crate) const MAX_REQUEST_BYTES: usize = 1 << 20;
