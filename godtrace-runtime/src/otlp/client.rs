//! The transport of both signals, built from one [`OtlpTarget`]: TLS for the gRPC connection
//! (`connection`) and a reqwest client for HTTP, with the target's headers, timeout
//! and TLS (rustls with the ring provider: the platform's root certificates, or the configured
//! CA alone, and the client certificate for mutual TLS). An `https://` target is only ever
//! spoken to over TLS.
use crate::config::OtlpTarget;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::config::otlp::Tls;

/// Whether `target` is spoken to over TLS.
fn secure(target: &OtlpTarget) -> bool {
    target.endpoint.starts_with("https://")
}

/// The TLS configuration of the gRPC connection to `target` (ALPN `h2`), `None` for a
/// plaintext `http://` target.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_tls(
    target: &OtlpTarget,
) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, String> {
    if !secure(target) {
        return Ok(None);
    }
    let mut config = rustls_config(&target.tls, true)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(std::sync::Arc::new(config)))
}

/// The target's headers as gRPC metadata.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_metadata(target: &OtlpTarget) -> Result<tonic::metadata::MetadataMap, String> {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
    let mut metadata = MetadataMap::new();
    for (name, value) in &target.headers {
        let key = MetadataKey::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|e| format!("{name}: {e}"))?;
        metadata.insert(key, value);
    }
    Ok(metadata)
}

/// An HTTP client for `target` (call inside the export thread's runtime).
#[cfg(feature = "otlp-http")]
pub(crate) fn http_client(target: &OtlpTarget) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(target.timeout)
        .connect_timeout(target.timeout)
        // A redirect would carry the spans and the configured headers (API keys among them)
        // to whichever host it names, over plaintext too: an answer of 3xx is a failed export.
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(rustls_config(&target.tls, secure(target))?)
        .build()
        .map_err(|e| format!("could not build the HTTP client: {}", chain(&e)))
}

/// The target's headers as an HTTP header map.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_headers(target: &OtlpTarget) -> Result<http::HeaderMap, String> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &target.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The rustls configuration of either transport. The platform's roots are loaded only for an
/// `https://` target without a CA of its own.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn rustls_config(tls: &Tls, secure: bool) -> Result<rustls::ClientConfig, String> {
    use rustls::RootCertStore;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::Arc;

    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            for cert in CertificateDer::pem_slice_iter(&ca.pem) {
                let cert = cert.map_err(|e| format!("{}: {e:?}", ca.path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.path.display()))?;
            }
        }
        None if secure => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        None => {}
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match &tls.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&cert.pem).collect();
            let chain = chain.map_err(|e| format!("{}: {e:?}", cert.path.display()))?;
            // Never the key's content in a message: its path only.
            let key_der = PrivateKeyDer::from_pem_slice(&key.pem)
                .map_err(|_| format!("{}: no private key", key.path.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate {}: {e}", cert.path.display()))
        }
    }
}

/// `error` and its sources, `: `-separated: a TLS failure's reason is in a source.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// `message` with a plain reason put first when it is a TLS failure, so that a failed export
/// says what to fix.
pub(crate) fn explain(message: &str) -> String {
    const NAME_MISMATCH: &str =
        "name mismatch: the server's certificate is not valid for the endpoint's host name";
    let reasons = [
        (
            "UnknownIssuer",
            "unknown issuer: the server's certificate is not signed by a trusted CA (set \
             OTEL_EXPORTER_OTLP_CERTIFICATE to its CA)",
        ),
        ("NotValidForName", NAME_MISMATCH),
        ("not valid for name", NAME_MISMATCH),
        ("Expired", "expired: the server's certificate has expired"),
        (
            "NotValidYet",
            "not yet valid: the server's certificate is not valid yet",
        ),
        (
            "CertificateRequired",
            "the server requires a client certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE \
             and OTEL_EXPORTER_OTLP_CLIENT_KEY)",
        ),
        (
            "close_notify",
            "the server closed the connection after the handshake (as one requiring a client \
             certificate does when none is sent)",
        ),
    ];
    match reasons.iter().find(|(marker, _)| message.contains(marker)) {
        Some((_, reason)) => format!("TLS: {reason}: {message}"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn tls_failures_are_explained_first_and_other_errors_left_alone() {
        let issuer = explain("transport error: invalid peer certificate: UnknownIssuer");
        assert!(issuer.starts_with("TLS: unknown issuer: "), "{issuer}");
        assert!(issuer.ends_with("UnknownIssuer"), "{issuer}");
        let name = explain(r#"invalid peer certificate: certificate not valid for name "h""#);
        assert!(name.starts_with("TLS: name mismatch: "), "{name}");
        let expired = explain("invalid peer certificate: Expired");
        assert!(expired.starts_with("TLS: expired: "), "{expired}");
        assert_eq!(explain("connection refused"), "connection refused");
    }
}
