//! Endpoint URLs: checked the same way, and given the same meaning, from code and from the
//! environment.
use super::Protocol;
use crate::InitError;

/// The default gRPC endpoint (Jaeger's and the collector's OTLP/gRPC port).
pub(super) const GRPC_DEFAULT: &str = "http://localhost:4317";
/// The default HTTP base endpoint (Jaeger's and the collector's OTLP/HTTP port).
pub(super) const HTTP_DEFAULT_BASE: &str = "http://localhost:4318";

/// What an endpoint URL must look like, for error messages.
pub(crate) const EXAMPLE: &str = "https://collector:4318";

/// Checks that `value` is an absolute `http://` or `https://` URL with a host and, if it names a port, a
/// port from 1 to 65535; returns it with the scheme in lower case (`HTTP://h` is `http://h`),
/// so that a URL the transports would refuse on every export is refused here instead. The
/// error shows the value with any user-info (`user:password@`) redacted.
pub(crate) fn normalize(name: &str, value: &str, example: &str) -> Result<String, InitError> {
    let invalid = |expected: &str| InitError::invalid(name, &redacted(value), expected);
    let scheme_end = value.find("://").map_or(0, |i| i + 3);
    let scheme = value[..scheme_end].to_ascii_lowercase();
    let rest = &value[scheme_end..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let well_formed = (scheme == "http://" || scheme == "https://")
        && !host_port.is_empty()
        && !host_port.starts_with(':')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(invalid(&format!(
            "an absolute URL starting with http:// or https://, such as {example}"
        )));
    }
    // Never sent in a request: what follows it would be lost without a word.
    if value.contains('#') {
        return Err(invalid(&format!(
            "a URL without a #fragment, such as {example}"
        )));
    }
    if !port_ok(host_port) {
        return Err(invalid(&format!(
            "a URL whose port is a number from 1 to 65535, such as {example}"
        )));
    }
    Ok(format!("{scheme}{rest}"))
}

/// Whether the port of `host[:port]` (or `[v6][:port]`), if there is one, is 1..=65535.
fn port_ok(host_port: &str) -> bool {
    let after_host = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, after)) => after,
            None => return false,
        },
        None => host_port.find(':').map_or("", |i| &host_port[i..]),
    };
    match after_host.strip_prefix(':') {
        None => after_host.is_empty(),
        Some(port) => {
            port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
    }
}

/// The user-info of `url` (`user:password` in `http://user:password@host/`), if any, for
/// redaction: everything up to the last `@`. A password holding a raw `/`, `?` or `#` would
/// end the authority there by the URL grammar and hide its `@`; taking a path's `@` for the
/// user-info's only redacts more than needed.
fn userinfo(url: &str) -> Option<&str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let info = &rest[..rest.rfind('@')?];
    (!info.is_empty()).then_some(info)
}

/// `url` with its user-info and its query replaced by `<redacted>`, for messages: they are
/// where credentials go (`https://key@…`, `…?api_key=…`).
pub(crate) fn redacted(url: &str) -> String {
    scrub(url, url)
}

/// `message` with every copy of `url`'s user-info, of its password alone, and of its query
/// and the query's values replaced by `<redacted>`: transport errors quote the URL they
/// failed on, or a part of it.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    let mut out = message.to_owned();
    if let Some(info) = userinfo(url) {
        out = out.replace(info, "<redacted>");
        if let Some((_, password)) = info.split_once(':')
            && !password.is_empty()
        {
            out = out.replace(password, "<redacted>");
        }
    }
    if let Some(query) = query(url) {
        out = out.replace(query, "<redacted>");
        // Values short enough to occur by chance elsewhere in a message (`v=1`) are left.
        for value in query.split('&').filter_map(|pair| pair.split_once('=')) {
            if value.1.len() >= 6 {
                out = out.replace(value.1, "<redacted>");
            }
        }
    }
    out
}

/// The query of `url` (after its first `?`, before any `#`), if not empty.
fn query(url: &str) -> Option<&str> {
    let query = &url[url.find('?')? + 1..];
    let query = &query[..query.find('#').unwrap_or(query.len())];
    (!query.is_empty()).then_some(query)
}

/// The URL a signal is sent to, from a base endpoint: over HTTP the signal's `path`
/// (`/v1/traces`) is appended to the base's own path, if any, before its query, if any; over
/// gRPC the base is the endpoint.
pub(crate) fn from_base(base: &str, protocol: Protocol, path: &str) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => {
            // The query starts at the first `?` after the scheme's `//` (no `?` before it).
            let (before, query) = base.split_at(base.find('?').unwrap_or(base.len()));
            format!("{}{path}{query}", before.trim_end_matches('/'))
        }
    }
}

/// A gRPC endpoint given without a scheme (`collector:4317`) gets one as the specification
/// says: `https://`, or `http://` with `OTEL_EXPORTER_OTLP_INSECURE=true`. Anything else is
/// returned as it is (and checked by [`normalize`]).
pub(crate) fn with_grpc_scheme(value: &str, protocol: Protocol, insecure: bool) -> String {
    if protocol == Protocol::Grpc && !value.contains("://") && !value.is_empty() {
        let scheme = if insecure { "http://" } else { "https://" };
        format!("{scheme}{value}")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_endpoints_get_the_traces_path() {
        let (http, grpc) = (Protocol::HttpProtobuf, Protocol::Grpc);
        let t = "/v1/traces";
        for (base, protocol, path, url) in [
            ("http://h:4318", http, t, "http://h:4318/v1/traces"),
            ("http://h:4318/", http, t, "http://h:4318/v1/traces"),
            ("http://h/otel", http, t, "http://h/otel/v1/traces"),
            ("http://h:4317", grpc, t, "http://h:4317"),
            ("https://h", http, "/v1/metrics", "https://h/v1/metrics"),
            // The path goes before a query, not after it.
            (
                "http://h:4318?tenant=a",
                http,
                t,
                "http://h:4318/v1/traces?tenant=a",
            ),
            (
                "http://h/otel/?tenant=a/b",
                http,
                t,
                "http://h/otel/v1/traces?tenant=a/b",
            ),
        ] {
            assert_eq!(from_base(base, protocol, path), url, "{base}");
        }
    }

    #[test]
    fn a_fragment_is_refused_as_it_is_never_sent() {
        let err = check("x", "http://u:s3cr3t@h:4318/#part")
            .unwrap_err()
            .to_string();
        assert!(err.contains("#fragment"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn schemeless_grpc_endpoints_are_secure_unless_insecure_is_set() {
        let grpc = Protocol::Grpc;
        assert_eq!(with_grpc_scheme("c:4317", grpc, false), "https://c:4317");
        assert_eq!(with_grpc_scheme("c:4317", grpc, true), "http://c:4317");
        assert_eq!(with_grpc_scheme("http://c:1", grpc, false), "http://c:1");
        let http = with_grpc_scheme("c:4318", Protocol::HttpProtobuf, true);
        assert!(check("x", &http).is_err(), "{http}");
    }

    fn check(name: &str, value: &str) -> Result<String, InitError> {
        normalize(name, value, EXAMPLE)
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(check("x", "http://127.0.0.1:4317").is_ok());
        assert!(check("x", "http://[::1]:4317/").is_ok());
        for bad in [
            "127.0.0.1:4317",
            "http://",
            "http://:80",
            "ftp://h",
            "http://a b",
        ] {
            assert!(check("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_outside_1_to_65535_are_refused_by_name() {
        for bad in [
            "http://localhost:70000",
            "http://localhost:0",
            "http://localhost:65536/v1/traces",
            "http://localhost:-1",
            "http://localhost:+80",
            "http://localhost:4317x",
            "http://[::1]:99999",
            "http://[::1",
        ] {
            let err = check("OTEL_EXPORTER_OTLP_ENDPOINT", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT="),
                "{bad}: {err}"
            );
        }
        let port = check("x", "http://h:0").unwrap_err().to_string();
        assert!(port.contains("from 1 to 65535"), "{port}");
        for good in [
            "http://h:1",
            "http://h:65535/p",
            "http://[::1]/",
            "http://h",
        ] {
            assert_eq!(check("x", good).unwrap(), good);
        }
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_sent_in_lower_case() {
        assert_eq!(
            check("x", "HTTP://localhost:4318").unwrap(),
            "http://localhost:4318"
        );
        assert_eq!(check("x", "Http://Host/A").unwrap(), "http://Host/A");
        assert_eq!(check("x", "HTTPS://h:443/p").unwrap(), "https://h:443/p");
    }

    #[test]
    fn user_info_never_appears_in_errors_or_messages() {
        let url = "https://user:s3cr3t@collector:4318/v1/traces";
        let bad = "https://user:s3cr3t@collector:0/v1/traces";
        let err = check("endpoint", bad).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t") && !err.contains("user:"), "{err}");
        assert!(err.contains("<redacted>@collector:0"), "{err}");
        let err = check("endpoint", "http://user:s3cr3t@h:70000").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let message = format!("error sending request for url ({url}): refused, s3cr3t");
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains("s3cr3t"), "{scrubbed}");
        assert_eq!(redacted("http://tok@h/"), "http://<redacted>@h/");
        // A password with a character that ends an authority: still redacted (and a path's
        // `@` is taken for the user-info's, which only redacts more).
        for bad in [
            "https://user:pa#s3cr3t@collector:4318",
            "https://user:pa/s3cr3t@h:0",
            "https://user:pa?s3cr3t@h:70000",
        ] {
            let err = check("endpoint", bad).unwrap_err().to_string();
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        assert_eq!(redacted("http://h:1/p@x"), "http://<redacted>@x");
    }

    /// Some vendors take the key in the endpoint's query: it is a credential too.
    #[test]
    fn a_query_never_appears_in_messages() {
        let url = "https://collector:4318/v1/traces?api_key=s3cr3tkey&region=eu";
        assert_eq!(redacted(url), "https://collector:4318/v1/traces?<redacted>");
        let message = format!("error sending request for url ({url}): refused");
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains("s3cr3tkey"), "{scrubbed}");
        // Quoted decoded or alone.
        let scrubbed = scrub("invalid api key: s3cr3tkey", url);
        assert!(!scrubbed.contains("s3cr3tkey"), "{scrubbed}");
        assert_eq!(redacted("http://h:1/p"), "http://h:1/p");
    }
}
