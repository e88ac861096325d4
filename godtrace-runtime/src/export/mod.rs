//! The sinks finished spans go to (see `span::sink`), and the SDK's view of them.
pub(crate) mod local;
pub(crate) mod sdk;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod batch;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod custom;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod encode;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod lanes;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod worker;
