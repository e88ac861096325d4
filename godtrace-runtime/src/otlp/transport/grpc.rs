use super::{MAX_ANSWER, MAX_GRPC_ANSWER, Rejected, USER_AGENT};
use crate::config::{Compression, OtlpTarget};
use crate::otlp::body::GRPC_HEAD;
use crate::otlp::connection::Connection;
use crate::otlp::retry::{self, Failure, Retry};
use crate::otlp::{answer, client};
use bytes::Bytes;

pub(crate) struct Client {
    connection: Connection,
    /// The export method's URI on the endpoint (scheme, host and port, and the method's
    /// path), built once.
    uri: http::Uri,
    /// The configured headers, and gRPC's own.
    headers: http::HeaderMap,
    /// Whether the endpoint is `https://`.
    tls: bool,
    /// Whether any request got an answer's head yet (see [`Client::h2_failure`]).
    answered_once: std::sync::atomic::AtomicBool,
}

impl Client {
    pub(super) fn new(target: &OtlpTarget, method: &'static str) -> Result<Client, String> {
        let gzip = target.compression == Compression::Gzip;
        let mut headers = client::grpc_metadata(target)?.into_headers();
        let fixed = [
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-accept-encoding", "identity,gzip"),
        ];
        for (name, value) in fixed {
            headers.insert(name, http::HeaderValue::from_static(value));
        }
        if gzip {
            headers.insert("grpc-encoding", http::HeaderValue::from_static("gzip"));
        }
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(
                http::header::USER_AGENT,
                http::HeaderValue::from_static(USER_AGENT),
            );
        }
        client::add_endpoint_credentials(target, &mut headers)?;
        // The scheme and host alone: the path is the method's, and the user-info is sent as
        // credentials (above), never in the URI.
        let endpoint =
            http::Uri::try_from(crate::config::url::scheme_and_host(&target.endpoint))
                .map_err(|e| format!("{}: {e}", crate::config::url::redacted(&target.endpoint)))?;
        Ok(Client {
            connection: Connection::new(&endpoint, client::grpc_tls(target)?, target.timeout)?,
            uri: method_uri(&endpoint, method)?,
            headers,
            tls: endpoint.scheme_str() == Some("https"),
            answered_once: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Sends `frame`, one gRPC frame (head included).
    pub(super) async fn send(&self, frame: Bytes) -> Result<Option<Rejected>, Failure> {
        let (sender, unanswered) = self.connection.ready_sender().await?;
        let outcome = self.call(sender, frame).await;
        // An answer, or an error the connection's task knows of: only a request dropped
        // while it waits (its deadline passed) gives the connection up.
        unanswered.answered();
        outcome
    }

    /// One call on `sender`'s connection.
    async fn call(
        &self,
        mut sender: crate::otlp::connection::Sender,
        frame: Bytes,
    ) -> Result<Option<Rejected>, Failure> {
        let mut call = http::Request::new(());
        *call.method_mut() = http::Method::POST;
        *call.uri_mut() = self.uri.clone();
        *call.headers_mut() = self.headers.clone();
        let unanswered = |e| self.h2_failure(e, Stage::BeforeAnswer);
        let (response, mut body) = sender.send_request(call, false).map_err(unanswered)?;
        // The whole message at once: h2 writes it as the receiver's window allows.
        body.send_data(frame, true).map_err(unanswered)?;
        let (head, mut answer) = response.await.map_err(unanswered)?.into_parts();
        self.answered_once
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !head.status.is_success() {
            // The gRPC mapping of HTTP statuses: these are UNAVAILABLE, retried.
            let retry = Retry::when(retry::http_retryable(head.status.as_u16()), None);
            let message = format!("gRPC: HTTP {}", head.status);
            return Err(Failure::new(message, retry));
        }
        // Trailers-only answers carry the status in the headers.
        let mut message = Vec::new();
        let status = match grpc_status(&head.headers) {
            Some(status) => Some(status),
            None => {
                let mut read = 0usize;
                while let Some(data) = answer.data().await {
                    let data = data.map_err(|e| self.h2_failure(e, Stage::Answering))?;
                    // Read: the connection's window takes it back. An answer (a partial
                    // success, an error's details) is a few hundred bytes: its first
                    // `MAX_ANSWER` are kept, which hold the count of rejected spans, and
                    // the rest is read past to the status, up to gRPC's usual bound on a
                    // message, since one without end never gives a status.
                    let _ = answer.flow_control().release_capacity(data.len());
                    read += data.len();
                    let had_prefix = message.len() >= GRPC_HEAD;
                    let room = MAX_ANSWER.saturating_sub(message.len());
                    message.extend_from_slice(&data[..data.len().min(room)]);
                    // A message said to be longer than the bound fails at its prefix, not
                    // once that much has come (or the timeout, from a receiver that stalls).
                    let declared = (!had_prefix).then(|| declared_length(&message)).flatten();
                    if read > MAX_GRPC_ANSWER || declared > Some(MAX_GRPC_ANSWER) {
                        return Err(Failure::fatal(format!(
                            "gRPC: an answer longer than {MAX_GRPC_ANSWER} bytes"
                        )));
                    }
                }
                let trailers = answer
                    .trailers()
                    .await
                    .map_err(|e| self.h2_failure(e, Stage::Answering))?;
                trailers.as_ref().and_then(grpc_status)
            }
        };
        match status {
            Some(GrpcStatus { code: 0, .. }) => Ok(answer::rejected_in_grpc(&message)),
            Some(GrpcStatus {
                code: number,
                message,
                retry_delay,
            }) => {
                let code = tonic::Code::from(number);
                let message = if message.is_empty() {
                    format!("gRPC status {code:?}")
                } else {
                    format!("gRPC status {code:?}: {message}")
                };
                // RESOURCE_EXHAUSTED is retried when the receiver says when (OTLP/gRPC
                // throttling: "a status containing RetryInfo"), after that delay; the delay
                // given with the other retryable codes is waited too.
                let retryable = retry::grpc_retryable(number)
                    || (code == tonic::Code::ResourceExhausted && retry_delay.is_some());
                Err(Failure::new(message, Retry::when(retryable, retry_delay)))
            }
            None => Err(Failure::fatal(
                "gRPC: the answer has no grpc-status".to_owned(),
            )),
        }
    }
}

/// Where in a call an HTTP/2 error came.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the answer's head: the receiver said nothing of this request yet.
    BeforeAnswer,
    /// While the answer was read: the receiver had the request.
    Answering,
}

impl Client {
    /// [`h2_failure`] on this client: whether the receiver closed the connection before
    /// ever answering ([`retry::first_answer_lost`]) is read here.
    fn h2_failure(&self, e: h2::Error, stage: Stage) -> Failure {
        let never_answered = !self
            .answered_once
            .load(std::sync::atomic::Ordering::Relaxed);
        let closed =
            stage == Stage::BeforeAnswer && e.get_io().is_some_and(retry::connection_closed);
        let end = if never_answered {
            ConnectionEnd::FirstAnswerLost { tls: self.tls }
        } else {
            ConnectionEnd::BeforeAnswer
        };
        let ended = closed.then_some(end);
        h2_failure(e, ended)
    }
}

/// How the connection a request went on ended before the request's answer.
#[derive(Clone, Copy)]
enum ConnectionEnd {
    /// The receiver never answered anything on this client (a server that will not talk to
    /// it, over TLS or not, or one going down): tried again on a new connection while the
    /// exporter runs, as an unreachable receiver is (the HTTP transport's rule).
    FirstAnswerLost { tls: bool },
    /// Closed or reset under a request before its answer: likeliest a connection the
    /// receiver closed (a restart) while the exporter was idle, reused before its end was
    /// read, so the request never reached a live receiver. Sent again, as HTTP's kept-alive
    /// connection closed as it was reused.
    BeforeAnswer,
}

/// An HTTP/2 error as a failed attempt. A stream the receiver never processed is retried
/// (on a new connection, as the old one takes no more): one it refused (`REFUSED_STREAM`,
/// which gRPC's HTTP/2 mapping reads as UNAVAILABLE) or left out when it said it was going
/// away (RFC 9113 §6.8: such streams "were not processed" and can be retried; collectors
/// and load balancers drain connections so), a cancelled one (CANCELLED), and one whose
/// connection was closed or reset before its answer (`ended`). Anything else, such as an
/// answer cut short, is not: the receiver had the request.
fn h2_failure(e: h2::Error, ended: Option<ConnectionEnd>) -> Failure {
    let cause = client::chain(&e);
    let message = match ended {
        Some(ConnectionEnd::FirstAnswerLost { tls }) => {
            format!("gRPC: {}: {cause}", retry::first_answer_lost(tls))
        }
        // h2 words a GOAWAY without error as "not a result of an error": say what happened.
        _ if e.is_go_away() && e.is_remote() => format!(
            "gRPC: the receiver closed the connection (HTTP/2 GOAWAY) before answering: {cause}"
        ),
        _ => format!("gRPC: {cause}"),
    };
    let unprocessed = matches!(
        e.reason(),
        Some(h2::Reason::REFUSED_STREAM | h2::Reason::CANCEL)
    ) || (e.is_go_away() && e.is_remote());
    let retry = match ended {
        Some(ConnectionEnd::FirstAnswerLost { .. }) => Retry::Reconnect,
        Some(ConnectionEnd::BeforeAnswer) => Retry::Resend,
        None => Retry::resend_if(unprocessed),
    };
    Failure::new(message, retry)
}

/// The length the prefix at the start of `message` declares, once it has come whole.
fn declared_length(message: &[u8]) -> Option<usize> {
    let length: [u8; 4] = message.get(1..GRPC_HEAD)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(length)).ok()
}

/// `endpoint`'s scheme and host (and port) with `method` as the path; never the
/// endpoint's user information.
fn method_uri(endpoint: &http::Uri, method: &'static str) -> Result<http::Uri, String> {
    let host = endpoint.host().ok_or("the endpoint has no host")?;
    let authority = match endpoint.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    http::Uri::builder()
        .scheme(endpoint.scheme_str().unwrap_or("http"))
        .authority(authority)
        .path_and_query(method)
        .build()
        .map_err(|e| e.to_string())
}

/// The answer's status headers: names made once, not parsed on every answer.
static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");
static GRPC_STATUS_DETAILS: http::HeaderName =
    http::HeaderName::from_static("grpc-status-details-bin");

/// What an answer's status headers say.
#[derive(Debug)]
struct GrpcStatus {
    code: i32,
    message: String,
    /// The wait before a retry the receiver asks for (`google.rpc.RetryInfo`).
    retry_delay: Option<std::time::Duration>,
}

/// `grpc-status`, `grpc-message` and the retry delay of `grpc-status-details-bin` of
/// `headers`, if the status is there.
fn grpc_status(headers: &http::HeaderMap) -> Option<GrpcStatus> {
    let code = headers.get(&GRPC_STATUS)?.to_str().ok()?.parse().ok()?;
    // The server's words, in a message of ours: percent-decoded (gRPC sends the message so;
    // the header list is bounded), then cut to 256 bytes at a character boundary and made
    // one line (no control or direction-changing characters reach a terminal).
    let message = headers
        .get(&GRPC_MESSAGE)
        .map(|m| crate::text::one_line_cut(&percent_decoded(m.as_bytes()), 256))
        .unwrap_or_default();
    let retry_delay = headers
        .get(&GRPC_STATUS_DETAILS)
        .and_then(|details| status_details::retry_delay(details.as_bytes()));
    Some(GrpcStatus {
        code,
        message,
        retry_delay,
    })
}

/// `bytes` with each `%XX` escape decoded (a malformed one kept as it is), as UTF-8.
fn percent_decoded(bytes: &[u8]) -> String {
    let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            // Two hex digits make at most 255.
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

mod status_details;

#[cfg(test)]
mod tests;
