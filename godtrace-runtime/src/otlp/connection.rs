//! The HTTP/2 connection the gRPC transport sends on: h2's client, driven on the export
//! thread's runtime by one task (the connection's), with nothing between a request and it: no
//! service buffer's task and channel, no task per request body. A request's whole body is
//! handed to h2 at once, which writes it as the receiver's flow control allows.
//!
//! Opened on the first request (plain TCP with `TCP_NODELAY`, or TLS with ALPN `h2` for an
//! `https://` endpoint), within the target's timeout; opened again by the next request once
//! its task has ended (the receiver closed it, restarted, or it failed) or it takes no new
//! request (the receiver drains it: the requests in flight on it are answered there).
//! Requests share it.
use super::retry::Failure;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A sender of requests on the current connection.
pub(crate) type Sender = h2::client::SendRequest<Bytes>;

/// The receiver's connection, opened when needed.
pub(crate) struct Connection {
    dial: Dial,
    /// The connection in use, if any. Held while one is opened, so that two requests starting
    /// together open one.
    open: tokio::sync::Mutex<Option<Open>>,
}

/// An open connection.
struct Open {
    sender: Sender,
    /// Set by the connection's task when it ends: the connection is not used again.
    ended: Arc<AtomicBool>,
    /// The connection's task, stopped when the connection is let go (replaced, or the
    /// transport dropped): a connection given up because a request on it got no answer is
    /// closed then, rather than kept open for as long as the receiver keeps it (a receiver
    /// that never answers would otherwise hold one more connection per request timeout).
    /// `None` once the connection is left to finish (see [`Open::let_finish`]).
    task: Option<tokio::task::AbortHandle>,
}

impl Open {
    /// Lets the connection go without stopping its task: the requests in flight on it are
    /// answered there. For a connection that takes no new request because the receiver is
    /// draining it (HTTP/2 GOAWAY: it still answers the streams it took, RFC 9113 §6.8); its
    /// task ends when they are done (h2 closes a connection with no stream and no handle
    /// left), and a request on it that gets no answer in time resets its stream.
    fn let_finish(mut self) {
        self.task = None;
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Where the receiver is, and how to speak to it.
struct Dial {
    /// The host name or address (an IPv6 address without its brackets) and the port.
    host: String,
    port: u16,
    /// The TLS connector and the name the server's certificate must have, for `https://`.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    )>,
    /// The bound on opening a connection (TCP, TLS and HTTP/2 handshakes).
    timeout: Duration,
}

impl Connection {
    /// The connection to `endpoint` (an absolute `http://` or `https://` URI), over TLS with
    /// `tls` when given; opening it takes at most `timeout`. Nothing is opened yet.
    pub(crate) fn new(
        endpoint: &http::Uri,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> Result<Connection, String> {
        let host = endpoint.host().ok_or("the endpoint has no host")?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = endpoint
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let tls = match tls {
            None => None,
            Some(config) => Some(super::client::tls_connector(&host, config)?),
        };
        Ok(Connection {
            dial: Dial {
                host,
                port,
                tls,
                timeout,
            },
            open: tokio::sync::Mutex::new(None),
        })
    }

    /// A sender on the open connection, ready for a request, and the connection's
    /// [`Unanswered`] for that request; a new connection when there is none, the last one
    /// ended or was given up, or it takes no more requests (the receiver said it is going
    /// away, or it failed). A receiver that could not be reached is a failure to retry.
    pub(crate) async fn ready_sender(&self) -> Result<(Sender, Unanswered), Failure> {
        let mut open = self.open.lock().await;
        if let Some(current) = &*open
            && !current.ended.load(Ordering::Acquire)
        {
            match current.sender.clone().ready().await {
                Ok(sender) => return Ok((sender, Unanswered(Some(current.ended.clone())))),
                // Draining (or failed, when its task has ended anyway): the requests still
                // in flight on it are not cut off.
                Err(_) => {
                    if let Some(draining) = open.take() {
                        draining.let_finish();
                    }
                }
            }
        }
        *open = None;
        // Boxed: the handshakes' state is large, and the send future that awaits this is
        // moved on every request.
        let opened = Box::pin(self.dial.open()).await?;
        let sender = opened.sender.clone();
        let ended = opened.ended.clone();
        *open = Some(opened);
        let sender = sender
            .ready()
            .await
            .map_err(|e| format!("gRPC connection: {}", super::client::chain(&e)))?;
        Ok((sender, Unanswered(Some(ended))))
    }
}

/// A request on a connection, not answered yet: dropped so (its deadline passed, or shutdown
/// ended it), it gives the connection up, and the next request opens another. A connection
/// the receiver (or a middlebox) stopped answering on is not used again: nothing else would
/// tell, as the kernel still takes what is written.
pub(crate) struct Unanswered(Option<Arc<AtomicBool>>);

impl Unanswered {
    /// The request was answered in full.
    pub(crate) fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(ended) = &self.0 {
            ended.store(true, Ordering::Release);
        }
    }
}

impl Dial {
    /// Opens a connection within the timeout, and starts its task.
    async fn open(&self) -> Result<Open, Failure> {
        let in_tls_handshake = AtomicBool::new(false);
        match tokio::time::timeout(self.timeout, self.connect(&in_tls_handshake)).await {
            Ok(opened) => opened,
            Err(_) => {
                // HTTP/2's handshake waits for nothing (h2 writes its preface and goes on):
                // past the TCP connection, only TLS's can be what the time ran out in.
                let unfinished = if in_tls_handshake.load(Ordering::Relaxed) {
                    ": the server accepted the connection but did not finish the TLS handshake"
                } else {
                    ""
                };
                let message = format!(
                    "could not connect to {}:{} within {:?}{unfinished}",
                    self.host, self.port, self.timeout
                );
                let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
                Err(Failure::connecting(message, &timed_out))
            }
        }
    }

    /// Connects, noting in `in_tls_handshake` while the TLS handshake runs (said when the
    /// timeout cuts it short).
    async fn connect(&self, in_tls_handshake: &AtomicBool) -> Result<Open, Failure> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                let message = format!("could not connect to {}:{}: {e}", self.host, self.port);
                Failure::connecting(message, &e)
            })?;
        // Frames are written whole: Nagle's delay would only hold a request's last frame.
        tcp.set_nodelay(true)
            .map_err(|e| Failure::fatal(format!("TCP_NODELAY: {e}")))?;
        match &self.tls {
            None => Ok(handshake(tcp).await?),
            Some((connector, name)) => {
                in_tls_handshake.store(true, Ordering::Relaxed);
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS: {}", super::client::chain(&e)))?;
                in_tls_handshake.store(false, Ordering::Relaxed);
                Ok(handshake(tls).await?)
            }
        }
    }
}

/// The most header bytes (as HTTP/2 counts them) an answer may carry: a receiver's answer
/// has a few short ones.
const MAX_HEADER_LIST: u32 = 64 << 10;

/// The HTTP/2 handshake on `io`; the connection is then driven by a task of its own, which
/// marks it ended when it ends.
async fn handshake<T>(io: T) -> Result<Open, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = h2::client::Builder::new()
        // The receiver sends nothing it was not asked for.
        .enable_push(false)
        // An answer's headers bounded as its body is: h2 would otherwise buffer up to 16 MiB
        // of a header block (CONTINUATION frames included) per connection.
        .max_header_list_size(MAX_HEADER_LIST)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(|e| format!("HTTP/2 handshake: {}", super::client::chain(&e)))?;
    let ended = Arc::new(AtomicBool::new(false));
    let marks = ended.clone();
    let task = tokio::spawn(async move {
        // Its error reaches the requests in flight; the next request opens a new connection.
        let _ = connection.await;
        marks.store(true, Ordering::Release);
    });
    Ok(Open {
        sender,
        ended,
        task: Some(task.abort_handle()),
    })
}

#[cfg(test)]
mod tests {
    use super::Connection;
    use std::time::Duration;

    fn dial(endpoint: &str, tls: bool) -> (String, u16, bool) {
        let tls = tls.then(|| {
            let provider = crate::config::otlp::crypto_provider();
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            std::sync::Arc::new(config)
        });
        let uri: http::Uri = endpoint.parse().expect("a URI");
        let connection = Connection::new(&uri, tls, Duration::from_secs(1)).expect("built");
        let dial = connection.dial;
        (dial.host, dial.port, dial.tls.is_some())
    }

    #[test]
    fn the_host_port_and_tls_come_from_the_endpoint() {
        assert_eq!(
            dial("http://collector:4317", false),
            ("collector".to_owned(), 4317, false)
        );
        // An IPv6 address is looked up without its brackets.
        assert_eq!(
            dial("http://[::1]:4317", false),
            ("::1".to_owned(), 4317, false)
        );
        // The scheme's port when none is given.
        assert_eq!(
            dial("http://collector", false),
            ("collector".to_owned(), 80, false)
        );
        assert_eq!(
            dial("https://collector/", true),
            ("collector".to_owned(), 443, true)
        );
        assert_eq!(
            dial("https://127.0.0.1", true),
            ("127.0.0.1".to_owned(), 443, true)
        );
    }
}
