//! What a receiver's answer says of the data it took: the partial success of an OTLP export
//! response (`ExportTraceServiceResponse.partial_success.rejected_spans`, the same field of the
//! metrics response for data points, and its `error_message`).
//!
//! Read from at most the bytes the transport kept of the answer, with the protocol's own types;
//! anything that does not decode (a proxy's error page, a truncated body) says nothing, and the
//! request counts as accepted.
use crate::text::one_line_cut;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use std::borrow::Cow;
#[cfg(feature = "otlp-grpc")]
use std::io::Read;

/// What a receiver rejected of a request it answered with success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Spans (or data points) the receiver did not take.
    pub(crate) count: u64,
    /// Why, in the receiver's words: at most [`MAX_MESSAGE`] bytes of them, and the mark of
    /// the cut when they were more.
    pub(crate) message: String,
}

/// The most of a receiver's message kept: it goes into one line on stderr.
const MAX_MESSAGE: usize = 256;

/// The most of a gzipped gRPC answer inflated.
#[cfg(feature = "otlp-grpc")]
const MAX_INFLATED: u64 = 64 << 10;

/// The partial success of an encoded export response; `None` when it rejected nothing and
/// said nothing (or the bytes are not a response). A count of 0 with a message is a warning
/// (OTLP: a receiver may convey warnings so), as is a negative count (a receiver's bug).
pub(crate) fn rejected(response: &[u8]) -> Option<Rejected> {
    // The trace and the metrics responses hold their partial success alike (field 1; in it,
    // the count in field 1 and the message in field 2): the trace type reads both.
    let (count, message) = match ExportTraceServiceResponse::decode(response) {
        Ok(decoded) => {
            let partial = decoded.partial_success?;
            (partial.rejected_spans, Cow::Owned(partial.error_message))
        }
        // Cut short (by the transport's bound on what it reads of an answer, or by the
        // receiver): the count comes before the message, and is read as far as it goes.
        Err(_) => partial_success_prefix(response)?,
    };
    // An int64: a negative count (a receiver's bug) rejects nothing.
    let count = u64::try_from(count).unwrap_or(0);
    let message = one_line_cut(message.trim(), MAX_MESSAGE);
    (count > 0 || !message.is_empty()).then_some(Rejected { count, message })
}

/// The count and message of the partial success at the start of an export response cut short:
/// its field 1 (the partial success, a length-delimited message, perhaps longer than what is
/// left), in it the count (field 1, a varint) and what is there of the message (field 2).
/// `None` unless the bytes start as such a response and hold its count whole.
fn partial_success_prefix(response: &[u8]) -> Option<(i64, Cow<'_, str>)> {
    use prost::encoding::decode_varint;
    let mut rest = response;
    // Field 1, length-delimited.
    if decode_varint(&mut rest).ok()? != (1 << 3) | 2 {
        return None;
    }
    let len = usize::try_from(decode_varint(&mut rest).ok()?).ok()?;
    let mut inner = &rest[..len.min(rest.len())];
    let (mut count, mut message) = (None, Cow::Borrowed(""));
    while !inner.is_empty() {
        match decode_varint(&mut inner) {
            // The count: an int64, as a varint.
            Ok(0x08) => count = Some(decode_varint(&mut inner).ok()? as i64),
            // The message: what is there of it, up to its last whole character.
            Ok(0x12) => {
                let len = usize::try_from(decode_varint(&mut inner).ok()?).ok()?;
                let text = &inner[..len.min(inner.len())];
                message = match std::str::from_utf8(text) {
                    Ok(whole) => Cow::Borrowed(whole),
                    // Cut inside a character: what precedes it.
                    Err(e) if e.error_len().is_none() => {
                        Cow::Borrowed(std::str::from_utf8(&text[..e.valid_up_to()]).ok()?)
                    }
                    Err(_) => String::from_utf8_lossy(text),
                };
                inner = &inner[text.len()..];
            }
            _ => break,
        }
    }
    // No count (proto3 leaves a 0 out) with a message read: a warning.
    match count {
        Some(count) => Some((count, message)),
        None => (!message.is_empty()).then_some((0, message)),
    }
}

/// `google.rpc.Status`, the body an OTLP/HTTP receiver answers a failed request with (its
/// `details` are left unread).
#[cfg(feature = "otlp-http")]
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// What a failed request's answer says went wrong: the message of its `google.rpc.Status`,
/// as one line of at most [`MAX_MESSAGE`] bytes (and the cut's mark); `None` when the body is not one (a proxy's
/// error page) or says nothing.
#[cfg(feature = "otlp-http")]
pub(crate) fn failure_message(body: &[u8]) -> Option<String> {
    let status = RpcStatus::decode(body).ok()?;
    let message = status.message.trim();
    (!message.is_empty()).then(|| one_line_cut(message, MAX_MESSAGE))
}

/// [`rejected`] of a gRPC answer's data: one frame (its compressed flag, its length, the
/// message), the message gzipped when the flag says so.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn rejected_in_grpc(data: &[u8]) -> Option<Rejected> {
    let (&compressed, rest) = data.split_first()?;
    let message = rest.get(4..)?;
    match compressed {
        0 => rejected(message),
        1 => {
            let mut inflated = Vec::new();
            let gzip = flate2::read::GzDecoder::new(message);
            gzip.take(MAX_INFLATED).read_to_end(&mut inflated).ok()?;
            rejected(&inflated)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An export response with a partial success of `count` and `message`, as a receiver
    /// encodes it.
    fn response(count: i64, message: &str) -> Vec<u8> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: count,
                error_message: message.to_owned(),
            }),
        }
        .encode_to_vec()
    }

    /// A metrics push's answer reads the same: its rejected data points.
    #[test]
    fn a_metrics_answer_reads_as_a_trace_answer() {
        use opentelemetry_proto::tonic::collector::metrics::v1::{
            ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
        };
        let answer = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: 4,
                error_message: "too many series".to_owned(),
            }),
        }
        .encode_to_vec();
        let rejected = rejected(&answer).unwrap();
        assert_eq!(
            (rejected.count, rejected.message.as_str()),
            (4, "too many series")
        );
    }

    #[test]
    fn a_partial_success_says_how_many_were_rejected_and_why() {
        let rejected = rejected(&response(1 << 62, "over quota")).unwrap();
        assert_eq!(rejected.count, 1 << 62);
        assert_eq!(rejected.message, "over quota");
        let long = super::rejected(&response(3, &"x".repeat(10_000))).unwrap();
        assert_eq!(long.message, format!("{}…", "x".repeat(MAX_MESSAGE)));
        // A cut through a character keeps what precedes it; control characters are escaped,
        // so the reason stays one line on stderr.
        let split = super::rejected(&response(3, &format!("{}é", "x".repeat(255)))).unwrap();
        assert_eq!(split.message, format!("{}…", "x".repeat(255)));
        let lines = super::rejected(&response(3, "bad\nspan \u{1b}[31mred")).unwrap();
        assert_eq!(lines.message, "bad\\nspan \\u{1b}[31mred");
        // An int64 below zero (a receiver's bug) rejects nothing: its message is a warning.
        let negative = super::rejected(&response(-1, "negative")).unwrap();
        assert_eq!((negative.count, negative.message.as_str()), (0, "negative"));
    }

    #[test]
    fn nothing_rejected_or_nothing_decodable_says_nothing() {
        assert_eq!(rejected(&response(0, "")), None);
        assert_eq!(rejected(&response(0, " ")), None);
        assert_eq!(rejected(&response(-1, "")), None);
        assert_eq!(rejected(b""), None);
        assert_eq!(rejected(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(rejected(&[0xff; 32]), None);
        // Cut before the count is whole.
        assert_eq!(rejected(&response(1 << 40, "cut")[..4]), None);
    }

    /// OTLP: a receiver "MAY also use the partial_success field to convey warnings", with 0
    /// rejected and a message: read, to be said.
    #[test]
    fn a_warning_is_a_partial_success_that_rejected_nothing() {
        let warning = rejected(&response(0, "attribute too long, cut")).unwrap();
        assert_eq!(
            (warning.count, warning.message.as_str()),
            (0, "attribute too long, cut")
        );
        // Longer than the transport reads: proto3 leaves the count of 0 out, and the message
        // read is still a warning.
        let mut long = response(0, &"w".repeat(70_000));
        long.truncate(64 << 10);
        let warning = rejected(&long).unwrap();
        assert_eq!(warning.count, 0);
        assert_eq!(warning.message, format!("{}…", "w".repeat(MAX_MESSAGE)));
    }

    /// An answer longer than the transport reads is cut at its bound: the count, which comes
    /// first, is still read, and what there is of the message.
    #[test]
    fn a_partial_success_cut_short_still_counts_what_was_rejected() {
        let mut cut = response(5, &format!("{}é and more", "x".repeat(70_000)));
        cut.truncate(64 << 10);
        let rejected = rejected(&cut).unwrap();
        assert_eq!(rejected.count, 5);
        assert_eq!(rejected.message, format!("{}…", "x".repeat(MAX_MESSAGE)));
        let mut short = response(5, "over quota");
        short.truncate(short.len() - 2);
        let rejected = super::rejected(&short).unwrap();
        assert_eq!((rejected.count, rejected.message.as_str()), (5, "over quo"));
        // Cut inside a character: what precedes it.
        let mut split = response(2, "ab\u{e9}");
        split.truncate(split.len() - 1);
        assert_eq!(super::rejected(&split).unwrap().message, "ab");
    }

    #[test]
    #[cfg(feature = "otlp-grpc")]
    fn a_grpc_answer_is_read_plain_or_gzipped() {
        let message = response(7, "bad span");
        let mut plain = vec![0];
        plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
        plain.extend_from_slice(&message);
        assert_eq!(rejected_in_grpc(&plain).map(|r| r.count), Some(7));
        use std::io::Write;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&message).unwrap();
        let gzipped = gzip.finish().unwrap();
        let mut framed = vec![1];
        framed.extend_from_slice(&(gzipped.len() as u32).to_be_bytes());
        framed.extend_from_slice(&gzipped);
        assert_eq!(rejected_in_grpc(&framed).map(|r| r.count), Some(7));
        assert_eq!(rejected_in_grpc(&[1, 0, 0, 0, 3, 1, 2, 3]), None);
    }
}
