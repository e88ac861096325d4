use super::{MAX_ANSWER, Rejected, USER_AGENT};
use crate::config::{Compression, OtlpTarget};
use crate::otlp::http1::{self, HttpClient, Response};
use crate::otlp::retry::{self, Failure, Retry};
use crate::otlp::{answer, client};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

pub(crate) struct Client {
    inner: HttpClient,
    /// The endpoint without its user-info (sent as `Authorization`), as the URL parser
    /// normalises it.
    uri: ::http::Uri,
    /// The endpoint as configured, for messages (scrubbed of its credentials where they
    /// are reported).
    url: String,
    headers: ::http::HeaderMap,
    /// Bounds a request and the reading of its answer.
    timeout: std::time::Duration,
}

impl Client {
    pub(super) fn new(target: &OtlpTarget) -> Result<Client, String> {
        let mut headers = ::http::HeaderMap::new();
        headers.insert(
            ::http::header::CONTENT_TYPE,
            ::http::HeaderValue::from_static("application/x-protobuf"),
        );
        if target.compression == Compression::Gzip {
            headers.insert(
                ::http::header::CONTENT_ENCODING,
                ::http::HeaderValue::from_static("gzip"),
            );
        }
        headers.insert(
            ::http::header::USER_AGENT,
            ::http::HeaderValue::from_static(USER_AGENT),
        );
        // Set last: a configured User-Agent wins.
        headers.extend(client::http_headers(target)?);
        client::add_endpoint_credentials(target, &mut headers)?;
        let uri = endpoint_uri(&target.endpoint)?;
        let tls = if uri.scheme_str() == Some("https") {
            Some(client::http_tls(target)?)
        } else {
            None
        };
        let route = http1::route(target, &uri)?;
        Ok(Client {
            inner: HttpClient::new(&uri, tls, route, target.timeout)?,
            uri,
            url: target.endpoint.clone(),
            headers,
            timeout: target.timeout,
        })
    }

    /// Sends `body`, the request as it goes on the wire (gzipped when configured). The
    /// timeout bounds the request and its answer's head, then the reading of its body: a
    /// success whose body has not all come by then is a success (what it said of spans it
    /// rejected, if anything, unknown), not a request left unanswered.
    pub(super) async fn send(&self, body: Bytes) -> Result<Option<Rejected>, Failure> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, self.request(body)).await {
            Ok(Ok(response)) => self.answer(response, deadline).await,
            Ok(Err(failure)) => Err(failure),
            // Whole milliseconds, as the export thread words its own bound.
            Err(_) => Err(Failure::no_answer(format!(
                "{}: no answer within {} ms",
                self.url,
                self.timeout.as_millis()
            ))),
        }
    }

    /// The request, up to its answer's head.
    async fn request(&self, body: Bytes) -> Result<Response, Failure> {
        let mut request = ::http::Request::new(Full::new(body));
        *request.method_mut() = ::http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        match self.inner.send(request).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let message = format!("{}: {}", self.url, client::chain(&e));
                if e.is_connect() {
                    return Err(Failure::connecting(message, &e));
                }
                // A new connection closed before any answer: not the receiver's answer to
                // this request (tried again on a new connection while running), and no
                // answer to wait for at shutdown.
                if first_answer_lost(&e) {
                    return Err(Failure::new(message, Retry::Reconnect));
                }
                // Closed or reset after the request went out, before any answer: a
                // kept-alive connection the receiver closed as it was reused (likeliest at
                // shutdown's last flush, after an idle spell), or a receiver restarting.
                // The specification has the request sent again, shutdown or not.
                let retry = Retry::resend_if(closed_before_answer(&e));
                Err(Failure::new(message, retry))
            }
        }
    }

    /// What the receiver's `response` says, its body read until `deadline` at the latest.
    async fn answer(
        &self,
        response: Response,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Rejected>, Failure> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(::http::header::RETRY_AFTER)
            .and_then(|value| retry::retry_after(value.as_bytes()));
        // A failure's body is a `google.rpc.Status` in protobuf (the specification),
        // unless its type says it is something else (a proxy's page).
        let protobuf = response
            .headers()
            .get(::http::header::CONTENT_TYPE)
            .is_none_or(|value| value.as_bytes().ends_with(b"protobuf"));
        // The body (a partial success, or an error's details) is read, so that the
        // connection serves the next request; at most `MAX_ANSWER` of it, so that a
        // receiver sending without end costs no memory, and until the deadline (a body
        // cut there reads as one cut short: the connection is then dropped). A failure's
        // details are read for an eighth of the timeout at most: the time left is a
        // retry's (one is tried only with a quarter of it left).
        let until = if status.is_success() {
            // A little before the deadline: the export thread bounds the request by the same
            // timeout, its clock started just before this one, and a success still reading
            // its body when that bound ran out counted as unanswered (or not, by which timer
            // fired first).
            deadline - (self.timeout / 16).min(std::time::Duration::from_millis(50))
        } else {
            deadline.min(tokio::time::Instant::now() + self.timeout / 8)
        };
        let mut answer = Vec::new();
        let read = read_bounded(response, MAX_ANSWER, &mut answer);
        let _ = tokio::time::timeout_at(until, read).await;
        if status.is_success() {
            Ok(answer::rejected(&answer))
        } else if status.is_redirection() {
            Err(Failure::fatal(format!(
                "{}: HTTP {status} (redirects are not followed: set the endpoint to where \
                 it points)",
                self.url
            )))
        } else {
            let retry = Retry::when(retry::http_retryable(status.as_u16()), retry_after);
            let mut message = format!("{}: HTTP {status}", self.url);
            if let Some(said) = protobuf.then(|| answer::failure_message(&answer)).flatten() {
                message = format!("{message}: {said}");
            }
            Err(Failure::new(message, retry))
        }
    }
}

/// Whether `error` is a new connection closed before its first answer
/// ([`http1::FirstAnswerLost`]).
fn first_answer_lost(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        // An I/O error's `source` skips what it wraps.
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<http1::FirstAnswerLost>())
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether `error` is a connection's end (closed, reset) after it was opened and before
/// any answer came: not a connection that could not be opened, nor an answer that broke a
/// bound.
fn closed_before_answer(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && hyper.is_incomplete_message()
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return retry::connection_closed(io);
        }
        source = cause.source();
    }
    false
}

/// `endpoint` as the request's URI: without its user-info, as the URL parser normalises
/// it (`127.1` is `127.0.0.1`).
fn endpoint_uri(endpoint: &str) -> Result<::http::Uri, String> {
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("{}: {e}", crate::config::url::redacted(endpoint)))?;
    let _ = url.set_username("");
    let _ = url.set_password(None);
    ::http::Uri::try_from(url.as_str())
        .map_err(|e| format!("{}: {e}", crate::config::url::redacted(endpoint)))
}

/// Reads the first `max` bytes of `response`'s body into `read` (fewer when it ends first);
/// reading stops there, or at the first error. What came is in `read` if the reading is
/// dropped before it ends.
pub(super) async fn read_bounded(response: Response, max: usize, read: &mut Vec<u8>) {
    let mut body = response.into_body();
    while read.len() < max {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(chunk) = frame.into_data() {
                    let room = max - read.len();
                    read.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            None | Some(Err(_)) => break,
        }
    }
}

#[cfg(test)]
mod tests;
