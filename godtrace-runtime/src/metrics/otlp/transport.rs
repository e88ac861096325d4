//! Sending one `ExportMetricsServiceRequest`: over gRPC with tonic's generated client, or over
//! HTTP as a protobuf body with reqwest. Built and driven inside the push thread's runtime.
use crate::config::{Compression, OtlpTarget as Target, Protocol};
use crate::otlp::client;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// A connection to the configured receiver.
pub(crate) enum Client {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::Client),
    #[cfg(feature = "otlp-http")]
    Http(http::Client),
}

impl Client {
    /// Builds the client; connects lazily. Call inside the push runtime.
    pub(crate) fn new(target: &Target) -> Result<Client, String> {
        match target.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => grpc::Client::new(target).map(Client::Grpc),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => http::Client::new(target).map(Client::Http),
            #[allow(unreachable_patterns)]
            other => Err(format!("{other:?} is not built into this godtrace")),
        }
    }

    /// Sends `request`; an error says what went wrong.
    pub(crate) async fn send(
        &mut self,
        request: ExportMetricsServiceRequest,
    ) -> Result<(), String> {
        match self {
            #[cfg(feature = "otlp-grpc")]
            Client::Grpc(c) => c.send(request).await,
            #[cfg(feature = "otlp-http")]
            Client::Http(c) => c.send(request).await,
        }
    }
}

#[cfg(feature = "otlp-grpc")]
mod grpc {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use tonic::metadata::MetadataMap;
    use tonic::transport::Channel;

    pub(crate) struct Client {
        inner: MetricsServiceClient<Channel>,
        metadata: MetadataMap,
    }

    impl Client {
        pub(super) fn new(target: &Target) -> Result<Client, String> {
            let metadata = client::grpc_metadata(target)?;
            let mut inner = MetricsServiceClient::new(client::grpc_channel(target)?);
            if target.compression == Compression::Gzip {
                inner = inner.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            Ok(Client { inner, metadata })
        }

        pub(super) async fn send(
            &mut self,
            request: ExportMetricsServiceRequest,
        ) -> Result<(), String> {
            let mut request = tonic::Request::new(request);
            *request.metadata_mut() = self.metadata.clone();
            match self.inner.export(request).await {
                Ok(_) => Ok(()),
                Err(status) => Err(format!(
                    "gRPC status {:?}: {}",
                    status.code(),
                    client::chain(&status)
                )),
            }
        }
    }
}

#[cfg(feature = "otlp-http")]
mod http {
    use super::*;
    use prost::Message;
    use std::io::Write;

    pub(crate) struct Client {
        inner: reqwest::Client,
        url: String,
        headers: ::http::HeaderMap,
        gzip: bool,
    }

    impl Client {
        pub(super) fn new(target: &Target) -> Result<Client, String> {
            Ok(Client {
                inner: client::http_client(target)?,
                url: target.endpoint.clone(),
                headers: client::http_headers(target)?,
                gzip: target.compression == Compression::Gzip,
            })
        }

        pub(super) async fn send(
            &mut self,
            request: ExportMetricsServiceRequest,
        ) -> Result<(), String> {
            let mut body = request.encode_to_vec();
            let mut post = self
                .inner
                .post(&self.url)
                .header("content-type", "application/x-protobuf");
            if self.gzip {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&body).map_err(|e| e.to_string())?;
                body = enc.finish().map_err(|e| e.to_string())?;
                post = post.header("content-encoding", "gzip");
            }
            let response = post
                .headers(self.headers.clone())
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{}: {}", self.url, client::chain(&e)))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{}: HTTP {status}", self.url))
            }
        }
    }
}
