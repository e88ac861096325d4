//! Sending one encoded OTLP export request, whatever the signal: over gRPC as one unary call
//! on the tonic channel of [`super::client`], or over HTTP as a protobuf `POST`. The span
//! exporter and the metrics push both send through [`Transport`]; only the gRPC method and
//! the endpoint differ. Built inside the export thread's runtime, which the channel and the
//! HTTP client belong to.
use crate::config::{OtlpTarget, Protocol};

/// The gRPC method of the trace service's export.
pub(crate) const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The gRPC method of the metrics service's export.
pub(crate) const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// A connection to the configured receiver.
pub(crate) enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::Client),
    #[cfg(feature = "otlp-http")]
    Http(http::Client),
}

impl Transport {
    /// Builds the transport of `target` (endpoint, timeout, compression, headers and TLS);
    /// over gRPC, requests call `grpc_method` ([`TRACES`] or [`METRICS`]). Connects lazily.
    pub(crate) fn new(target: &OtlpTarget, grpc_method: &'static str) -> Result<Self, String> {
        match target.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => grpc::Client::new(target, grpc_method).map(Transport::Grpc),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => http::Client::new(target).map(Transport::Http),
            #[allow(unreachable_patterns)]
            other => {
                let _ = grpc_method;
                Err(format!("{other:?} is not built into this godtrace"))
            }
        }
    }

    /// Sends `request`, an encoded export request of the signal this transport was built
    /// for; an error says what went wrong.
    pub(crate) async fn send(&self, request: Vec<u8>) -> Result<(), String> {
        match self {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(client) => client.send(request).await,
            #[cfg(feature = "otlp-http")]
            Transport::Http(client) => client.send(request).await,
        }
    }
}

/// OTLP/gRPC: one unary call on the tonic channel, framed here: the encoded request goes into
/// the gRPC message as it is, gzipped at the fast level when asked (tonic's own compression is
/// fixed at level 6, several times the CPU of encoding the spans). The answer's message (a
/// partial success at most, which the SDK's exporter did not act on either) is read and
/// dropped; its `grpc-status` decides.
#[cfg(feature = "otlp-grpc")]
mod grpc {
    use crate::config::{Compression, OtlpTarget};
    use crate::otlp::client;
    use bytes::Bytes;
    use http_body_util::BodyExt as _;
    use tonic::codegen::Service as _;
    use tonic::transport::Channel;

    pub(crate) struct Client {
        channel: Channel,
        /// The export method's path.
        method: &'static str,
        /// The configured headers, and gRPC's own.
        headers: http::HeaderMap,
        gzip: bool,
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
            Ok(Client {
                channel: client::grpc_channel(target)?,
                method,
                headers,
                gzip,
            })
        }

        pub(super) async fn send(&self, request: Vec<u8>) -> Result<(), String> {
            let message = if self.gzip {
                super::gzip(&request)?
            } else {
                request
            };
            let length = u32::try_from(message.len())
                .map_err(|_| format!("a request of {} bytes is too large", message.len()))?;
            // The gRPC frame: compressed flag, big-endian length, message.
            let mut frame = Vec::with_capacity(5 + message.len());
            frame.push(u8::from(self.gzip));
            frame.extend_from_slice(&length.to_be_bytes());
            frame.extend_from_slice(&message);
            drop(message);
            let mut call = http::Request::post(self.method)
                .body(tonic::body::Body::new(http_body_util::Full::new(
                    Bytes::from(frame),
                )))
                .map_err(|e| e.to_string())?;
            *call.headers_mut() = self.headers.clone();
            // A handle per request (the channel is shared): two can be in flight.
            let mut channel = self.channel.clone();
            std::future::poll_fn(|cx| channel.poll_ready(cx))
                .await
                .map_err(|e| format!("gRPC channel: {}", client::chain(&e)))?;
            let response = channel
                .call(call)
                .await
                .map_err(|e| format!("gRPC: {}", client::chain(&e)))?;
            let (head, body) = response.into_parts();
            if !head.status.is_success() {
                return Err(format!("gRPC: HTTP {}", head.status));
            }
            // Trailers-only answers carry the status in the headers.
            let status = grpc_status(&head.headers);
            let trailers = if status.is_none() {
                let collected = body
                    .collect()
                    .await
                    .map_err(|e| format!("gRPC: {}", client::chain(&e)))?;
                collected.trailers().cloned()
            } else {
                None
            };
            let status = status.or_else(|| trailers.as_ref().and_then(grpc_status));
            match status {
                Some((0, _)) => Ok(()),
                Some((code, message)) => {
                    let code = tonic::Code::from(code);
                    Err(if message.is_empty() {
                        format!("gRPC status {code:?}")
                    } else {
                        format!("gRPC status {code:?}: {message}")
                    })
                }
                None => Err("gRPC: the answer has no grpc-status".to_owned()),
            }
        }
    }

    /// `grpc-status` and `grpc-message` of `headers`, if the status is there.
    fn grpc_status(headers: &http::HeaderMap) -> Option<(i32, String)> {
        let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        // The server's words, in a message of ours: bounded.
        let message = headers
            .get("grpc-message")
            .map(|m| String::from_utf8_lossy(&m.as_bytes()[..m.len().min(256)]).into_owned())
            .unwrap_or_default();
        Some((code, message))
    }
}

/// `request` gzipped at the fast level: spans and metrics are repetitive, and level 6 costs several times
/// the CPU of encoding them for a few percent less.
fn gzip(request: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(request.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(request)
        .map_err(|e| format!("gzip: {e}"))?;
    encoder.finish().map_err(|e| format!("gzip: {e}"))
}

/// OTLP/HTTP: a `POST` of the encoded request (gzipped when asked) with the configured
/// headers, set last so they win.
#[cfg(feature = "otlp-http")]
mod http {
    use crate::config::{Compression, OtlpTarget};
    use crate::otlp::client;

    pub(crate) struct Client {
        inner: reqwest::Client,
        url: String,
        headers: ::http::HeaderMap,
        gzip: bool,
    }

    impl Client {
        pub(super) fn new(target: &OtlpTarget) -> Result<Client, String> {
            let mut headers = ::http::HeaderMap::new();
            headers.insert(
                ::http::header::CONTENT_TYPE,
                ::http::HeaderValue::from_static("application/x-protobuf"),
            );
            let gzip = target.compression == Compression::Gzip;
            if gzip {
                headers.insert(
                    ::http::header::CONTENT_ENCODING,
                    ::http::HeaderValue::from_static("gzip"),
                );
            }
            headers.extend(client::http_headers(target)?);
            Ok(Client {
                inner: client::http_client(target)?,
                url: target.endpoint.clone(),
                headers,
                gzip,
            })
        }

        pub(super) async fn send(&self, request: Vec<u8>) -> Result<(), String> {
            let body = if self.gzip {
                super::gzip(&request)?
            } else {
                request
            };
            let response = self
                .inner
                .post(&self.url)
                .headers(self.headers.clone())
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{}: {}", self.url, client::chain(&e)))?;
            let status = response.status();
            // The body (a partial success, or an error's details) is read, so that the
            // connection serves the next request.
            let _ = response.bytes().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{}: HTTP {status}", self.url))
            }
        }
    }
}
