//! Turning captured Rust values into bounded OpenTelemetry attribute values.
//!
//! Integers stay integers, floats doubles, `bool` bool; strings and chars become strings and
//! anything else its `Debug` text. Every string is cut at [`max_attribute_len`] bytes.
use opentelemetry::{StringValue, Value};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) const DEFAULT_MAX_ATTRIBUTE_LEN: usize = 1024;
/// Appended to a value that was cut, so a reader knows it is not whole.
pub(crate) const TRUNCATION_MARKER: &str = "…[truncated]";

static MAX_ATTRIBUTE_LEN: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_ATTRIBUTE_LEN);

/// The longest attribute value godtrace records, in bytes (set by
/// [`Config::max_attribute_len`](crate::Config::max_attribute_len); default 1024).
pub fn max_attribute_len() -> usize {
    MAX_ATTRIBUTE_LEN.load(Ordering::Relaxed)
}

pub(crate) fn set_max_attribute_len(bytes: usize) {
    MAX_ATTRIBUTE_LEN.store(bytes, Ordering::Relaxed);
}

/// Cuts `s` to the limit on a char boundary, marking the cut.
pub(crate) fn bounded_string(mut s: String) -> Value {
    let limit = max_attribute_len();
    if s.len() > limit {
        s.truncate(floor_char_boundary(&s, limit));
        s.push_str(TRUNCATION_MARKER);
    }
    Value::String(StringValue::from(s))
}

pub(crate) fn bounded_str(s: &str) -> Value {
    let limit = max_attribute_len();
    if s.len() > limit {
        let mut cut = s[..floor_char_boundary(s, limit)].to_owned();
        cut.push_str(TRUNCATION_MARKER);
        Value::String(StringValue::from(cut))
    } else {
        Value::String(StringValue::from(s.to_owned()))
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A `fmt::Write` that stops the formatter once the limit is passed, so a huge `Debug` value
/// costs at most the limit in memory and time.
struct BoundedWriter {
    buf: String,
    limit: usize,
}

impl fmt::Write for BoundedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() > self.limit {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// The `Debug` (or `Display`) text of a value, bounded.
pub(crate) fn bounded_fmt(args: fmt::Arguments<'_>) -> Value {
    let limit = max_attribute_len();
    let mut w = BoundedWriter {
        buf: String::new(),
        limit,
    };
    // An error here only means the limit was reached; what was written is kept.
    let _ = w.write_fmt(args);
    bounded_string(w.buf)
}

/// Values recorded with their own OpenTelemetry type rather than as `Debug` text.
pub trait Typed {
    /// The attribute value.
    fn typed_value(&self) -> Value;
}

macro_rules! typed_int {
    ($($t:ty),*) => {$(
        impl Typed for $t {
            #[allow(clippy::cast_lossless, clippy::unnecessary_cast)]
            fn typed_value(&self) -> Value { Value::I64(*self as i64) }
        }
    )*};
}
typed_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! typed_wide_int {
    ($($t:ty),*) => {$(
        impl Typed for $t {
            // Too large for an OpenTelemetry int: keep the exact digits rather than wrap.
            fn typed_value(&self) -> Value {
                match i64::try_from(*self) {
                    Ok(v) => Value::I64(v),
                    Err(_) => Value::String(StringValue::from(self.to_string())),
                }
            }
        }
    )*};
}
typed_wide_int!(u64, usize, isize, i128, u128);

impl Typed for f32 {
    fn typed_value(&self) -> Value {
        Value::F64(f64::from(*self))
    }
}
impl Typed for f64 {
    fn typed_value(&self) -> Value {
        Value::F64(*self)
    }
}
impl Typed for bool {
    fn typed_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl Typed for char {
    fn typed_value(&self) -> Value {
        Value::String(StringValue::from(self.to_string()))
    }
}
impl Typed for str {
    fn typed_value(&self) -> Value {
        bounded_str(self)
    }
}
impl Typed for String {
    fn typed_value(&self) -> Value {
        bounded_str(self)
    }
}
impl Typed for std::borrow::Cow<'_, str> {
    fn typed_value(&self) -> Value {
        bounded_str(self)
    }
}
impl<T: Typed + ?Sized> Typed for &T {
    fn typed_value(&self) -> Value {
        (**self).typed_value()
    }
}
impl<T: Typed + ?Sized> Typed for &mut T {
    fn typed_value(&self) -> Value {
        (**self).typed_value()
    }
}
impl<T: Typed + ?Sized> Typed for Box<T> {
    fn typed_value(&self) -> Value {
        (**self).typed_value()
    }
}

/// Wraps a reference to a captured value; the method the macro calls on `&&Probe(&v)` is
/// picked by autoref: [`ValueTyped`] first, then [`ValueDebug`], then [`ValueOpaque`].
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// First choice: the value has an OpenTelemetry type of its own.
pub trait ValueTyped {
    /// The attribute value.
    fn __godtrace_value(&self) -> Value;
}
impl<T: Typed + ?Sized> ValueTyped for &&Probe<'_, T> {
    #[inline]
    fn __godtrace_value(&self) -> Value {
        self.0.typed_value()
    }
}

/// Second choice: the value's `Debug` text.
pub trait ValueDebug {
    /// The attribute value.
    fn __godtrace_value(&self) -> Value;
}
impl<T: fmt::Debug + ?Sized> ValueDebug for &Probe<'_, T> {
    #[inline]
    fn __godtrace_value(&self) -> Value {
        bounded_fmt(format_args!("{:?}", self.0))
    }
}

/// Last resort, never reached in a program that compiles: the macro also asserts
/// [`Recordable`], whose error message is the one the user sees. This level only keeps the
/// compiler from adding a second, less helpful error.
pub trait ValueOpaque {
    /// The attribute value.
    fn __godtrace_value(&self) -> Value;
}
impl<T: ?Sized> ValueOpaque for Probe<'_, T> {
    fn __godtrace_value(&self) -> Value {
        Value::String(StringValue::from(std::any::type_name::<T>()))
    }
}

/// Implemented by every type `#[traced]` can record: all `Debug` types (which covers the typed
/// ones too).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span attribute because it does not implement `Debug`",
    label = "not recordable",
    note = "name it in `skip(...)` to leave it out of the span, or implement `Debug` for it"
)]
pub trait Recordable {}
impl<T: fmt::Debug + ?Sized> Recordable for T {}

/// Compile-time check the macro emits for each captured parameter, naming its type.
#[inline(always)]
pub fn assert_recordable_type<T: Recordable + ?Sized>() {}

/// The same check for a value whose type cannot be named (`impl Trait` parameters, results).
#[inline(always)]
pub fn assert_recordable<T: Recordable + ?Sized>(_: &T) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_cut_on_a_char_boundary_with_a_marker() {
        let s = "é".repeat(1000); // 2000 bytes
        let Value::String(v) = bounded_str(&s) else {
            panic!("not a string")
        };
        let v = v.as_str();
        assert!(v.ends_with(TRUNCATION_MARKER));
        let body = v.strip_suffix(TRUNCATION_MARKER).unwrap();
        assert_eq!(body.len(), 1024);
        assert!(body.chars().all(|c| c == 'é'));
    }

    #[test]
    fn short_strings_are_kept_whole() {
        assert_eq!(bounded_str("abc"), Value::from("abc"));
    }

    #[test]
    fn huge_debug_output_stops_at_the_limit() {
        let v = vec![7u8; 100_000];
        let Value::String(s) = bounded_fmt(format_args!("{v:?}")) else {
            panic!()
        };
        assert!(s.as_str().len() <= 1024 + TRUNCATION_MARKER.len());
    }

    #[test]
    fn wide_integers_that_do_not_fit_keep_their_digits() {
        assert_eq!(u64::MAX.typed_value(), Value::from(u64::MAX.to_string()));
        assert_eq!(42u64.typed_value(), Value::I64(42));
    }
}
