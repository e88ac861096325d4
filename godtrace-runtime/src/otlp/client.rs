//! The transport of both signals, built from one [`OtlpTarget`]: TLS for the gRPC connection
//! (`connection`) and for the HTTP one (`http1`), the proxy rules of HTTP, with the target's
//! headers, timeout and TLS (rustls with the ring provider: the platform's root certificates, or the configured
//! CA alone, and the client certificate for mutual TLS). An `https://` target is only ever
//! spoken to over TLS.
use crate::config::OtlpTarget;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::config::otlp::Tls;

/// Whether `target` is spoken to over TLS.
#[cfg(feature = "otlp-grpc")]
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

/// The TLS configuration of the HTTP connection to an `https://` `target` (ALPN `http/1.1`).
/// A proxy from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, less `NO_PROXY`)
/// is taken to reach a collector elsewhere, never to reach this host (see
/// `http1::route`); gRPC takes no proxy.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_tls(
    target: &OtlpTarget,
) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    let mut config = rustls_config(&target.tls, true)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(std::sync::Arc::new(config))
}

/// Checks the proxy variables the HTTP client reads for `endpoint` (`var` reads one): the
/// client reads them as hyper-util's matcher does (`HTTPS_PROXY` for an `https://` endpoint,
/// `HTTP_PROXY` for an `http://` one, `ALL_PROXY` for either; the upper-case name first; none
/// at all in a CGI script, where `REQUEST_METHOD` is set), and silently goes direct past a value
/// it cannot parse: a variable set to one is an error here, so that the export never bypasses
/// the proxy it was given.
#[cfg(feature = "otlp-http")]
pub(crate) fn check_proxies(
    endpoint: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    if var("REQUEST_METHOD").is_some() {
        return Ok(());
    }
    let scheme = if endpoint.starts_with("https://") {
        ["HTTPS_PROXY", "https_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy"]
    };
    for names in [scheme, ["ALL_PROXY", "all_proxy"]] {
        let Some((name, value)) = names.iter().find_map(|&n| var(n).map(|v| (n, v))) else {
            continue;
        };
        // Set but empty: no proxy (as the client reads it).
        if value.is_empty() {
            continue;
        }
        if usable_proxy(&value) {
            // The one used (`ALL_PROXY` is read only in its absence), unless `NO_PROXY` says
            // otherwise: the client takes one that is not UTF-8 for unset, and would send
            // the exports it excludes through the proxy.
            return check_no_proxy(&var);
        }
        // Not the value: it may hold the proxy's credentials.
        return Err(format!(
            "{name} is not a proxy URL ([scheme://][user[:password]@]host[:port], the scheme \
             http, socks4, socks4a, socks5 or socks5h, the port at most 65535, an `@` in the \
             user or password written %40)"
        ));
    }
    Ok(())
}

/// `NO_PROXY` (or `no_proxy`) where a proxy is used: one that is not UTF-8 is an error (see
/// [`check_proxies`]). Its text is not quoted: it names hosts, no secret, but reads as none.
#[cfg(feature = "otlp-http")]
fn check_no_proxy(var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    match ["NO_PROXY", "no_proxy"]
        .into_iter()
        .find(|&name| var(name).is_some_and(|value| value.contains('\u{fffd}')))
    {
        Some(name) => Err(format!(
            "{name} is not valid UTF-8 text: the HTTP client would ignore it and send every \
             export through the proxy"
        )),
        None => Ok(()),
    }
}

/// The value of proxy variable `name` as [`check_proxies`] reads it: one that is not UTF-8,
/// which the HTTP client takes for unset (and goes direct), reads as text no proxy URL is.
#[cfg(feature = "otlp-http")]
pub(crate) fn proxy_var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.into_string().unwrap_or_else(|_| "\u{fffd}".into()))
}

/// Whether `value` is a proxy URL the HTTP client can use: hyper-util's matcher, given it
/// alone, takes it for a destination, and its port (if any) is one. The matcher takes a port
/// it cannot read (`:99999`, `:1x`) for none, and the client would then reach the proxy's
/// host at port 80 (or 1080), a server nobody named, with the export's headers.
#[cfg(feature = "otlp-http")]
fn usable_proxy(value: &str) -> bool {
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .all(value.to_owned())
        .build();
    let Some(intercept) = matcher.intercept(&http::Uri::from_static("http://collector.invalid/"))
    else {
        return false;
    };
    // The URL standard's reading of the authority (as the matcher, `http://` when no scheme
    // is written): its port is a number up to 65535, or nothing.
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let port_is_readable = reqwest::Url::parse(&with_scheme).is_ok();
    // One `@` at most before the host: with a raw one in the password (`u:p@ss@host`), the
    // client and the URL standard split the user-info at different `@`s, and the proxy
    // would get other credentials than were written (a `%40` says it).
    let authority = with_scheme.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    let one_at = authority.matches('@').count() <= 1;
    port_is_readable && one_at && intercept.uri().host().is_some()
}

/// Whether `NO_PROXY` (or `no_proxy`, read when the first is unset) is `*`: no proxy for any
/// endpoint, as curl and reqwest read it (hyper-util's matcher reads the `*` for host names
/// only, and sends an IP address's exports through the proxy).
#[cfg(feature = "otlp-http")]
pub(crate) fn no_proxy_for_any(var: impl Fn(&str) -> Option<String>) -> bool {
    var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .is_some_and(|value| value.trim() == "*")
}

/// Whether `endpoint`'s host is this host's loopback: `localhost` (or a name under it) or a
/// loopback address, in any form the URL standard reads as one (`127.1`, `0x7f000001`:
/// requests go to the address as the URL parser normalises it).
#[cfg(feature = "otlp-http")]
pub(crate) fn is_loopback(endpoint: &str) -> bool {
    // The host as the URL parser normalises it (an IPv4 address in its dotted form, an IPv6
    // one in brackets).
    let Some(host) = reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
    else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback())
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

/// Adds the endpoint's user-info to `headers` as `Authorization: Basic` (as HTTP clients send
/// it), unless an `authorization` header is configured: both transports send it so.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn add_endpoint_credentials(
    target: &OtlpTarget,
    headers: &mut http::HeaderMap,
) -> Result<(), String> {
    if let Some(credentials) = crate::config::url::basic_credentials(&target.endpoint)
        && !headers.contains_key(http::header::AUTHORIZATION)
    {
        let mut value = http::HeaderValue::try_from(credentials)
            .map_err(|_| "the endpoint's user-info is not valid credentials")?;
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
    }
    Ok(())
}

/// The TLS connector of either transport for `host` (an IPv6 address with or without its
/// brackets), and the name the server's certificate must have.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn tls_connector(
    host: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<
    (
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    ),
    String,
> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host}: {e}"))?;
    Ok((tokio_rustls::TlsConnector::from(config), name))
}

/// The rustls configuration of either transport. The platform's roots are loaded only for an
/// `https://` target without a CA of its own.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn rustls_config(tls: &Tls, secure: bool) -> Result<rustls::ClientConfig, String> {
    use crate::config::otlp::pem_problem;
    use rustls::RootCertStore;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            for cert in CertificateDer::pem_slice_iter(&ca.pem) {
                let cert =
                    cert.map_err(|e| format!("{}: {}", ca.path.display(), pem_problem(&e)))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.path.display()))?;
            }
        }
        None if secure => roots = super::roots::platform_roots()?,
        None => {}
    }
    let provider = crate::config::otlp::crypto_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match &tls.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&cert.pem).collect();
            let chain =
                chain.map_err(|e| format!("{}: {}", cert.path.display(), pem_problem(&e)))?;
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
/// says what to fix. Only the TLS library's own words are read (a reason after its
/// "invalid peer certificate" or "received fatal alert", its "received corrupt message of
/// type InvalidContentType"), never what a server wrote (a gRPC
/// status message or a partial success may say "Expired" about anything).
pub(crate) fn explain(message: &str) -> String {
    const NAME_MISMATCH: &str =
        "name mismatch: the server's certificate is not valid for the endpoint's host name";
    const CLIENT_CERTIFICATE: &str = "the server requires a client certificate \
         (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY, or the \
         signal's own)";
    // What rustls writes after "invalid peer certificate: " (its `Debug` names in older
    // versions, its sentences in 0.23), lower-cased.
    let certificate = [
        (
            "unknownissuer",
            "unknown issuer: the server's certificate is not signed by a trusted CA (set \
             OTEL_EXPORTER_OTLP_CERTIFICATE, or the signal's own, to its CA)",
        ),
        ("notvalidforname", NAME_MISMATCH),
        ("not valid for name", NAME_MISMATCH),
        ("expired", "expired: the server's certificate has expired"),
        (
            "notvalidyet",
            "not yet valid: the server's certificate is not valid yet",
        ),
        (
            "not valid yet",
            "not yet valid: the server's certificate is not valid yet",
        ),
        (
            "causedasendentity",
            "the server's certificate is a CA's (basicConstraints CA:TRUE, as `openssl req \
             -x509` makes by default) used as its own: make it with CA:FALSE, or trust the CA \
             that signed it",
        ),
    ];
    let alert = [("certificaterequired", CLIENT_CERTIFICATE)];
    let lower = message.to_ascii_lowercase();
    let after = |signature: &str| {
        lower
            .find(signature)
            .map(|at| &lower[at + signature.len()..])
    };
    let reason = after("invalid peer certificate")
        .and_then(|rest| certificate.iter().find(|(marker, _)| rest.contains(marker)))
        .or_else(|| {
            after("received fatal alert")
                .and_then(|rest| alert.iter().find(|(marker, _)| rest.contains(marker)))
        })
        .map(|(_, reason)| *reason)
        .or_else(|| {
            // rustls's words for a first answer that is no TLS record: a plain-HTTP port.
            lower
                .contains("received corrupt message of type invalidcontenttype")
                .then_some(
                    "the server did not answer in TLS (a plain port: its endpoint would be \
                     `http://`)",
                )
        })
        .or_else(|| {
            (lower.contains("peer closed connection without sending tls close_notify")
                || lower.contains("after the tls handshake, before any answer"))
            .then_some(
                "the server closed the connection after the handshake (as one requiring a \
                 client certificate does when none is sent)",
            )
        });
    match reason {
        Some(reason) => format!("TLS: {reason}: {message}"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[cfg(feature = "otlp-http")]
    #[test]
    fn loopback_hosts_are_told_apart() {
        use super::is_loopback;
        for endpoint in [
            "http://localhost:4318/v1/traces",
            "http://LOCALHOST./v1/traces",
            "http://api.localhost:4318",
            "https://127.0.0.1:4318",
            "http://127.8.9.10",
            "http://[::1]:4318/v1/traces",
            "http://[::ffff:127.0.0.1]:4318",
            // Shorthands the URL standard reads as 127.0.0.1.
            "http://127.1:4318",
            "http://0x7f000001:4318",
            "http://2130706433:4318",
            "http://0177.0.0.1:4318",
        ] {
            assert!(is_loopback(endpoint), "{endpoint}");
        }
        for endpoint in [
            "https://collector.example:4318",
            "http://10.0.0.1:4318",
            "http://[::2]:4318",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert!(!is_loopback(endpoint), "{endpoint}");
        }
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn a_proxy_variable_that_is_not_a_url_is_an_error_not_a_direct_export() {
        use super::check_proxies;
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let http = "http://collector.example:4318";
        let https = "https://collector.example:4318";
        for (endpoint, vars) in [
            (http, &[("HTTP_PROXY", "http://u:p@bad host:1")][..]),
            (http, &[("http_proxy", "://x")][..]),
            (https, &[("HTTPS_PROXY", "http://[::1")][..]),
            (https, &[("ALL_PROXY", "ftp://proxy.example:21")][..]),
            (http, &[("HTTP_PROXY", ""), ("all_proxy", "@")][..]),
            // A port that is not one: the client would go to the host's port 80 (or 1080).
            (http, &[("HTTP_PROXY", "http://u:p@127.0.0.1:99999")][..]),
            (http, &[("HTTP_PROXY", "http://127.0.0.1:1x")][..]),
            (http, &[("HTTP_PROXY", "127.0.0.1:-1")][..]),
            (https, &[("HTTPS_PROXY", "http://proxy.example:70000")][..]),
            (http, &[("ALL_PROXY", "socks5://u:p@127.0.0.1:99999")][..]),
            // A raw `@` in the password: the proxy would get `u:p`.
            (http, &[("HTTP_PROXY", "http://u:p@ss@127.0.0.1:3128")][..]),
            // A `NO_PROXY` that is not UTF-8 (as `proxy_var` reads it): the client would
            // take it for unset and send the hosts it names through the proxy.
            (
                http,
                &[
                    ("HTTP_PROXY", "http://127.0.0.1:3128"),
                    ("NO_PROXY", "collector.example,\u{fffd}"),
                ][..],
            ),
            (
                https,
                &[("ALL_PROXY", "socks5://h:1080"), ("no_proxy", "\u{fffd}")][..],
            ),
        ] {
            let error = check_proxies(endpoint, env(vars)).expect_err(&format!("{vars:?}"));
            assert!(!error.contains("u:p"), "{error}");
        }
        for (endpoint, vars) in [
            (http, &[][..]),
            (http, &[("HTTP_PROXY", "http://u:p@proxy.example:3128")][..]),
            (http, &[("HTTP_PROXY", "proxy.example:3128")][..]),
            (http, &[("HTTP_PROXY", "http://[::1]:65535")][..]),
            (
                http,
                &[("HTTP_PROXY", "http://u:p%40ss@proxy.example:3128/")][..],
            ),
            (https, &[("HTTPS_PROXY", "socks5h://proxy.example")][..]),
            (
                https,
                &[("HTTPS_PROXY", "socks5://u:p@proxy.example:1080")][..],
            ),
            // Not read for this endpoint, shadowed, set empty, or in a CGI script.
            (https, &[("HTTP_PROXY", "://x")][..]),
            (
                http,
                &[
                    ("HTTP_PROXY", "http://proxy.example"),
                    ("http_proxy", "://x"),
                ][..],
            ),
            (http, &[("HTTP_PROXY", "")][..]),
            (
                http,
                &[("HTTP_PROXY", "proxy.example:3128"), ("ALL_PROXY", "@")][..],
            ),
            (
                http,
                &[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "://x")][..],
            ),
            // `NO_PROXY` matters only where a proxy is used.
            (http, &[("NO_PROXY", "\u{fffd}")][..]),
            (
                http,
                &[
                    ("HTTP_PROXY", "http://127.0.0.1:3128"),
                    ("NO_PROXY", "collector.example"),
                ][..],
            ),
        ] {
            assert!(check_proxies(endpoint, env(vars)).is_ok(), "{vars:?}");
        }
    }

    #[test]
    fn tls_failures_are_explained_first_and_other_errors_left_alone() {
        let issuer = explain("transport error: invalid peer certificate: UnknownIssuer");
        assert!(issuer.starts_with("TLS: unknown issuer: "), "{issuer}");
        assert!(issuer.ends_with("UnknownIssuer"), "{issuer}");
        let name = explain(r#"invalid peer certificate: certificate not valid for name "h""#);
        assert!(name.starts_with("TLS: name mismatch: "), "{name}");
        // rustls 0.23's words for a certificate out of its validity period.
        for message in [
            "client error (Connect): invalid peer certificate: certificate expired: \
             verification time 1764000000 (UNIX), but certificate is not valid after 1600000000",
            "invalid peer certificate: Expired",
        ] {
            let expired = explain(message);
            assert!(expired.starts_with("TLS: expired: "), "{expired}");
        }
        let early = explain("invalid peer certificate: certificate not valid yet: verification");
        assert!(early.starts_with("TLS: not yet valid: "), "{early}");
        let ca = explain("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))");
        assert!(
            ca.starts_with("TLS: the server's certificate is a CA's"),
            "{ca}"
        );
        let required = explain("received fatal alert: CertificateRequired");
        assert!(
            required.starts_with("TLS: the server requires"),
            "{required}"
        );
        // An `https://` endpoint on a plain-HTTP port, as hyper's client and rustls say it.
        let plain =
            explain("client error (Connect): received corrupt message of type InvalidContentType");
        assert!(
            plain.starts_with("TLS: the server did not answer in TLS"),
            "{plain}"
        );
        assert_eq!(explain("connection refused"), "connection refused");
        // A server's own words are not the TLS library's.
        for server in [
            "gRPC status Unauthenticated: API token Expired",
            "the receiver rejected 3 data points: 3 points Expired (too old)",
            "gRPC status Internal: close_notify UnknownIssuer CertificateRequired",
        ] {
            assert_eq!(explain(server), server);
        }
    }
}
