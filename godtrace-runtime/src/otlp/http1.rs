//! The OTLP/HTTP transport's client: HTTP/1.1 (hyper-util's pooled client) over a connector of
//! godtrace's own (TCP, or the proxy the environment names, then TLS for `https://`) whose
//! connections read at most [`MAX_READ`] bytes between two requests.
//!
//! Why the bound: hyper reads and skips informational (`1xx`) heads in one loop, as many as
//! arrive, returning to the runtime only between reads; a receiver sending them without end
//! kept the export thread in one poll for seconds (no timeout could fire) and a core busy for
//! as long as it went on. Past the bound the connection fails, and so does its request: the
//! work of parsing 256 KiB, whatever the receiver sends. (An answer's body is read up to
//! `MAX_ANSWER` anyway.)
use crate::config::OtlpTarget;
use bytes::Bytes;
use http::{HeaderValue, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::client::legacy::connect::proxy::{SocksV4, SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

/// The most bytes a connection reads between two requests it writes: an answer's head (at
/// most [`READ_BUFFER`]), the part of its body that is read (`MAX_ANSWER`) and what hyper
/// buffers past it, with room to spare.
const MAX_READ: u64 = 256 << 10;

/// hyper's read buffer: at most this much is read (and parsed) at once.
const READ_BUFFER: usize = 64 << 10;

/// What a connection's setup fails with.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer, its body not read yet.
pub(crate) type Response = http::Response<hyper::body::Incoming>;

/// The client of one OTLP/HTTP endpoint: its connections, and the header a proxy that
/// forwards its requests asks for.
pub(crate) struct HttpClient {
    pooled: Pooled<Connector, Full<Bytes>>,
    /// `Proxy-Authorization`, for requests a proxy forwards (an `http://` endpoint's).
    proxy_authorization: Option<HeaderValue>,
}

impl HttpClient {
    /// The client of `endpoint` (without user-info), over TLS with `tls` for `https://`,
    /// taking `route` there; a connection is opened within `timeout`.
    pub(crate) fn new(
        endpoint: &Uri,
        tls: Option<Arc<rustls::ClientConfig>>,
        route: Route,
        timeout: std::time::Duration,
    ) -> Result<HttpClient, String> {
        let tls = match tls {
            None => None,
            Some(config) => {
                let host = endpoint.host().ok_or("the endpoint has no host")?;
                Some(super::client::tls_connector(host, config)?)
            }
        };
        let mut tcp = HttpConnector::new();
        // `https://` too: TLS is the connector's next step, not the TCP connector's refusal.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout));
        let proxy_authorization = match &route {
            Route::Forward { authorization, .. } => authorization.clone(),
            _ => None,
        };
        let connector = Connector {
            route: Arc::new(route),
            tcp,
            tls,
        };
        let pooled = Pooled::builder(TokioExecutor::new())
            .http1_max_buf_size(READ_BUFFER)
            // Two requests in flight at once (the exporter's), each on a connection.
            .pool_max_idle_per_host(2)
            .build(connector);
        Ok(HttpClient {
            pooled,
            proxy_authorization,
        })
    }

    /// Sends `request`; the answer's body is left to read.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<Response, hyper_util::client::legacy::Error> {
        if let Some(authorization) = &self.proxy_authorization {
            request
                .headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, authorization.clone());
        }
        self.pooled.request(request).await
    }
}

/// How connections reach the endpoint: decided once, from the environment's proxy variables
/// (see [`route`]).
pub(crate) enum Route {
    Direct,
    /// An `http://` endpoint through an HTTP proxy, which gets the requests (in absolute form).
    Forward {
        proxy: Uri,
        authorization: Option<HeaderValue>,
    },
    /// An `https://` endpoint through an HTTP proxy: a `CONNECT` tunnel, TLS inside it.
    Tunnel {
        proxy: Uri,
        authorization: Option<HeaderValue>,
    },
    /// Through a SOCKS5 proxy; `local_dns` for `socks5://` (`socks5h://` leaves the name to
    /// the proxy).
    Socks5 {
        proxy: Uri,
        credentials: Option<(String, String)>,
        local_dns: bool,
    },
    /// Through a SOCKS4 proxy; `local_dns` for `socks4://`.
    Socks4 {
        proxy: Uri,
        local_dns: bool,
    },
}

/// Opens the client's connections.
#[derive(Clone)]
struct Connector {
    route: Arc<Route>,
    tcp: HttpConnector,
    /// The TLS connector and the name the server's certificate must have, for `https://`.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    )>,
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, endpoint: Uri) -> Self::Future {
        Box::pin(self.clone().connect(endpoint))
    }
}

impl Connector {
    /// A connection to `endpoint`, the way the route goes.
    async fn connect(self, endpoint: Uri) -> Result<Conn, BoxError> {
        let tcp = self.tcp;
        // A proxy's failure says so (never with its URL, which may hold its credentials).
        let via_proxy = |e: BoxError| -> BoxError { Box::new(ThroughProxy(e)) };
        let (io, forwarded) = match &*self.route {
            Route::Direct => (ready_call(tcp, endpoint).await?, false),
            Route::Forward { proxy, .. } => (
                ready_call(tcp, proxy.clone()).await.map_err(via_proxy)?,
                true,
            ),
            Route::Tunnel {
                proxy,
                authorization,
            } => {
                let mut tunnel = Tunnel::new(proxy.clone(), tcp);
                if let Some(authorization) = authorization {
                    tunnel = tunnel.with_auth(authorization.clone());
                }
                (
                    ready_call(tunnel, endpoint).await.map_err(via_proxy)?,
                    false,
                )
            }
            Route::Socks5 {
                proxy,
                credentials,
                local_dns,
            } => {
                let mut socks = SocksV5::new(proxy.clone(), tcp).local_dns(*local_dns);
                if let Some((user, password)) = credentials {
                    socks = socks.with_auth(user.clone(), password.clone());
                }
                (ready_call(socks, endpoint).await.map_err(via_proxy)?, false)
            }
            Route::Socks4 { proxy, local_dns } => {
                let socks = SocksV4::new(proxy.clone(), tcp).local_dns(*local_dns);
                (ready_call(socks, endpoint).await.map_err(via_proxy)?, false)
            }
        };
        let tcp: TcpStream = io.into_inner();
        let stream = match self.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => Stream::Tls(Box::new(connector.connect(name, tcp).await?)),
        };
        Ok(Conn {
            io: TokioIo::new(Bounded {
                stream,
                read_since_write: 0,
                answered: false,
            }),
            forwarded,
        })
    }
}

/// A failure on the way to the proxy, or the proxy's refusal: says so, and keeps its cause
/// (an HTTP proxy that cannot be reached is tried again, as a receiver is; hyper-util's SOCKS
/// errors carry no cause to tell that by).
#[derive(Debug)]
struct ThroughProxy(BoxError);

impl std::fmt::Display for ThroughProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("through the proxy")
    }
}

impl std::error::Error for ThroughProxy {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// `service` called with `target` once it is ready.
async fn ready_call<S>(mut service: S, target: Uri) -> Result<S::Response, BoxError>
where
    S: Service<Uri>,
    S::Error: Into<BoxError>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    service.call(target).await.map_err(Into::into)
}

/// A connection as the client drives it.
struct Conn {
    io: TokioIo<Bounded>,
    /// Whether a proxy forwards its requests (they are then written in absolute form).
    forwarded: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.forwarded)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A connection's stream that fails a read once [`MAX_READ`] bytes came in since its last
/// write (a request).
struct Bounded {
    stream: Stream,
    read_since_write: u64,
    /// Whether anything of an answer came in on this connection yet.
    answered: bool,
}

impl Bounded {
    /// `cause`, the end of a connection that answered nothing yet, as [`FirstAnswerLost`].
    fn first_answer_lost(&self, cause: io::Error) -> io::Error {
        let tls = matches!(self.stream, Stream::Tls(_));
        io::Error::other(FirstAnswerLost { tls, cause })
    }
}

/// TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read_since_write >= MAX_READ {
            return Poll::Ready(Err(io::Error::other(format!(
                "the receiver sent more than {} KiB in answer",
                MAX_READ >> 10
            ))));
        }
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let read = match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        };
        let got = buf.filled().len() - before;
        self.read_since_write += got as u64;
        if self.answered {
            return read;
        }
        self.answered = got > 0;
        match read {
            // Closed or reset before its first answer: said so (see `FirstAnswerLost`).
            Poll::Ready(Ok(())) if wanted && got == 0 => Poll::Ready(Err(
                self.first_answer_lost(io::ErrorKind::UnexpectedEof.into())
            )),
            Poll::Ready(Err(cause)) if super::retry::connection_closed(&cause) => {
                Poll::Ready(Err(self.first_answer_lost(cause)))
            }
            read => read,
        }
    }
}

/// A new connection the receiver closed (or reset) before it answered anything: not the race
/// of a kept-alive connection closed as it was reused, which a request sent again mends, but a
/// server that will not talk to this client (one requiring a client certificate none was sent
/// for, a TLS port given `http://`) or one going down. The request is tried again on a new
/// connection while the exporter runs, as when the receiver cannot be reached, and not once it
/// is closing (`transport::http`).
#[derive(Debug)]
pub(crate) struct FirstAnswerLost {
    tls: bool,
    cause: io::Error,
}

impl std::fmt::Display for FirstAnswerLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(super::retry::first_answer_lost(self.tls))
    }
}

impl std::error::Error for FirstAnswerLost {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl Bounded {
    /// `written`, what a write gave, after it is accounted.
    fn wrote(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) if n > 0 => self.read_since_write = 0,
            // The request could not be written on a new connection the receiver closed
            // (see `FirstAnswerLost`).
            Poll::Ready(Err(cause))
                if !self.answered && super::retry::connection_closed(&cause) =>
            {
                return Poll::Ready(Err(self.first_answer_lost(cause)));
            }
            _ => {}
        }
        written
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        };
        self.wrote(written)
    }

    /// Written from several buffers at once: hyper then queues a request's body as it is
    /// given, behind the head, instead of copying it into its own buffer first (a copy of
    /// every request, the whole body).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        };
        self.wrote(written)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The route to `target`'s endpoint: direct to loopback, else through the proxy the
/// environment names for it (read as reqwest reads them: `HTTPS_PROXY` or `HTTP_PROXY` by the
/// endpoint's scheme, else `ALL_PROXY`, less `NO_PROXY`), if any.
pub(crate) fn route(target: &OtlpTarget, endpoint: &Uri) -> Result<Route, String> {
    if super::client::is_loopback(&target.endpoint)
        || super::client::no_proxy_for_any(super::client::proxy_var)
    {
        return Ok(Route::Direct);
    }
    super::client::check_proxies(&target.endpoint, super::client::proxy_var)?;
    let matcher = hyper_util::client::proxy::matcher::Matcher::from_env();
    let Some(intercept) = matcher.intercept(endpoint) else {
        return Ok(Route::Direct);
    };
    let proxy = intercept.uri().clone();
    let secure = endpoint.scheme_str() == Some("https");
    Ok(match proxy.scheme_str() {
        Some("http") if secure => Route::Tunnel {
            proxy,
            authorization: intercept.basic_auth().cloned(),
        },
        Some("http") => Route::Forward {
            proxy,
            authorization: intercept.basic_auth().cloned(),
        },
        Some(scheme @ ("socks5" | "socks5h")) => Route::Socks5 {
            local_dns: scheme == "socks5",
            credentials: intercept
                .raw_auth()
                .map(|(user, password)| (user.to_owned(), password.to_owned())),
            proxy,
        },
        Some(scheme @ ("socks4" | "socks4a")) => Route::Socks4 {
            local_dns: scheme == "socks4",
            proxy,
        },
        // Not the proxy's URL: it may hold its credentials.
        _ => {
            return Err(format!(
                "the proxy for {} is an https:// one, which godtrace does not speak to (an \
                 http:// or socks5:// proxy carries https:// exports through a tunnel)",
                crate::config::url::redacted(&target.endpoint)
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{HttpClient, Route};
    use crate::otlp::transport::tests::run;
    use bytes::Bytes;
    use http::{HeaderValue, Uri};
    use http_body_util::Full;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A proxy on loopback that answers its first connection's request with `answer` and
    /// hands back what it was asked, as text.
    async fn proxy(answer: &'static str) -> (Uri, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let asked = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 8192];
            let n = socket.read(&mut request).await.unwrap();
            let _ = socket.write_all(answer.as_bytes()).await;
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        (uri, asked)
    }

    fn post(uri: &str) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(Bytes::from_static(b"spans")));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.parse().unwrap();
        request
    }

    /// An `http://` endpoint through an HTTP proxy: the proxy gets the request in absolute
    /// form, with the proxy's credentials.
    #[test]
    fn a_forwarding_proxy_gets_the_request_in_absolute_form_with_its_credentials() {
        run(async {
            let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            let (proxy, asked) = proxy(ok).await;
            let route = Route::Forward {
                proxy,
                authorization: Some(HeaderValue::from_static("Basic dTpw")),
            };
            let endpoint: Uri = "http://collector.example:4318/v1/traces".parse().unwrap();
            let client = HttpClient::new(&endpoint, None, route, Duration::from_secs(30)).unwrap();
            let response = client.send(post(&endpoint.to_string())).await.unwrap();
            assert_eq!(response.status(), 200);
            let asked = asked.await.unwrap().to_ascii_lowercase();
            assert!(
                asked.starts_with("post http://collector.example:4318/v1/traces http/1.1"),
                "{asked}"
            );
            assert!(asked.contains("proxy-authorization: basic dtpw"), "{asked}");
        });
    }

    /// An `https://` endpoint through an HTTP proxy: a `CONNECT` tunnel to it, with the
    /// proxy's credentials (what would follow is TLS with the collector).
    #[test]
    fn an_https_endpoint_goes_through_a_connect_tunnel() {
        run(async {
            let refused = "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
            let (proxy, asked) = proxy(refused).await;
            let route = Route::Tunnel {
                proxy,
                authorization: Some(HeaderValue::from_static("Basic dTpw")),
            };
            let endpoint: Uri = "https://collector.example/v1/traces".parse().unwrap();
            let provider = crate::config::otlp::crypto_provider();
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            let client = HttpClient::new(
                &endpoint,
                Some(std::sync::Arc::new(tls)),
                route,
                Duration::from_secs(30),
            )
            .unwrap();
            assert!(client.send(post(&endpoint.to_string())).await.is_err());
            let asked = asked.await.unwrap().to_ascii_lowercase();
            assert!(
                asked.starts_with("connect collector.example:443 http/1.1"),
                "{asked}"
            );
            assert!(asked.contains("proxy-authorization: basic dtpw"), "{asked}");
        });
    }
}
