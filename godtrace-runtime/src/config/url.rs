//! Endpoint URLs: checked the same way, and given the same meaning, from code and from the
//! environment.
use super::Protocol;
use crate::InitError;

/// The default gRPC endpoint (Jaeger's and the collector's OTLP/gRPC port).
pub(super) const GRPC_DEFAULT: &str = "http://localhost:4317";
/// The default HTTP base endpoint (Jaeger's and the collector's OTLP/HTTP port).
pub(super) const HTTP_DEFAULT_BASE: &str = "http://localhost:4318";

/// Checks that `value` is an absolute `http://` or `https://` URL with a host.
pub(super) fn check(name: &str, value: &str) -> Result<(), InitError> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    let host_ok = rest.is_some_and(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        !authority.is_empty() && !authority.starts_with(':')
    });
    if !host_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InitError::invalid(
            name,
            value,
            "an absolute URL starting with http:// or https://, such as http://localhost:4317",
        ));
    }
    // No TLS stack is built in yet: say so now rather than fail on every export.
    if value.starts_with("https://") {
        return Err(InitError::invalid(
            name,
            value,
            "an http:// URL (this build of godtrace has no TLS support)",
        ));
    }
    Ok(())
}

/// The URL spans are sent to, from a base endpoint: over HTTP `/v1/traces` is appended (after
/// the base's own path, if any); over gRPC the base is the endpoint.
pub(super) fn from_base(base: &str, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_endpoints_get_the_traces_path() {
        let http = Protocol::HttpProtobuf;
        assert_eq!(from_base("http://h:4318", http), "http://h:4318/v1/traces");
        assert_eq!(from_base("http://h:4318/", http), "http://h:4318/v1/traces");
        assert_eq!(from_base("http://h/otel", http), "http://h/otel/v1/traces");
        assert_eq!(from_base("http://h:4317", Protocol::Grpc), "http://h:4317");
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
}
