//! The span exporter (opentelemetry-otlp) for the configured transport, on the shared
//! transport of [`crate::otlp::client`]. Built on the export thread, inside its runtime: the
//! gRPC channel and the HTTP client belong to that runtime.
use crate::config::{Compression, OtlpTarget, Protocol};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};

/// Builds the exporter. Endpoint, timeout, compression, headers and TLS are all passed in
/// code, so opentelemetry-otlp's own reading of the environment changes none of them (our
/// headers are set last, over any it read).
pub(crate) fn build(target: &OtlpTarget) -> Result<SpanExporter, String> {
    let built = match target.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => grpc(target),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf => http(target),
        #[allow(unreachable_patterns)]
        other => return Err(format!("{other:?} is not built into this godtrace")),
    };
    // The message may quote the endpoint: never with its credentials.
    built.map_err(|e| {
        crate::config::url::scrub(
            &format!("OTLP exporter for {}: {e}", target.endpoint),
            &target.endpoint,
        )
    })
}

/// The last transport error of the HTTP client, with its sources: opentelemetry-otlp reports a
/// failed request as "network error" only, and the reason (a certificate the server sent that
/// does not verify, say) is what the user needs. One exporter per process: one slot.
#[cfg(feature = "otlp-http")]
static LAST_TRANSPORT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Takes the HTTP client's last transport error, if one happened since the last call.
pub(crate) fn take_transport_error() -> Option<String> {
    #[cfg(feature = "otlp-http")]
    {
        let mut slot = LAST_TRANSPORT_ERROR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.take()
    }
    #[cfg(not(feature = "otlp-http"))]
    None
}

fn gzip(target: &OtlpTarget) -> Option<opentelemetry_otlp::Compression> {
    (target.compression == Compression::Gzip).then_some(opentelemetry_otlp::Compression::Gzip)
}

#[cfg(feature = "otlp-grpc")]
fn grpc(target: &OtlpTarget) -> Result<SpanExporter, String> {
    use opentelemetry_otlp::WithTonicConfig;

    let metadata = crate::otlp::client::grpc_metadata(target)?;
    let interceptor = move |mut request: tonic::Request<()>| {
        for entry in metadata.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry {
                request.metadata_mut().insert(key.clone(), value.clone());
            }
        }
        Ok(request)
    };
    let mut builder = SpanExporter::builder()
        .with_tonic()
        .with_channel(crate::otlp::client::grpc_channel(target)?)
        .with_timeout(target.timeout)
        .with_interceptor(interceptor);
    if let Some(c) = gzip(target) {
        builder = builder.with_compression(c);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(feature = "otlp-http")]
fn http(target: &OtlpTarget) -> Result<SpanExporter, String> {
    use opentelemetry_otlp::WithHttpConfig;

    let client = HeaderClient {
        inner: crate::otlp::client::http_client(target)?,
        headers: crate::otlp::client::http_headers(target)?,
    };
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_endpoint(target.endpoint.clone())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(target.timeout)
        .with_http_client(client);
    if let Some(c) = gzip(target) {
        builder = builder.with_compression(c);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The HTTP client of the OTLP/HTTP exporter: reqwest's async client, run by the export
/// thread's runtime, always the one used whatever HTTP client features of opentelemetry-otlp
/// other crates turn on. It sets the configured headers last, so they win over any the
/// exporter read from the environment, and its errors carry their sources (a TLS failure's
/// reason is in one).
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
struct HeaderClient {
    inner: reqwest::Client,
    headers: http::HeaderMap,
}

#[cfg(feature = "otlp-http")]
#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HeaderClient {
    async fn send_bytes(
        &self,
        mut request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.inner.send_bytes(request).await.map_err(|e| {
            let detail = crate::otlp::client::chain(&*e);
            *LAST_TRANSPORT_ERROR
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(detail.clone());
            detail.into()
        })
    }
}
