//! The bounds on what godtrace records, so that any input costs bounded work and memory.
//!
//! Attribute values longer than [`max_attribute_len`] bytes (set by
//! [`Config::max_attribute_len`](crate::Config::max_attribute_len), 1024 by default) are cut on
//! a char boundary to at most that many bytes, ending with `…[truncated]` (the marker counted
//! within the limit, as the OpenTelemetry specification bounds the whole value); keys longer than [`MAX_ATTRIBUTE_KEY_LEN`]
//! bytes are cut without a marker. The bounds on incoming trace context are in
//! [`propagation`](crate::propagation) (`MAX_TRACESTATE_LEN`, `MAX_BAGGAGE_LEN`).
pub use crate::value::{MAX_ATTRIBUTE_KEY_LEN, max_attribute_len};
