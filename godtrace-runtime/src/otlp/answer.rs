//! What a receiver's answer says of the data it took: the partial success of an OTLP export
//! response (`ExportTraceServiceResponse.partial_success.rejected_spans`, the same field of the
//! metrics response for data points, and its `error_message`).
//!
//! Read from at most the bytes the transport kept of the answer; anything that does not decode
//! (a proxy's error page, a truncated body) says nothing, and the request counts as accepted.
#[cfg(feature = "otlp-grpc")]
use std::io::Read;

/// What a receiver rejected of a request it answered with success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Spans (or data points) the receiver did not take.
    pub(crate) count: u64,
    /// Why, in the receiver's words: at most [`MAX_MESSAGE`] bytes of them.
    pub(crate) message: String,
}

/// The most of a receiver's message kept: it goes into one line on stderr.
const MAX_MESSAGE: usize = 256;

/// The most of a gzipped gRPC answer inflated.
#[cfg(feature = "otlp-grpc")]
const MAX_INFLATED: u64 = 64 << 10;

/// The partial success of an encoded export response; `None` when it rejected nothing (or the
/// bytes are not a response).
pub(crate) fn rejected(response: &[u8]) -> Option<Rejected> {
    // ExportTraceServiceResponse / ExportMetricsServiceResponse: 1 = partial_success.
    let partial = fields(response).find_map(|field| match field {
        Field::Bytes(1, bytes) => Some(bytes),
        _ => None,
    })?;
    let (mut count, mut message) = (0, String::new());
    for field in fields(partial) {
        match field {
            // An int64: a negative count (a receiver's bug) rejects nothing.
            Field::Varint(1, n) => count = u64::try_from(n as i64).unwrap_or(0),
            Field::Bytes(2, text) => message = one_line(&text[..text.len().min(MAX_MESSAGE)]),
            _ => {}
        }
    }
    (count > 0).then_some(Rejected { count, message })
}

/// The receiver's words as one line of text: the valid UTF-8 they start with (a cut may split
/// a character), with control characters (newlines, terminal escapes) escaped.
fn one_line(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // What precedes the first invalid byte is valid by definition.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
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

/// One protobuf field: a varint (wire type 0) or length-delimited bytes (wire type 2); the
/// fixed-size ones are skipped by [`fields`].
enum Field<'a> {
    Varint(u64, u64),
    Bytes(u64, &'a [u8]),
    Other,
}

/// The fields of an encoded message, up to the first byte that does not decode.
fn fields(mut buf: &[u8]) -> impl Iterator<Item = Field<'_>> {
    std::iter::from_fn(move || {
        let key = varint(&mut buf)?;
        let field = match key & 7 {
            0 => Field::Varint(key >> 3, varint(&mut buf)?),
            1 => skip(&mut buf, 8)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let bytes = buf.get(..len)?;
                buf = &buf[len..];
                Field::Bytes(key >> 3, bytes)
            }
            5 => skip(&mut buf, 4)?,
            _ => return None,
        };
        Some(field)
    })
}

fn skip<'a>(buf: &mut &[u8], n: usize) -> Option<Field<'a>> {
    *buf = buf.get(n..)?;
    Some(Field::Other)
}

/// A base-128 varint taken from the front of `buf`.
fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An export response with a partial success of `count` and `message`, as a receiver
    /// encodes it.
    fn response(count: u64, message: &str) -> Vec<u8> {
        let mut partial = vec![1 << 3];
        put_varint(&mut partial, count);
        partial.push(2 << 3 | 2);
        put_varint(&mut partial, message.len() as u64);
        partial.extend_from_slice(message.as_bytes());
        // An unknown field first, then the partial success: decoding skips what it does not
        // know.
        let mut out = vec![7 << 3 | 5, 0, 0, 0, 0, 1 << 3 | 2];
        put_varint(&mut out, partial.len() as u64);
        out.extend_from_slice(&partial);
        out
    }

    fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            buf.push(n as u8 | 0x80);
            n >>= 7;
        }
        buf.push(n as u8);
    }

    #[test]
    fn a_partial_success_says_how_many_were_rejected_and_why() {
        let rejected = rejected(&response(1 << 62, "over quota")).unwrap();
        assert_eq!(rejected.count, 1 << 62);
        assert_eq!(rejected.message, "over quota");
        let long = super::rejected(&response(3, &"x".repeat(10_000))).unwrap();
        assert_eq!(long.message.len(), MAX_MESSAGE);
        // A cut through a character keeps what precedes it; control characters are escaped,
        // so the reason stays one line on stderr.
        let split = super::rejected(&response(3, &format!("{}é", "x".repeat(255)))).unwrap();
        assert_eq!(split.message, "x".repeat(255));
        let lines = super::rejected(&response(3, "bad\nspan \u{1b}[31mred")).unwrap();
        assert_eq!(lines.message, "bad\\nspan \\u{1b}[31mred");
        // An int64 below zero (a receiver's bug) rejects nothing.
        assert_eq!(super::rejected(&response(-1i64 as u64, "negative")), None);
    }

    #[test]
    fn nothing_rejected_or_nothing_decodable_says_nothing() {
        assert_eq!(rejected(&response(0, "a warning")), None);
        assert_eq!(rejected(b""), None);
        assert_eq!(rejected(b"<html>502 Bad Gateway</html>"), None);
        let mut truncated = response(5, "cut");
        truncated.truncate(truncated.len() - 2);
        assert_eq!(rejected(&truncated), None);
        assert_eq!(rejected(&[0xff; 32]), None);
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
