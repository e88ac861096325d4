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

/// Whether a finished span of godtrace's own would be taken now; when only a full queue would
/// take it, it is counted dropped here, before its record is handed over.
#[inline]
pub(crate) fn accepts_own() -> bool {
    crate::provider::fanout().is_some_and(fanout::Fanout::accepts_own)
}

/// Hands a finished span of godtrace's own to the installed provider's sinks.
#[inline]
pub(crate) fn submit(span: crate::span::Finished) {
    if let Some(fanout) = crate::provider::fanout() {
        fanout.on_own_end(span);
    }
}
