//! The OTLP plumbing both signals share: the export thread's runtime ([`thread`]) and the
//! transport ([`client`]: gRPC channel, HTTP client, headers, TLS). The span exporter
//! (`export::otlp`) and the metrics push (`metrics::otlp`) are built on them.
pub(crate) mod client;
pub(crate) mod thread;
