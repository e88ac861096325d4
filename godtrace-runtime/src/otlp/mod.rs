//! The OTLP plumbing both signals share: the export thread's runtime ([`thread`]), the
//! connection settings ([`client`]: gRPC channel, HTTP client, headers, TLS), the bodies of
//! requests ([`body`]: gzip, gRPC frames) and the transport that sends an encoded request over
//! them ([`transport`]). The span exporter
//! (`export::otlp`) and the metrics push (`metrics::otlp`) are built on them.
pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod thread;
pub(crate) mod transport;
