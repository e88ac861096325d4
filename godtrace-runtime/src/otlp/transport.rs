//! Sending one encoded OTLP export request, whatever the signal: over gRPC as one unary call
//! on the HTTP/2 connection of `connection`, or over HTTP as a protobuf `POST`. The span
//! exporter and the metrics push both send through [`Transport`]; only the gRPC method and
//! the endpoint differ. Built inside the export thread's runtime, which the connection and the
//! HTTP client belong to.
use super::answer::Rejected;
use super::body::BodyWriter;
use super::retry::{Failure, Pause, Retry, Schedule};
use crate::config::{Compression, OtlpTarget, Protocol};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// The most of an answer's body read: a partial success or an error's details, a few hundred
/// bytes in practice. A receiver sending more (or without end) costs no more memory.
const MAX_ANSWER: usize = 64 << 10;

/// The most of a gRPC answer read (past its first [`MAX_ANSWER`] bytes, only to reach its
/// status): gRPC's default bound on a message a client receives.
#[cfg(feature = "otlp-grpc")]
const MAX_GRPC_ANSWER: usize = 4 << 20;

/// What the requests of either transport say they come from, unless the configured headers
/// say otherwise: the exporter, its language and its version, as the OTLP exporter
/// specification asks of a User-Agent.
const USER_AGENT: &str = concat!("godtrace-OTLP-Exporter-Rust/", env!("CARGO_PKG_VERSION"));

/// The gRPC method of the trace service's export.
pub(crate) const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The gRPC method of the metrics service's export.
pub(crate) const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The proxy URLs of the environment the HTTP client may send through (see
/// `client::http_client`).
fn proxy_urls() -> Vec<String> {
    [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ]
    .iter()
    .filter_map(|name| std::env::var(name).ok())
    .collect()
}

/// A connection to the configured receiver, and how its request bodies are written.
pub(crate) struct Transport {
    wire: Wire,
    body: BodyWriter,
    /// Bounds a request, its retries included.
    timeout: Duration,
    /// The configured headers' values (API keys, tokens) and a proxy URL's credentials, long
    /// enough not to occur by chance: a receiver's words may quote them back, and never
    /// reach a message so. (The endpoint's own are scrubbed where a failure is reported.)
    secrets: Vec<String>,
    /// The endpoint's URL when it holds no credentials (no user-info, no query): godtrace's
    /// own words in a message, kept as they are (see `without_secrets`).
    endpoint: Option<String>,
    /// Told when a request gets through: requests waiting to connect again, or waiting out
    /// the pause after a failed one, go at once.
    reachable: tokio::sync::Notify,
    /// The pause after a failed request before the next ([`Pause`]).
    pause: Pause,
}

/// The client of either protocol, boxed: built once, and of very different sizes.
enum Wire {
    #[cfg(feature = "otlp-grpc")]
    Grpc(Box<grpc::Client>),
    #[cfg(feature = "otlp-http")]
    Http(Box<http::Client>),
}

impl Transport {
    /// Builds the transport of `target` (endpoint, timeout, compression, headers and TLS);
    /// over gRPC, requests call `grpc_method` ([`TRACES`] or [`METRICS`]). Connects lazily.
    pub(crate) fn new(target: &OtlpTarget, grpc_method: &'static str) -> Result<Self, String> {
        let gzip = target.compression == Compression::Gzip;
        let (wire, grpc) = match target.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => (
                grpc::Client::new(target, grpc_method).map(|c| Wire::Grpc(Box::new(c)))?,
                true,
            ),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => (
                http::Client::new(target).map(|c| Wire::Http(Box::new(c)))?,
                false,
            ),
            #[allow(unreachable_patterns)]
            other => {
                let _ = grpc_method;
                return Err(format!("{other:?} is not built into this godtrace"));
            }
        };
        // Each value whole, and its credential alone (`Bearer <token>`: a receiver may quote
        // the token only), each also as a receiver may quote it (in JSON, percent-encoded);
        // and the credentials of a proxy's URL, which the HTTP client may be sending through.
        let mut secrets: Vec<String> = target
            .headers
            .iter()
            .flat_map(|(_, value)| {
                let value = value.trim();
                let credential = value.rsplit(char::is_whitespace).next().unwrap_or(value);
                [value, credential]
                    .into_iter()
                    .flat_map(crate::config::url::quoted_forms)
            })
            .chain(
                proxy_urls()
                    .iter()
                    .flat_map(|url| crate::config::url::secrets(url)),
            )
            // As `url::secrets` keeps them: a user-info with its `@` whatever its length.
            .filter(|value| {
                value.len() >= crate::config::url::MIN_LONE_SECRET || value.ends_with('@')
            })
            .collect();
        // Longest first: a value that holds another is replaced whole.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Ok(Transport {
            wire,
            body: BodyWriter::new(grpc, gzip),
            timeout: target.timeout,
            secrets,
            endpoint: crate::config::url::secrets(&target.endpoint)
                .is_empty()
                .then(|| target.endpoint.clone()),
            reachable: tokio::sync::Notify::new(),
            pause: Pause::new(),
        })
    }

    /// Bytes an encoded request should leave free at its start, for [`Transport::body`]:
    /// then it is sent without a copy.
    pub(crate) fn head_room(&self) -> usize {
        self.body.head_room()
    }

    /// The body of `request`, an encoded export request behind [`Transport::head_room`]
    /// free bytes (see [`BodyWriter::body`]: compressed, `request` is left for reuse, and
    /// `records` say where its spans are).
    pub(crate) fn body(
        &self,
        request: &mut Vec<u8>,
        records: &[super::gzip::Record],
    ) -> Result<Vec<u8>, String> {
        self.body.body(request, records)
    }

    /// When the next request should go, after a failed one ([`Pause`]); `None`: now. Its
    /// callers hold their requests until then (the export thread, the metrics push).
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.pause.until()
    }

    /// Whether the last request failed (see [`Pause::failing`]).
    pub(crate) fn failing(&self) -> bool {
        self.pause.failing()
    }

    /// Whether bodies are gzipped.
    pub(crate) fn compresses(&self) -> bool {
        self.body.compresses()
    }

    /// Sends `request`, an encoded export request of the signal this transport was built
    /// for (without head room); an error says what went wrong. What the receiver rejected of
    /// a request it accepted (a partial success) comes back as `Ok(Some(..))`. `closing`: see
    /// [`Transport::send_body`].
    pub(crate) async fn send(
        &self,
        request: Vec<u8>,
        closing: impl std::future::Future<Output = ()>,
    ) -> Result<Option<Rejected>, String> {
        let body = self.body.body_of(request)?;
        self.send_body(body, closing).await
    }

    /// Sends a body [`Transport::body`] wrote; again after an answer the specification says
    /// to retry, or when the receiver could not be reached, while the wait ends within the
    /// timeout ([`super::retry`]); how it ends sets or ends the [`Pause`] before the next.
    /// Once `closing` completes (the exporter is shutting down), only a request the receiver
    /// never processed is sent again: an unreachable receiver, or one that answers it cannot
    /// take the request (a load balancer's 503 with no collector behind it), is not waited
    /// for, so that a process does not take seconds to exit for a collector that is not there.
    pub(crate) async fn send_body(
        &self,
        body: Vec<u8>,
        closing: impl std::future::Future<Output = ()>,
    ) -> Result<Option<Rejected>, String> {
        // Shared, not copied, by each attempt.
        let body = Bytes::from(body);
        let mut schedule = Schedule::new(self.timeout);
        let mut closing = std::pin::pin!(closing);
        // A request given up from outside (the exporter's own bound on it, which ends before
        // an attempt does when the receiver never answers) counts as failed too.
        let unanswered = FailsUnlessAnswered {
            pause: &self.pause,
            answered: std::cell::Cell::new(false),
        };
        // Reported, and the pause set.
        let failed = |failure: Failure| {
            unanswered.answered.set(true);
            let message = self.without_secrets(failure.message);
            self.pause.failed(failure.retry);
            Err(message)
        };
        loop {
            let failure = match self.attempt(body.clone()).await {
                Ok(answer) => {
                    unanswered.answered.set(true);
                    // Requests waiting to connect again go now: the receiver is back.
                    self.pause.got_through();
                    self.reachable.notify_waiters();
                    return Ok(answer.map(|mut rejected| {
                        rejected.message = self.without_secrets(rejected.message);
                        rejected
                    }));
                }
                Err(failure) => failure,
            };
            let Some(wait) = schedule.next_wait(&failure) else {
                return failed(failure);
            };
            if failure.retry == Retry::Resend {
                tokio::time::sleep(wait).await;
                continue;
            }
            // `closing` is polled here only, and never again once it completed. Another
            // request that gets through ends the wait for an unreachable receiver: it is back.
            let reconnect = failure.retry == Retry::Reconnect;
            let reachable = self.reachable.notified();
            tokio::select! {
                biased;
                () = closing.as_mut() => return failed(failure),
                () = reachable, if reconnect => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// `message` with every copy of a configured header's value (or of a proxy URL's
    /// credentials) replaced by `<redacted>`.
    fn without_secrets(&self, message: String) -> String {
        if self.secrets.is_empty() {
            return message;
        }
        let kept = self.endpoint.as_slice();
        crate::config::url::replace_all_keeping(&message, &self.secrets, kept)
    }

    async fn attempt(&self, body: Bytes) -> Result<Option<Rejected>, Failure> {
        match &self.wire {
            #[cfg(feature = "otlp-grpc")]
            Wire::Grpc(client) => client.send(body).await,
            #[cfg(feature = "otlp-http")]
            Wire::Http(client) => client.send(body).await,
        }
    }
}

/// Sets the pause after a failed request when it is dropped before it was answered or failed
/// (`answered`): given up from outside while an attempt waited.
struct FailsUnlessAnswered<'a> {
    pause: &'a Pause,
    answered: std::cell::Cell<bool>,
}

impl Drop for FailsUnlessAnswered<'_> {
    fn drop(&mut self) {
        if !self.answered.get() {
            self.pause.failed(Retry::No);
        }
    }
}

/// OTLP/gRPC: one unary call on the receiver's HTTP/2 connection ([`super::connection`]),
/// framed here ([`BodyWriter`]): the encoded request goes into the gRPC message as it is,
/// gzipped by godtrace's own encoder when asked ([`super::gzip`]; tonic's compression is
/// fixed at zlib's level 6, several times the CPU of encoding the spans). Its `grpc-status` decides; the answer's message is
/// read for a partial success (the spans the receiver rejected), at most [`MAX_ANSWER`] of it.
#[cfg(feature = "otlp-grpc")]
mod grpc {
    use super::{MAX_ANSWER, MAX_GRPC_ANSWER, Rejected, USER_AGENT};
    use crate::config::{Compression, OtlpTarget};
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
            let endpoint = http::Uri::try_from(target.endpoint.as_str())
                .map_err(|e| format!("{}: {e}", target.endpoint))?;
            Ok(Client {
                connection: Connection::new(&endpoint, client::grpc_tls(target)?, target.timeout)?,
                uri: method_uri(&endpoint, method)?,
                headers,
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
            let (response, mut body) = sender.send_request(call, false).map_err(h2_failure)?;
            // The whole message at once: h2 writes it as the receiver's window allows.
            body.send_data(frame, true).map_err(h2_failure)?;
            let (head, mut answer) = response.await.map_err(h2_failure)?.into_parts();
            if !head.status.is_success() {
                // The gRPC mapping of HTTP statuses: these are UNAVAILABLE, retried.
                let retry = Retry::when(retry::http_retryable(head.status.as_u16()), None);
                let message = format!("gRPC: HTTP {}", head.status);
                return Err(Failure { message, retry });
            }
            // Trailers-only answers carry the status in the headers.
            let mut message = Vec::new();
            let status = match grpc_status(&head.headers) {
                Some(status) => Some(status),
                None => {
                    let mut read = 0usize;
                    while let Some(data) = answer.data().await {
                        let data = data.map_err(h2_failure)?;
                        // Read: the connection's window takes it back. An answer (a partial
                        // success, an error's details) is a few hundred bytes: its first
                        // `MAX_ANSWER` are kept, which hold the count of rejected spans, and
                        // the rest is read past to the status, up to gRPC's usual bound on a
                        // message, since one without end never gives a status.
                        let _ = answer.flow_control().release_capacity(data.len());
                        read += data.len();
                        if read > MAX_GRPC_ANSWER {
                            return Err(Failure::fatal(format!(
                                "gRPC: an answer longer than {MAX_GRPC_ANSWER} bytes"
                            )));
                        }
                        let room = MAX_ANSWER.saturating_sub(message.len());
                        message.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    let trailers = answer.trailers().await.map_err(h2_failure)?;
                    trailers.as_ref().and_then(grpc_status)
                }
            };
            match status {
                Some((0, _)) => Ok(answer::rejected_in_grpc(&message)),
                Some((number, message)) => {
                    let code = tonic::Code::from(number);
                    let message = if message.is_empty() {
                        format!("gRPC status {code:?}")
                    } else {
                        format!("gRPC status {code:?}: {message}")
                    };
                    let retry = Retry::when(retry::grpc_retryable(number), None);
                    Err(Failure { message, retry })
                }
                None => Err(Failure::fatal(
                    "gRPC: the answer has no grpc-status".to_owned(),
                )),
            }
        }
    }

    /// An HTTP/2 error as a failed attempt. A stream the receiver never processed is retried
    /// (on a new connection, as the old one takes no more): one it refused (`REFUSED_STREAM`,
    /// which gRPC's HTTP/2 mapping reads as UNAVAILABLE) or left out when it said it was going
    /// away (RFC 9113 §6.8: such streams "were not processed" and can be retried; collectors
    /// and load balancers drain connections so), and a cancelled one (CANCELLED). Anything
    /// else, such as a connection lost mid-request, is not: the receiver may have taken it.
    fn h2_failure(e: h2::Error) -> Failure {
        let message = format!("gRPC: {}", client::chain(&e));
        let unprocessed = matches!(
            e.reason(),
            Some(h2::Reason::REFUSED_STREAM | h2::Reason::CANCEL)
        ) || (e.is_go_away() && e.is_remote());
        Failure {
            message,
            retry: Retry::resend_if(unprocessed),
        }
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

    /// The answer's status and message headers: names made once, not parsed on every answer.
    static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
    static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");

    /// `grpc-status` and `grpc-message` of `headers`, if the status is there.
    fn grpc_status(headers: &http::HeaderMap) -> Option<(i32, String)> {
        let code = headers.get(&GRPC_STATUS)?.to_str().ok()?.parse().ok()?;
        // The server's words, in a message of ours: bounded, percent-decoded (gRPC sends the
        // message so), and made one line (no control or direction-changing characters reach
        // a terminal).
        let message = headers
            .get(&GRPC_MESSAGE)
            .map(|m| {
                let mut message =
                    crate::text::one_line(&percent_decoded(&m.as_bytes()[..m.len().min(256)]));
                if m.len() > 256 {
                    message.push(crate::text::CUT_MARK);
                }
                message
            })
            .unwrap_or_default();
        Some((code, message))
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

    #[cfg(test)]
    mod tests {
        use super::super::Transport;
        use super::super::tests::run;
        use super::method_uri;
        use crate::config::{Compression, OtlpTarget, Protocol};
        use bytes::Bytes;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};

        /// What the test receiver does with a request: its connection's number and the
        /// request's number on the connection (both from 0).
        #[derive(Clone, Copy)]
        enum Answer {
            Ok,
            Refuse,
            Never,
            Endless,
            /// Status OK after a partial success rejecting nothing, with a 70 KB message.
            LongOk,
            /// Status OK with a 1 MiB header.
            HugeHeaders,
        }

        /// The connections a test receiver accepted, and those the client closed.
        #[derive(Default)]
        struct Connections {
            opened: AtomicUsize,
            closed: AtomicUsize,
        }

        /// A gRPC receiver on loopback (h2's server) answering each request as `answer`
        /// says; counts connections.
        async fn receiver(answer: fn(usize, usize) -> Answer) -> (OtlpTarget, Arc<Connections>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            receiver_on(listener, answer)
        }

        /// [`receiver`] on `listener`.
        fn receiver_on(
            listener: tokio::net::TcpListener,
            answer: fn(usize, usize) -> Answer,
        ) -> (OtlpTarget, Arc<Connections>) {
            let endpoint = format!("http://{}", listener.local_addr().unwrap());
            let connections = Arc::new(Connections::default());
            let counted = connections.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let connection = counted.opened.fetch_add(1, Ordering::SeqCst);
                    let counted = counted.clone();
                    tokio::spawn(async move {
                        let Ok(mut h2) = h2::server::handshake(socket).await else {
                            return;
                        };
                        let mut held = Vec::new();
                        let mut n = 0;
                        while let Some(Ok((_request, mut respond))) = h2.accept().await {
                            match answer(connection, n) {
                                Answer::Ok => {
                                    let ok = http::Response::builder()
                                        .header("content-type", "application/grpc")
                                        .header("grpc-status", "0")
                                        .body(())
                                        .unwrap();
                                    let _ = respond.send_response(ok, true);
                                }
                                Answer::Refuse => respond.send_reset(h2::Reason::REFUSED_STREAM),
                                Answer::HugeHeaders => {
                                    let ok = http::Response::builder()
                                        .header("content-type", "application/grpc")
                                        .header("grpc-status", "0")
                                        .header("x-padding", "p".repeat(1 << 20))
                                        .body(())
                                        .unwrap();
                                    let _ = respond.send_response(ok, true);
                                }
                                Answer::LongOk => {
                                    if let Ok(mut body) = respond.send_response(grpc_head(), false)
                                    {
                                        tokio::spawn(async move {
                                            let frame = long_partial_success();
                                            body.reserve_capacity(frame.len());
                                            let _ = body.send_data(frame.into(), false);
                                            let mut trailers = http::HeaderMap::new();
                                            trailers.insert(
                                                "grpc-status",
                                                http::HeaderValue::from_static("0"),
                                            );
                                            let _ = body.send_trailers(trailers);
                                        });
                                    }
                                }
                                Answer::Never => held.push(respond),
                                Answer::Endless => {
                                    if let Ok(mut body) = respond.send_response(grpc_head(), false)
                                    {
                                        tokio::spawn(async move {
                                            loop {
                                                body.reserve_capacity(16 << 10);
                                                let chunk = Bytes::from(vec![0u8; 16 << 10]);
                                                if body.send_data(chunk, false).is_err() {
                                                    return;
                                                }
                                                tokio::time::sleep(Duration::from_millis(1)).await;
                                            }
                                        });
                                    }
                                }
                            }
                            n += 1;
                        }
                        counted.closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
            (grpc_target(endpoint), connections)
        }

        fn grpc_target(endpoint: String) -> OtlpTarget {
            OtlpTarget {
                protocol: Protocol::Grpc,
                endpoint,
                headers: Vec::new(),
                // Far beyond what the tests wait: reaching it is the failure they catch.
                timeout: Duration::from_secs(60),
                compression: Compression::None,
                tls: Default::default(),
            }
        }

        const FRAME: &[u8] = b"\0\0\0\0\0";

        /// A stream the receiver refused (`REFUSED_STREAM`: gRPC's UNAVAILABLE, nothing was
        /// processed) is sent again.
        #[test]
        fn a_refused_stream_is_sent_again() {
            run(async {
                let (target, _) =
                    receiver(|_, n| if n == 0 { Answer::Refuse } else { Answer::Ok }).await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                assert_eq!(
                    transport
                        .send_body(FRAME.to_vec(), std::future::pending())
                        .await,
                    Ok(None)
                );
            });
        }

        /// A receiver that cannot be reached yet (a collector restarting) is connected to
        /// again, after a backoff, and gets the request once it listens.
        #[test]
        fn a_receiver_not_listening_yet_gets_the_request_once_it_listens() {
            run(async {
                let port = super::super::tests::port_nothing_listens_on();
                let late = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
                    receiver_on(listener.unwrap(), |_, _| Answer::Ok)
                });
                let target = grpc_target(format!("http://127.0.0.1:{port}"));
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let sent = transport.send_body(FRAME.to_vec(), std::future::pending());
                assert_eq!(sent.await, Ok(None));
                let (_, connections) = late.await.unwrap();
                assert_eq!(connections.opened.load(Ordering::SeqCst), 1);
            });
        }

        /// A connection that stopped answering (a middlebox dropped it, the receiver hangs on
        /// it) is given up when a request on it runs out of time: the next request opens
        /// another, and gets through.
        #[test]
        fn a_connection_that_stopped_answering_is_given_up() {
            run(async {
                let (target, connections) = receiver(|connection, _| {
                    if connection == 0 {
                        Answer::Never
                    } else {
                        Answer::Ok
                    }
                })
                .await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let first = tokio::time::timeout(
                    Duration::from_millis(300),
                    transport.send_body(FRAME.to_vec(), std::future::pending()),
                )
                .await;
                assert!(first.is_err(), "no answer on the first connection");
                assert_eq!(
                    transport
                        .send_body(FRAME.to_vec(), std::future::pending())
                        .await,
                    Ok(None)
                );
                assert_eq!(connections.opened.load(Ordering::SeqCst), 2);
            });
        }

        /// A connection given up (a request on it got no answer in time) is closed when the
        /// next request opens another: a receiver that never answers does not hold one more
        /// connection per request timeout.
        #[test]
        fn a_connection_given_up_is_closed() {
            run(async {
                let (target, connections) = receiver(|_, _| Answer::Never).await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                for _ in 0..4 {
                    // Each request given up is a failed one: the next waits out its pause
                    // first, here, so that each gets to its connection.
                    if let Some(until) = transport.paused_until() {
                        tokio::time::sleep_until(until.into()).await;
                    }
                    let sent = transport.send_body(FRAME.to_vec(), std::future::pending());
                    let given_up = tokio::time::timeout(Duration::from_millis(200), sent).await;
                    assert!(given_up.is_err());
                }
                // The receiver sees the first three closed (the fourth is the one in use).
                let deadline = Instant::now() + Duration::from_secs(30);
                while connections.closed.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                assert_eq!(connections.opened.load(Ordering::SeqCst), 4);
                assert_eq!(connections.closed.load(Ordering::SeqCst), 3);
            });
        }

        /// The head of a gRPC answer whose status comes in its trailers.
        fn grpc_head() -> http::Response<()> {
            http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap()
        }

        /// A partial success that rejects nothing, with a 70 KB message, framed for gRPC.
        fn long_partial_success() -> Vec<u8> {
            use prost::Message;
            let partial = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse {
                partial_success: Some(
                    opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                        rejected_spans: 0,
                        error_message: "w".repeat(70_000),
                    },
                ),
            }
            .encode_to_vec();
            let mut frame = vec![0u8];
            frame.extend_from_slice(&(partial.len() as u32).to_be_bytes());
            frame.extend_from_slice(&partial);
            frame
        }

        /// An answer longer than what is kept of it, with status OK, is an export that
        /// succeeded: the spans were delivered.
        #[test]
        fn a_long_ok_answer_is_a_success() {
            run(async {
                let (target, _) = receiver(|_, _| Answer::LongOk).await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let sent = transport
                    .send_body(FRAME.to_vec(), std::future::pending())
                    .await;
                assert_eq!(sent, Ok(None));
                assert!(crate::otlp::transport::MAX_GRPC_ANSWER > long_partial_success().len());
            });
        }

        /// An answer's headers are bounded as its body is (h2 would buffer 16 MiB of them):
        /// a receiver that sends more is a failed export.
        #[test]
        fn huge_answer_headers_are_refused() {
            run(async {
                let (target, _) = receiver(|_, _| Answer::HugeHeaders).await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let sent = transport
                    .send_body(FRAME.to_vec(), std::future::pending())
                    .await;
                assert!(sent.is_err(), "{sent:?}");
            });
        }

        /// An answer without end is read up to the answers' bound, not until the timeout.
        #[test]
        fn an_endless_answer_is_given_up_at_its_bound() {
            run(async {
                let (target, _) = receiver(|_, _| Answer::Endless).await;
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let started = Instant::now();
                let error = transport
                    .send_body(FRAME.to_vec(), std::future::pending())
                    .await
                    .unwrap_err();
                assert!(error.contains("longer than"), "{error}");
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "{:?}",
                    started.elapsed()
                );
            });
        }

        /// The receiver's `grpc-message` is percent-decoded and cannot drive a terminal.
        #[test]
        fn the_grpc_message_is_decoded_and_made_one_line() {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-status", http::HeaderValue::from_static("3"));
            headers.insert(
                "grpc-message",
                http::HeaderValue::from_static("bad%20value%C2%9B2J%E2%80%AE%0Anext%zz"),
            );
            let (code, message) = super::grpc_status(&headers).unwrap();
            assert_eq!(code, 3);
            assert_eq!(message, "bad value\\u{9b}2J\\u{202e}\\nnext%zz");
        }

        #[test]
        fn the_method_uri_has_the_endpoints_scheme_and_host_and_never_its_credentials() {
            let method = super::super::TRACES;
            let uri = |endpoint: &str| {
                method_uri(&endpoint.parse().expect("a URI"), method)
                    .expect("built")
                    .to_string()
            };
            assert_eq!(
                uri("http://collector:4317"),
                format!("http://collector:4317{method}")
            );
            assert_eq!(
                uri("https://user:secret@collector/base"),
                format!("https://collector{method}")
            );
            assert_eq!(
                uri("http://[::1]:4317"),
                format!("http://[::1]:4317{method}")
            );
        }
    }
}

/// OTLP/HTTP: a `POST` of the encoded request (gzipped when asked) with the configured
/// headers, set last so they win.
#[cfg(feature = "otlp-http")]
mod http {
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

        /// Sends `body`, the request as it goes on the wire (gzipped when configured).
        pub(super) async fn send(&self, body: Bytes) -> Result<Option<Rejected>, Failure> {
            match tokio::time::timeout(self.timeout, self.exchange(body)).await {
                Ok(outcome) => outcome,
                // Whole milliseconds, as the export thread words its own bound.
                Err(_) => Err(Failure::from(format!(
                    "{}: no answer within {} ms",
                    self.url,
                    self.timeout.as_millis()
                ))),
            }
        }

        /// The request and the reading of its answer.
        async fn exchange(&self, body: Bytes) -> Result<Option<Rejected>, Failure> {
            let mut request = ::http::Request::new(Full::new(body));
            *request.method_mut() = ::http::Method::POST;
            *request.uri_mut() = self.uri.clone();
            *request.headers_mut() = self.headers.clone();
            let response = match self.inner.send(request).await {
                Ok(response) => response,
                Err(e) => {
                    let message = format!("{}: {}", self.url, client::chain(&e));
                    if e.is_connect() {
                        return Err(Failure::connecting(message, &e));
                    }
                    // Closed or reset after the request went out, before any answer: a
                    // kept-alive connection the receiver closed as it was reused (likeliest at
                    // shutdown's last flush, after an idle spell), or a receiver restarting.
                    // The specification has the request sent again, shutdown or not.
                    let retry = Retry::resend_if(closed_before_answer(&e));
                    return Err(Failure { message, retry });
                }
            };
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
            // receiver sending without end costs no memory (the connection is then dropped).
            let answer = read_bounded(response, MAX_ANSWER).await;
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
                Err(Failure { message, retry })
            }
        }
    }

    /// Whether `error` is a connection's end (closed, reset) after it was opened and before
    /// any answer came: not a connection that could not be opened, nor an answer that broke a
    /// bound.
    fn closed_before_answer(error: &hyper_util::client::legacy::Error) -> bool {
        use std::io::ErrorKind;
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
                && hyper.is_incomplete_message()
            {
                return true;
            }
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                return matches!(
                    io.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                        | ErrorKind::UnexpectedEof
                );
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

    /// The first `max` bytes of `response`'s body (fewer when it ends first); reading stops
    /// there, or at the first error.
    pub(super) async fn read_bounded(response: Response, max: usize) -> Vec<u8> {
        let mut body = response.into_body();
        let mut read = Vec::new();
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
        read
    }

    #[cfg(test)]
    mod tests {
        use super::super::Transport;
        use super::super::tests::run;
        use super::Client;
        use crate::config::{Compression, OtlpTarget, Protocol};
        use bytes::Bytes;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpListener;

        fn target(endpoint: String) -> OtlpTarget {
            OtlpTarget {
                protocol: Protocol::HttpProtobuf,
                endpoint,
                headers: vec![
                    ("x-api-key".into(), "s3cr3t".into()),
                    ("authorization".into(), "Bearer t0k3n-only".into()),
                    ("x-quoted".into(), "Tok3n\"Secret Value".into()),
                ],
                // Far beyond what the tests wait: reaching it is the failure they catch.
                timeout: Duration::from_secs(120),
                compression: Compression::None,
                tls: Default::default(),
            }
        }

        /// A loopback server answering its `i`-th connection with `answers[i]` (the last one
        /// past them; its head, then `body_chunk` and silence when given), and counting the
        /// connections.
        async fn server(
            answers: &[&str],
            body_chunk: Option<Vec<u8>>,
        ) -> (String, Arc<AtomicUsize>) {
            let answers: Vec<String> = answers.iter().map(|a| a.to_string()).collect();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
            let connections = Arc::new(AtomicUsize::new(0));
            let counted = connections.clone();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let i = counted.fetch_add(1, Ordering::SeqCst);
                    let answer = answers[i.min(answers.len() - 1)].clone();
                    let chunk = body_chunk.clone();
                    tokio::spawn(async move {
                        let mut request = [0u8; 4096];
                        let _ = socket.read(&mut request).await;
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if let Some(chunk) = &chunk {
                            let _ = socket.write_all(chunk).await;
                            // The rest never comes: the connection stays open, silent.
                            std::future::pending::<()>().await;
                        }
                    });
                }
            });
            (url, connections)
        }

        /// The error of a request to `url` whose exporter starts closing 200 ms after it
        /// was sent.
        async fn failed_while_closing(url: String) -> String {
            let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
            let closing = tokio::time::sleep(Duration::from_millis(200));
            transport
                .send_body(b"spans".to_vec(), closing)
                .await
                .unwrap_err()
        }

        const SPANS: Bytes = Bytes::from_static(b"spans");

        /// A throttling answer (`503` with `Retry-After`) is sent again, and the next answer
        /// decides; an answer the specification does not retry (`400`) fails at once.
        #[test]
        fn a_throttled_request_is_sent_again_after_the_servers_delay() {
            run(async {
                let throttled = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\n\
                                 connection: close\r\ncontent-length: 0\r\n\r\n";
                let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&[throttled, throttled, ok], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                assert_eq!(
                    transport
                        .send_body(b"spans".to_vec(), std::future::pending())
                        .await,
                    Ok(None)
                );
                assert_eq!(attempts.load(Ordering::SeqCst), 3);

                let bad = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
                           content-length: 0\r\n\r\n";
                let (url, attempts) = server(&[bad, ok], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let error = transport
                    .send_body(b"spans".to_vec(), std::future::pending())
                    .await
                    .unwrap_err();
                assert!(error.contains("400"), "{error}");
                assert_eq!(attempts.load(Ordering::SeqCst), 1);
            });
        }

        /// A receiver that asks for a pause (`Retry-After`) is given it before the next
        /// request, up to a minute (years asked for are a minute); a request that gets
        /// through ends it.
        #[test]
        fn a_throttling_answer_sets_the_pause_it_asks_for_up_to_a_minute() {
            run(async {
                let throttled = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 999999999\r\n\
                                 connection: close\r\ncontent-length: 0\r\n\r\n";
                let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&[throttled, ok], None).await;
                let mut target = target(url);
                target.timeout = Duration::from_millis(400);
                let transport = Transport::new(&target, super::super::TRACES).unwrap();
                let first = transport.send_body(b"spans".to_vec(), std::future::pending());
                assert!(first.await.unwrap_err().contains("429"));
                assert_eq!(attempts.load(Ordering::SeqCst), 1);
                let pause = transport.paused_until().expect("paused");
                let ahead = pause.saturating_duration_since(Instant::now());
                assert!(ahead > Duration::from_secs(55) && ahead <= Duration::from_secs(60));
                // Sent anyway (as shutdown's last flush is): it gets through, and the pause ends.
                let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
                assert_eq!(sent.await, Ok(None));
                assert!(transport.paused_until().is_none() && !transport.failing());
            });
        }

        /// A request given up from outside before any answer (the export thread's own bound
        /// on it: a receiver that never answers) counts as failed: the next waits, and goes
        /// alone. (Requests went out in pairs, each second, with no pause.)
        #[test]
        fn a_request_given_up_unanswered_pauses_the_next() {
            run(async {
                let (url, attempts) = server(&["HTTP/1.1 200 OK\r\n"], Some(Vec::new())).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let send = transport.send_body(b"spans".to_vec(), std::future::pending());
                let outer = tokio::time::timeout(Duration::from_millis(200), send).await;
                assert!(outer.is_err(), "never answered");
                assert_eq!(attempts.load(Ordering::SeqCst), 1);
                assert!(transport.paused_until().is_some() && transport.failing());
            });
        }

        /// Failed requests in a row set a pause before the next that doubles (from 100 ms,
        /// jittered to half of it at least), whatever the failure; a request that gets
        /// through ends it: a receiver refusing every request (a wrong path, a bad
        /// certificate) is not sent the next batch at once, each time.
        #[test]
        fn failed_requests_in_a_row_pause_the_next_longer_until_one_gets_through() {
            run(async {
                let bad = "HTTP/1.1 404 Not Found\r\nconnection: close\r\n\
                           content-length: 0\r\n\r\n";
                let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&[bad, bad, bad, ok], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                for least in [50, 100, 200] {
                    let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
                    assert!(sent.await.is_err());
                    let pause = transport.paused_until().expect("paused after a failure");
                    let ahead = pause.saturating_duration_since(Instant::now());
                    // Within the doubled backoff's jitter (less the time since it was set).
                    assert!(ahead <= Duration::from_millis(2 * least), "{ahead:?}");
                    assert!(ahead + Duration::from_millis(20) >= Duration::from_millis(least));
                    tokio::time::sleep_until(pause.into()).await;
                }
                let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
                assert_eq!(sent.await, Ok(None));
                assert!(transport.paused_until().is_none() && !transport.failing());
                assert_eq!(attempts.load(Ordering::SeqCst), 4);
            });
        }

        /// A connection closed after the request went out and before any answer (a
        /// kept-alive connection the receiver closed as it was reused) has the request sent
        /// again, on a new connection, as the specification asks.
        #[test]
        fn a_connection_closed_before_any_answer_has_the_request_sent_again() {
            run(async {
                let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&["", ok], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                assert_eq!(
                    transport
                        .send_body(b"spans".to_vec(), std::future::pending())
                        .await,
                    Ok(None)
                );
                assert_eq!(attempts.load(Ordering::SeqCst), 2);
            });
        }

        /// A receiver that answers it cannot take the request now (a load balancer's 503
        /// with no collector behind it, asking for 5 s) is not waited out once the exporter
        /// is closing: the answer is the error, at once, not after the retries the request's
        /// timeout leaves room for.
        #[test]
        fn a_throttling_answer_is_not_waited_out_once_the_exporter_closes() {
            run(async {
                let unavailable = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\n\
                                   connection: close\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&[unavailable], None).await;
                let error = failed_while_closing(url).await;
                assert!(error.contains("503"), "{error}");
                assert_eq!(attempts.load(Ordering::SeqCst), 1, "not sent again");
            });
        }

        /// A kept-alive connection the receiver closed as it was reused is the likeliest
        /// failure of shutdown's last flush (after an idle spell): the request is sent again
        /// on a new connection even once the exporter is closing.
        #[test]
        fn a_connection_closed_before_any_answer_is_resent_even_when_closing() {
            run(async {
                let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                let (url, attempts) = server(&["", ok], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let closing = std::future::ready(());
                assert_eq!(
                    transport.send_body(b"spans".to_vec(), closing).await,
                    Ok(None)
                );
                assert_eq!(attempts.load(Ordering::SeqCst), 2);
            });
        }

        /// A receiver that cannot be reached yet (a collector restarting) is connected to
        /// again, after a backoff, and gets the request once it listens; once the exporter is
        /// closing, it is not waited for (the process does not wait to exit for a collector
        /// that is not there), nor is a request retried past its timeout.
        #[test]
        fn an_unreachable_receiver_is_tried_again_until_the_exporter_closes() {
            run(async {
                let port = super::super::tests::port_nothing_listens_on();
                let url = format!("http://127.0.0.1:{port}/v1/traces");
                let late = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
                    let (mut socket, _) = listener.accept().await.unwrap();
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    socket.write_all(ok.as_bytes()).await.unwrap();
                });
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
                assert_eq!(sent.await, Ok(None));
                late.await.unwrap();

                // Closing, while it backs off: the refusal is the error, long before the
                // 120 s timeout.
                let port = super::super::tests::port_nothing_listens_on();
                let url = format!("http://127.0.0.1:{port}/v1/traces");
                let started = Instant::now();
                let error = failed_while_closing(url).await;
                assert!(error.contains("refused"), "{error}");
                assert!(started.elapsed() < Duration::from_secs(30), "{error}");

                // Retried within the timeout only.
                let mut short = target(format!("http://127.0.0.1:{port}/v1/traces"));
                short.timeout = Duration::from_millis(400);
                let transport = Transport::new(&short, super::super::TRACES).unwrap();
                let started = Instant::now();
                let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
                assert!(sent.await.is_err());
                assert!(started.elapsed() < Duration::from_secs(30));
            });
        }

        /// A header's value is redacted where a receiver quotes it (also as Go's JSON
        /// encoder and a `\/`-escaping one write it), not inside the endpoint's URL, which the
        /// message names already and which may hold its letters (`traces`).
        #[test]
        fn header_values_are_redacted_in_a_receivers_words_not_in_the_endpoint() {
            let mut target = target("http://127.0.0.1:1/v1/traces".to_owned());
            target.headers = vec![
                ("x-dataset".into(), "traces".into()),
                ("x-api-key".into(), "tok<en>&x1234".into()),
                ("x-other".into(), "abc/def+ghi==".into()),
            ];
            let transport = Transport::new(&target, super::super::TRACES).unwrap();
            let message = transport.without_secrets(
                "error sending request for url (http://127.0.0.1:1/v1/traces): \
                 dataset traces refused; key \"tok\\u003cen\\u003e\\u0026x1234\" and \
                 \"abc\\/def+ghi==\""
                    .to_owned(),
            );
            assert!(
                message.starts_with("error sending request for url (http://127.0.0.1:1/v1/traces)"),
                "{message}"
            );
            assert!(message.contains("dataset <redacted> refused"), "{message}");
            assert!(
                !message.contains("tok") && !message.contains("def+ghi"),
                "{message}"
            );
        }

        /// A failed request's answer says why in a `google.rpc.Status` (the specification):
        /// its message is in the error, as one line, without the configured headers' values
        /// a receiver may quote back; a body of another type (a proxy's page) is not read so.
        #[test]
        fn a_failures_status_message_is_in_the_error_without_secrets() {
            run(async {
                let message = "bad thing: key s3cr3t (t0k3n-only, BEARER T0K3N-ONLY) \
                               {\"k\":\"Tok3n\\\"Secret Value\"} Tok3n%22Secret%20Value \
                               refused\nsecond line";
                let mut status = vec![0x08, 0x03, 0x12, message.len() as u8];
                status.extend_from_slice(message.as_bytes());
                let status = String::from_utf8(status).unwrap();
                let head = |kind: &str| {
                    format!(
                        "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: {kind}\r\n\
                         content-length: {}\r\n\r\n{status}",
                        status.len()
                    )
                };
                let protobuf = head("application/x-protobuf");
                let (url, _) = server(&[&protobuf], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let error = transport
                    .send_body(b"spans".to_vec(), std::future::pending())
                    .await
                    .unwrap_err();
                assert!(
                    error.contains("HTTP 400 Bad Request: bad thing: key"),
                    "{error}"
                );
                // A header's credential alone (the token of `Bearer <token>`) too.
                // In any case, escaped in JSON, percent-encoded.
                let lower = error.to_ascii_lowercase();
                assert!(
                    !lower.contains("s3cr3t")
                        && !lower.contains("t0k3n")
                        && !lower.contains("secret")
                        && !error.contains('\n'),
                    "{error}"
                );
                assert!(error.contains(r"refused\nsecond line"), "{error}");

                let html = head("text/html");
                let (url, _) = server(&[&html], None).await;
                let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                let error = transport
                    .send_body(b"spans".to_vec(), std::future::pending())
                    .await
                    .unwrap_err();
                assert!(error.ends_with("HTTP 400 Bad Request"), "{error}");
            });
        }

        /// The receiver's words are cut (at 256 bytes) before the secrets are looked for: a
        /// configured value the cut splits is redacted as far as it goes, not printed.
        #[test]
        fn a_secret_the_cut_of_a_status_message_splits_is_redacted() {
            run(async {
                for kept in 1..6 {
                    let message = format!("{} key=s3cr3t refused", "p".repeat(256 - 5 - kept));
                    // The message's length as a two-byte varint (it is 265 to 269 bytes long).
                    let len = message.len();
                    let mut status = vec![
                        0x08,
                        0x03,
                        0x12,
                        (len & 0x7f) as u8 | 0x80,
                        (len >> 7) as u8,
                    ];
                    status.extend_from_slice(message.as_bytes());
                    let head = format!(
                        "HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\
                         content-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
                        status.len()
                    );
                    let (url, _) = server(&[&head], Some(status)).await;
                    let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
                    let error = transport
                        .send_body(b"spans".to_vec(), std::future::pending())
                        .await
                        .unwrap_err();
                    let cut = &"s3cr3t"[..kept];
                    assert!(error.contains(" key=<redacted>…"), "{kept}: {error}");
                    assert!(!error.contains(&format!("={cut}")), "{kept}: {error}");
                }
            });
        }

        /// A redirect would take the spans and the API key to another host: it is a failed
        /// export, and the host it names is never contacted.
        #[test]
        fn a_redirect_is_a_failure_and_is_not_followed() {
            run(async {
                let (elsewhere, contacted) =
                    server(&["HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], None).await;
                let redirect = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}\r\n\
                     content-length: 0\r\n\r\n"
                );
                let (url, _) = server(&[&redirect], None).await;
                let client = Client::new(&target(url)).unwrap();
                let error = client.send(SPANS).await.unwrap_err().message;
                assert!(
                    error.contains("307") && error.contains("redirects"),
                    "{error}"
                );
                assert_eq!(
                    contacted.load(Ordering::SeqCst),
                    0,
                    "the redirect was followed"
                );
            });
        }

        /// A receiver that answers with informational heads without end (`100 Continue`,
        /// which HTTP clients skip) costs a bounded amount of reading: the request fails once
        /// its connection has read its bound, not at the request timeout (120 s here).
        #[test]
        fn endless_informational_answers_fail_the_request_after_a_bounded_read() {
            run(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
                let sent = Arc::new(AtomicUsize::new(0));
                let counted = sent.clone();
                tokio::spawn(async move {
                    while let Ok((mut socket, _)) = listener.accept().await {
                        let counted = counted.clone();
                        tokio::spawn(async move {
                            let mut request = [0u8; 4096];
                            let _ = socket.read(&mut request).await;
                            let heads = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
                            while socket.write_all(&heads).await.is_ok() {
                                counted.fetch_add(heads.len(), Ordering::SeqCst);
                            }
                        });
                    }
                });
                let client = Client::new(&target(url)).unwrap();
                let started = Instant::now();
                let error = client.send(SPANS).await.unwrap_err().message;
                assert!(error.contains("KiB in answer"), "{error}");
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "read until the timeout: {:?}",
                    started.elapsed()
                );
                assert!(sent.load(Ordering::SeqCst) >= 256 << 10);
            });
        }

        /// A receiver that answers with a body it never finishes (5 GB announced) costs at
        /// most `MAX_ANSWER` of it: the send ends once that much is read, not at the request
        /// timeout with all it sent held.
        #[test]
        fn an_endless_answer_is_read_only_up_to_its_bound() {
            run(async {
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n";
                let (url, _) = server(&[head], Some(vec![b'x'; 2 << 20])).await;
                let client = Client::new(&target(url)).unwrap();
                let started = Instant::now();
                assert_eq!(client.send(SPANS).await.ok(), Some(None));
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "read until the timeout: {:?}",
                    started.elapsed()
                );
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// A loopback port nothing listens on (bound, then let go).
    pub(crate) fn port_nothing_listens_on() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    /// Runs a test's future on a current-thread runtime with timers and I/O.
    pub(crate) fn run<T>(test: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test)
    }
}
