//! The protobuf wire format, as far as OTLP traces need it: varints, fixed-width numbers,
//! length-delimited fields, and attribute values, written into a `Vec<u8>`.
//!
//! Fields are written in tag order and scalar fields at their default value are left out, as
//! prost does, so the bytes are those prost would write for the same message.
use opentelemetry::{Array, KeyValue, StringValue, Value};

/// Wire type of varint fields (integers, booleans, enums).
const VARINT: u32 = 0;
/// Wire type of 64-bit fields (fixed64, double).
const FIXED64: u32 = 1;
/// Wire type of length-delimited fields (strings, bytes, messages).
pub(super) const LEN: u32 = 2;
/// Wire type of 32-bit fields (fixed32).
const FIXED32: u32 = 5;

/// How many bytes `value` takes as a varint.
#[inline]
pub(super) fn varint_len(value: u64) -> usize {
    // One byte per 7 bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub(super) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

#[inline]
pub(super) fn put_tag(buf: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(buf, u64::from((field << 3) | wire_type));
}

/// A length-delimited field of `bytes` (written even when empty).
#[inline]
pub(super) fn put_len_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// A string or bytes field, left out when empty (proto3's default).
#[inline]
pub(super) fn put_string(buf: &mut Vec<u8>, field: u32, text: &str) {
    if !text.is_empty() {
        put_len_field(buf, field, text.as_bytes());
    }
}

/// A uint32 or enum field, left out when zero.
#[inline]
pub(super) fn put_uint(buf: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_tag(buf, field, VARINT);
        put_varint(buf, value);
    }
}

/// A fixed64 field, left out when zero.
#[inline]
pub(super) fn put_fixed64(buf: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_tag(buf, field, FIXED64);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// A fixed32 field, left out when zero.
#[inline]
pub(super) fn put_fixed32(buf: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        put_tag(buf, field, FIXED32);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// A message field whose body `body` writes, always present (an optional message that is
/// set, or an element of a repeated one). `reserve` bytes are set aside for its length, the
/// most likely size: the body is moved only when its length needs another size. Returns how
/// far it moved (bytes, backwards when negative).
#[inline]
pub(super) fn put_message(
    buf: &mut Vec<u8>,
    field: u32,
    reserve: usize,
    body: impl FnOnce(&mut Vec<u8>),
) -> isize {
    put_tag(buf, field, LEN);
    let at = buf.len();
    buf.resize(at + reserve, 0);
    body(buf);
    let len = buf.len() - at - reserve;
    let needed = varint_len(len as u64);
    if needed != reserve {
        let end = buf.len();
        if needed > reserve {
            buf.resize(end + needed - reserve, 0);
        }
        buf.copy_within(at + reserve..end, at + needed);
        buf.truncate(at + needed + len);
    }
    let mut value = len as u64;
    for byte in &mut buf[at..at + needed] {
        *byte = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
    }
    buf[at + needed - 1] &= 0x7f;
    needed as isize - reserve as isize
}

/// The length of a length-delimited field of `len` bytes, tag (one byte: fields 1 to 15)
/// included.
#[inline]
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The length of an `AnyValue` holding `value`.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => 2,
        Value::I64(n) => 1 + varint_len(*n as u64),
        Value::F64(_) => 9,
        Value::String(s) => field_len(s.as_str().len()),
        Value::Array(array) => field_len(array_len(array)),
        // A kind of value this version does not know: an empty `AnyValue`.
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// The length of an `ArrayValue` holding `array`.
fn array_len(array: &Array) -> usize {
    let each = |len: usize| field_len(len);
    match array {
        Array::Bool(v) => v.len() * each(2),
        Array::I64(v) => v.iter().map(|n| each(1 + varint_len(*n as u64))).sum(),
        Array::F64(v) => v.len() * each(9),
        Array::String(v) => v.iter().map(|s| each(field_len(s.as_str().len()))).sum(),
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// An `AnyValue`'s body.
fn put_any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            put_tag(buf, 2, VARINT);
            buf.push(u8::from(*b));
        }
        Value::I64(n) => {
            put_tag(buf, 3, VARINT);
            put_varint(buf, *n as u64);
        }
        Value::F64(x) => {
            put_tag(buf, 4, FIXED64);
            buf.extend_from_slice(&x.to_le_bytes());
        }
        Value::String(s) => put_len_field(buf, 1, s.as_str().as_bytes()),
        Value::Array(array) => {
            put_tag(buf, 5, LEN);
            put_varint(buf, array_len(array) as u64);
            put_array(buf, array);
        }
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// An `ArrayValue`'s body: each element an `AnyValue` (field 1).
fn put_array(buf: &mut Vec<u8>, array: &Array) {
    fn each(buf: &mut Vec<u8>, value: Value) {
        put_tag(buf, 1, LEN);
        put_varint(buf, any_value_len(&value) as u64);
        put_any_value(buf, &value);
    }
    match array {
        Array::Bool(v) => v.iter().for_each(|b| each(buf, Value::Bool(*b))),
        Array::I64(v) => v.iter().for_each(|n| each(buf, Value::I64(*n))),
        Array::F64(v) => v.iter().for_each(|x| each(buf, Value::F64(*x))),
        Array::String(v) => v.iter().for_each(|s| put_string_element(buf, s)),
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// A string element of an array, without cloning it into a `Value`.
fn put_string_element(buf: &mut Vec<u8>, s: &StringValue) {
    let text = s.as_str().as_bytes();
    put_tag(buf, 1, LEN);
    put_varint(buf, field_len(text.len()) as u64);
    put_len_field(buf, 1, text);
}

/// A `KeyValue` field `field` of `key` and `value` (the value is always set, as the SDK
/// path sets it).
pub(super) fn put_key_value(buf: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    put_tag(buf, field, LEN);
    put_varint(buf, key_value_len(key, value) as u64);
    put_string(buf, 1, key);
    put_tag(buf, 2, LEN);
    put_varint(buf, value_len as u64);
    put_any_value(buf, value);
}

/// The length of a `KeyValue` message of `key` and `value` (tags included, its own length
/// not).
#[inline]
pub(super) fn key_value_len(key: &str, value: &Value) -> usize {
    let key_len = if key.is_empty() {
        0
    } else {
        field_len(key.len())
    };
    key_len + field_len(any_value_len(value))
}

/// Every attribute of `attributes` as a `KeyValue` field `field`.
#[inline]
pub(super) fn put_attributes(buf: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        put_key_value(buf, field, kv.key.as_str(), &kv.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            assert_eq!(buf.len(), varint_len(value), "{value}");
        }
    }

    #[test]
    fn a_message_of_any_length_gets_the_length_prost_writes() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            for reserve in [1, 2, 3] {
                let mut buf = vec![9];
                put_message(&mut buf, 5, reserve, |b| {
                    b.extend(std::iter::repeat_n(7, len))
                });
                let mut expected = vec![9];
                prost::encoding::bytes::encode(5, &vec![7u8; len], &mut expected);
                assert_eq!(buf, expected, "len {len} reserve {reserve}");
            }
        }
    }
}
