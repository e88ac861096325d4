//! RFC 7230 tokens (section 3.2.6): what an HTTP header name and a W3C Baggage key are made
//! of, checked in one place for both.

/// Whether `s` is a token: one or more `tchar`s, that is letters, digits and
/// ``!#$%&'*+-.^_`|~``.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 7230 `tchar`: a visible ASCII character that is not a delimiter.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
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
}
