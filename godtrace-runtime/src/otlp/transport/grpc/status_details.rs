//! The one detail of a gRPC error status godtrace reads: the retry delay a receiver asks for
//! (`google.rpc.RetryInfo` among the details of the `google.rpc.Status` it sends, base64, in
//! `grpc-status-details-bin`), OTLP/gRPC's throttling signal. Anything else in it is skipped;
//! anything malformed is no delay.
use std::time::Duration;

/// `google.rpc.Status`, its details only.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The retry delay in `header`, a `grpc-status-details-bin` value; none when there is none,
/// or it is negative or malformed.
pub(super) fn retry_delay(header: &[u8]) -> Option<Duration> {
    use prost::Message;
    let status = Status::decode(&crate::base64::decode(header)?[..]).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url.rsplit('/').next() == Some("google.rpc.RetryInfo"))?;
    let delay = RetryInfo::decode(&info.value[..]).ok()?.retry_delay?;
    let nanos = u32::try_from(delay.nanos)
        .ok()
        .filter(|&n| n < 1_000_000_000)?;
    Some(Duration::new(u64::try_from(delay.seconds).ok()?, nanos))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use prost::Message;

    /// `bytes` as standard base64, unpadded when `padded` is false.
    pub(in super::super) fn base64(bytes: &[u8], padded: bool) -> String {
        let text = crate::base64::encode(bytes);
        if padded {
            text
        } else {
            text.trim_end_matches('=').to_owned()
        }
    }

    /// A `grpc-status-details-bin` value whose status holds another detail, then a
    /// `RetryInfo` of `seconds` and `nanos`.
    pub(in super::super) fn details(seconds: i64, nanos: i32, padded: bool) -> String {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration { seconds, nanos }),
        };
        let status = Status {
            details: vec![
                Any {
                    type_url: "type.googleapis.com/google.rpc.DebugInfo".into(),
                    value: b"\x0a\x03abc".to_vec(),
                },
                Any {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: info.encode_to_vec(),
                },
            ],
        };
        base64(&status.encode_to_vec(), padded)
    }

    #[test]
    fn the_retry_delay_is_read_from_the_status_details() {
        for padded in [true, false] {
            let delay = retry_delay(details(3, 250_000_000, padded).as_bytes());
            assert_eq!(delay, Some(Duration::from_millis(3250)), "{padded}");
        }
        assert_eq!(retry_delay(details(-1, 0, true).as_bytes()), None);
        assert_eq!(retry_delay(details(1, -5, true).as_bytes()), None);
        assert_eq!(
            retry_delay(details(1, 1_000_000_000, true).as_bytes()),
            None
        );
        assert_eq!(retry_delay(b"not base64!"), None);
        assert_eq!(retry_delay(b"AAAAA"), None);
        // Valid base64 that is not a status, and a status with no retry information.
        assert_eq!(retry_delay(base64(b"\xff\xff\xff", true).as_bytes()), None);
        let no_info = Status {
            details: Vec::new(),
        }
        .encode_to_vec();
        assert_eq!(retry_delay(base64(&no_info, true).as_bytes()), None);
    }
}
