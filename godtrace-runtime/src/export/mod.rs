//! Where finished spans go.
pub(crate) mod fanout;
pub(crate) mod local;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod batch;
#[cfg(feature = "otlp-http")]
mod http_client;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod worker;
