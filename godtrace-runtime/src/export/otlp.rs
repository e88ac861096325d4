//! The OTLP exporter (opentelemetry-otlp) for the configured transport. Built on the export
//! thread, inside its runtime: the gRPC channel and the HTTP client belong to that runtime.
use crate::config::{Compression, ExportSettings, Protocol};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};

/// Builds the exporter. Endpoint, timeout, compression and headers are all passed in code,
/// so opentelemetry-otlp's own reading of the environment changes none of them (our headers
/// are set last, over any it read).
pub(crate) fn build(settings: &ExportSettings) -> Result<SpanExporter, String> {
    let built = match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => grpc(settings),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf => http(settings),
        #[allow(unreachable_patterns)]
        other => return Err(format!("{other:?} is not built into this godtrace")),
    };
    // The message may quote the endpoint: never with its credentials.
    built.map_err(|e| {
        crate::config::url::scrub(
            &format!("OTLP exporter for {}: {e}", settings.endpoint),
            &settings.endpoint,
        )
    })
}

fn gzip(settings: &ExportSettings) -> Option<opentelemetry_otlp::Compression> {
    (settings.compression == Compression::Gzip).then_some(opentelemetry_otlp::Compression::Gzip)
}

#[cfg(feature = "otlp-grpc")]
fn grpc(settings: &ExportSettings) -> Result<SpanExporter, String> {
    use opentelemetry_otlp::WithTonicConfig;
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    let mut metadata = MetadataMap::new();
    for (name, value) in &settings.headers {
        let key = MetadataKey::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|e| format!("{name}: {e}"))?;
        metadata.insert(key, value);
    }
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
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_interceptor(interceptor);
    if let Some(c) = gzip(settings) {
        builder = builder.with_compression(c);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(feature = "otlp-http")]
fn http(settings: &ExportSettings) -> Result<SpanExporter, String> {
    use opentelemetry_otlp::WithHttpConfig;

    let client = super::http_client::HeaderClient::new(settings)?;
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_endpoint(settings.endpoint.clone())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(settings.timeout)
        .with_http_client(client);
    if let Some(c) = gzip(settings) {
        builder = builder.with_compression(c);
    }
    builder.build().map_err(|e| e.to_string())
}
