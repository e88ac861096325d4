//! W3C Baggage itself: the `baggage` header decoded into OpenTelemetry's [`Baggage`] and
//! encoded from it, strictly by the grammar of <https://www.w3.org/TR/baggage/> (the rules are
//! in the module docs). No context or global state is involved here.
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token                   ; RFC 7230, section 3.2.6
//! value          = *baggage-octet
//! baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! ```
use super::{MAX_BAGGAGE_LEN, MAX_BAGGAGE_MEMBERS};
use crate::text::{is_token, trim_ows};
use opentelemetry::baggage::{Baggage, BaggageMetadata};

/// The `baggage` headers are longer than [`MAX_BAGGAGE_LEN`] together (they are dropped).
pub(super) struct TooLong;

/// What the `baggage` headers of a carrier hold.
pub(super) struct Decoded {
    /// The valid members, the first [`MAX_BAGGAGE_MEMBERS`] keys of them.
    pub(super) baggage: Baggage,
    /// Whether valid members were dropped for the member limit (the header is counted).
    pub(super) over_limit: bool,
}

/// Decodes the `baggage` headers `parts`, combined as one comma-separated list (RFC 7230,
/// section 3.2.2). Invalid members are skipped; of members with the same key the last one
/// wins (as OpenTelemetry's own propagator had it); keys past the member limit are dropped.
pub(super) fn decode(parts: &[&str]) -> Result<Decoded, TooLong> {
    // The joined length: the values plus a comma between each two.
    let total: usize = parts.iter().map(|p| p.len() + 1).sum();
    if total > MAX_BAGGAGE_LEN + 1 {
        return Err(TooLong);
    }
    let mut baggage = Baggage::new();
    let mut over_limit = false;
    for member in parts.iter().flat_map(|p| p.split(',')) {
        let Some((key, value, metadata)) = parse_member(member) else {
            continue;
        };
        if baggage.len() >= MAX_BAGGAGE_MEMBERS && baggage.get(key).is_none() {
            over_limit = true;
            continue;
        }
        // Cannot be refused: the key is a token, the entry count is checked above, and the
        // entries together are no longer than the header (decoding never lengthens).
        baggage.insert_with_metadata(key.to_owned(), value, metadata);
    }
    Ok(Decoded {
        baggage,
        over_limit,
    })
}

/// The `baggage` header for `baggage`, or `None` when nothing can be sent. Members go out
/// in key order; a key that is not a token is left out, and so is metadata that is not a
/// valid property list (the member goes without it), and so is a member that would take
/// the header past [`MAX_BAGGAGE_LEN`] bytes; it stops at [`MAX_BAGGAGE_MEMBERS`] members.
///
/// A value's `=` goes as `%3D`: parsers that split a member at every `=` (OpenTelemetry's Rust
/// SDK among them) then read the value whole. Three bytes for one can take a list that came in
/// within the limit past it; then, when every `=` going as it is (a baggage-octet: *value*)
/// sends more members, it goes so, so that no member is lost to the encoding.
pub(super) fn encode(baggage: &Baggage) -> Option<String> {
    let mut entries: Vec<_> = baggage.iter().collect();
    // Key order: the same baggage always makes the same header, and the same members fit.
    entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let escaped = encode_entries(&entries, true);
    let header = if escaped.left_out {
        let plain = encode_entries(&entries, false);
        if plain.members > escaped.members {
            plain.header
        } else {
            escaped.header
        }
    } else {
        escaped.header
    };
    (!header.is_empty()).then_some(header)
}

/// The `baggage` header for a request that holds `existing` already (set by the user on that
/// request) and is to carry `ours` (the context's, as [`encode`] wrote it): the members of
/// both, the request's own winning for a key both have, as Baggage is a list members are
/// added to. `None` when `existing` is no baggage (over [`MAX_BAGGAGE_LEN`] bytes, or no valid
/// member): `ours` then goes alone. The request's members come first for the limits.
#[cfg(feature = "http")]
pub(super) fn merged(existing: &[&str], ours: &str) -> Option<String> {
    let theirs = decode(existing).ok()?.baggage;
    let mut header = encode(&theirs)?;
    let mut members = header.split(',').count();
    // `ours` is this module's own encoding: members split at commas, each `key=...`.
    for member in ours.split(',') {
        if members == MAX_BAGGAGE_MEMBERS {
            break;
        }
        let key = member.split_once('=').map_or(member, |(key, _)| key);
        if theirs.get(key).is_some() || header.len() + 1 + member.len() > MAX_BAGGAGE_LEN {
            continue;
        }
        header.push(',');
        header.push_str(member);
        members += 1;
    }
    Some(header)
}

/// A `baggage` header as [`encode_entries`] wrote it.
struct Encoded {
    header: String,
    /// How many members it holds.
    members: usize,
    /// Whether a member was left out for its length (not for the member limit, which no
    /// encoding changes).
    left_out: bool,
}

/// [`encode`] with `=` escaped or not. A member that does not fit
/// is left out and the next ones are tried (W3C Baggage, *Limits*: members may be dropped
/// until the limits are met), so that one long value does not take every member after it.
fn encode_entries(
    entries: &[(
        &opentelemetry::Key,
        &(opentelemetry::StringValue, BaggageMetadata),
    )],
    escape_equals: bool,
) -> Encoded {
    let mut header = String::new();
    let mut members = 0;
    let mut left_out = false;
    let mut member = String::new();
    for (key, (value, metadata)) in entries {
        if !is_token(key.as_str()) {
            continue;
        }
        if members == MAX_BAGGAGE_MEMBERS {
            break;
        }
        member.clear();
        member.push_str(key.as_str());
        member.push('=');
        encode_value(value.as_str(), escape_equals, &mut member);
        encode_properties(metadata.as_str(), &mut member);
        let separator = usize::from(!header.is_empty());
        if header.len() + separator + member.len() > MAX_BAGGAGE_LEN {
            left_out = true;
            continue;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(&member);
        members += 1;
    }
    Encoded {
        header,
        members,
        left_out,
    }
}

/// One list member: its key, decoded value and metadata (the properties joined by `;`,
/// without OWS, values as received); `None` for an empty or invalid member.
fn parse_member(member: &str) -> Option<(&str, String, BaggageMetadata)> {
    let (pair, props) = match member.split_once(';') {
        Some((pair, props)) => (pair, Some(props)),
        None => (member, None),
    };
    // `=` is a baggage-octet: the key ends at the first one, the value may hold more.
    let (key, value) = pair.split_once('=')?;
    let key = trim_ows(key);
    if !is_token(key) {
        return None;
    }
    // Only the OWS around the raw value is trimmed; encoded spaces are part of the value.
    let value = decode_value(trim_ows(value))?;
    let metadata = match props {
        Some(props) => normalized_properties(props)?,
        None => String::new(),
    };
    Some((key, value, BaggageMetadata::from(metadata)))
}

/// The properties of `props` (after a member's first `;`) as `key` or `key=value`, joined by
/// `;` without OWS; `None` when one is invalid. Empty properties are ignored, like empty
/// list members.
fn normalized_properties(props: &str) -> Option<String> {
    let mut out = String::new();
    for (key, value) in properties(props)? {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    Some(out)
}

/// The `;`-separated properties of `props`, each a key and an optional value with OWS
/// trimmed; `None` when one is not `key [= value]` (key a token, value baggage-octets).
fn properties(props: &str) -> Option<Vec<(&str, Option<&str>)>> {
    let mut list = Vec::new();
    for (key, value) in property_parts(props) {
        if !is_token(key) || !value.is_none_or(is_encoded_value) {
            return None;
        }
        list.push((key, value));
    }
    Some(list)
}

/// The `;`-separated properties of `props` as a key and an optional value, OWS trimmed,
/// empty ones skipped; nothing checked.
fn property_parts(props: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    props
        .split(';')
        .map(trim_ows)
        .filter(|p| !p.is_empty())
        .map(|property| match property.split_once('=') {
            Some((key, value)) => (trim_ows(key), Some(trim_ows(value))),
            None => (property, None),
        })
}

/// Whether `value` is a property value as sent: baggage-octets, with every `%` starting an
/// escape (*Value*: "any code points outside the baggage-octet range MUST be
/// percent-encoded", the `%` itself included).
fn is_encoded_value(value: &str) -> bool {
    value.bytes().all(is_baggage_octet) && crate::text::percent_decode(value).is_some()
}

/// Appends the properties of a member's metadata to `out`, each as `;key` or `;key=value`:
/// a property whose key is not a token is left out, and a value that is not sent as is (the
/// metadata OpenTelemetry code set: any text) is percent-encoded, its valid escapes kept.
fn encode_properties(metadata: &str, out: &mut String) {
    for (key, value) in property_parts(metadata) {
        if !is_token(key) {
            continue;
        }
        out.push(';');
        out.push_str(key);
        let Some(value) = value else { continue };
        out.push('=');
        if is_encoded_value(value) {
            out.push_str(value);
            continue;
        }
        let bytes = value.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let escape = b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if is_baggage_octet(b) && (b != b'%' || escape) {
                out.push(char::from(b));
            } else {
                push_escape(b, out);
            }
        }
    }
}

/// Appends `b` as `%XX`.
fn push_escape(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// `baggage-octet`: visible ASCII but DQUOTE, comma, semicolon and backslash.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// The value `raw` decodes to: percent escapes read as UTF-8, invalid sequences replaced by
/// U+FFFD; `None` when `raw` holds a byte that is not a baggage-octet or a malformed escape.
fn decode_value(raw: &str) -> Option<String> {
    if !raw.bytes().all(is_baggage_octet) {
        return None;
    }
    let bytes = crate::text::percent_decode(raw)?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Appends `value` percent-encoded to `out`: every byte that is not a baggage-octet, and `%`
/// (so that a decoded `%41` goes out as `%2541`, not as `A`), as `%XX`; `=` too with
/// `escape_equals` (see [`encode`]).
fn encode_value(value: &str, escape_equals: bool, out: &mut String) {
    for b in value.bytes() {
        if is_baggage_octet(b) && b != b'%' && !(escape_equals && b == b'=') {
            out.push(char::from(b));
        } else {
            push_escape(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Through the public `extract`/`inject` functions where possible, so that each rule is
    //! checked on the path a request takes.
    use super::super::{
        BAGGAGE, BAGGAGE_REJECTED, MAX_BAGGAGE_LEN, W3cPropagator, extract, extract_map,
        inject_context,
    };
    use super::*;
    use opentelemetry::Context;
    use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;

    /// The entries (key, value, metadata) of `cx`, in key order.
    fn entries_of(baggage: &Baggage) -> Vec<(String, String, String)> {
        let mut entries: Vec<_> = baggage
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
            .collect();
        entries.sort();
        entries
    }

    /// The entries read from one `baggage` header.
    fn read(header: &str) -> Vec<(String, String, String)> {
        let map = HashMap::from([(BAGGAGE.to_owned(), header.to_owned())]);
        entries_of(extract_map(&map).baggage())
    }

    /// The value of `key` read from one `baggage` header.
    fn value(header: &str, key: &str) -> Option<String> {
        read(header)
            .into_iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }

    /// The `baggage` header sent for `entries` (key, value, metadata).
    fn sent(entries: &[(&str, &str, &str)]) -> Option<String> {
        let baggage: Baggage = entries
            .iter()
            .map(|&(k, v, m)| KeyValueMetadata::new(k.to_owned(), v.to_owned(), m))
            .collect();
        let mut map: HashMap<String, String> = HashMap::new();
        inject_context(&Context::new().with_baggage(baggage), &mut map);
        map.remove(BAGGAGE)
    }

    /// The owned form of `(key, value, metadata)` triples.
    fn owned(entries: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        entries
            .iter()
            .map(|&(k, v, m)| (k.to_owned(), v.to_owned(), m.to_owned()))
            .collect()
    }

    #[test]
    fn percent_signs_are_encoded_on_inject() {
        assert_eq!(value("k=a%2541", "k").as_deref(), Some("a%41"));
        // What came in as `%2541` goes on as `%2541`, not as `%41` (which reads `A`).
        let forwarded = sent(&[("k", "a%41", "")]).unwrap();
        assert_eq!(forwarded, "k=a%2541");
        assert_eq!(value(&forwarded, "k").as_deref(), Some("a%41"));
        assert_eq!(sent(&[("k", "100%", "")]).as_deref(), Some("k=100%25"));
        assert_eq!(
            sent(&[("k", "ü\u{1}\"\\,;", "")]).as_deref(),
            Some("k=%C3%BC%01%22%5C%2C%3B")
        );
    }

    #[test]
    fn encoded_spaces_are_part_of_the_value() {
        assert_eq!(value("k=%20hello%20", "k").as_deref(), Some(" hello "));
        assert_eq!(
            value("k = \t%20hello%20\t ", "k").as_deref(),
            Some(" hello ")
        );
        assert_eq!(sent(&[("k", " lead", "")]).as_deref(), Some("k=%20lead"));
        assert_eq!(sent(&[("k", "trail ", "")]).as_deref(), Some("k=trail%20"));
    }

    #[test]
    fn a_member_splits_at_its_first_equals_sign() {
        assert_eq!(value("k=a=b", "k").as_deref(), Some("a=b"));
        assert_eq!(value("k==", "k").as_deref(), Some("="));
        let header = sent(&[("k", "a=b", "")]).unwrap();
        assert_eq!(value(&header, "k").as_deref(), Some("a=b"));
    }

    #[test]
    fn a_value_with_bytes_that_are_not_baggage_octets_skips_the_member() {
        for bad in [
            "k=a b",
            "k=\"a\"",
            "k=a\\b",
            "k=a\u{1}b",
            "k=a\u{7f}",
            "k=\u{e9}",
            "k=a\tb",
        ] {
            let header = format!("x=1,{bad},y=2");
            assert_eq!(
                read(&header),
                owned(&[("x", "1", ""), ("y", "2", "")]),
                "{bad:?}"
            );
        }
        // A raw comma or semicolon ends the value: what follows is another member or a
        // property, judged on its own.
        assert_eq!(read("k=a,b"), owned(&[("k", "a", "")]));
        assert_eq!(read("k=a,b=c"), owned(&[("b", "c", ""), ("k", "a", "")]));
        assert_eq!(read("k=a;b"), owned(&[("k", "a", "b")]));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_malformed_escapes_skip_the_member() {
        assert_eq!(value("k=%FFa", "k").as_deref(), Some("\u{FFFD}a"));
        assert_eq!(value("k=%C3", "k").as_deref(), Some("\u{FFFD}"));
        assert_eq!(value("k=%c3%bc", "k").as_deref(), Some("ü"));
        for bad in ["k=%4", "k=%zz", "k=%", "k=a%g1", "k=%%41"] {
            assert_eq!(
                read(&format!("{bad},y=2")),
                owned(&[("y", "2", "")]),
                "{bad}"
            );
        }
    }

    /// An extractor holding several values per key, as HTTP allows.
    struct Multi(Vec<(&'static str, String)>);

    impl Extractor for Multi {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| *k).collect()
        }
        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let all: Vec<&str> = self
                .0
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
                .collect();
            (!all.is_empty()).then_some(all)
        }
    }

    #[test]
    fn several_baggage_headers_are_one_list() {
        let two = Multi(vec![(BAGGAGE, "a=1".into()), (BAGGAGE, "b=2, c=3".into())]);
        let want = owned(&[("a", "1", ""), ("b", "2", ""), ("c", "3", "")]);
        assert_eq!(entries_of(extract(&two).baggage()), want);
        let via_trait = W3cPropagator::new().extract_with_context(&Context::new(), &two);
        assert_eq!(entries_of(via_trait.baggage()), want);
        // A map read without regard to case can hold two of them too; the lower-case key,
        // as `inject` writes it, is read alone when present (the newest value).
        let map = HashMap::from([
            ("BAGGAGE".to_owned(), "a=1".to_owned()),
            ("Baggage".to_owned(), "b=2".to_owned()),
        ]);
        assert_eq!(extract_map(&map).baggage().len(), 2);
        let map = HashMap::from([
            ("baggage".to_owned(), "a=1".to_owned()),
            ("Baggage".to_owned(), "b=2".to_owned()),
        ]);
        assert_eq!(
            entries_of(extract_map(&map).baggage()),
            owned(&[("a", "1", "")])
        );

        // The length limit is for all of them together.
        let half = format!("k={}", "v".repeat(MAX_BAGGAGE_LEN / 2));
        let before = BAGGAGE_REJECTED.load(Ordering::Relaxed);
        let long = Multi(vec![(BAGGAGE, half.clone()), (BAGGAGE, half.clone())]);
        assert!(extract(&long).baggage().is_empty());
        assert!(BAGGAGE_REJECTED.load(Ordering::Relaxed) > before);
        assert!(decode(&[&half, &half]).is_err());
        assert!(decode(&[&half, &half[..MAX_BAGGAGE_LEN - half.len() - 1]]).is_ok());
    }

    #[cfg(feature = "http")]
    #[test]
    fn several_baggage_header_fields_are_one_list() {
        use super::super::extract_headers;
        let mut headers = http::HeaderMap::new();
        headers.append(BAGGAGE, "a=1".parse().unwrap());
        headers.append(BAGGAGE, "b=2".parse().unwrap());
        assert_eq!(
            entries_of(extract_headers(&headers).baggage()),
            owned(&[("a", "1", ""), ("b", "2", "")])
        );
        // A byte that is not visible ASCII invalidates its own member alone: the header's
        // other members and the other headers are kept.
        headers.append(
            BAGGAGE,
            http::HeaderValue::from_bytes(b"c=\xe9,d=4,e=Am\xc3\xa9lie").unwrap(),
        );
        assert_eq!(
            entries_of(extract_headers(&headers).baggage()),
            owned(&[("a", "1", ""), ("b", "2", ""), ("d", "4", "")])
        );
        // Through `extract` and a `HeaderExtractor`, which lends only text, that header is
        // one malformed member, left out; the others are kept.
        let cx = extract(&super::super::HeaderExtractor(&headers));
        assert_eq!(
            entries_of(cx.baggage()),
            owned(&[("a", "1", ""), ("b", "2", "")])
        );
    }

    /// A value's `=` goes as `%3D` (parsers that split at every `=` read it whole), unless
    /// that takes a list that came in within the limits past them: then as it is (a
    /// baggage-octet), and no member is lost (as `%3D`, each took three bytes).
    #[test]
    fn values_with_equals_signs_go_out_whole_within_the_limits() {
        let cx = extract_map(&HashMap::from([(BAGGAGE.to_owned(), "t=a=b".to_owned())]));
        let mut out = HashMap::new();
        inject_context(&cx, &mut out);
        assert_eq!(out[BAGGAGE], "t=a%3Db");
        // Past the member limit, which no encoding changes: still escaped.
        let many: String = (0..70)
            .map(|i| format!("k{i:02}=a=b"))
            .collect::<Vec<_>>()
            .join(",");
        let cx = extract_map(&HashMap::from([(BAGGAGE.to_owned(), many)]));
        let mut out = HashMap::new();
        inject_context(&cx, &mut out);
        assert!(out[BAGGAGE].starts_with("k00=a%3Db,"), "{}", out[BAGGAGE]);
        let header: String = (0..2)
            .map(|i| format!("k{i}={}", "a=".repeat(1300)))
            .collect::<Vec<_>>()
            .join(",");
        assert!(header.len() < MAX_BAGGAGE_LEN);
        let cx = extract_map(&HashMap::from([(BAGGAGE.to_owned(), header.clone())]));
        assert_eq!(cx.baggage().len(), 2);
        let mut out = HashMap::new();
        inject_context(&cx, &mut out);
        assert_eq!(out[BAGGAGE], header);
        // A member too long either way is no reason to send the others' `=` as it is.
        let euros = "\u{20ac}".repeat(3000);
        assert_eq!(
            sent(&[("a", &euros, ""), ("b", "x=y", "")]).as_deref(),
            Some("b=x%3Dy")
        );
        // Nor is the plain list sent when it holds fewer members than the escaped one.
        let first = format!("{}{}", "=".repeat(2750), "v".repeat(5250));
        let small = "\u{e9}".repeat(20);
        let escaped = sent(&[
            ("a", &first, ""),
            ("b", &small, ""),
            ("c", &small, ""),
            ("d", &small, ""),
        ])
        .unwrap();
        assert!(escaped.starts_with("b="), "{escaped}");
        assert_eq!(escaped.split(',').count(), 3, "{escaped}");
    }

    #[test]
    fn the_first_64_valid_members_are_kept_and_the_header_counted() {
        // An invalid member first: it takes none of the 64 places.
        let members: Vec<String> = std::iter::once("bad key=0".to_owned())
            .chain((0..70).map(|i| format!("k{i:02}={i}")))
            .collect();
        let header = members.join(",");
        let before = BAGGAGE_REJECTED.load(Ordering::Relaxed);
        let kept = read(&header);
        assert!(BAGGAGE_REJECTED.load(Ordering::Relaxed) > before, "counted");
        let keys: Vec<String> = kept.into_iter().map(|(k, _, _)| k).collect();
        let want: Vec<String> = (0..64).map(|i| format!("k{i:02}")).collect();
        assert_eq!(keys, want);
        let decoded = decode(&[&header]).ok().unwrap();
        assert!(decoded.over_limit);
        assert_eq!(decoded.baggage.len(), MAX_BAGGAGE_MEMBERS);
        // 64 exactly, or a repeated key past 64 members, is not over the limit.
        let full: Vec<String> = (0..64).map(|i| format!("k{i}=1")).collect();
        let full = format!("{},k0=2", full.join(","));
        let decoded = decode(&[&full]).ok().unwrap();
        assert!(!decoded.over_limit);
        assert_eq!(decoded.baggage.get("k0").map(|v| v.as_str()), Some("2"));
    }

    #[test]
    fn keys_must_be_tokens_and_properties_are_kept() {
        assert_eq!(
            read("k\u{e9}=1,a b=2,(x)=3,=4,a@b=5,ok=6,!#$%&'*+-.^_`|~=7"),
            owned(&[("!#$%&'*+-.^_`|~", "7", ""), ("ok", "6", "")])
        );
        assert!(!is_token("a/b") && !is_token("") && is_token("A-1"));
        assert_eq!(
            read("k = v ; p1 ; p2 = x%20 ;;"),
            owned(&[("k", "v", "p1;p2=x%20")])
        );
        assert_eq!(
            sent(&[("k", "v", "p1;p2=x%20")]).as_deref(),
            Some("k=v;p1;p2=x%20")
        );
        // An invalid property makes the member invalid: a `%` that starts no escape too.
        for bad in [
            "k=v;a b",
            "k=v;p=\"x\"",
            "k=v;(p)",
            "k=v;p=a b",
            "k=v;p=100%",
            "k=v;p=%zz",
        ] {
            assert!(read(bad).is_empty(), "{bad}");
        }
        // A property whose key would break the header is left out; the entry goes without it.
        for bad in ["a,b", "p q", "p\r\n baggage: x=1"] {
            assert_eq!(sent(&[("k", "v", bad)]).as_deref(), Some("k=v"), "{bad:?}");
        }
        // Values set by OpenTelemetry code are any text: percent-encoded, valid escapes kept.
        for (metadata, header) in [
            ("note=Am\u{e9}lie", "k=v;note=Am%C3%A9lie"),
            ("p=100%", "k=v;p=100%25"),
            ("p=\"x\";q=%41", "k=v;p=%22x%22;q=%41"),
            ("p=\na", "k=v;p=%0Aa"),
        ] {
            let sent = sent(&[("k", "v", metadata)]);
            assert_eq!(sent.as_deref(), Some(header), "{metadata:?}");
            assert_eq!(read(header).len(), 1, "{header} reads back");
        }
    }

    #[test]
    fn empty_members_and_ows_are_allowed() {
        assert_eq!(
            read("a=1,,b=2, ,\t"),
            owned(&[("a", "1", ""), ("b", "2", "")])
        );
        assert_eq!(
            read(" a = 1 ;\tp\t, \tb\t=\t2 "),
            owned(&[("a", "1", "p"), ("b", "2", "")])
        );
        assert_eq!(read("k="), owned(&[("k", "", "")]));
        assert!(read("").is_empty() && read(",").is_empty() && read("k").is_empty());
    }

    #[test]
    fn an_injected_header_never_exceeds_the_limit() {
        // 2000 spaces encode to 6000 bytes: one such member fits, two do not; the members
        // after the one left out still go.
        let spaces = " ".repeat(2000);
        let header = sent(&[("a", &spaces, ""), ("b", &spaces, ""), ("c", "1", "")]).unwrap();
        assert!(header.len() <= MAX_BAGGAGE_LEN, "{}", header.len());
        assert_eq!(
            header,
            format!("a={},c=1", "%20".repeat(2000)),
            "whole members only"
        );
        // One value too long to send alone (3000 bytes of text, 9000 encoded) is left out,
        // not every member after it.
        let euros = "\u{20ac}".repeat(1000);
        assert_eq!(
            sent(&[("big", &euros, ""), ("small", "x", "")]).as_deref(),
            Some("small=x")
        );
        let exact = "v".repeat(MAX_BAGGAGE_LEN - 2);
        assert_eq!(
            sent(&[("k", &exact, "")]).map(|h| h.len()),
            Some(MAX_BAGGAGE_LEN)
        );
        assert_eq!(sent(&[]), None);
    }

    #[test]
    fn the_global_baggage_propagator_uses_this_codec() {
        // What `init` installs for `OTEL_PROPAGATORS=baggage`.
        let only = W3cPropagator::baggage_only();
        let cx = Context::new().with_baggage([opentelemetry::KeyValue::new("k", "100%")]);
        let mut map: HashMap<String, String> = HashMap::new();
        only.inject_context(&cx, &mut map);
        assert_eq!(
            map,
            HashMap::from([(BAGGAGE.to_owned(), "k=100%25".to_owned())])
        );
        let back = only.extract_with_context(&Context::new(), &map);
        assert_eq!(back.baggage().get("k").map(|v| v.as_str()), Some("100%"));
        assert_eq!(only.fields().collect::<Vec<_>>(), [BAGGAGE]);
        let trace = W3cPropagator::trace_context_only();
        assert_eq!(
            trace.fields().collect::<Vec<_>>(),
            ["traceparent", "tracestate"]
        );
    }

    /// A small xorshift generator: the same hostile inputs on every run.
    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn hostile_input_never_panics_and_reencodes_to_the_same_entries() {
        let alphabet: &[u8] = b"ab09%%=,,;; \t\"\\\x01\x7f\xc3\xa9\xff%2F%C3%20=xyz!~";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..3000 {
            let len = (xorshift(&mut seed) % if round % 100 == 0 { 9000 } else { 60 }) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            let input = String::from_utf8_lossy(&bytes);
            let Ok(first) = decode(&[&input]) else {
                assert!(input.len() > MAX_BAGGAGE_LEN);
                continue;
            };
            let entries = entries_of(&first.baggage);
            let Some(header) = encode(&first.baggage) else {
                assert!(entries.is_empty());
                continue;
            };
            assert!(header.len() <= MAX_BAGGAGE_LEN);
            assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header:?}");
            let again = decode(&[&header]).ok().unwrap();
            assert_eq!(
                entries_of(&again.baggage),
                entries,
                "{input:?} -> {header:?}"
            );
        }
        // Any user value and metadata goes out as a header that reads back the same value.
        for _ in 0..500 {
            let mut text = |n: u64| {
                let len = xorshift(&mut seed) % n;
                (0..len)
                    .map(|_| char::from_u32((xorshift(&mut seed) % 0x300) as u32).unwrap_or('?'))
                    .collect::<String>()
            };
            let (value, metadata) = (text(40), text(10));
            let header = sent(&[("k", &value, &metadata)]).unwrap();
            assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header:?}");
            let back = read(&header);
            assert_eq!(back.len(), 1, "{header:?}");
            assert_eq!(back[0].1, value, "{header:?}");
        }
    }

    /// A `baggage` header the user set on the request keeps its members beside the context's
    /// (its own winning for a key both have), instead of being replaced by the context's.
    #[cfg(feature = "http")]
    #[test]
    fn a_requests_own_baggage_keeps_its_members_beside_the_contexts() {
        use super::super::HeaderInjector;
        let cx = Context::new().with_baggage([
            opentelemetry::KeyValue::new("incoming", "1"),
            opentelemetry::KeyValue::new("shared", "context"),
        ]);
        let send = |own: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for value in own {
                headers.append(BAGGAGE, value.parse().unwrap());
            }
            W3cPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers));
            let sent: Vec<&str> = headers
                .get_all(BAGGAGE)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(sent.len(), 1, "{sent:?}");
            read(sent[0])
        };
        assert_eq!(
            send(&["userbag=1, shared=request", "more=2;p"]),
            owned(&[
                ("incoming", "1", ""),
                ("more", "2", "p"),
                ("shared", "request", ""),
                ("userbag", "1", ""),
            ])
        );
        // None of its own, or none that is baggage: the context's alone.
        let contexts = owned(&[("incoming", "1", ""), ("shared", "context", "")]);
        assert_eq!(send(&[]), contexts);
        assert_eq!(send(&["not baggage"]), contexts);
        assert_eq!(send(&[&"k=v,".repeat(MAX_BAGGAGE_LEN / 4 + 1)]), contexts);
        // The request's members come first for the limits: the context's fill what is left.
        let own: Vec<String> = (0..63).map(|i| format!("own{i}=x")).collect();
        let sent = send(&[&own.join(",")]);
        assert_eq!(sent.len(), 64, "{sent:?}");
        assert!(sent.iter().any(|(k, _, _)| k == "incoming"), "{sent:?}");
        let long = format!("own={}", "v".repeat(MAX_BAGGAGE_LEN - 20));
        assert_eq!(send(&[&long]).len(), 2, "the one context member that fits");
    }
}
