//! The OpenTelemetry semantic conventions the layers follow (HTTP and RPC spans and metrics,
//! stable HTTP conventions v1.26+): names, attribute values and status rules, as pure
//! functions of what a request and its response say.
// Each layer's feature uses its part of these: with all of them on, nothing is unused.
#![cfg_attr(
    not(all(feature = "tower", feature = "reqwest", feature = "tonic")),
    allow(dead_code)
)]
use crate::redact;
use crate::value::{bounded_text, floor_char_boundary};
use opentelemetry::KeyValue;
use std::borrow::Cow;

/// The buckets the HTTP and RPC semantic conventions advise for durations, in seconds.
pub(crate) const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// The server's request-duration histogram (seconds).
pub(crate) const HTTP_SERVER_DURATION: &str = "http.server.request.duration";
/// The client's request-duration histogram (seconds).
pub(crate) const HTTP_CLIENT_DURATION: &str = "http.client.request.duration";
/// A gRPC server's call-duration histogram (seconds), as the RPC conventions name it since
/// v1.39 (earlier ones had `rpc.server.duration`, in milliseconds).
pub(crate) const RPC_SERVER_DURATION: &str = "rpc.server.call.duration";
/// A gRPC client's call-duration histogram (seconds; earlier `rpc.client.duration`, ms).
pub(crate) const RPC_CLIENT_DURATION: &str = "rpc.client.call.duration";

/// The conventions' description of each duration histogram above.
pub(crate) fn duration_description(histogram: &str) -> &'static str {
    match histogram {
        HTTP_SERVER_DURATION => "Duration of HTTP server requests.",
        HTTP_CLIENT_DURATION => "Duration of HTTP client requests.",
        RPC_SERVER_DURATION => "Measures the duration of an incoming Remote Procedure Call (RPC).",
        RPC_CLIENT_DURATION => "Measures the duration of an outgoing Remote Procedure Call (RPC).",
        _ => "",
    }
}

/// The longest route or host kept in a span name or a metric attribute, in bytes: both come
/// from the request (a route from the application, a host from the network), and every
/// distinct value is a new name or series.
pub(crate) const MAX_NAME_PART_LEN: usize = 256;
/// The most bytes of a URL or header kept in an attribute (before the attribute size limit
/// applies too): hostile requests send megabytes.
pub(crate) const MAX_TEXT_LEN: usize = 2048;

/// `error.type` of a server request dropped before a response (client gone, timeout of an
/// outer layer). A client's caller that drops its request cancels it: no error there.
pub(crate) const CANCELLED: &str = "cancelled";

/// The method as the conventions record it: the known method's canonical name, or `_OTHER`
/// with the original (bounded) for `http.request.method_original`. The known methods are
/// those `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` listed at `init`, else the default ones.
pub(crate) fn method(method: &http::Method) -> (&'static str, Option<String>) {
    method_in(method, crate::config::http_methods::installed())
}

/// [`method`] with the known methods `known` (`None`: the default list).
fn method_in(
    method: &http::Method,
    known: Option<&'static [Box<str>]>,
) -> (&'static str, Option<String>) {
    let name = method.as_str();
    let found = match known {
        None => default_known_method(name),
        Some(list) => list.iter().map(|m| &**m).find(|m| *m == name),
    };
    match found {
        Some(known) => (known, None),
        // At most 256 bytes: cut to a shorter attribute limit with the span's attributes.
        None => ("_OTHER", Some(bounded_text(name, MAX_NAME_PART_LEN))),
    }
}

/// The conventions' default known methods (case-sensitive): RFC 9110's, PATCH (RFC 5789)
/// and QUERY (the safe method with a body; known since v1.38).
fn default_known_method(name: &str) -> Option<&'static str> {
    Some(match name {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "QUERY" => "QUERY",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => return None,
    })
}

/// Pushes the first of an HTTP span's attributes: `http.request.method` and, for a method
/// outside the known ones, `http.request.method_original`.
pub(crate) fn push_http_method(
    attributes: &mut Vec<KeyValue>,
    method: &'static str,
    original: Option<String>,
) {
    attributes.push(KeyValue::new("http.request.method", method));
    if let Some(original) = original {
        attributes.push(KeyValue::new("http.request.method_original", original));
    }
}

/// A scheme the conventions' `url.scheme` takes from a header: `http` or `https` in any case
/// (as URI schemes are compared); anything else is not one.
fn web_scheme(value: &str) -> Option<&'static str> {
    if value.eq_ignore_ascii_case("https") {
        Some("https")
    } else if value.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// A server's `url.scheme`: the first of `candidates` (from the most to the least trusted
/// to name the client's original scheme: `Forwarded` `proto=`, `X-Forwarded-Proto`, the
/// request URI's) that is `http` or `https`, else `http`. Always one of the two, so it is
/// fit for the histogram's series whatever a client sends.
pub(crate) fn server_scheme<'a>(
    candidates: impl IntoIterator<Item = Option<&'a str>>,
) -> &'static str {
    candidates
        .into_iter()
        .flatten()
        .find_map(web_scheme)
        .unwrap_or("http")
}

/// The first value of a comma-separated header list (`X-Forwarded-Proto: https, http`: the
/// one the proxy nearest the client set), trimmed; `None` when empty.
pub(crate) fn first_list_value(value: &str) -> Option<&str> {
    let first = crate::text::trim_ows(value.split(',').next().unwrap_or_default());
    (!first.is_empty()).then_some(first)
}

/// The `proto` and `host` parameters of the first element of a `Forwarded` header value
/// (RFC 7239: the element the proxy nearest the client added), unquoted. Parameter names are
/// case-insensitive; a part that is not `name=value` is skipped; the values are the caller's
/// to check.
pub(crate) fn forwarded_proto_and_host(value: &str) -> (Option<&str>, Option<&str>) {
    // A proxy's element is short: a header of tens of KiB (quoted escapes) is read no further
    // than an attribute's text.
    let value = cut(value, MAX_TEXT_LEN);
    let first = split_outside_quotes(value, b',').next().unwrap_or_default();
    let (mut proto, mut host) = (None, None);
    for pair in split_outside_quotes(first, b';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let name = crate::text::trim_ows(name);
        let value = unquote(crate::text::trim_ows(value));
        if name.eq_ignore_ascii_case("proto") {
            proto = proto.or(Some(value));
        } else if name.eq_ignore_ascii_case("host") {
            host = host.or(Some(value));
        }
    }
    (proto, host)
}

/// The parts of `s` between the `separator`s outside double quotes (a `\` in quotes escapes
/// the next byte). Splits on ASCII bytes only, so every part is on char boundaries.
fn split_outside_quotes(s: &str, separator: u8) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let (mut start, mut at, mut quoted, mut done) = (0, 0, false, false);
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if quoted => at += 1,
                b'"' => quoted = !quoted,
                b if b == separator && !quoted => {
                    let part = &s[start..at];
                    at += 1;
                    start = at;
                    return Some(part);
                }
                _ => {}
            }
            at += 1;
        }
        done = true;
        // An escape at the very end may have stepped past it.
        Some(&s[start.min(s.len())..])
    })
}

/// `value` without the double quotes around it, if it has them.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The span name `{method} {route}`, `{method}` without a route; `HTTP` stands for a method
/// that is not one of the known ones (its text is the client's, so not a name).
pub(crate) fn http_span_name(method: &'static str, route: Option<&str>) -> Cow<'static, str> {
    let method = if method == "_OTHER" { "HTTP" } else { method };
    match route {
        Some(route) => Cow::Owned(format!("{method} {}", cut(route, MAX_NAME_PART_LEN))),
        // The common name of a request without a route costs no allocation.
        None => Cow::Borrowed(method),
    }
}

/// `s` cut to `limit` bytes on a char boundary (no marker: for names, where the cut text is
/// still the best name there is).
pub(crate) fn cut(s: &str, limit: usize) -> &str {
    &s[..floor_char_boundary(s, limit)]
}

/// `server.address` and `server.port` of an authority (`host[:port]`, `[v6]:port`), or `None`
/// when it is not one. The port is `None` when absent (the scheme's default is the caller's
/// to fill in).
pub(crate) fn host_and_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit('@').next()?; // userinfo is never an address
    if authority.is_empty() || authority.len() > MAX_NAME_PART_LEN {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        // Without its brackets (see `text::unbracketed`).
        match after.strip_prefix(':') {
            Some(port) => (v6, Some(port)),
            None if after.is_empty() => (v6, None),
            None => return None,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:%".contains(&b));
    if !valid_host {
        return None;
    }
    match port {
        // `host:` is the scheme's default port (RFC 3986 §3.2.3 allows the empty port).
        None | Some("") => Some((host, None)),
        // Digits only (RFC 3986's `*DIGIT`: no sign), and a port a server listens on (not 0).
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => {
            let port = port.parse().ok().filter(|&port: &u16| port != 0)?;
            Some((host, Some(port)))
        }
        Some(_) => None,
    }
}

/// [`host_and_port`] of a header's value (`Host`, `X-Forwarded-Host`, `Forwarded`'s `host=`),
/// which is `host[:port]` alone: one holding user-info (`user:pw@evil.example`) is not one.
pub(crate) fn host_header(value: &str) -> Option<(&str, Option<u16>)> {
    // Percent-encoded (`user%3Apw%40h`, as `Forwarded` may quote it) as well.
    let encoded_at = value
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"%40"));
    if value.contains('@') || encoded_at {
        None
    } else {
        host_and_port(value)
    }
}

/// The default port of a scheme, for `server.port` when the authority names none.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `network.protocol.version` of an HTTP version: `1.0`, `1.1`, `2`, `3`.
pub(crate) fn protocol_version(version: http::Version) -> Option<&'static str> {
    match version {
        http::Version::HTTP_09 => Some("0.9"),
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// Whether a server span with this response status is an error: 5xx only (a 4xx is the
/// client's mistake, not the server's).
pub(crate) fn server_status_is_error(status: u16) -> bool {
    status >= 500
}

/// Whether a client span with this response status is an error: 4xx and 5xx.
pub(crate) fn client_status_is_error(status: u16) -> bool {
    status >= 400
}

/// `url.full` for a client span: the URL redacted as [`redact::url`] says, bounded.
pub(crate) fn redacted_url(url: &str) -> String {
    bounded_text(&redact::url(url), MAX_TEXT_LEN)
}

/// The name of a gRPC status code, for `rpc.response.status_code` and `error.type` (the
/// current RPC conventions record the name; before v1.39, `rpc.grpc.status_code` was the
/// number).
pub(crate) fn grpc_code_name(code: i64) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "_OTHER",
    }
}

/// gRPC's UNKNOWN: what a missing or unknown `grpc-status` means to a gRPC client.
pub(crate) const GRPC_UNKNOWN: i64 = 2;

/// gRPC's DATA_LOSS: what gRPC-Web clients read of a body cut inside a frame.
pub(crate) const GRPC_DATA_LOSS: i64 = 15;

/// The gRPC status a client reads from a response that is not gRPC's (an HTTP status other
/// than 200, with no `grpc-status`: a proxy's or load balancer's answer), as gRPC's HTTP to
/// gRPC status code mapping has it.
pub(crate) fn grpc_code_of_http_status(status: u16) -> i64 {
    match status {
        400 => 13,             // INTERNAL
        401 => 16,             // UNAUTHENTICATED
        403 => 7,              // PERMISSION_DENIED
        404 => 12,             // UNIMPLEMENTED
        429 | 502..=504 => 14, // UNAVAILABLE
        _ => GRPC_UNKNOWN,
    }
}

/// gRPC's CANCELLED: the caller gave the call up.
pub(crate) const GRPC_CANCELLED: i64 = 1;

/// gRPC's code OK.
pub(crate) const GRPC_OK: i64 = 0;

/// gRPC's DEADLINE_EXCEEDED: the call outlived the deadline its caller set.
pub(crate) const GRPC_DEADLINE_EXCEEDED: i64 = 4;

/// The deadline a gRPC request's `grpc-timeout` header sets (gRPC over HTTP/2: 1 to 8 ASCII
/// digits, then the unit, `H`, `M`, `S`, `m`, `u` or `n`), or `None` for a value that is not
/// one.
pub(crate) fn grpc_timeout(value: &[u8]) -> Option<std::time::Duration> {
    use std::time::Duration;
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 8 digits: no overflow, in any unit.
    let amount = digits
        .iter()
        .fold(0u64, |sum, digit| sum * 10 + u64::from(digit - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// gRPC's UNIMPLEMENTED: the server does not define the method called.
pub(crate) const GRPC_UNIMPLEMENTED: i64 = 12;

/// `rpc.method` (and `http.request.method`) of a method that is not known: its text is the
/// peer's, so neither a name nor a series.
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// The span name of a gRPC call whose method is `_OTHER` or unknown: `rpc.system.name`, as
/// the RPC conventions say.
pub(crate) const GRPC_SYSTEM: &str = "grpc";

/// The gRPC status code of a `grpc-status` value: `0..=16` written in canonical decimal,
/// anything else `None`. Only the canonical form: gRPC clients (tonic's `Code::from_bytes`)
/// read `00` or `05` as UNKNOWN, and a client span says what its client read.
pub(crate) fn grpc_status(value: &[u8]) -> Option<i64> {
    let digit = |b: &u8| b.is_ascii_digit().then(|| i64::from(b - b'0'));
    match value {
        [units] => digit(units),
        [b'1', units] => digit(units)
            .map(|units| 10 + units)
            .filter(|code| *code <= 16),
        _ => None,
    }
}

/// Whether a server span ending with this gRPC code is an error: only the codes that mean
/// the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS); the others are the caller's.
pub(crate) fn grpc_server_code_is_error(code: i64) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// Whether a client span ending with this gRPC code is an error: every code but OK.
pub(crate) fn grpc_client_code_is_error(code: i64) -> bool {
    code != 0
}

/// The service and method of a gRPC path `/{package.Service}/{Method}`, or `None` when the
/// path is not one (bounded).
pub(crate) fn grpc_service_and_method(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_NAME_PART_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    (plain(service) && plain(method)).then_some((service, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_keep_their_name_and_others_are_other() {
        assert_eq!(method(&http::Method::GET), ("GET", None));
        assert_eq!(method(&http::Method::PATCH), ("PATCH", None));
        let custom = http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method(&custom), ("_OTHER", Some("PURGE".to_owned())));
        // Methods are case-sensitive: `get` is not GET.
        let lower = http::Method::from_bytes(b"get").unwrap();
        assert_eq!(method(&lower).0, "_OTHER");
        let query = http::Method::from_bytes(b"QUERY").unwrap();
        assert_eq!(method(&query), ("QUERY", None));
    }

    #[test]
    fn a_configured_list_replaces_the_known_methods() {
        let list: &'static [Box<str>] = Box::leak(Box::new(["GET".into(), "PURGE".into()]));
        let purge = http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_in(&purge, Some(list)), ("PURGE", None));
        assert_eq!(method_in(&http::Method::GET, Some(list)), ("GET", None));
        // Not in the list: no longer known, though a default one.
        assert_eq!(
            method_in(&http::Method::POST, Some(list)),
            ("_OTHER", Some("POST".to_owned()))
        );
        assert_eq!(method_in(&http::Method::POST, None), ("POST", None));
        // An empty list knows nothing.
        assert_eq!(method_in(&http::Method::GET, Some(&[])).0, "_OTHER");
    }

    #[test]
    fn span_names_follow_the_http_conventions() {
        assert_eq!(
            http_span_name("GET", Some("/users/{id}")),
            "GET /users/{id}"
        );
        assert_eq!(http_span_name("POST", None), "POST");
        assert_eq!(http_span_name("_OTHER", Some("/x")), "HTTP /x");
        assert_eq!(http_span_name("_OTHER", None), "HTTP");
        let long = "/é".repeat(400);
        let name = http_span_name("GET", Some(&long));
        assert!(name.len() <= 4 + MAX_NAME_PART_LEN, "{}", name.len());
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(host_and_port("example.com"), Some(("example.com", None)));
        assert_eq!(
            host_and_port("127.0.0.1:8080"),
            Some(("127.0.0.1", Some(8080)))
        );
        // An IPv6 literal without its brackets, as the conventions write addresses.
        assert_eq!(host_and_port("[::1]:443"), Some(("::1", Some(443))));
        assert_eq!(host_and_port("[::1]"), Some(("::1", None)));
        // An empty port is the scheme's default.
        assert_eq!(host_and_port("example.com:"), Some(("example.com", None)));
        assert_eq!(host_and_port("[::1]:"), Some(("::1", None)));
        assert_eq!(host_and_port("user:pw@host:1"), Some(("host", Some(1))));
        assert_eq!(host_header("user:pw@host:1"), None);
        assert_eq!(host_header("user%3Apw%40host"), None);
        assert_eq!(host_header("host:1"), Some(("host", Some(1))));
        // Hostile or broken: no address rather than a wrong one, never a panic.
        for bad in [
            "",
            ":80",
            "host:99999",
            "host:+80",
            "host:0",
            "[::1]:+443",
            "host:x",
            "[::1",
            "[::1]x",
            "a b",
            "h\u{0}st",
        ] {
            assert_eq!(host_and_port(bad), None, "{bad:?}");
        }
        assert_eq!(host_and_port(&"a".repeat(10_000)), None);
    }

    #[test]
    fn forwarded_headers_give_the_first_elements_proto_and_host() {
        assert_eq!(
            forwarded_proto_and_host(
                "for=192.0.2.60;Proto=https;host=\"api.example:8443\", \
                 for=10.0.0.1;proto=http;host=inner"
            ),
            (Some("https"), Some("api.example:8443"))
        );
        assert_eq!(
            forwarded_proto_and_host("host=\"[2001:db8::1]:80\" ; proto = http"),
            (Some("http"), Some("[2001:db8::1]:80"))
        );
        // A comma or semicolon in quotes is no separator.
        assert_eq!(
            forwarded_proto_and_host("for=\"a,b;c\";host=h, host=later"),
            (None, Some("h"))
        );
        assert_eq!(forwarded_proto_and_host("for=1.2.3.4"), (None, None));
        // A first element of tens of KiB is read as far as an attribute's text: what is in
        // that much is found.
        let huge = format!("proto=https;for=\"{}\";host=h", "\\\"".repeat(30_000));
        assert_eq!(forwarded_proto_and_host(&huge), (Some("https"), None));
        // Broken or hostile: whatever comes out is checked by the caller, and nothing panics.
        for hostile in [
            "",
            ",",
            "\"",
            "\\",
            "host=\"unterminated",
            "host=\"x\\",
            "proto",
            "=;=,=",
            "host=é;proto=ü\\",
        ] {
            let _ = forwarded_proto_and_host(hostile);
        }
        let huge = format!("for=x;{}", "proto=a;".repeat(50_000));
        assert_eq!(forwarded_proto_and_host(&huge).0, Some("a"));
    }

    #[test]
    fn the_server_scheme_is_the_first_valid_candidate_else_http() {
        assert_eq!(server_scheme([None, Some("HTTPS"), Some("http")]), "https");
        assert_eq!(server_scheme([Some("http"), Some("https"), None]), "http");
        // Neither http nor https: ignored.
        assert_eq!(server_scheme([Some("javascript"), Some("https")]), "https");
        assert_eq!(server_scheme([Some("ftp"), None, None]), "http");
        assert_eq!(server_scheme([None, None, None]), "http");
        assert_eq!(first_list_value(" https , http"), Some("https"));
        assert_eq!(first_list_value(" ,https"), None);
    }

    #[test]
    fn server_errors_are_5xx_and_client_errors_4xx_and_5xx() {
        assert!(!server_status_is_error(404));
        assert!(server_status_is_error(500));
        assert!(!server_status_is_error(302));
        assert!(client_status_is_error(404));
        assert!(client_status_is_error(503));
        assert!(!client_status_is_error(204));
    }

    #[test]
    fn a_client_url_is_redacted_and_bounded() {
        assert_eq!(
            redacted_url("https://alice:s3cret@h/x?apiKey=k"),
            "https://REDACTED:REDACTED@h/x?apiKey=REDACTED"
        );
        let huge = format!("http://host/{}", "p".repeat(100_000));
        assert!(redacted_url(&huge).len() < MAX_TEXT_LEN + 32);
    }

    #[test]
    fn grpc_statuses_parse_and_only_server_failures_are_server_errors() {
        assert_eq!(grpc_status(b"0"), Some(0));
        assert_eq!(grpc_status(b"14"), Some(14));
        assert_eq!(grpc_status(b"9"), Some(9));
        assert_eq!(grpc_status(b"16"), Some(16));
        // Only the canonical form, as tonic's client reads it: `00` and `05` are UNKNOWN there.
        for bad in [
            &b""[..],
            b"17",
            b"20",
            b"-1",
            b"007",
            b"00",
            b"05",
            b"+1",
            b" 1",
            b"1 ",
            b"1x",
            b"\xff",
        ] {
            assert_eq!(grpc_status(bad), None, "{bad:?}");
        }
        let server_errors: Vec<i64> = (0..=16).filter(|c| grpc_server_code_is_error(*c)).collect();
        assert_eq!(server_errors, [2, 4, 12, 13, 14, 15]);
        assert!(!grpc_client_code_is_error(0));
        assert!((1..=16).all(grpc_client_code_is_error));
        assert_eq!(grpc_code_name(5), "NOT_FOUND");
    }

    #[test]
    fn grpc_timeouts_parse_in_each_unit_and_bad_ones_are_none() {
        use std::time::Duration;
        assert_eq!(grpc_timeout(b"100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(
            grpc_timeout(b"99999999H"),
            Some(Duration::from_secs(99_999_999 * 3600))
        );
        assert_eq!(grpc_timeout(b"5u"), Some(Duration::from_micros(5)));
        assert_eq!(grpc_timeout(b"7n"), Some(Duration::from_nanos(7)));
        assert_eq!(grpc_timeout(b"1M"), Some(Duration::from_secs(60)));
        for bad in [
            &b""[..],
            b"m",
            b"100",
            b"123456789m",
            b"-1m",
            b"1x",
            b"1 m",
            b"\xffm",
        ] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn grpc_paths_name_service_and_method() {
        assert_eq!(
            grpc_service_and_method("/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
            Some((
                "opentelemetry.proto.collector.trace.v1.TraceService",
                "Export"
            ))
        );
        for bad in ["", "/", "/svc", "/svc/", "//m", "/a/b/c", "/a b/m"] {
            assert_eq!(grpc_service_and_method(bad), None, "{bad:?}");
        }
    }
}
