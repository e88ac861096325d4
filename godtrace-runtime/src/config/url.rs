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
/// The same over gRPC (its port).
#[cfg(feature = "otlp-grpc")]
const GRPC_EXAMPLE: &str = "https://collector:4317";

/// The longest endpoint URL taken, in bytes.
pub(crate) const MAX_URL_LEN: usize = 8 << 10;

/// Checks that `value` is an absolute `http://` or `https://` URL with a host and, if it names a port, a
/// port from 1 to 65535; returns it with the scheme in lower case (`HTTP://h` is `http://h`),
/// so that a URL the transports would refuse on every export is refused here instead. The
/// error shows the value with any user-info (`user:password@`) redacted.
pub(crate) fn normalize(name: &str, value: &str, example: &str) -> Result<String, InitError> {
    let invalid = |expected: &str| InitError::invalid(name, &redacted(value), expected);
    // HTTP's URI type holds less than 64 KiB, the path added (`/v1/traces`) included: a
    // longer URL would fail every export.
    if value.len() > MAX_URL_LEN {
        return Err(invalid(&format!(
            "a URL of at most {MAX_URL_LEN} bytes, such as {example}"
        )));
    }
    let scheme_end = value.find("://").map_or(0, |i| i + 3);
    let scheme = value[..scheme_end].to_ascii_lowercase();
    let rest = &value[scheme_end..];
    let authority = rest.split(AUTHORITY_ENDS).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let well_formed = (scheme == "http://" || scheme == "https://")
        && !host_port.is_empty()
        && !host_port.starts_with(':');
    if well_formed && value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(&format!(
            "a URL without spaces or control characters (percent-encode them: a space is \
             %20), such as {example}"
        )));
    }
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
    let normalized = format!("{scheme}{rest}");
    if let Err(why) = host_ok(host_port).and_then(|()| parses(&normalized)) {
        return Err(invalid(&format!(
            "a URL with a valid host name or IP address ({why}), such as {example}"
        )));
    }
    Ok(normalized)
}

/// Whether the host of `host[:port]` (or `[v6][:port]`) is one the transports can connect to:
/// an IPv6 address in brackets, or a name whose percent-escapes are well formed and which,
/// decoded, holds none of the characters the URL standard forbids in a domain. Otherwise
/// every export would fail ("invalid IPv6 address", "invalid international domain name").
fn host_ok(host_port: &str) -> Result<(), String> {
    if let Some(v6) = host_port.strip_prefix('[') {
        let address = v6.split(']').next().unwrap_or("");
        return match address.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err("invalid IPv6 address".to_owned()),
        };
    }
    let host = host_port.split(':').next().unwrap_or("");
    let decoded = crate::text::percent_decode(host).ok_or("invalid percent-escape in the host")?;
    let forbidden = |b: &u8| {
        b.is_ascii_control()
            || matches!(
                b,
                b' ' | b'#'
                    | b'%'
                    | b'/'
                    | b':'
                    | b'<'
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'['
                    | b'\\'
                    | b']'
                    | b'^'
                    | b'|'
            )
    };
    if decoded.iter().any(forbidden) {
        return Err("invalid character in the host".to_owned());
    }
    Ok(())
}

/// Whether the HTTP client's own URL parser (the URL standard's, which also checks
/// international names and IPv4 addresses) takes `url`. Its errors are fixed phrases
/// ("invalid IPv4 address"), never a part of the URL.
#[cfg(feature = "otlp-http")]
fn parses(url: &str) -> Result<(), String> {
    reqwest::Url::parse(url)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Without the HTTP transport there is no other parser to agree with.
#[cfg(not(feature = "otlp-http"))]
fn parses(_url: &str) -> Result<(), String> {
    Ok(())
}

/// `text` percent-encoded as the URL standard encodes a query of an `http(s)` URL: controls,
/// space, `"`, `#`, `'`, `<`, `>` and every non-ASCII byte. An HTTP client quotes the URL it
/// parsed, so a secret holding one of these appears encoded in its messages.
fn query_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'#' | b'\'' | b'<' | b'>') {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
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

/// `url`'s authority (`user:password@host:port`): after the scheme's `://`, up to the first
/// `/`, `?`, `#` or `\`, where the URL standard ends it in an `http(s)` URL.
fn authority(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    &rest[..rest.find(AUTHORITY_ENDS).unwrap_or(rest.len())]
}

/// What ends a URL's authority (see [`authority`]).
const AUTHORITY_ENDS: [char; 4] = ['/', '?', '#', '\\'];

/// The user-info of `url`'s authority (`user:password` in `http://user:password@host/`), if
/// any: what HTTP clients send as `Basic` credentials. An `@` in the path or the query is
/// data, not the end of a user-info.
fn authority_userinfo(url: &str) -> Option<&str> {
    let authority = authority(url);
    let info = &authority[..authority.rfind('@')?];
    (!info.is_empty()).then_some(info)
}

/// The user-info of `url`, if any, for redaction: the authority's; or, where the authority
/// is empty or not a host and port (a password holding a raw `/`, `?` or `#` ends it there by
/// the URL grammar and hides its `@`), everything up to the last `@`, which only redacts more
/// than needed in a URL refused anyway.
fn userinfo(url: &str) -> Option<&str> {
    if let Some(info) = authority_userinfo(url) {
        return Some(info);
    }
    let authority = authority(url);
    // An empty authority is no host: a URL with no scheme whose slashes end it at once
    // (`//user:pw@host`, a typo of `http://`) hides its `@` after them.
    if !authority.is_empty() && port_ok(authority) && host_ok(authority).is_ok() {
        return None;
    }
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let info = &rest[..rest.rfind('@')?];
    (!info.is_empty()).then_some(info)
}

/// `url`'s scheme and host (and port), without user-info, path or query: a gRPC request's
/// target is made of them (its path is the method's).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn scheme_and_host(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let authority = authority(url);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    format!("{}{host_port}", &url[..scheme_end])
}

/// `url` with its user-info, its query and its fragment replaced by `<redacted>`, for
/// messages: they are where credentials go (`https://key@…`, `…?api_key=…`, `…#access_token=…`).
pub(crate) fn redacted(url: &str) -> String {
    scrub(url, url)
}

/// `message` with every copy of `url`'s user-info, of its password alone, and of its query
/// and the query's values replaced by `<redacted>`: transport errors quote the URL they
/// failed on, or a part of it. Each part is looked for as given, percent-encoded as the URL
/// standard encodes it (the form an HTTP client quotes: `"` as `%22`), as the HTTP client's
/// parser serializes it, and decoded.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    replace_all_at_once(message, &secrets(url))
}

/// What [`scrub`] replaces in a message about `url`, longest first; also the forms the
/// user-info is sent in (`Basic` credentials, decoded), which a receiver may quote back.
pub(crate) fn secrets(url: &str) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    if let Some(info) = userinfo(url) {
        // With its `@`, as a URL holds it: a short user name is then not taken for every
        // copy of its letters.
        secrets.push(format!("{info}@"));
        if let Some((_, password)) = info.split_once(':') {
            secrets.push(password.to_owned());
            let decoded = crate::text::percent_decode_lenient(password);
            secrets.push(String::from_utf8_lossy(&decoded).into_owned());
            // Its `%`s encoded again, as a receiver quoting the decoded password in a URL
            // would write them (a `%` that starts no escape is sent as it is).
            secrets.push(password.replace('%', "%25"));
        }
        if let Some(credentials) = basic_credentials(url) {
            let encoded = credentials["Basic ".len()..].to_owned();
            secrets.extend([credentials, encoded]);
        }
        // Decoded, as `user:password` (what a `Basic` value holds, which a receiver or a
        // proxy may quote back decoded).
        let decoded = crate::text::percent_decode_lenient(info);
        secrets.push(String::from_utf8_lossy(&decoded).into_owned());
    }
    if let Some(query) = query(url) {
        // With its `?`, as a URL holds it (`?o` is not every `o` of the message), and alone
        // when it is long enough not to occur by chance.
        secrets.extend([format!("?{query}"), format!("?{}", query_encoded(query))]);
        secrets.extend([query.to_owned(), query_encoded(query)]);
        for (_, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            let decoded = crate::text::percent_decode(value)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            secrets.extend([value.to_owned(), query_encoded(value), decoded]);
        }
    }
    // Never sent (a URL with one is refused), but where a token pasted after a `#` ends up
    // (OAuth's implicit flow puts an access token there): shown in no message either.
    if let Some((_, fragment)) = url.split_once('#').filter(|(_, f)| !f.is_empty()) {
        secrets.extend([format!("#{fragment}"), fragment.to_owned()]);
    }
    secrets.extend(parsed_secrets(url));
    // A part short enough to occur by chance elsewhere in a message (`v=1`, a one-letter
    // password, which would take every `e`) is left to the forms that hold it: the whole
    // user-info with its `@`, the whole query with its `?`, the fragment with its `#`. Those
    // are always looked for.
    secrets.retain(|secret| {
        secret.len() >= MIN_LONE_SECRET
            || secret.ends_with('@')
            || secret.starts_with('?')
            || secret.starts_with('#')
    });
    // Longest first: a value inside the whole query goes with the query.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets.dedup();
    secrets
}

/// The `Authorization` value of `url`'s user-info (`Basic` and the base64 of the decoded
/// `user:password`, as HTTP clients send it), if it has one. A `%` that starts no escape is
/// sent as it is, as HTTP clients (and godtrace's proxies) read it: the credentials are never
/// left out.
pub(crate) fn basic_credentials(url: &str) -> Option<String> {
    let info = authority_userinfo(url)?;
    let (user, password) = info.split_once(':').unwrap_or((info, ""));
    let mut plain = crate::text::percent_decode_lenient(user);
    plain.push(b':');
    plain.extend(crate::text::percent_decode_lenient(password));
    Some(format!("Basic {}", crate::base64::encode(&plain)))
}

/// `secret` and the forms a receiver may quote it in: escaped in a JSON string (`"` as
/// `\"`; also as Go's encoder writes it, `<`, `>` and `&` as `\u003c`.., and with `/` as
/// `\/`), percent-encoded (every byte but letters, digits and `-._~`), and percent-decoded (a
/// value configured encoded, such as a SAS token, quoted by a receiver that decoded it; gRPC's
/// `grpc-message` is read decoded too). Letter case is no form of its own:
/// [`replace_all_at_once`] ignores it.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn quoted_forms(secret: &str) -> [String; 6] {
    let json = |html_safe: bool, slash: bool| {
        let mut out = String::with_capacity(secret.len());
        for c in secret.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '<' | '>' | '&' if html_safe => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                '/' if slash => out.push_str("\\/"),
                _ => out.push(c),
            }
        }
        out
    };
    let mut percent = String::with_capacity(secret.len());
    for &b in secret.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            percent.push(char::from(b));
        } else {
            percent.push_str(&format!("%{b:02X}"));
        }
    }
    [
        secret.to_owned(),
        json(false, false),
        json(true, false),
        json(false, true),
        percent,
        String::from_utf8_lossy(&crate::text::percent_decode_lenient(secret)).into_owned(),
    ]
}

/// Whether `text` starts with `prefix`, ignoring ASCII letter case (`BEARER` quotes `Bearer`).
/// A match ends on a char boundary of `text`: its other bytes are `prefix`'s own.
fn starts_with_any_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The shortest secret looked for on its own in a message (a part of a URL's credentials, see
/// [`scrub`], or a header's value): a shorter one (`1`, `yes`) would take every copy of its
/// letters.
pub(crate) const MIN_LONE_SECRET: usize = 6;

/// `message` with every occurrence of any of `secrets`, in any letter case (longest first
/// where several start at one place) replaced by `<redacted>` (`<redacted>@` for a user-info with its `@`,
/// `?<redacted>` for a query with its `?`), in one pass over `message`: a secret is never
/// looked for inside the marker put for another. The start of a secret that a cut of a
/// peer's words ended (the cut's mark follows it) is redacted too.
pub(crate) fn replace_all_at_once(message: &str, secrets: &[String]) -> String {
    replace_all_keeping(message, secrets, &[])
}

/// [`replace_all_at_once`], copying each occurrence of a `kept` text as it is: godtrace's own
/// words (the endpoint's URL, which the message names already) are not a receiver quoting a
/// secret, though a secret's letters may be in them (a header value `traces`).
pub(crate) fn replace_all_keeping(message: &str, secrets: &[String], kept: &[String]) -> String {
    // Where the cuts' marks are, once.
    let marks: Vec<usize> = message
        .match_indices(crate::text::CUT_MARK)
        .map(|(at, _)| at)
        .collect();
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if let Some(own) = kept
            .iter()
            .find(|k| !k.is_empty() && rest.starts_with(k.as_str()))
        {
            out.push_str(own);
            rest = &rest[own.len()..];
            continue;
        }
        let whole = secrets
            .iter()
            .find(|secret| starts_with_any_case(rest, secret));
        // The start of a longer secret the cut ended goes whole, rather than leave what of it
        // follows a shorter one.
        let here = message.len() - rest.len();
        let next_mark = marks.iter().find(|&&mark| mark > here);
        let cut_len = next_mark.and_then(|&mark| cut_secret_len(&rest[..mark - here], secrets));
        let whole = whole.filter(|secret| cut_len.is_none_or(|len| secret.len() >= len));
        match whole {
            Some(secret) => {
                if secret.starts_with('?') {
                    out.push('?');
                }
                out.push_str("<redacted>");
                if secret.ends_with('@') {
                    out.push('@');
                }
                rest = &rest[secret.len()..];
            }
            None => match cut_len {
                // The start of a secret that a cut ended: as much of it is one.
                Some(len) => {
                    out.push_str("<redacted>");
                    rest = &rest[len..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            },
        }
    }
    out
}

/// The length of `before_cut` (a message from here to a cut's mark) when it is the start of
/// a secret: the rest of the secret was cut off, and what is left of it is still part of it.
fn cut_secret_len(before_cut: &str, secrets: &[String]) -> Option<usize> {
    secrets
        .iter()
        .any(|secret| secret.len() > before_cut.len() && starts_with_any_case(secret, before_cut))
        .then_some(before_cut.len())
        .filter(|&len| len > 0)
}

/// The user name, password and query of `url` as the HTTP client's parser serializes them,
/// the form its messages quote.
#[cfg(feature = "otlp-http")]
fn parsed_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Vec::new();
    };
    let mut secrets = Vec::new();
    // As for the user-info as given: the whole of it, and the password alone (never the
    // user name alone, short enough to occur elsewhere).
    match parsed.password() {
        Some(password) => {
            secrets.push(format!("{}:{password}@", parsed.username()));
            secrets.push(password.to_owned());
        }
        None if !parsed.username().is_empty() => {
            secrets.push(format!("{}@", parsed.username()));
        }
        None => {}
    }
    if let Some(query) = parsed.query().filter(|query| !query.is_empty()) {
        secrets.extend([format!("?{query}"), query.to_owned()]);
    }
    secrets
}

/// Without the HTTP transport, no other serialization is quoted.
#[cfg(not(feature = "otlp-http"))]
fn parsed_secrets(_url: &str) -> Vec<String> {
    Vec::new()
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

/// `value` as [`normalize`] checks it, after [`with_grpc_scheme`]; an error quotes the value
/// as given, not the scheme added to it.
pub(crate) fn normalize_given(
    name: &str,
    value: &str,
    protocol: Protocol,
    insecure: bool,
) -> Result<String, InitError> {
    // `http:/h`, `https:h`: a scheme mistyped, not a gRPC `host:port`.
    let lower = value.get(..6).unwrap_or(value).to_ascii_lowercase();
    if (lower.starts_with("http:") || lower.starts_with("https:")) && !value.contains("://") {
        return Err(InitError::invalid(
            name,
            &redacted(value),
            &format!("an absolute URL starting with http:// or https://, such as {EXAMPLE}"),
        ));
    }
    let with_scheme = with_grpc_scheme(value, protocol, insecure);
    normalize(name, &with_scheme, EXAMPLE).map_err(|e| match e {
        InitError::InvalidValue { name, expected, .. } if with_scheme != value => {
            InitError::invalid(
                &name,
                &redacted(value),
                &format!("{expected} (or host:port, over gRPC)"),
            )
        }
        other => other,
    })
}

/// Refuses `url`, normalized from `value` (the variable `name`'s) for the gRPC transport,
/// when that transport cannot send to its host ([`grpc_can_send_to`]). Refused at `init`,
/// not by every export.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn check_grpc_host(name: &str, value: &str, url: &str) -> Result<(), InitError> {
    if grpc_can_send_to(url) {
        return Ok(());
    }
    Err(InitError::invalid(
        name,
        &redacted(value),
        &format!(
            "over gRPC, a URL whose host is an IP address written in full or an ASCII \
             name without %-escapes (an international name in its xn-- form), such as \
             {GRPC_EXAMPLE}"
        ),
    ))
}

/// Refuses `url`, normalized from `value` (the variable `name`'s) for the gRPC transport,
/// when it has a path or a query: a gRPC request's path is its method
/// (`/opentelemetry.proto.collector.trace.v1.TraceService/Export`), so neither could be sent,
/// and a prefix a proxy routes by, or a token in the query, would be left out of every request.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn check_grpc_path(name: &str, value: &str, url: &str) -> Result<(), InitError> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let after_host = &url[start + authority(url).len()..];
    if after_host.is_empty() || after_host == "/" {
        return Ok(());
    }
    Err(InitError::invalid(
        name,
        &redacted(value),
        &format!(
            "over gRPC, a URL with no path or query (a gRPC request's path is its method), \
             such as {GRPC_EXAMPLE}; a collector behind a path takes http/protobuf"
        ),
    ))
}

/// Whether the gRPC transport can send to `url`'s host: HTTP's URI of its scheme and host,
/// which it sends to, takes an ASCII host only (the HTTP transport's URL parser converts an
/// international name itself); over TLS the host is also the server's name, which TLS takes
/// as an IP address or a DNS name only (`127.1`, `a..b` are neither: the URL parser rewrites
/// the first, gRPC's URI keeps it).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_can_send_to(url: &str) -> bool {
    let Ok(uri) = http::Uri::try_from(scheme_and_host(url)) else {
        return false;
    };
    let host = uri.host().unwrap_or("");
    let host = (host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))).unwrap_or(host);
    uri.scheme_str() != Some("https")
        || rustls_pki_types::ServerName::try_from(host.to_owned()).is_ok()
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
mod tests;
