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
    assert_recordable_type, push_attribute, push_field,
};
/// The traits the expansion's autoref calls choose among, imported as `use value_traits::*`
/// (and so on): one glob of unnamed imports counts as used whichever trait a call picks, where
/// a list would leave the others unused, and the `#[allow(unused_imports)]` that would need is
/// refused under a `#![forbid(unused_imports)]` in the user's crate.
pub mod value_traits {
    pub use crate::value::{ValueDebug as _, ValueOpaque as _, ValueTyped as _};
}

/// See [`value_traits`]: the choice of a returned value's recorded part.
pub mod ok_traits {
    pub use crate::record::{OkOfAny as _, OkOfResult as _};
}

/// See [`value_traits`]: the choice of how a returned error is recorded.
pub mod err_traits {
    pub use crate::record::{
        ErrChain as _, ErrDebug as _, ErrDisplay as _, ErrErased as _, ErrOpaque as _,
        NotAResult as _,
    };
}

/// A value of any type, for the expansion's type pin: a branch that is never taken returns
/// it, which fixes the body's type to the declared one without writing code the compiler
/// calls unreachable (`let x: T = loop {}` is, and `#[allow(unreachable_code)]` is refused
/// under the user's `forbid`).
#[inline(always)]
pub fn type_pin<T>() -> T {
    unreachable!("the type pin of `#[traced]` is in a branch never taken")
}

/// The `alloc` items the expansion names: through here, a `#![no_std]` crate (which cannot
/// name `std`, nor `alloc` without `extern crate alloc`) can be traced.
pub use std::boxed::Box;
pub use std::vec::Vec;

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

/// Lets an `impl Future` returned by a desugared `async fn` capture the lifetimes named in
/// `L` (`&'a ()`, or a tuple `(&'a (), &'b ())`) in every edition (edition 2024 captures them anyway;
/// earlier editions need the bound). One bound for all of them: an `impl Trait` of a trait's
/// method may not carry two bounds of one trait that differ only in a lifetime.
pub trait Captures<L: ?Sized> {}
impl<T: ?Sized, L: ?Sized> Captures<L> for T {}
