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

/// OTLP/gRPC: the encoded request goes into the gRPC frame as it is (tonic compresses it
/// when gzip is on); the answer is not decoded (an `ExportTraceServiceResponse` carries at
/// most a partial success, which the SDK's exporter did not act on either).
#[cfg(feature = "otlp-grpc")]
mod grpc {
    use crate::config::{Compression, OtlpTarget};
    use crate::otlp::client;
    use bytes::{Buf, BufMut, Bytes};
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::metadata::MetadataMap;
    use tonic::transport::Channel;

    const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    pub(super) struct Client {
        inner: tonic::client::Grpc<Channel>,
        metadata: MetadataMap,
    }

    impl Client {
        pub(super) fn new(target: &OtlpTarget) -> Result<Client, String> {
            let metadata = client::grpc_metadata(target)?;
            let mut inner = tonic::client::Grpc::new(client::grpc_channel(target)?);
            if target.compression == Compression::Gzip {
                inner = inner.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            Ok(Client { inner, metadata })
        }

        pub(super) async fn send(&self, request: Vec<u8>) -> Result<(), String> {
            let failed = |status: tonic::Status| {
                format!(
                    "gRPC status {:?}: {}",
                    status.code(),
                    client::chain(&status)
                )
            };
            // A handle per request (the channel is shared): two can be in flight.
            let mut inner = self.inner.clone();
            inner
                .ready()
                .await
                .map_err(|e| format!("gRPC channel: {}", client::chain(&e)))?;
            let mut request = tonic::Request::new(Bytes::from(request));
            *request.metadata_mut() = self.metadata.clone();
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT);
            inner
                .unary(request, path, Passthrough)
                .await
                .map(drop)
                .map_err(failed)
        }
    }

    /// Sends bytes already encoded; reads the answer's bytes and keeps nothing.
    #[derive(Debug, Clone, Copy, Default)]
    struct Passthrough;

    impl Codec for Passthrough {
        type Encode = Bytes;
        type Decode = ();
        type Encoder = Passthrough;
        type Decoder = Passthrough;

        fn encoder(&mut self) -> Passthrough {
            Passthrough
        }
        fn decoder(&mut self) -> Passthrough {
            Passthrough
        }
    }

    impl Encoder for Passthrough {
        type Item = Bytes;
        type Error = tonic::Status;

        fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for Passthrough {
        type Item = ();
        type Error = tonic::Status;

        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
            src.advance(src.remaining());
            Ok(Some(()))
        }
    }
}

/// OTLP/HTTP: a `POST` of the encoded request (gzipped when asked) with the configured
/// headers, set last so they win.
#[cfg(feature = "otlp-http")]
mod http {
    use crate::config::{Compression, OtlpTarget};
    use crate::otlp::client;
    use std::io::Write as _;

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
                // Fast compression: spans are repetitive, and level 6 costs several times the
                // CPU of encoding them for a few percent less.
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(request.len() / 4),
                    flate2::Compression::fast(),
                );
                encoder
                    .write_all(&request)
                    .map_err(|e| format!("gzip: {e}"))?;
                encoder.finish().map_err(|e| format!("gzip: {e}"))?
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
