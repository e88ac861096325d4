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

/// Hands a finished span of godtrace's own, built by `finish` only if something will take
/// it, to the installed provider's sinks.
#[inline]
pub(crate) fn submit(finish: impl FnOnce() -> crate::span::Finished) {
    if let Some(fanout) = crate::provider::fanout() {
        fanout.on_own_end(finish);
    }
}
