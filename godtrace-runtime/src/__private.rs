//! What `#[traced]` expands to refers to these items by absolute path. Not public API: names
//! and signatures here change without notice.
pub use crate::record::{
    DynError, ErrChain, ErrDebug, ErrDisplay, ErrErased, ErrOpaque, NotAResult, OkOfAny,
    OkOfResult, Outcome,
};
pub use crate::span::{
    CallSite, Instrumented, OpSpan, ParentContext, SiteOptions, instrument_future,
    instrument_future_of, run_sync, run_sync_args_at, run_sync_at,
};
pub use crate::value::{
    Probe, Recordable, ValueDebug, ValueOpaque, ValueTyped, assert_recordable,
    assert_recordable_type, push_attribute,
};
pub use opentelemetry::trace::SpanKind;
pub use opentelemetry::{KeyValue, Value};

/// Spans counted dropped so far, read without collecting the export lanes first (as
/// [`stats()`](crate::stats()) does, under the queue's lock): for the bench, which reads it between
/// bursts of recorded spans without taking part in the hand-off it measures. Lags the lanes'
/// own counts by up to one collection of the export thread.
pub fn spans_dropped_counted() -> u64 {
    crate::stats::COUNTERS
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// The parent of a call without `parent = ...`: the current context.
#[inline(always)]
pub fn no_parent() -> Option<opentelemetry::Context> {
    None
}

/// Lets an `impl Future` returned by a desugared `async fn` capture lifetime `'a` in every
/// edition (edition 2024 captures it anyway; earlier editions need the bound).
pub trait Captures<'a> {}
impl<T: ?Sized> Captures<'_> for T {}
