//! Secrets in text that leaves the process: credentials in URLs (user-info, credentials'
//! query keys, session ids in paths). Client spans' `url.full` and `url.path` use it, and so
//! does every span's status description and panic message, which are the user's error texts:
//! an HTTP client's error names the URL it failed on, API key and all.
use std::borrow::Cow;

/// `text` with every URL in it redacted as [`url`] says; `None` when there is nothing to
/// redact. A URL is `scheme://` and what follows, up to a space, a `"`, `<`, `>` or a
/// backtick, or the next URL (two written together, or one in another's query): user-info
/// may hold brackets and quotes, an IPv6 host brackets. Punctuation that ends a sentence or a
/// bracket around the URL (`).,;:'!]}`) is left out of its end. When `text` was cut (it
/// ends with `…`, or with the attribute limit's marker), a URL the cut ends inside its
/// authority has that authority redacted whole: its `@` may have been cut off.
pub(crate) fn urls_in(text: &str) -> Option<String> {
    let separators: Vec<usize> = text.match_indices("://").map(|(at, _)| at).collect();
    if separators.is_empty() {
        return None;
    }
    let body = text
        .strip_suffix(crate::value::TRUNCATION_MARKER)
        .or_else(|| text.strip_suffix('…'));
    let (body, cut) = match body {
        Some(body) => (body, true),
        None => (text, false),
    };
    // Each URL's scheme, back from its `://`, no further than the URL before it.
    let mut starts = Vec::with_capacity(separators.len());
    let mut floor = 0;
    for &separator in &separators {
        let scheme_len = body.as_bytes()[floor.min(separator)..separator.min(body.len())]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        starts.push(separator.min(body.len()) - scheme_len);
        floor = separator + 3;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (i, (&start, &separator)) in starts.iter().zip(&separators).enumerate() {
        if separator + 3 > body.len() || start < at {
            continue;
        }
        let limit = starts
            .get(i + 1)
            .map_or(body.len(), |&next| next.max(separator + 3));
        // From the authority, or past a quoted password's `@`.
        let from = quoted_password_end(body, separator + 3, limit).unwrap_or(separator + 3);
        let mut end = body[from..limit]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '`'))
            .map_or(limit, |e| from + e);
        let reaches_cut = cut && end == body.len();
        while end > separator + 3
            && body[..end].ends_with([')', '.', ',', ';', ':', '\'', '!', ']', '}'])
            && !reaches_cut
        {
            end -= 1;
        }
        out.push_str(&body[at..start]);
        let found = &body[start..end];
        let after_scheme = &found[separator - start + 3..];
        // Cut before the `@` that would end a password (`user:pa/ss@` or the authority
        // itself): all of it may be the password.
        let authority_open = !after_scheme.contains(['/', '?', '#', '@'])
            || (!after_scheme.contains('@') && password_breaks_authority(after_scheme).is_some());
        if reaches_cut && authority_open {
            out.push_str(&found[..separator - start + 3]);
            out.push_str("REDACTED");
        } else {
            out.push_str(&url(found));
        }
        at = end;
    }
    out.push_str(&body[at..]);
    out.push_str(&text[body.len()..]);
    (out != text).then_some(out)
}

/// Where the `@` after a password written in quotes starts (`user:"p w"@host` or
/// `user:'p w'@host`, not a valid URL; spaces are why one quotes it), for the URL whose
/// authority starts at `from`: its user, a `:`, a quote, the password, the same quote and an
/// `@`, with no `/`, `?`, `#` or `@` nor space before the first quote. `None` otherwise, as
/// for a quoted URL followed by other quoted text (`"https://h","@type"`).
fn quoted_password_end(body: &str, from: usize, limit: usize) -> Option<usize> {
    let rest = &body[from..limit];
    let colon = rest.find(|c: char| {
        matches!(c, ':' | '/' | '?' | '#' | '@' | '"' | '\'') || c.is_whitespace()
    })?;
    if !rest[colon..].starts_with(':') {
        return None;
    }
    let quote = rest[colon + 1..]
        .chars()
        .next()
        .filter(|q| matches!(q, '"' | '\''))?;
    let password = colon + 2;
    let closing = password + rest[password..].find(quote)?;
    rest[closing + 1..]
        .starts_with('@')
        .then_some(from + closing + 1)
}

/// An error's text, as recorded (a panic's message, an error value of the `tracing`
/// bridge), bounded already: its URLs redacted (a cut one as cut), then bounded again to the
/// attribute limit, as `REDACTED` may be longer than what it replaced.
#[cfg(feature = "tracing")]
pub(crate) fn error_text(text: String) -> String {
    match urls_in(&text) {
        Some(redacted) => crate::value::bounded_text(&redacted, crate::value::max_attribute_len()),
        None => text,
    }
}

/// A log message as an event's name (a `tracing` event's, a `log` record's), as read (past
/// the name's length: see `value::message_text`): its URLs redacted, then cut as a name.
/// Messages are formatted with values (`error!("connect to {url} failed")`), a database URL's
/// password among them.
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) fn message(text: String) -> String {
    let text = urls_in(&text).unwrap_or(text);
    crate::value::bounded_name(Cow::Owned(text)).into_owned()
}

/// `text`, an error's text (a status description, a panic's message), bounded to `limit`: its
/// URLs redacted in a prefix of at least [`crate::value::MIN_ERROR_READ`] bytes (a URL that prefix cuts, as
/// cut), then cut to `limit`, so that a limit shorter than a URL's user-info, or than the cut's
/// marker, leaves no part of it. The work is bounded by the larger of the two.
pub(crate) fn error_text_within(text: &str, limit: usize) -> String {
    let read = crate::value::bounded_text(text, limit.max(crate::value::MIN_ERROR_READ));
    let redacted = urls_in(&read).unwrap_or(read);
    crate::value::bounded_text(&redacted, limit)
}

/// `path` with the value of every path parameter named as a credential
/// (`/cart;jsessionid=…`, `;phpsessid=`, `;sid=`, `;token=`: the names a query's credentials
/// are known by, [`is_sensitive_query_key`]) replaced by `REDACTED`, for `url.path` and
/// `url.full`: the conventions say sensitive content in `url.path` "SHOULD be scrubbed when
/// instrumentations can identify it".
pub(crate) fn path(path: &str) -> Cow<'_, str> {
    if !path.contains(';') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    let mut changed = false;
    while let Some(semicolon) = rest.find(';') {
        out.push_str(&rest[..=semicolon]);
        rest = &rest[semicolon + 1..];
        let end = rest.find(['/', ';']).unwrap_or(rest.len());
        match rest[..end].split_once('=') {
            Some((name, value)) if !value.is_empty() && is_sensitive_query_key(name) => {
                out.push_str(name);
                out.push_str("=REDACTED");
                changed = true;
            }
            _ => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(path)
    }
}

/// `url` with any `user:password@` replaced by `REDACTED:REDACTED@` (the conventions' advice
/// for `url.full`), and a session id in the path as [`path`] says. The query string and the
/// fragment are kept, as the conventions do by default, except the values of credentials'
/// keys ([`is_sensitive_query_key`]).
pub(crate) fn url(url: &str) -> String {
    let mut full = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = user_info_end(rest)
                .unwrap_or_else(|| rest.find(['/', '?', '#']).unwrap_or(rest.len()));
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rfind('@') {
                Some(at) => format!(
                    "{scheme}://REDACTED:REDACTED@{}{tail}",
                    &authority[at + 1..]
                ),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // The fragment is never sent, but kept as the conventions ask; in `key=value` form
    // (OAuth's `#access_token=…`) it is redacted as a query is.
    if let Some(fragment_at) = full.find('#')
        && let Cow::Owned(fragment) = redacted_query(&full[fragment_at + 1..])
    {
        full.replace_range(fragment_at + 1.., &fragment);
    }
    // A URL written inside another's query without escapes (`?next=https://app/cb&token=..`)
    // has no `?` of its own: what follows its first `&` is the outer query's, read as one.
    let query_at = full.find('?').or_else(|| {
        let after_scheme = full.find("://").map_or(0, |i| i + 3);
        full[after_scheme..].find('&').map(|i| after_scheme + i)
    });
    if let Some(query_at) = query_at {
        let end = full[query_at..]
            .find('#')
            .map_or(full.len(), |i| query_at + i);
        if let Cow::Owned(query) = redacted_query(&full[query_at + 1..end]) {
            full.replace_range(query_at + 1..end, &query);
        }
    }
    // The path: after the authority, before the query or fragment.
    let path_start = full.find("://").map_or(0, |i| {
        let authority = i + 3;
        full[authority..]
            .find(['/', '?', '#'])
            .map_or(full.len(), |p| authority + p)
    });
    let path_end = full[path_start..]
        .find(['?', '#'])
        .map_or(full.len(), |i| path_start + i);
    if let Cow::Owned(path) = path(&full[path_start..path_end]) {
        full.replace_range(path_start..path_end, &path);
    }
    full
}

/// Where the authority of `rest` (a URL after its `://`) ends when its password holds a `/`,
/// `?` or `#` not percent-encoded (`postgres://app:pa/ss@db`, not a valid URL, but what a
/// hand-written connection string may hold): just after the last `@` before the host that
/// follows a `user:` whose `:` is not followed by a port's digits. `None` for any other URL.
fn user_info_end(rest: &str) -> Option<usize> {
    let end = password_breaks_authority(rest)?;
    // The user part runs to the last `@` before the host's end (a password may hold `@`
    // too: `root:se/cr@et@db`).
    let at = end + rest[end..].find('@')?;
    let host_end = rest[at + 1..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |i| at + 1 + i);
    let last_at = at + rest[at..host_end].rfind('@').unwrap_or(0);
    Some(last_at + 1)
}

/// Where the authority of `rest` (a URL after its `://`) seems to end, at its first `/`, `?`
/// or `#`, when what comes before is `user:` and something other than a port's digits, with
/// no `@`: a password holding that character, its `@` still to come (see [`user_info_end`]).
fn password_breaks_authority(rest: &str) -> Option<usize> {
    let end = rest.find(['/', '?', '#'])?;
    let authority = &rest[..end];
    let colon = authority.find(':')?;
    let after = &authority[colon + 1..];
    let port = after.bytes().all(|b| b.is_ascii_digit());
    (!authority.contains(['@', '[']) && !port).then_some(end)
}

/// Query keys whose values the conventions say to redact (`url.full`, `url.query`; matched
/// case-sensitively, as they say): signatures and credentials of pre-signed URLs. The
/// conventions list the `X-Amz-*` (AWS SigV4), `sig` (Azure SAS) and `X-Goog-Signature` keys
/// since v1.42; `AWSAccessKeyId` and `Signature` (SigV2, listed before) are kept, as such URLs
/// still carry credentials.
const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "AWSAccessKeyId",
    "Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "sig",
    "X-Goog-Signature",
];

/// Words that mark a query key as a credential's, in any case, anywhere in the key once
/// `-`, `_` and `.` are left out (`access_token`, `client_secret`, `apiKey`, Binance's
/// `signature`, `PHPSESSID`): the conventions ask to scrub what an instrumentation can
/// identify as sensitive, and a client's URLs are built by the program itself, with its API
/// keys. A key that merely contains one (`author`) loses its value too: a value hidden costs
/// less than a secret exported.
const CREDENTIAL_KEY_WORDS: [&str; 17] = [
    "token",
    "secret",
    "passw",
    "passphrase",
    "passcode",
    "hmac",
    "saml",
    "creds",
    "pwd",
    "signature",
    "credential",
    "session",
    "sessid",
    "auth",
    "ticket",
    "assertion",
    "keyid",
];

/// Keys that are credentials as a whole (`sig` alone: `signal` is not one; `code` alone:
/// `country_code` is not one). `hash` is the signature of Telegram's login data, among
/// others.
const CREDENTIAL_KEYS: [&str; 6] = ["sig", "sign", "code", "pass", "sid", "hash"];

/// Words that make a key a credential's wherever they stand in it, as words (see [`words`]:
/// `pin`, `pin_code`, `userPin`, `PINCode`, `pin1`, `user[pin]`, `new_pw`, `client_cred`; not
/// `spin` nor `pinned`).
const CREDENTIAL_WORDS: [&str; 12] = [
    "pw", "pwd", "otp", "totp", "pin", "mfa", "cred", "creds", "jwt", "2fa", "tfa", "twofa",
];

/// Words that make a `code` right after them one that proves who someone is (`sms_code`,
/// `verifyCode`, `recovery_code`; also run together, `smscode`): not a `country_code`, a
/// `zip_code` nor an `sms_error_code`.
const SECRET_CODE_KINDS: [&str; 23] = [
    "sms",
    "access",
    "verification",
    "verify",
    "recovery",
    "backup",
    "reset",
    "confirmation",
    "confirm",
    "activation",
    "email",
    "security",
    "login",
    "magic",
    "otp",
    "totp",
    "pin",
    "mfa",
    "2fa",
    "tfa",
    "twofa",
    "onetime",
    "twofactor",
];

/// Whether the value of query key `key` (as written, escapes and all) is redacted.
fn is_sensitive_query_key(key: &str) -> bool {
    // A key is compared decoded, as the server reads it: `X-Amz%2DSignature` carries the
    // signature as well (a `%` that starts no escape is read as itself).
    let decoded = crate::text::percent_decode_lenient(key);
    if SENSITIVE_QUERY_KEYS
        .iter()
        .any(|wanted| decoded.as_slice() == wanted.as_bytes())
    {
        return true;
    }
    names(&decoded).any(is_credential_name) || has_credential_word(&decoded)
}

/// The names in a key: the key before any `[`, then each name in brackets (`params[api_key]`
/// is `params` and `api_key`; an array's `code[]` is `code`).
fn names(key: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (head, rest) = match key.iter().position(|&b| b == b'[') {
        Some(at) => key.split_at(at),
        None => (key, &[][..]),
    };
    let nested = rest.split(|&b| b == b'[' || b == b']');
    std::iter::once(head)
        .chain(nested)
        .filter(|name| !name.is_empty())
}

/// Whether one name of a key is a credential's: it ends in `key` (`apiKey`, `access_key`,
/// `subscription-key`, `key`; rarely anything else's: `keyword` does not), contains one of
/// [`CREDENTIAL_KEY_WORDS`] or is one of [`CREDENTIAL_KEYS`], `-`, `_` and `.` left out.
fn is_credential_name(name: &[u8]) -> bool {
    let word: Vec<u8> = name
        .iter()
        .filter(|b| !matches!(b, b'-' | b'_' | b'.'))
        .map(u8::to_ascii_lowercase)
        .collect();
    let contains = |part: &str| word.windows(part.len()).any(|w| w == part.as_bytes());
    word.ends_with(b"key")
        || CREDENTIAL_KEY_WORDS.iter().any(|part| contains(part))
        || CREDENTIAL_KEYS.iter().any(|whole| word == whole.as_bytes())
}

/// Whether `key` has one of [`CREDENTIAL_WORDS`] among its [`words`] (`two` `fa` counts as
/// `twofa`), or a `code` right after one of [`SECRET_CODE_KINDS`] (`one` `time` and `two`
/// `factor` count as `onetime` and `twofactor`), or a word that is such a kind and `code` run
/// together (`smscode`).
fn has_credential_word(key: &[u8]) -> bool {
    let words: Vec<Vec<u8>> = words(key).map(|w| w.to_ascii_lowercase()).collect();
    // Each word, and each pair of words run together: `two`, `fa` is also `twofa`.
    let mut joined: Vec<Vec<u8>> = Vec::with_capacity(words.len() * 2);
    for (i, word) in words.iter().enumerate() {
        if let Some(next) = words.get(i + 1) {
            joined.push([word.as_slice(), next.as_slice()].concat());
        }
        joined.push(word.clone());
    }
    let is = |w: &[u8], list: &[&str]| list.iter().any(|c| w == c.as_bytes());
    let code_after = |i: usize| {
        let before = |n: usize| i.checked_sub(n).map(|at| words[at].as_slice());
        let pair = i
            .checked_sub(2)
            .map(|at| [words[at].as_slice(), words[at + 1].as_slice()].concat());
        before(1).is_some_and(|w| is(w, &SECRET_CODE_KINDS))
            || pair.is_some_and(|w| is(&w, &SECRET_CODE_KINDS))
    };
    let run_together = |w: &[u8]| {
        let stem = w.strip_suffix(b"codes").or_else(|| w.strip_suffix(b"code"));
        stem.is_some_and(|stem| is(stem, &SECRET_CODE_KINDS))
    };
    joined.iter().any(|w| is(w, &CREDENTIAL_WORDS))
        || words
            .iter()
            .enumerate()
            .any(|(i, w)| (is(w, &["code", "codes"]) && code_after(i)) || run_together(w))
}

/// The words of a key: split at anything but an ASCII letter or digit, before a capital that
/// follows a lower-case letter (`userPin`: `user`, `Pin`), before the last capital of a run
/// followed by a lower-case letter (`OTPCode`: `OTP`, `Code`), and before a digit that follows
/// a letter (`pin1`: `pin`, `1`; `2fa` stays one).
fn words(key: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = key;
    std::iter::from_fn(move || {
        let start = rest.iter().position(u8::is_ascii_alphanumeric)?;
        rest = &rest[start..];
        let mut end = 1;
        while end < rest.len() && rest[end].is_ascii_alphanumeric() {
            let (before, here) = (rest[end - 1], rest[end]);
            let next_lower = rest.get(end + 1).is_some_and(u8::is_ascii_lowercase);
            let boundary = (before.is_ascii_lowercase() && here.is_ascii_uppercase())
                || (before.is_ascii_uppercase() && here.is_ascii_uppercase() && next_lower)
                || (before.is_ascii_alphabetic() && here.is_ascii_digit());
            if boundary {
                break;
            }
            end += 1;
        }
        let (word, after) = rest.split_at(end);
        rest = after;
        Some(word)
    })
}

/// `query` (or a fragment of `key=value` pairs) with the values of sensitive keys
/// ([`is_sensitive_query_key`]) replaced by `REDACTED`. Pairs are separated by `&` or `;`
/// (which many servers read as `&`), kept as written; borrowed when nothing is redacted.
/// A value may hold a URL of its own, its query unescaped (`next=https://app/cb?token=..`) or
/// percent-encoded (`next=https%3A%2F%2Fapp%2Fcb%3Ftoken%3D..`): a `?` or an encoded `?`,
/// `&` or `;` also separates pairs, and an encoded `=` separates a key from its value (one
/// pass, so nesting costs nothing more); a `user:password@` in such a URL is redacted too.
fn redacted_query(query: &str) -> Cow<'_, str> {
    redacted_pairs(query, 0)
}

/// How many times a value is percent-decoded to look for credentials in it (a URL encoded
/// into a query, and encoded again when that query went into another).
const NESTED_DECODES: u8 = 2;

/// [`redacted_query`] of a query found after `decodes` percent-decodings.
fn redacted_pairs(query: &str, decodes: u8) -> Cow<'_, str> {
    let mut out = String::new();
    let mut kept = 0;
    for (pair, pair_end) in pairs(query) {
        let replacement = match key_end(pair) {
            Some((key, value_at)) if is_sensitive_query_key(&pair[..key]) => {
                Some(format!("{}REDACTED", &pair[..value_at]))
            }
            Some((_, value_at)) => {
                let value = &pair[value_at..];
                match nested_user_info(value) {
                    Some(value) => Some(format!("{}{value}", &pair[..value_at])),
                    None if holds_encoded_credentials(value, decodes) => {
                        Some(format!("{}REDACTED", &pair[..value_at]))
                    }
                    None => None,
                }
            }
            None => None,
        };
        if let Some(replacement) = replacement {
            let pair_start = pair_end - pair.len();
            out.push_str(&query[kept..pair_start]);
            out.push_str(&replacement);
            kept = pair_end;
        }
    }
    if kept == 0 {
        return Cow::Borrowed(query);
    }
    out.push_str(&query[kept..]);
    Cow::Owned(out)
}

/// The pairs of `query` with where each ends, split at `&`, `;`, `?`, `#` and their
/// percent-encoded forms (see [`redacted_query`]).
fn pairs(query: &str) -> impl Iterator<Item = (&str, usize)> {
    let bytes = query.as_bytes();
    let mut start = 0;
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            let separator = match bytes[at] {
                b'&' | b';' | b'?' | b'#' => 1,
                b'%' if matches!(
                    bytes.get(at + 1..at + 3),
                    Some([b'2', b'3' | b'6'] | [b'3', b'B' | b'b' | b'F' | b'f'])
                ) =>
                {
                    3
                }
                _ => 0,
            };
            if separator > 0 {
                let pair = (&query[start..at], at);
                at += separator;
                start = at;
                return Some(pair);
            }
            at += 1;
        }
        if start > bytes.len() {
            return None;
        }
        let pair = (&query[start..], bytes.len());
        start = bytes.len() + 1;
        Some(pair)
    })
}

/// Where `pair`'s key ends and its value starts: at its first `=` or percent-encoded `=`.
fn key_end(pair: &str) -> Option<(usize, usize)> {
    let bytes = pair.as_bytes();
    (0..bytes.len()).find_map(|at| match bytes[at] {
        b'=' => Some((at, at + 1)),
        b'%' if matches!(bytes.get(at + 1..at + 3), Some([b'3', b'D' | b'd'])) => {
            Some((at, at + 3))
        }
        _ => None,
    })
}

/// Whether `value`, percent-decoded (up to [`NESTED_DECODES`] times in all), holds a URL's
/// user-info or a credential's pair: a URL encoded into a query value
/// (`next=https%3A%2F%2Fbob%3Apw%40app`), whose parts cannot be redacted where they are
/// written, so the whole value is.
fn holds_encoded_credentials(value: &str, decodes: u8) -> bool {
    if decodes >= NESTED_DECODES || !value.contains('%') {
        return false;
    }
    let decoded = crate::text::percent_decode_lenient(value);
    let decoded = String::from_utf8_lossy(&decoded);
    nested_user_info(&decoded).is_some()
        || matches!(redacted_pairs(&decoded, decodes + 1), Cow::Owned(_))
}

/// `value` with the user-info of a URL in it (`https://user:pass@host/..`) redacted, when it
/// has one; the authority ends at the first `/`, `?` or `#`.
fn nested_user_info(value: &str) -> Option<String> {
    let (scheme, rest) = value.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    Some(format!("{scheme}://REDACTED:REDACTED@{}", &rest[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error's text names the URL it failed on (reqwest's "error sending request for url
    /// (…)"): each URL in it is redacted where it is, the rest kept.
    #[test]
    fn urls_in_text_are_redacted_where_they_are() {
        assert_eq!(
            urls_in(
                "error sending request for url (http://127.0.0.1:7101/s?api_key=SECRET&d=3): \
                 connect to postgres://app:hunter2@db/x failed; see https://docs.rs/x?q=1."
            )
            .as_deref(),
            Some(
                "error sending request for url (http://127.0.0.1:7101/s?api_key=REDACTED&d=3): \
                 connect to postgres://REDACTED:REDACTED@db/x failed; see https://docs.rs/x?q=1."
            )
        );
        for kept in [
            "no url",
            "https://docs.rs/x?q=1",
            "a://",
            "://x",
            "\"http://h/\"",
        ] {
            assert_eq!(urls_in(kept), None, "{kept}");
        }
        assert_eq!(
            urls_in("\"https://u:p@h\" and <ftp://h/?token=t>").as_deref(),
            Some("\"https://REDACTED:REDACTED@h\" and <ftp://h/?token=REDACTED>")
        );
        // An IPv6 host; a password with brackets and quotes; two URLs written together, and
        // one in another's query.
        let cases = [
            (
                "for url (http://[::1]:8080/v1?api_key=S1)",
                "for url (http://[::1]:8080/v1?api_key=REDACTED)",
            ),
            (
                "postgres://app:SEC(RET3)@db/x and redis://:it'sS4@r:6379.",
                "postgres://REDACTED:REDACTED@db/x and redis://REDACTED:REDACTED@r:6379.",
            ),
            (
                "http://u:S6@a.example,http://u:S7@b.example;ftp://u:S8@c/",
                "http://REDACTED:REDACTED@a.example,http://REDACTED:REDACTED@b.example;\
                 ftp://REDACTED:REDACTED@c/",
            ),
            (
                "https://h/login?next=https://admin:S10@internal/&x=1",
                "https://h/login?next=https://REDACTED:REDACTED@internal/&x=1",
            ),
        ];
        for (text, redacted) in cases {
            assert_eq!(urls_in(text).as_deref(), Some(redacted), "{text}");
        }
    }

    /// Hand-written connection strings whose password is not percent-encoded: a `/`, `?` or
    /// `#` in it, or quotes around it, still end at the `@` before the host. A port, an
    /// IPv6 host or an `@` in a path or query leave the URL as it was.
    #[test]
    fn passwords_that_break_the_url_grammar_are_redacted() {
        let cases = [
            (
                "postgres://app:pa/hunter2@db/x",
                "postgres://REDACTED:REDACTED@db/x",
            ),
            (
                "postgres://app:pa?s#s@db/x ok",
                "postgres://REDACTED:REDACTED@db/x ok",
            ),
            (
                "to postgres://app:\"hunter2\"@db/x: refused",
                "to postgres://REDACTED:REDACTED@db/x: refused",
            ),
            (
                "\"redis://:\"pw\"@r:6379\"",
                "\"redis://REDACTED:REDACTED@r:6379\"",
            ),
            (
                "redis://default:\"p w\"@cache down",
                "redis://REDACTED:REDACTED@cache down",
            ),
            (
                "mysql://root:se/cr@et@db/x",
                "mysql://REDACTED:REDACTED@db/x",
            ),
            (
                "postgres://app:'p w'@db/x failed",
                "postgres://REDACTED:REDACTED@db/x failed",
            ),
            (
                "POST https://auth/token?redirect_uri=https://app/cb&client_secret=S1&code=C1",
                "POST https://auth/token?redirect_uri=https://app/cb&client_secret=REDACTED\
                 &code=REDACTED",
            ),
            (
                "to https://h/?next=https://app&api_key=S2 failed",
                "to https://h/?next=https://app&api_key=REDACTED failed",
            ),
        ];
        for (text, redacted) in cases {
            assert_eq!(urls_in(text).as_deref(), Some(redacted), "{text}");
        }
        for kept in [
            "redis://cache:6379/0 failed, write to admin@corp",
            "https://h:8080/p?e=a@b.example",
            "http://[::1]:80/a@b",
            "\"https://h\" by a@b",
            "invalid {\"url\":\"https://schema.org\",\"@type\":\"Thing\"}",
            "fetch \"http://api\" failed: user \"@bob\" not found",
            "https://h/x@y",
        ] {
            assert_eq!(urls_in(kept), None, "{kept}");
        }
    }

    /// A text cut short (at the attribute limit) may end inside a URL's user-info, its `@`
    /// cut off: the authority is redacted whole; a query's value is as any other.
    #[test]
    fn a_url_cut_inside_its_authority_is_redacted_whole() {
        assert_eq!(
            urls_in("failed: postgres://admin:hun…[truncated]").as_deref(),
            Some("failed: postgres://REDACTED…[truncated]")
        );
        assert_eq!(
            urls_in("failed: https://h/x?api_key=SEC…").as_deref(),
            Some("failed: https://h/x?api_key=REDACTED…")
        );
        assert_eq!(
            urls_in("failed: postgres://app:pa/hunt…[truncated]").as_deref(),
            Some("failed: postgres://REDACTED…[truncated]")
        );
        assert_eq!(urls_in("see https://docs.rs/x…"), None);
        assert_eq!(urls_in("see https://h:8080/x…"), None);
        assert_eq!(urls_in("ends with https://"), None);
    }

    /// A session id in a path parameter (`;jsessionid=`) is a credential: scrubbed, as the
    /// conventions ask for sensitive content in `url.path` that can be identified.
    #[test]
    fn session_ids_in_path_parameters_are_redacted() {
        assert_eq!(
            path("/cart;jsessionid=A1B2C3/items;v=2"),
            "/cart;jsessionid=REDACTED/items;v=2"
        );
        assert_eq!(
            path("/a;JSESSIONID=s3cr3t;x=1"),
            "/a;JSESSIONID=REDACTED;x=1"
        );
        for kept in ["/plain", "/a;v=1", "/a;jsessionid", "/a;jsessionid=", ";"] {
            assert_eq!(path(kept), kept);
        }
        // Other session ids and credentials, known by the names a query's are.
        assert_eq!(
            path("/p;phpsessid=S1/b;sessionid=S2;sid=S3;token=S4;type=a"),
            "/p;phpsessid=REDACTED/b;sessionid=REDACTED;sid=REDACTED;token=REDACTED;type=a"
        );
        assert_eq!(
            url("http://h/a;PHPSESSID=S1?q=1"),
            "http://h/a;PHPSESSID=REDACTED?q=1"
        );
        assert_eq!(
            url("https://h/cart;jsessionid=s3cr3t?q=1#f"),
            "https://h/cart;jsessionid=REDACTED?q=1#f"
        );
        assert_eq!(url("https://h;x/a"), "https://h;x/a");
        // In the query, `;` separates pairs (as many servers read it): a session id there
        // is a pair of its own.
        assert_eq!(
            url("https://h?next=/a;jsessionid=s3cr3t"),
            "https://h?next=/a;jsessionid=REDACTED"
        );
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            url("https://alice:s3cret@api.example.com:8443/v1/x?q=1#frag"),
            "https://REDACTED:REDACTED@api.example.com:8443/v1/x?q=1#frag"
        );
        assert_eq!(
            url("http://token@host/path"),
            "http://REDACTED:REDACTED@host/path"
        );
        // An `@` in the path or query is not userinfo.
        assert_eq!(url("http://host/a@b?c=d@e"), "http://host/a@b?c=d@e");
        assert_eq!(
            url("https://s3.example.com/o?AWSAccessKeyId=AK&Signature=xyz&v=2"),
            "https://s3.example.com/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&v=2"
        );
        // AWS SigV4: the signature, the credential scope and the session token.
        assert_eq!(
            url(
                "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                 &X-Amz-Credential=AKIA%2F20260101%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Security-Token=IQoJb3JpZ2lu&X-Amz-Signature=fe5f80f7&x-amz-signature=fe5f"
            ),
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED\
             &X-Amz-Signature=REDACTED&x-amz-signature=REDACTED"
        );
        // A key written with escapes is the same key to the server that reads it.
        assert_eq!(
            url("https://h/k?X-Amz%2DSignature=fe5f&%73ig=abc&%zz=1&s%69g%=2"),
            "https://h/k?X-Amz%2DSignature=REDACTED&%73ig=REDACTED&%zz=1&s%69g%=2"
        );
    }

    /// A URL in a query value (a redirect target, a callback) has its own credentials
    /// redacted, its query unescaped or percent-encoded, and so has a pair whose `=` is
    /// percent-encoded (the server decodes it). They were kept whole.
    #[test]
    fn credentials_in_a_url_inside_a_query_value_are_redacted() {
        assert_eq!(
            url("http://h/ok?X-Amz-Signature=s&next=http://x/?token=DDD&q=1"),
            "http://h/ok?X-Amz-Signature=REDACTED&next=http://x/?token=REDACTED&q=1"
        );
        assert_eq!(
            url("http://h/cb?next=https%3A%2F%2Fx%2Fa%3Fq%3D1%26access_token%3DDDD"),
            "http://h/cb?next=https%3A%2F%2Fx%2Fa%3Fq%3D1%26access_token%3DREDACTED"
        );
        assert_eq!(
            url("http://h/cb?next=https://bob:pw@x/a&q=1"),
            "http://h/cb?next=https://REDACTED:REDACTED@x/a&q=1"
        );
        assert_eq!(
            url("http://h/s?password%3DS3CRET"),
            "http://h/s?password%3DREDACTED"
        );
        // Encoded whole (user-info, a fragment's pair, half encoded, encoded twice): the
        // value cannot be redacted part by part, so it is redacted whole.
        for (value, kept) in [
            ("https%3A%2F%2Fbob%3Apw%40x%2Fa", false),
            ("https%3A%2F%2Fx%2Fcb%23access_token%3DSECRETFRAG", true),
            ("https:%2F%2Fbob:pw@x/", false),
            ("https%3a//bob:pw@x/", false),
            (
                "https%253A%252F%252Fx%252Fa%253Faccess_token%253DSECRET2ENC",
                false,
            ),
        ] {
            let redacted = url(&format!("http://h/cb?next={value}&q=1"));
            assert!(
                !redacted.contains("pw") && !redacted.contains("SECRET"),
                "{redacted}"
            );
            assert!(redacted.ends_with("&q=1"), "{redacted}");
            // Where an encoded `#` splits the value, what comes before it is kept.
            assert_eq!(
                redacted.contains("next=https%3A%2F%2Fx%2Fcb"),
                kept,
                "{redacted}"
            );
        }
        assert_eq!(
            urls_in("failed: http://h/s?password%3dS3CRET").as_deref(),
            Some("failed: http://h/s?password%3dREDACTED")
        );
        // Nothing to redact: borrowed, as written.
        for kept in [
            "q=what?&a=b",
            "a%3Db%26c",
            "next=http://x/?q=1;r=%3F",
            "",
            "&&??",
            "next=https%3A%2F%2Fx%2Fa%3Fq%3D1",
            "q=a%2540b",
        ] {
            assert!(matches!(redacted_query(kept), Cow::Borrowed(_)), "{kept}");
        }
    }

    /// A client's URLs are built by the program, with its API keys: the values of keys that
    /// name a credential are redacted in any case, in the query and in a fragment of pairs.
    #[test]
    fn credentials_in_query_keys_are_redacted_in_any_case() {
        assert_eq!(
            url(
                "https://api.example.com/v3/order?symbol=BTCUSDT&timestamp=1&apiKey=k1\
                 &signature=9a&password=hunter2&access_token=t&Client_Secret=c&key=k&q=rust"
            ),
            "https://api.example.com/v3/order?symbol=BTCUSDT&timestamp=1&apiKey=REDACTED\
             &signature=REDACTED&password=REDACTED&access_token=REDACTED\
             &Client_Secret=REDACTED&key=REDACTED&q=rust"
        );
        assert_eq!(
            url("https://app.example.com/cb?state=s#access_token=t1&token_type=bearer&x=1"),
            "https://app.example.com/cb?state=s#access_token=REDACTED&token_type=REDACTED&x=1"
        );
        // Whole-word keys: `sig` alone, not `signal`; `key` ends a credential's name, not
        // `keyword`.
        assert_eq!(
            url("https://h/s?signal=1&keyword=2#top"),
            "https://h/s?signal=1&keyword=2#top"
        );
        // `;` separates pairs too, kept as written; more credential names.
        assert_eq!(
            url(
                "https://h/q?a=1;token=t&access_key=k;private_key=p&subscription-key=s\
                 &accessKeyId=i&passphrase=x&PHPSESSID=y&sid=z&ticket=w#a=1;access_token=f"
            ),
            "https://h/q?a=1;token=REDACTED&access_key=REDACTED;private_key=REDACTED\
             &subscription-key=REDACTED&accessKeyId=REDACTED&passphrase=REDACTED\
             &PHPSESSID=REDACTED&sid=REDACTED&ticket=REDACTED#a=1;access_token=REDACTED"
        );
        // Passwords, one-time codes and signatures under short or uncommon names.
        assert_eq!(
            url(
                "https://h/cb?pw=1&passcode=2&hmac=3&hash=4&otp=5&pin=6&creds=7\
                 &SAMLResponse=8&totp=9&mfa=10&notpaid=11&pinned=12&hashtag=13"
            ),
            "https://h/cb?pw=REDACTED&passcode=REDACTED&hmac=REDACTED&hash=REDACTED\
             &otp=REDACTED&pin=REDACTED&creds=REDACTED&SAMLResponse=REDACTED\
             &totp=REDACTED&mfa=REDACTED&notpaid=11&pinned=12&hashtag=13"
        );
        // The same words inside longer keys, and array or map keys.
        assert_eq!(
            url(
                "https://h/cb?pin_code=1&otpCode=2&new_pw=3&client_cred=4&userPin=5\
                 &otp[]=6&user[pin]=7&pin%5B%5D=8&code[]=9&spin=10&country_code=11&mfa-code=12\
                 &sms_code=13&verification-code=14&accessCode=15&one_time_code=16"
            ),
            "https://h/cb?pin_code=REDACTED&otpCode=REDACTED&new_pw=REDACTED\
             &client_cred=REDACTED&userPin=REDACTED&otp[]=REDACTED&user[pin]=REDACTED\
             &pin%5B%5D=REDACTED&code[]=REDACTED&spin=10&country_code=11&mfa-code=REDACTED\
             &sms_code=REDACTED&verification-code=REDACTED&accessCode=REDACTED\
             &one_time_code=REDACTED"
        );
        // Acronyms, digits and run-together codes; and keys that only look alike.
        assert_eq!(
            url(
                "https://h/cb?OTPCode=1&PINNumber=2&pin1=3&pw2=4&otpcode=5&verifyCode=6\
                 &recovery_code=7&backup_code=8&2fa=9&tfa_code=10&security_code=11\
                 &done_time=12&phone_timestamp=13&one_time=15&zip_code=16\
                 &onetime_purchase=17"
            ),
            "https://h/cb?OTPCode=REDACTED&PINNumber=REDACTED&pin1=REDACTED&pw2=REDACTED\
             &otpcode=REDACTED&verifyCode=REDACTED&recovery_code=REDACTED\
             &backup_code=REDACTED&2fa=REDACTED&tfa_code=REDACTED&security_code=REDACTED\
             &done_time=12&phone_timestamp=13&one_time=15&zip_code=16\
             &onetime_purchase=17"
        );
        // Nested keys are read name by name; two-factor and one-time codes in any spelling;
        // a kind word not right before `code`, or inside another word, is no code's kind.
        assert_eq!(
            url(
                "https://h/cb?params[api_key]=1&config%5BapiKey%5D=2&settings[license_key]=3\
                 &onetime_code=4&onetimecode=5&twoFA=6&TwoFaCode=7&two_factor_code=8\
                 &sms_country_code=9&login_error_code=10&spin_code=11&preset_code=12\
                 &email_template_code=13"
            ),
            "https://h/cb?params[api_key]=REDACTED&config%5BapiKey%5D=REDACTED\
             &settings[license_key]=REDACTED&onetime_code=REDACTED&onetimecode=REDACTED\
             &twoFA=REDACTED&TwoFaCode=REDACTED&two_factor_code=REDACTED\
             &sms_country_code=9&login_error_code=10&spin_code=11&preset_code=12\
             &email_template_code=13"
        );
    }
}
