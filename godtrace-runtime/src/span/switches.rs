//! The switches the hot path reads on every call, set by `init` (or the test capture): whether
//! tracing is on, and whether recorded spans are made current in OpenTelemetry's context. (The
//! installed sampler is in `sampling`, with the rules it configures.) Kept here, not in the
//! provider, so that the hot path imports no wiring.
use std::sync::atomic::{AtomicBool, Ordering};

/// False before `init`, when disabled, and after shutdown.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Whether recorded spans are made current in OpenTelemetry's context too.
static OTEL_CONTEXT: AtomicBool = AtomicBool::new(false);

/// Whether traced calls currently record spans.
#[inline(always)]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns recording on or off.
pub(crate) fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether a recorded span is made current in OpenTelemetry's context too, so that other
/// OpenTelemetry code (a third-party tracer, `Context::current()`) sees it.
#[inline]
pub(crate) fn attaches_otel_context() -> bool {
    OTEL_CONTEXT.load(Ordering::Relaxed)
}

/// Sets [`attaches_otel_context`].
pub(crate) fn set_attaches_otel_context(on: bool) {
    OTEL_CONTEXT.store(on, Ordering::Relaxed);
}
