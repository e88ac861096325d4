//! Turning captured Rust values into bounded OpenTelemetry attribute values.
//!
//! Integers stay integers, floats doubles, `bool` bool; strings and chars become strings and
//! anything else its `Debug` text. Every string is cut to at most [`max_attribute_len`] bytes,
//! the marker of a cut included.
use opentelemetry::{Array, KeyValue, StringValue, Value};
use std::any::Any;
use std::borrow::Cow;
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

/// The longest attribute key godtrace records, in bytes: longer keys (given to the manual API,
/// to events or to metrics) are cut on a char boundary, without a marker.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 256;

/// Recorded instead of a value whose `Debug` implementation panicked.
pub(crate) const DEBUG_PANICKED: &str = "<Debug panicked>";
/// Recorded instead of an error whose `Display` implementation panicked.
pub(crate) const DISPLAY_PANICKED: &str = "<Display panicked>";
/// Recorded instead of a type-erased error whose `Deref` or `source()` panicked.
pub(crate) const ERROR_PANICKED: &str = "<Error panicked>";
/// Recorded instead of a `fields(..)` entry whose expression panicked.
pub(crate) const FIELD_PANICKED: &str = "<field panicked>";

/// Cuts `s` to the limit on a char boundary, marking the cut.
pub(crate) fn bounded_str(s: &str) -> Value {
    Value::String(StringValue::from(bounded_text(s, max_attribute_len())))
}

/// A `'static` text as a value bounded by the limit: borrowed while within it (a call site's
/// `code.*` text, an `error.type`).
pub(crate) fn bounded_static(s: &'static str) -> Value {
    if s.len() <= max_attribute_len() {
        Value::from(s)
    } else {
        bounded_str(s)
    }
}

/// `attribute` with its value bounded by the limit ([`bounded_value`]): what a span keeps of an
/// attribute set at run time, whoever set it.
pub(crate) fn bounded_attribute(mut attribute: KeyValue) -> KeyValue {
    bound_in_place(&mut attribute);
    attribute
}

/// [`bounded_attribute`] in place (an attribute already in a span's list).
pub(crate) fn bound_in_place(attribute: &mut KeyValue) {
    let limit = max_attribute_len();
    if !is_within(&attribute.value, limit) {
        let value = std::mem::replace(&mut attribute.value, Value::Bool(false));
        attribute.value = bounded_value(value, limit);
    }
}

/// `s` cut to at most `limit` bytes on a char boundary, ending with the marker when it was cut
/// (the marker within the limit). Only the part kept is copied.
pub(crate) fn bounded_text(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_owned();
    }
    let (room, marker) = cut_room(limit);
    let kept = &s[..floor_char_boundary(s, room)];
    let mut cut = String::with_capacity(kept.len() + marker.len());
    cut.push_str(kept);
    cut.push_str(marker);
    cut
}

/// The bytes of a value cut at `limit` that are kept, and the marker that follows them: the
/// specification bounds the whole value by the limit, so the marker takes its place within it.
/// A limit shorter than the marker keeps `limit` bytes, unmarked.
fn cut_room(limit: usize) -> (usize, &'static str) {
    match limit.checked_sub(TRUNCATION_MARKER.len()) {
        Some(room) => (room, TRUNCATION_MARKER),
        None => (limit, ""),
    }
}

/// `value` with its text bounded: strings as [`bounded_text`]; arrays keep at most
/// `limit / 8` elements (at least one) and `limit` bytes of text in all; other values as they
/// are.
pub(crate) fn bounded_value(value: Value, limit: usize) -> Value {
    match value {
        Value::String(s) if s.as_str().len() > limit => bounded_value_of(&Value::String(s), limit),
        Value::Array(array) => Value::Array(bounded_array(&array, limit)),
        other => other,
    }
}

/// [`bounded_value`] of a borrowed value: only what is kept is copied.
pub(crate) fn bounded_value_of(value: &Value, limit: usize) -> Value {
    match value {
        Value::String(s) if s.as_str().len() > limit => {
            Value::String(StringValue::from(bounded_text(s.as_str(), limit)))
        }
        Value::Array(array) => Value::Array(bounded_array(array, limit)),
        other => other.clone(),
    }
}

/// Whether [`bounded_value`] would keep `value` as it is.
pub(crate) fn is_within(value: &Value, limit: usize) -> bool {
    match value {
        Value::String(s) => s.as_str().len() <= limit,
        // Rare in attributes: always copied through `bounded_array` rather than measured.
        Value::Array(_) => false,
        _ => true,
    }
}

fn bounded_array(array: &Array, limit: usize) -> Array {
    let max_elements = (limit / 8).max(1);
    let first = |len: usize| len.min(max_elements);
    match array {
        Array::Bool(v) => Array::Bool(v[..first(v.len())].to_vec()),
        Array::I64(v) => Array::I64(v[..first(v.len())].to_vec()),
        Array::F64(v) => Array::F64(v[..first(v.len())].to_vec()),
        Array::String(v) => Array::String(bounded_strings(v, max_elements, limit)),
        // A kind of array added to OpenTelemetry later: its text form, bounded.
        other => Array::String(vec![StringValue::from(bounded_text(
            &other.to_string(),
            limit,
        ))]),
    }
}

/// The first strings of `strings`, at most `max_elements` of them and `limit` bytes in all;
/// the last one kept may be cut. One cut to nothing is left out (an empty string is not what
/// was recorded), the first too: under a limit of 0, or shorter than its first character, the
/// array is empty.
fn bounded_strings(strings: &[StringValue], max_elements: usize, limit: usize) -> Vec<StringValue> {
    let mut room = limit;
    let mut kept = Vec::with_capacity(strings.len().min(max_elements));
    for s in strings.iter().take(max_elements) {
        if s.as_str().len() <= room {
            room -= s.as_str().len();
            kept.push(s.clone());
        } else {
            let cut = bounded_text(s.as_str(), room);
            if !cut.is_empty() {
                kept.push(StringValue::from(cut));
            }
            break;
        }
    }
    kept
}

/// The least a span or event name is cut at, whatever the attribute limit: OpenTelemetry's
/// limit is on attribute values, and a small one (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=10`)
/// must not cut names to nothing.
pub(crate) const MIN_NAME_LIMIT: usize = 256;

/// The longest span or event name kept, in bytes: the attribute limit, or [`MIN_NAME_LIMIT`],
/// the larger.
pub(crate) fn max_name_len() -> usize {
    max_attribute_len().max(MIN_NAME_LIMIT)
}

/// How much of a log message is read, in names' lengths: the credentials in its URLs are
/// redacted in what was read ([`crate::redact::message`]) before it is cut as a name, so that a
/// cut inside a URL (past its user-info's `@`, or in an encoded URL in its query) leaks no part
/// of a secret unless the URL is longer than what is read past the name's end.
#[cfg(any(feature = "tracing", feature = "log"))]
const MESSAGE_READ: usize = 4;

/// The most of a log message read: [`MESSAGE_READ`] names' lengths.
#[cfg(any(feature = "tracing", feature = "log"))]
fn message_read_len() -> usize {
    max_name_len().saturating_mul(MESSAGE_READ)
}

/// A `tracing` message given as text, as read to be an event's name (see [`MESSAGE_READ`]).
#[cfg(feature = "tracing")]
pub(crate) fn message_text(s: &str) -> String {
    bounded_text(s, message_read_len())
}

/// The `Display` text of a `log` record's message, as read to be an event's name (see
/// [`MESSAGE_READ`]): the user's `Display` stops there.
#[cfg(feature = "log")]
pub(crate) fn message_display<T: fmt::Display + ?Sized>(value: &T) -> String {
    bounded_fmt_to(
        format_args!("{value}"),
        message_read_len(),
        DISPLAY_PANICKED,
    )
}

/// The `Debug` text of a `tracing` message (`format_args!`'s `Debug` is the formatted text), as
/// read to be an event's name (see [`MESSAGE_READ`]).
#[cfg(feature = "tracing")]
pub(crate) fn message_debug<T: fmt::Debug + ?Sized>(value: &T) -> String {
    debug_prefix(value, message_read_len())
}

/// A span or event name as kept: at most the attribute limit (or [`MIN_NAME_LIMIT`], the
/// larger), cut like a value (a name built from a URL or an error's text could otherwise hold
/// any amount of memory until exported). Only an over-long name is copied.
pub(crate) fn bounded_name(name: Cow<'static, str>) -> Cow<'static, str> {
    let limit = max_name_len();
    if name.len() <= limit {
        name
    } else {
        Cow::Owned(bounded_text(&name, limit))
    }
}

/// The first [`MAX_ATTRIBUTE_KEY_LEN`] bytes of `key`, cut on a char boundary.
pub(crate) fn key_prefix(key: &str) -> &str {
    &key[..floor_char_boundary(key, MAX_ATTRIBUTE_KEY_LEN)]
}

/// `key` cut to [`MAX_ATTRIBUTE_KEY_LEN`] bytes on a char boundary; a borrowed key stays
/// borrowed.
pub(crate) fn bounded_key(key: Cow<'static, str>) -> Cow<'static, str> {
    if key.len() <= MAX_ATTRIBUTE_KEY_LEN {
        return key;
    }
    let at = floor_char_boundary(&key, MAX_ATTRIBUTE_KEY_LEN);
    match key {
        Cow::Borrowed(k) => Cow::Borrowed(&k[..at]),
        Cow::Owned(mut k) => {
            k.truncate(at);
            Cow::Owned(k)
        }
    }
}

/// How many attributes are looked up one by one before a hash index serves (see
/// [`EventAttributes::gather`]).
const INDEXED_PAST: usize = 32;

/// An event's attributes: at most the event attribute count limit
/// (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, default 128), and how many more were dropped.
pub(crate) struct EventAttributes {
    kept: Vec<KeyValue>,
    dropped: u32,
}

impl EventAttributes {
    /// `attributes` one per key, each new key kept while the limit leaves room and a key given
    /// again taking its new value (as a span's attribute set again does), after `dropped`
    /// others were left out already; keys are looked up in a hash index once past a few, so
    /// that the work stays linear whatever the configured limit.
    pub(crate) fn gather(
        attributes: impl IntoIterator<Item = KeyValue>,
        dropped: usize,
    ) -> EventAttributes {
        let limit = crate::config::limits::event_attributes();
        let mut kept: Vec<KeyValue> = Vec::new();
        let mut index: Option<std::collections::HashMap<opentelemetry::Key, usize>> = None;
        let mut dropped = dropped;
        for attribute in attributes {
            if attribute.key.as_str().is_empty() {
                dropped = dropped.saturating_add(1);
                continue;
            }
            let found = match &index {
                Some(index) => index.get(&attribute.key).copied(),
                None => kept.iter().position(|k| k.key == attribute.key),
            };
            match found {
                Some(at) => kept[at].value = attribute.value,
                None if kept.len() < limit => {
                    if let Some(index) = &mut index {
                        index.insert(attribute.key.clone(), kept.len());
                    }
                    kept.push(attribute);
                    if index.is_none() && kept.len() > INDEXED_PAST {
                        let keys = kept.iter().enumerate().map(|(at, k)| (k.key.clone(), at));
                        index = Some(keys.collect());
                    }
                }
                None => dropped = dropped.saturating_add(1),
            }
        }
        EventAttributes {
            kept,
            dropped: u32::try_from(dropped).unwrap_or(u32::MAX),
        }
    }

    /// The value kept for `key`, if any.
    #[cfg(feature = "tracing")]
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.kept
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// The attributes kept, and the count of those dropped.
    pub(crate) fn into_parts(self) -> (Vec<KeyValue>, u32) {
        (self.kept, self.dropped)
    }
}

impl From<Vec<KeyValue>> for EventAttributes {
    fn from(kept: Vec<KeyValue>) -> EventAttributes {
        EventAttributes::gather(kept, 0)
    }
}

/// Leaves one attribute per key in `attributes`, with the last value given for it, where the
/// key was first given (the specification: a key given again replaces the value; OTLP's
/// attributes are a map, whose repeated keys a backend may reject), and none with an empty
/// key (the specification: a key is a non-empty string). Returns how many empty keys were left
/// out. Quadratic in the count, which the caller bounds (a `tracing` call site's fields).
#[cfg(feature = "tracing")]
pub(crate) fn one_per_key(attributes: &mut Vec<KeyValue>) -> usize {
    if plainly_one_per_key(attributes) {
        return 0;
    }
    let mut keyless = 0;
    let mut kept = 0;
    for at in 0..attributes.len() {
        let key = attributes[at].key.as_str();
        if key.is_empty() {
            keyless += 1;
            continue;
        }
        if let Some(first) = attributes[..kept]
            .iter()
            .position(|a| a.key.as_str() == key)
        {
            let value = std::mem::replace(&mut attributes[at].value, Value::Bool(false));
            attributes[first].value = value;
            continue;
        }
        attributes.swap(kept, at);
        kept += 1;
    }
    attributes.truncate(kept);
    keyless
}

/// Whether every key of `attributes` is non-empty and no two are the same, told without
/// comparing keys: each key's length and end bytes pick one bit of 64, and no bit is picked
/// twice. `false` (the keys are then compared) when two keys pick the same bit, as equal keys
/// do, or one is empty.
#[cfg(feature = "tracing")]
fn plainly_one_per_key(attributes: &[KeyValue]) -> bool {
    let mut picked = 0u64;
    for attribute in attributes {
        let key = attribute.key.as_str().as_bytes();
        let (Some(&first), Some(&last)) = (key.first(), key.last()) else {
            return false;
        };
        let mixed = (key.len() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(first) << 8 | u64::from(last))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bit = 1u64 << (mixed >> 58);
        if picked & bit != 0 {
            return false;
        }
        picked |= bit;
    }
    true
}

/// The `code.*` attributes a `#[traced]` span has from its call site: a value set at run time
/// under one of them is not recorded (the site's stays), and they count toward the span's
/// attribute limit.
pub(crate) const CALL_SITE_KEYS: [&str; 3] =
    ["code.function.name", "code.file.path", "code.line.number"];

pub(crate) fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A `fmt::Write` that keeps at most `limit` bytes: the write that reaches the limit keeps
/// what fits (cut on a char boundary), and later writes are dropped. Dropped, not refused at
/// once: a `Debug` written as `write!(f, ..).unwrap()` (a `String` never fails) would panic on
/// the refusal, which under `panic = "abort"` ends the process, where untraced it would never
/// panic. Once [`DISCARDED_AT_MOST`] times the limit has been dropped, writes return
/// `fmt::Error`, which stops an implementation at its next `?`: a huge value still costs
/// O(limit) in memory and formatting. Writes are also refused (the text cut there) once the
/// formatting is [`FORMAT_STACK_AT_MOST`] deeper in the stack than where it began (the
/// outermost recording under way on the thread, see [`FORMAT_BASE`]): a deeply
/// nested value (a tree 100,000 levels deep) recurses once per level in its `Debug`, and
/// would overflow the thread's stack (an abort) where the untraced function never formats it.
/// A value that deep is far past any length limit: values of a few hundred levels (a derived
/// `Debug` takes up to about 500 bytes a level in a debug build) are not cut by it.
struct BoundedWriter {
    buf: String,
    limit: usize,
    truncated: bool,
    /// Bytes dropped past the limit.
    discarded: usize,
    /// The address of a local of the function that began the formatting (the outermost
    /// recording under way on the thread, see [`FORMAT_BASE`]): how deep a write is in the
    /// stack is measured from there.
    stack_base: usize,
}

thread_local! {
    /// Where the outermost recording of a value under way on this thread began (0: none). A
    /// value's `Debug` or `Display` may call a traced function whose recording formats
    /// another value, and so on (an error whose `Display` looks its text up through a traced
    /// call that fails with that error): measured from its own start, each recording stayed
    /// within its bound while together they recursed until the stack overflowed, where the
    /// untraced program formats nothing. Measured from here, the nesting is bounded as one
    /// value's formatting is.
    static FORMAT_BASE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How much stack the `Debug` or `Display` of one recorded value may use below the frame that
/// formats it: enough for values nested a few hundred levels deep in a debug build, little
/// next to a thread's usual 2 MiB (8 MiB for `main`).
const FORMAT_STACK_AT_MOST: usize = 256 << 10;

/// Where the calling frame is in the stack: the address of a local (only compared).
#[inline(always)]
fn stack_position() -> usize {
    let local = 0u8;
    std::hint::black_box(&local as *const u8).addr()
}

/// How much more than its limit a value's text may be formatted (and dropped) before the
/// writer refuses the rest (see [`BoundedWriter`]), and at least how many bytes (a small limit,
/// even 0, must not make a short text's writes fail).
const DISCARDED_AT_MOST: usize = 16;
const DISCARDED_AT_LEAST: usize = 16 << 10;

impl fmt::Write for BoundedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The stack may grow either way: its distance from where formatting began.
        if stack_position().abs_diff(self.stack_base) > FORMAT_STACK_AT_MOST {
            self.truncated = true;
            return Err(fmt::Error);
        }
        if !self.truncated {
            let room = self.limit - self.buf.len();
            if s.len() <= room {
                self.buf.push_str(s);
                return Ok(());
            }
            self.buf.push_str(&s[..floor_char_boundary(s, room)]);
            self.truncated = true;
        }
        self.discarded = self.discarded.saturating_add(s.len());
        let may_discard = self
            .limit
            .saturating_mul(DISCARDED_AT_MOST)
            .max(DISCARDED_AT_LEAST);
        if self.discarded > may_discard {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// The text `args` formats to, bounded by [`max_attribute_len`] and marked when cut;
/// `panicked` instead when the user's `Debug` or `Display` panics.
fn bounded_fmt(args: fmt::Arguments<'_>, panicked: &'static str) -> String {
    bounded_fmt_to(args, max_attribute_len(), panicked)
}

/// [`bounded_fmt`] with a limit of `limit` bytes.
fn bounded_fmt_to(args: fmt::Arguments<'_>, limit: usize, panicked: &'static str) -> String {
    let here = stack_position();
    // Outside any recording, or while the thread's storage is being destroyed: from here.
    let outer = FORMAT_BASE.try_with(std::cell::Cell::get).unwrap_or(0);
    let base = if outer == 0 { here } else { outer };
    let mut w = BoundedWriter {
        buf: String::new(),
        limit,
        truncated: false,
        discarded: 0,
        stack_base: base,
    };
    // Already as deep as a recording may go: the user's code is not run at all (its first
    // write would be refused, but what it does before writing, a traced call, would not).
    if here.abs_diff(base) > FORMAT_STACK_AT_MOST {
        return cut_room(limit).1.to_owned();
    }
    let _ = FORMAT_BASE.try_with(|b| b.set(base));
    // Recording must never change what the traced function does, so a panicking `Debug` or
    // `Display` is caught here and recorded as `panicked`. The panic hook has already run by
    // then: the user's panic message is still printed, as for any panic, which names the
    // faulty impl. (Built with `panic = "abort"`, the process aborts as it would untraced.)
    // Nothing observes `w` after a panic but this function, which drops its partial text, so
    // asserting unwind safety is sound.
    let written = caught(|| w.write_fmt(args));
    // `caught` returns on a panic too: the thread's base is put back in every case.
    let _ = FORMAT_BASE.try_with(|b| b.set(outer));
    match written {
        // An error means the limit was reached (or the impl failed on its own): what was
        // written is kept.
        Some(_) => {
            if w.truncated {
                let (room, marker) = cut_room(limit);
                w.buf.truncate(floor_char_boundary(&w.buf, room));
                w.buf.push_str(marker);
            }
            w.buf
        }
        None => bounded_text(panicked, limit),
    }
}

/// `f()`, or `None` when it panics: for the user's code that recording runs (`Debug`,
/// `Display`, an error's `Deref` or `source()`), which must never change what the traced
/// function does. The panic hook has run (the message is printed, as for any panic).
pub(crate) fn caught<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(payload) => {
            drop_payload(payload);
            None
        }
    }
}

/// Drops a caught panic's payload; a payload whose own `drop` panics is leaked rather than
/// let that second panic escape.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}

/// The `Debug` text of `value`, bounded; [`DEBUG_PANICKED`] if its `Debug` panics.
pub(crate) fn debug_text<T: fmt::Debug + ?Sized>(value: &T) -> String {
    bounded_fmt(format_args!("{value:?}"), DEBUG_PANICKED)
}

/// The first `limit` bytes of the `Debug` text of `value` (marked when cut);
/// [`DEBUG_PANICKED`] if its `Debug` panics. Stops the `Debug` implementation at the limit.
pub(crate) fn debug_prefix<T: fmt::Debug + ?Sized>(value: &T, limit: usize) -> String {
    bounded_fmt_to(format_args!("{value:?}"), limit, DEBUG_PANICKED)
}

/// The `Display` text of `value`, bounded; [`DISPLAY_PANICKED`] if its `Display` panics.
pub(crate) fn display_text<T: fmt::Display + ?Sized>(value: &T) -> String {
    bounded_fmt(format_args!("{value}"), DISPLAY_PANICKED)
}

/// The least of an error's text read before its URLs are redacted and it is cut to the
/// attribute limit (`redact::error_text_within`): a limit shorter than a URL's user-info, or
/// than the cut's marker, would otherwise keep part of it.
pub(crate) const MIN_ERROR_READ: usize = 256;

/// The `Display` text of an error, read to be a status description (cut by `set_status`): at
/// least [`MIN_ERROR_READ`] bytes of it.
pub(crate) fn error_display_text<T: fmt::Display + ?Sized>(value: &T) -> String {
    let limit = max_attribute_len().max(MIN_ERROR_READ);
    bounded_fmt_to(format_args!("{value}"), limit, DISPLAY_PANICKED)
}

/// [`error_display_text`] of an error's `Debug` text.
pub(crate) fn error_debug_text<T: fmt::Debug + ?Sized>(value: &T) -> String {
    let limit = max_attribute_len().max(MIN_ERROR_READ);
    bounded_fmt_to(format_args!("{value:?}"), limit, DEBUG_PANICKED)
}

/// Values recorded with their own OpenTelemetry type rather than as `Debug` text, and lists,
/// whose `Debug` text is written without visiting every element.
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
                    Err(_) => bounded_str(&self.to_string()),
                }
            }
        }
    )*};
}
typed_wide_int!(u64, usize, isize, i128, u128);

/// Non-zero integers as their integer.
macro_rules! typed_non_zero {
    ($($t:ty),*) => {$(
        impl Typed for $t {
            fn typed_value(&self) -> Value { self.get().typed_value() }
        }
    )*};
}
typed_non_zero!(
    std::num::NonZeroI8,
    std::num::NonZeroI16,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::num::NonZeroI128,
    std::num::NonZeroIsize,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroU128,
    std::num::NonZeroUsize
);

/// An `f32` as the double its shortest decimal text reads as (`0.1f32` is `0.1`, not the
/// `0.10000000149011612` its exact widening gives), as it prints.
impl Typed for f32 {
    fn typed_value(&self) -> Value {
        let shortest = self.to_string().parse::<f64>();
        Value::F64(shortest.unwrap_or(f64::from(*self)))
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
        // Bounded too: a limit under four bytes cuts it.
        bounded_str(self.encode_utf8(&mut [0; 4]))
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
/// A `Cow` is recorded as what it holds, borrowed or owned alike (`Cow<str>`, `Cow<Path>`).
impl<B: Typed + ToOwned + ?Sized> Typed for std::borrow::Cow<'_, B> {
    fn typed_value(&self) -> Value {
        (**self).typed_value()
    }
}
/// Text the system hands over as bytes (a path, an OS string, a C string): a string, as
/// `str` is, not its `Debug` text (which quotes and escapes the whole value before writing a
/// byte). Only a prefix a little longer than the limit is read, invalid UTF-8 replaced by
/// U+FFFD: a 100 MB path costs what a short one does.
fn bounded_lossy(bytes: &[u8]) -> Value {
    // Past the limit by a char's width, so that a cut text is still cut (and marked) by
    // `bounded_text`, and a char the prefix splits falls in what is cut.
    let prefix = &bytes[..bytes.len().min(max_attribute_len().saturating_add(4))];
    bounded_str(&String::from_utf8_lossy(prefix))
}
macro_rules! typed_bytes {
    ($($t:ty => $bytes:expr),* $(,)?) => {$(
        impl Typed for $t {
            fn typed_value(&self) -> Value {
                let bytes: fn(&$t) -> &[u8] = $bytes;
                bounded_lossy(bytes(self))
            }
        }
    )*};
}
typed_bytes!(
    std::path::Path => |p| p.as_os_str().as_encoded_bytes(),
    std::path::PathBuf => |p| p.as_os_str().as_encoded_bytes(),
    std::ffi::OsStr => std::ffi::OsStr::as_encoded_bytes,
    std::ffi::OsString => |s| s.as_encoded_bytes(),
    std::ffi::CStr => std::ffi::CStr::to_bytes,
    std::ffi::CString => |s| s.as_bytes(),
);

/// Lists: their `Debug` text, as `{:?}` writes it, but visiting elements only until the text
/// reaches the limit. `Debug` of a slice goes through `debug_list`, which keeps iterating every
/// element after the writer refused one (about 2 ns each: 200 ms for 100 MB of bytes).
impl<T: fmt::Debug> Typed for [T] {
    fn typed_value(&self) -> Value {
        Value::String(StringValue::from(debug_text(&ListUntilFull(self))))
    }
}
impl<T: fmt::Debug> Typed for Vec<T> {
    fn typed_value(&self) -> Value {
        self.as_slice().typed_value()
    }
}
impl<T: fmt::Debug, const N: usize> Typed for [T; N] {
    fn typed_value(&self) -> Value {
        self.as_slice().typed_value()
    }
}

/// Formats `[a, b, c]` like a slice's `Debug` (not alternate), stopping at the first write
/// the writer refuses.
struct ListUntilFull<'a, T>(&'a [T]);

impl<T: fmt::Debug> fmt::Debug for ListUntilFull<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            item.fmt(f)?;
        }
        f.write_str("]")
    }
}

/// What points at a typed value is recorded as that value.
macro_rules! typed_through {
    ($($t:ty),* $(,)?) => {$(
        impl<T: Typed + ?Sized> Typed for $t {
            fn typed_value(&self) -> Value {
                (**self).typed_value()
            }
        }
    )*};
}
typed_through!(&T, &mut T, Box<T>, std::sync::Arc<T>, std::rc::Rc<T>);

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
        Value::String(StringValue::from(debug_text(self.0)))
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
    note = "implement `Debug` for it, or leave it out of the span: `skip(..)` for an argument, no `include_result` for a result, not in `fields(..)`"
)]
pub trait Recordable {}
impl<T: fmt::Debug + ?Sized> Recordable for T {}

/// Pushes the attribute `key` = `value()` onto `attributes`, where `value` evaluates a
/// `fields(..)` entry's expression (the user's code, run only when the span records): a panic
/// there is recorded as `<field panicked>`, as the untraced function, which never evaluates
/// it, would not have panicked.
#[inline(always)]
pub fn push_field(
    attributes: &mut Vec<KeyValue>,
    key: &'static str,
    value: impl FnOnce() -> Value,
) {
    let value = caught(value).unwrap_or(Value::String(FIELD_PANICKED.into()));
    attributes.push(KeyValue::new(key, value));
}

/// Pushes the attribute `key` = `value()` onto `attributes`: how `#[traced]` records an
/// argument.
///
/// Through `extend` with one attribute, made once the list has room for it, rather than `push`,
/// which takes it made already: the attribute is then written straight into the list. Made
/// first, it was built on the stack and copied, and the copy's 16-byte loads of the 8-byte
/// stores just made had to wait for them (a store-to-load forwarding failure each, a few ns).
#[inline(always)]
pub fn push_attribute(
    attributes: &mut Vec<KeyValue>,
    key: &'static str,
    value: impl FnOnce() -> Value,
) {
    attributes.extend(std::iter::once_with(|| KeyValue::new(key, value())));
}

/// Compile-time check the macro emits for each captured parameter, naming its type.
#[inline(always)]
pub fn assert_recordable_type<T: Recordable + ?Sized>() {}

/// The same check for a value whose type cannot be named (`impl Trait` parameters, results).
#[inline(always)]
pub fn assert_recordable<T: Recordable + ?Sized>(_: &T) {}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod counting_alloc;
