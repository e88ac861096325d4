//! The switches the hot path reads on every call, set by `init` (or the test capture): whether
//! tracing is on, and whether recorded spans are made current in OpenTelemetry's context. (The
//! installed sampler is in `sampling`, with the rules it configures.) Kept here, not in the
//! provider, so that the hot path imports no wiring.
use std::sync::atomic::{AtomicBool, Ordering};

/// False before `init`, when disabled, and after shutdown.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Whether recorded spans are made current in OpenTelemetry's context too.
static OTEL_CONTEXT: AtomicBool = AtomicBool::new(false);
/// Set in a child process that `fork` made of an initialised one (see [`set_forked`]).
static FORKED: AtomicBool = AtomicBool::new(false);

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

/// Whether this process is a child `fork` made after `init`: it has none of the parent's
/// threads (the export thread, the metrics thread), and a lock one of them held at the fork
/// stays held. Recording is off there, and nothing waits for those threads.
#[inline]
pub(crate) fn in_forked_child() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// Marks this process a forked child and turns recording off: run in the child right after
/// `fork` (two atomic stores, which a forked child of a threaded process may make).
#[cfg_attr(
    not(unix),
    allow(dead_code, reason = "fork is watched for on Unix only")
)]
pub(crate) fn set_forked() {
    FORKED.store(true, Ordering::Relaxed);
    ENABLED.store(false, Ordering::Relaxed);
}
