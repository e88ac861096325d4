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

    /// Whether the last request failed without an answer (see [`Pause::unanswered`]).
    pub(crate) fn unanswered(&self) -> bool {
        self.pause.unanswered()
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
            self.pause.failed(&failure);
            let message = self.without_secrets(failure.message);
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
            self.pause.failed_unanswered();
        }
    }
}

/// OTLP/gRPC: one unary call on the receiver's HTTP/2 connection ([`super::connection`]),
/// framed here ([`BodyWriter`]): the encoded request goes into the gRPC message as it is,
/// gzipped by godtrace's own encoder when asked ([`super::gzip`]; tonic's compression is
/// fixed at zlib's level 6, several times the CPU of encoding the spans). Its `grpc-status` decides; the answer's message is
/// read for a partial success (the spans the receiver rejected), at most [`MAX_ANSWER`] of it.
#[cfg(feature = "otlp-grpc")]
mod grpc;

/// OTLP/HTTP: a `POST` of the encoded request (gzipped when asked) with the configured
/// headers, set last so they win.
#[cfg(feature = "otlp-http")]
mod http;

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
