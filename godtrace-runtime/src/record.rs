//! How a finished call's outcome is read: `Err` values (recognised by type, through any alias)
//! and the `Ok` value for `include_result`. The macro calls these through autoref, so the most
//! specific impl that applies to the concrete type wins, with no specialization.
//!
//! The user's `Display` and `Debug` run only when the span is recording, through
//! [`value::display_text`] and [`value::debug_text`], which bound the text and catch a panic.
use crate::span::OpSpan;
use crate::value;
use std::fmt;

/// Wraps a reference to a function's return value for the probes below.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// `Err(e)` with `e: Display`: status Error, description `e.to_string()`.
pub trait ErrDisplay {
    /// Records the error, if any, on `span`.
    fn __godtrace_error(&self, span: &OpSpan);
}
impl<T, E: fmt::Display> ErrDisplay for &&&Outcome<'_, Result<T, E>> {
    fn __godtrace_error(&self, span: &OpSpan) {
        if let Err(e) = self.0 {
            span.record_error(std::any::type_name::<E>(), || value::display_text(e));
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
            span.record_error(std::any::type_name::<E>(), || value::debug_text(e));
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
