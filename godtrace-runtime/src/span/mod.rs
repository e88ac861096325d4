//! The hot path: starting and ending the span of one traced call.
//!
//! Everything the macro generates goes through [`OpSpan::start`], [`run_sync`],
//! [`run_sync_at`] and [`Instrumented`] (in `future`); nothing else in the crate starts or
//! ends an operation's span, so this module is the one to profile or replace (`op` holds
//! [`OpSpan`]; this file only declares the parts, and none of them imports it). It imports
//! no wiring: what `init` installed is read through `switches` (on/off, OpenTelemetry
//! context), `sampling` (the sampler) and `sink` (where finished spans go).
//!
//! The parts that start and end a span are `#[inline(always)]` in release builds only
//! (`cfg_attr(not(debug_assertions), ..)`) and out of line in debug builds: at `opt-level = 0`
//! every temporary of inlined code keeps its own stack slot, and the frame that stays on the
//! stack while a traced body runs took 5 to 10 KiB, enough for a recursion of traced functions
//! to overflow (`tests/isolated/stack_depth.rs`).
mod carried;
pub(crate) mod clock;
mod current;
mod future;
mod live;
mod manual;
mod op;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod record_ring;
mod sampled_out;
pub(crate) mod sampling;
pub(crate) mod sink;
mod site;
pub(crate) mod switches;

pub(crate) use carried::FullTraceState;
#[cfg(feature = "tracing")]
pub(crate) use current::Reattached;
pub(crate) use current::attach_again;
pub(crate) use current::{
    Current, context as current_context, otel_context_usable, own_span_under,
    span_context as current_span_context, with_current,
};
pub use future::{Instrumented, instrument_future, instrument_future_of};
pub(crate) use live::Live;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use live::{
    Finished, LiveBox, Name, Recorded, SCOPE, return_empty_spares, return_spares, set_max_returned,
};
pub(crate) use manual::{DetachedSpan, EnteredSpan};
pub use op::{OpSpan, ParentContext, run_sync, run_sync_args_at, run_sync_at};
pub(crate) use sampled_out::RANDOM;
pub use site::{CallSite, SiteOptions};

/// Calibrates the clock and anchors it to the wall clock now, at install, rather than in the
/// first traced call.
pub(crate) fn warm_up() {
    let _ = clock::wall(clock::now());
}

#[cfg(test)]
mod tests;
