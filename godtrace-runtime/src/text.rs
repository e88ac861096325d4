//! Text grammar shared by HTTP headers, W3C Baggage and the `OTEL_*` variables, each rule in
//! one place: RFC 7230 tokens (section 3.2.6), what a header name and a baggage key are made
//! of, and percent-decoding (RFC 3986 section 2.1), which baggage values and the variables'
//! `key=value` lists use.

/// Whether `s` is a token: one or more `tchar`s, that is letters, digits and
/// ``!#$%&'*+-.^_`|~``.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 7230 `tchar`: a visible ASCII character that is not a delimiter.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `s` without the spaces and tabs (HTTP's optional whitespace, OWS) around it.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The bytes `raw` percent-decodes to, a `%` not followed by two hex digits kept as it is (as
/// the URL standard decodes, and as HTTP clients read a URL's user-info).
pub(crate) fn percent_decode_lenient(raw: &str) -> Vec<u8> {
    decode(raw, true).unwrap_or_default()
}

/// The bytes `raw` percent-decodes to; `None` for a `%` not followed by two hex digits.
pub(crate) fn percent_decode(raw: &str) -> Option<Vec<u8>> {
    decode(raw, false)
}

/// Percent-decodes `raw`; a `%` that starts no escape is kept when `keep_bad`, else `None`.
fn decode(raw: &str, keep_bad: bool) -> Option<Vec<u8>> {
    let raw = raw.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let escape =
                || Some((hex_digit(*raw.get(i + 1)?)? << 4) | hex_digit(*raw.get(i + 2)?)?);
            if let Some(byte) = escape() {
                bytes.push(byte);
                i += 3;
                continue;
            }
            if !keep_bad {
                return None;
            }
        }
        bytes.push(raw[i]);
        i += 1;
    }
    Some(bytes)
}

/// The value of a hex digit, either case.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `text` as one line for a terminal or a log: control characters (newlines, terminal
/// escapes, C1 controls) and the characters that reorder text on a terminal (bidirectional
/// overrides and isolates) escaped. For what others wrote (a receiver's words, an error's
/// text, a name built from data): it cannot forge lines or recolour the output.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    push_one_line(&mut line, text);
    line
}

/// The first `max` bytes of a peer's `text` (at a character boundary) as [`one_line`], with
/// [`CUT_MARK`] when they are not all of it: a secret the cut splits is then known to be
/// one (see `config::url::replace_all_at_once`).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn one_line_cut(text: &str, max: usize) -> String {
    let mut line = one_line(&text[..crate::value::floor_char_boundary(text, max)]);
    if text.len() > max {
        line.push(CUT_MARK);
    }
    line
}

/// What ends a text cut short.
pub(crate) const CUT_MARK: char = '…';

/// [`one_line`], appended to `out`.
pub(crate) fn push_one_line(out: &mut String, text: &str) {
    for c in text.chars() {
        // Bidirectional marks and embeddings (the Arabic letter mark among them), the line
        // and paragraph separators (line breaks to many log viewers), and invisible format
        // characters (zero width space, byte order mark).
        let reorders = matches!(c, '\u{061c}' | '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || reorders {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

/// The most bytes of a report godtrace prints on stderr: a report quotes the endpoint and a
/// receiver's or a client's words, each of any length.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) const MAX_REPORT: usize = 2048;

/// `message` cut to at most `max` bytes (at a character boundary, [`CUT_MARK`] marking the
/// cut).
pub(crate) fn cut(mut message: String, max: usize) -> String {
    if message.len() > max {
        message.truncate(crate::value::floor_char_boundary(&message, max));
        message.push(CUT_MARK);
    }
    message
}

/// A host as `server.address` holds it: an IPv6 literal without the brackets a URL or an
/// authority puts around it (`[::1]` is `::1`), as the conventions write addresses; the port
/// is an attribute of its own, so nothing is left to tell apart.
#[cfg(any(feature = "reqwest", feature = "sqlx", feature = "redis"))]
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    /// A report quoting a 300 KB endpoint is one line of bounded length.
    #[test]
    fn reports_are_cut_at_a_character_boundary() {
        let long = format!("could not export to http://{}é.com", "a".repeat(300_000));
        let cut = super::cut(long, 2048);
        assert!(cut.len() <= 2048 + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.ends_with('…'));
        let short = super::cut("é".repeat(3), 5);
        assert_eq!(short, "éé…");
        assert_eq!(super::cut("fine".into(), 4), "fine");
    }

    #[test]
    fn tokens_are_tchars_only() {
        assert!(super::is_token("x-api-key"));
        assert!(super::is_token("!#$%&'*+-.^_`|~09AZaz"));
        for not in [
            "", "a b", "a:b", "a=b", "(x)", "k\u{e9}", "a\"", "a,b", "a;b", "a/b",
        ] {
            assert!(!super::is_token(not), "{not:?}");
        }
    }

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(
            super::percent_decode("a%2C%2cb%25"),
            Some(b"a,,b%".to_vec())
        );
        assert_eq!(
            super::percent_decode("%C3%A9"),
            Some("\u{e9}".as_bytes().to_vec())
        );
        for bad in ["%", "%4", "%zz", "%+F", "%-1", "a%"] {
            assert_eq!(super::percent_decode(bad), None, "{bad}");
        }
    }
}
