//! Sending one `ExportMetricsServiceRequest`: over gRPC with tonic's generated client, or over
//! HTTP as a protobuf body with reqwest. Built and driven inside the push thread's runtime.
use crate::config::Protocol;
use crate::metrics::config::Target;
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
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
    use tonic::transport::Channel;

    pub(crate) struct Client {
        inner: MetricsServiceClient<Channel>,
        metadata: MetadataMap,
    }

    impl Client {
        pub(super) fn new(target: &Target) -> Result<Client, String> {
            let mut metadata = MetadataMap::new();
            for (name, value) in &target.headers {
                let key =
                    MetadataKey::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
                let value =
                    MetadataValue::try_from(value.as_str()).map_err(|e| format!("{name}: {e}"))?;
                metadata.insert(key, value);
            }
            let channel = Channel::from_shared(target.endpoint.clone())
                .map_err(|e| format!("{}: {e}", target.endpoint))?
                .connect_timeout(target.timeout)
                .timeout(target.timeout)
                .connect_lazy();
            let mut inner = MetricsServiceClient::new(channel);
            if target.gzip {
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
                    status.message()
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
        headers: reqwest::header::HeaderMap,
        gzip: bool,
    }

    impl Client {
        pub(super) fn new(target: &Target) -> Result<Client, String> {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in &target.headers {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| format!("{name}: {e}"))?;
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|e| format!("{name}: {e}"))?;
                headers.insert(name, value);
            }
            let inner = reqwest::Client::builder()
                .timeout(target.timeout)
                .connect_timeout(target.timeout)
                .build()
                .map_err(|e| format!("could not build the HTTP client: {e}"))?;
            Ok(Client {
                inner,
                url: target.endpoint.clone(),
                headers,
                gzip: target.gzip,
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
                .map_err(|e| format!("{}: {e}", self.url))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{}: HTTP {status}", self.url))
            }
        }
    }
}
