//! The OTLP span exporter: each batch encoded by [`super::encode`] into one reused buffer and
//! sent as it is, over the shared transport of [`crate::otlp::client`] (a tonic channel with a
//! pass-through codec, or reqwest with a protobuf body). Built on the export thread, inside its
//! runtime: the gRPC channel and the HTTP client belong to that runtime.
use super::batch::Queued;
use super::encode::RequestEncoder;
use super::worker::Exporter;
use crate::config::{OtlpTarget, Protocol};
use crate::span::Live;
use opentelemetry_sdk::Resource;
use std::cell::RefCell;
use std::time::Duration;

/// Encodes and sends batches to one OTLP receiver.
pub(crate) struct OtlpExporter {
    /// Used by the export thread only, between sends.
    encoder: RefCell<RequestEncoder>,
    transport: Transport,
}

enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::Client),
    #[cfg(feature = "otlp-http")]
    Http(http::Client),
}

/// Builds the exporter. Endpoint, timeout, compression, headers and TLS all come from
/// `target`; nothing here reads the environment.
pub(crate) fn build(target: &OtlpTarget) -> Result<OtlpExporter, String> {
    let built = match target.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => grpc::Client::new(target).map(Transport::Grpc),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf => http::Client::new(target).map(Transport::Http),
        #[allow(unreachable_patterns)]
        other => return Err(format!("{other:?} is not built into this godtrace")),
    };
    // The message may quote the endpoint: never with its credentials.
    let transport = built.map_err(|e| {
        crate::config::url::scrub(
            &format!("OTLP exporter for {}: {e}", target.endpoint),
            &target.endpoint,
        )
    })?;
    Ok(OtlpExporter {
        // Replaced with the configured resource's before the first batch.
        encoder: RefCell::new(RequestEncoder::new(&Resource::builder_empty().build())),
        transport,
    })
}

impl Exporter for OtlpExporter {
    /// Two: the next batch is encoded, and the receiver decodes one, while another is sent.
    const IN_FLIGHT: usize = 2;
    type Request = Vec<u8>;

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = RefCell::new(RequestEncoder::new(resource));
    }

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) -> Vec<u8> {
        let mut encoder = self.encoder.borrow_mut();
        encoder.encode(batch, emptied);
        encoder.take_request()
    }

    async fn send(&self, request: Vec<u8>) -> Result<(), String> {
        match &self.transport {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(client) => client.send(request).await,
            #[cfg(feature = "otlp-http")]
            Transport::Http(client) => client.send(request).await,
        }
    }

    fn shutdown(&mut self, _timeout: Duration) {}
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

    const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    pub(super) struct Client {
        channel: Channel,
        /// The configured headers, and gRPC's own.
        headers: http::HeaderMap,
        gzip: bool,
    }

    impl Client {
        pub(super) fn new(target: &OtlpTarget) -> Result<Client, String> {
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
            let mut call = http::Request::post(EXPORT)
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
                Some((code, message)) => Err(format!(
                    "gRPC status {:?}: {message}",
                    tonic::Code::from(code)
                )),
                None => Err("gRPC: the answer has no grpc-status".to_owned()),
            }
        }
    }

    /// `grpc-status` and `grpc-message` of `headers`, if the status is there.
    fn grpc_status(headers: &http::HeaderMap) -> Option<(i32, String)> {
        let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let message = headers
            .get("grpc-message")
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
            .unwrap_or_default();
        Some((code, message))
    }
}

/// `request` gzipped at the fast level: spans are repetitive, and level 6 costs several times
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

    pub(super) struct Client {
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
