//! The switches the hot path reads on every call, set by `init` (or the test capture): whether
//! tracing is on, and whether recorded spans are made current in OpenTelemetry's context. (The
//! installed sampler is in `sampling`, with the rules it configures.) Kept here, not in the
//! provider, so that the hot path imports no wiring.
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// [`ON`] (clear before `init`, when disabled, and after shutdown) and [`PASSES_CONTEXT`],
/// in one byte so that the off path of a traced future reads both with one load.
static STATE: AtomicU8 = AtomicU8::new(0);
/// The bit of [`STATE`] that says traced calls record.
const ON: u8 = 1;
/// The bit of [`STATE`] set once godtrace has passed a context through while off (see
/// [`set_passes_context_on`]).
const PASSES_CONTEXT: u8 = 2;
/// Whether recorded spans are made current in OpenTelemetry's context too.
static OTEL_CONTEXT: AtomicBool = AtomicBool::new(false);
/// Set in a child process that `fork` made of an initialised one (see [`set_forked`]).
static FORKED: AtomicBool = AtomicBool::new(false);

/// Whether traced calls currently record spans.
#[inline(always)]
pub fn is_enabled() -> bool {
    STATE.load(Ordering::Relaxed) & ON != 0
}

/// Off, and no context ever passed through while off (both bits of [`STATE`] clear, in one
/// load: the off path of a traced future).
#[inline(always)]
pub(crate) fn is_idle() -> bool {
    STATE.load(Ordering::Relaxed) == 0
}

/// Turns recording on or off.
pub(crate) fn set_enabled(on: bool) {
    if on {
        STATE.fetch_or(ON, Ordering::Relaxed);
    } else {
        STATE.fetch_and(!ON, Ordering::Relaxed);
    }
}

/// Notes, for good, that godtrace has made a context current while off (an incoming
/// request's, given to a layer or `parent = ..`): a traced future made while off then looks
/// for one to take along (see `Instrumented`, and [`is_idle`]). Until then, the off path
/// reads nothing else. Written once, not on every pass.
pub(crate) fn set_passes_context_on() {
    if STATE.load(Ordering::Relaxed) & PASSES_CONTEXT == 0 {
        STATE.fetch_or(PASSES_CONTEXT, Ordering::Relaxed);
    }
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
/// `fork` (an atomic store and an atomic `and`, lock-free operations a forked child of a
/// threaded process may make).
#[cfg_attr(
    not(unix),
    allow(dead_code, reason = "fork is watched for on Unix only")
)]
pub(crate) fn set_forked() {
    FORKED.store(true, Ordering::Relaxed);
    STATE.fetch_and(!ON, Ordering::Relaxed);
}
