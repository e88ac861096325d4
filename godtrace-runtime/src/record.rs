//! How a finished call's outcome is read: `Err` values (recognised by type, through any alias)
//! and the `Ok` value for `include_result`. The macro calls these through autoref, so the most
//! specific impl that applies to the concrete type wins, with no specialization.
//!
//! The user's `Display` and `Debug` run only when the span is recording, through
//! [`value::error_display_text`] and [`value::error_debug_text`], which bound the text and catch a panic;
//! the one exception is naming a type-erased error (see [`error_type`]), which the duration
//! histogram's label needs on every failed call, and which catches a panic too.
//!
//! `error.type`, the span attribute and the histogram label, is one low-cardinality value per
//! kind of failure, as OpenTelemetry's semantic conventions ask: the `Err` type's name, or, for
//! a type-erased error (`Box<dyn Error>`, `anyhow::Error`), the name of the innermost cause
//! (see [`error_type`]). The status description of an error keeps its `source()` chain, joined
//! with ": " (anyhow's `{:#}` form).
pub(crate) mod error_type;

use crate::span::OpSpan;
use crate::value;
pub use error_type::DynError;
use std::error::Error;
use std::fmt;
use std::ops::Deref;

/// Wraps a reference to a function's return value for the probes below.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// `Err(e)` with `e: Error`: status Error, description the `source()` chain of `e`.
pub trait ErrChain {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E: Error> ErrChain for &&&&&Outcome<'_, Result<T, E>> {
    fn __godtrace_error(&self, span: &OpSpan) {
        if let Err(e) = self.0 {
            span.record_error(std::any::type_name::<E>(), || {
                value::error_display_text(&error_type::Chain(e))
            });
        }
    }
}

/// `Err(e)` with `e` a type-erased error (it derefs to `dyn Error`: `Box<dyn Error>`,
/// `anyhow::Error`, `Arc<dyn Error>`): `error.type` names its innermost cause, the description
/// is its `source()` chain.
pub trait ErrErased {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E> ErrErased for &&&&Outcome<'_, Result<T, E>>
where
    E: Deref,
    E::Target: DynError,
{
    fn __godtrace_error(&self, span: &OpSpan) {
        if let Err(e) = self.0 {
            // Its `Deref` and `source()` are the user's code, run on every failed call (the
            // histogram's `error.type`): a panic there is caught, as a panicking `Display` is.
            let erased = value::caught(|| {
                let e = e.deref().as_dyn_error();
                (e, error_type::erased(e))
            });
            match erased {
                Some((e, name)) => {
                    span.record_error(name, || value::error_display_text(&error_type::Chain(e)));
                }
                None => span.record_error(error_type::OTHER, || value::ERROR_PANICKED.to_owned()),
            }
        }
    }
}

/// `Err(e)` with `e: Display`: status Error, description `e.to_string()`.
pub trait ErrDisplay {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E: fmt::Display> ErrDisplay for &&&Outcome<'_, Result<T, E>> {
    fn __godtrace_error(&self, span: &OpSpan) {
        if let Err(e) = self.0 {
            span.record_error(std::any::type_name::<E>(), || value::error_display_text(e));
        }
    }
}

/// `Err(e)` with `e: Debug` only: the description is `e`'s `Debug` text.
pub trait ErrDebug {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E: fmt::Debug> ErrDebug for &&Outcome<'_, Result<T, E>> {
    fn __godtrace_error(&self, span: &OpSpan) {
        if let Err(e) = self.0 {
            span.record_error(std::any::type_name::<E>(), || value::error_debug_text(e));
        }
    }
}

/// `Err(e)` with neither: the description is the type name.
pub trait ErrOpaque {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E> ErrOpaque for &Outcome<'_, Result<T, E>> {
    fn __godtrace_error(&self, span: &OpSpan) {
        if self.0.is_err() {
            let ty = std::any::type_name::<E>();
            span.record_error(ty, || ty.to_owned());
        }
    }
}

/// Any other return type never fails.
pub trait NotAResult {
    /// Does nothing.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T: ?Sized> NotAResult for Outcome<'_, T> {
    #[inline(always)]
    fn __godtrace_error(&self, _: &OpSpan) {}
}

/// For `include_result`: a `Result`'s `Ok` value, `None` for `Err`.
pub trait OkOfResult<'a, T> {
    /// The value to record.
    fn __godtrace_ok(&self) -> Option<&'a T>;
}
impl<'a, T, E> OkOfResult<'a, T> for &&Outcome<'a, Result<T, E>> {
    #[inline]
    fn __godtrace_ok(&self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

/// For `include_result`: any other value is recorded as it is.
pub trait OkOfAny<'a, T: ?Sized> {
    /// The value to record.
    fn __godtrace_ok(&self) -> Option<&'a T>;
}
impl<'a, T: ?Sized> OkOfAny<'a, T> for &Outcome<'a, T> {
    #[inline]
    fn __godtrace_ok(&self) -> Option<&'a T> {
        Some(self.0)
    }
}
