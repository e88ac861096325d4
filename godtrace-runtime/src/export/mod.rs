//! Where finished spans go.
pub(crate) mod fanout;
pub(crate) mod local;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod batch;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod worker;

/// Hands a finished span of godtrace's own, which ran from `start` to `end`, to the installed
/// provider's sinks; `live` keeps its box when nothing takes it (a full queue counts it
/// dropped), for this thread's next span.
#[inline]
pub(crate) fn submit(
    live: &mut Option<crate::span::LiveBox>,
    start: crate::span::clock::Tick,
    end: crate::span::clock::Tick,
) {
    if let Some(fanout) = crate::provider::fanout() {
        fanout.on_own_end(live, start, end);
    }
}
