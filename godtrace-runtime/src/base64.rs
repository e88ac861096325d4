//! Standard base64 (RFC 4648, section 4), the few uses godtrace has for it: a URL's user-info
//! as a `Basic` credential, gRPC-Web text bodies read by the layers, and the binary gRPC
//! status details (`grpc-status-details-bin`) an OTLP receiver may send.

/// The alphabet, by value.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in standard base64, padded.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of a base64 quantum (`=` padding at its end), or `None` for one that is not.
// Read by the gRPC-Web status reader of the layers (see its module) and by `decode`.
#[cfg_attr(
    not(any(
        feature = "otlp-grpc",
        all(feature = "tower", feature = "reqwest", feature = "tonic")
    )),
    allow(dead_code)
)]
pub(crate) fn decode_quantum(quantum: &[u8; 4]) -> Option<([u8; 3], usize)> {
    let padding = quantum.iter().rev().take_while(|c| **c == b'=').count();
    if padding > 2 {
        return None;
    }
    let mut bits = 0_u32;
    for &c in &quantum[..4 - padding] {
        bits = bits << 6 | u32::from(sextet(c)?);
    }
    bits <<= 6 * padding;
    let [_, bytes @ ..] = bits.to_be_bytes();
    Some((bytes, 3 - padding))
}

/// `text` decoded, padded or not (gRPC's binary headers may be either), or `None` when it is
/// not base64.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut chunks = text.chunks(4).peekable();
    while let Some(chunk) = chunks.next() {
        // `=` only at the very end: a padded quantum is the last one.
        if chunks.peek().is_some() && chunk.contains(&b'=') {
            return None;
        }
        let mut quantum = [b'='; 4];
        quantum[..chunk.len()].copy_from_slice(chunk);
        // One character alone is no byte.
        if chunk.len() == 1 {
            return None;
        }
        let (bytes, n) = decode_quantum(&quantum)?;
        out.extend_from_slice(&bytes[..n]);
    }
    Some(out)
}

/// The value of a character of the standard base64 alphabet.
#[cfg_attr(
    not(any(
        feature = "otlp-grpc",
        all(feature = "tower", feature = "reqwest", feature = "tonic")
    )),
    allow(dead_code)
)]
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_decoding_round_trip() {
        for bytes in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            b"\xff\x00\x80",
        ] {
            let text = encode(bytes);
            assert_eq!(text.len() % 4, 0);
            #[cfg(feature = "otlp-grpc")]
            {
                assert_eq!(decode(text.as_bytes()).as_deref(), Some(bytes), "{text}");
                let unpadded = text.trim_end_matches('=');
                assert_eq!(
                    decode(unpadded.as_bytes()).as_deref(),
                    Some(bytes),
                    "{unpadded}"
                );
            }
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fo"), "Zm8=");
    }

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn what_is_not_base64_is_refused() {
        for text in ["Zm9v!", "Z", "Zm9vY", "Zm8=Zm8=", "Z===", "Zm 9v"] {
            assert_eq!(decode(text.as_bytes()), None, "{text}");
        }
    }
}
