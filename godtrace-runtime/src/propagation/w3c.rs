//! W3C Trace Context itself: `traceparent` and `tracestate` parsed strictly and written, with
//! no OpenTelemetry context or global state involved (the rules are in the module docs).
use super::{MAX_TRACESTATE_LEN, MAX_TRACESTATE_MEMBERS};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use std::collections::HashSet;

/// The trace flags this version of the specification defines: sampled and random.
pub(super) fn known_flags() -> TraceFlags {
    TraceFlags::SAMPLED | crate::span::RANDOM
}

/// `00-{trace id}-{span id}-{flags}`, keeping the sampled and random flags.
pub(super) fn traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags() & known_flags()
    )
}

/// A header as the checks see it.
pub(super) enum Field<'a> {
    Absent,
    /// Exactly one value: the common case, read without collecting into a `Vec`.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    One(&'a str),
    Values(Vec<&'a str>),
    /// Present but not text (e.g. not visible ASCII in an HTTP header).
    NotText,
}

/// What an extractor of godtrace's gives for a value that is not text (an HTTP header value
/// that is not visible ASCII), so that [`field`] reads it as [`Field::NotText`]. Recognised by
/// its address, not its text: another extractor's value `"\u{7f}"` is just an invalid value.
/// A `static`, so that it has one address.
pub(super) static NOT_TEXT: &str = "\u{7f}";

/// The field of an extractor's values for one header.
pub(super) fn field(values: Option<Vec<&str>>) -> Field<'_> {
    match values {
        None => Field::Absent,
        Some(v) if v.is_empty() => Field::Absent,
        Some(v) if v.iter().any(|value| std::ptr::eq(*value, NOT_TEXT)) => Field::NotText,
        Some(v) => Field::Values(v),
    }
}

/// The `baggage` field of an extractor's values: a value that is not text
/// ([`NOT_TEXT`]) stays one, which the baggage grammar reads as a malformed member, left out
/// as any other (its members cannot be read); the other values' members are kept (*Limits*:
/// propagate what can be).
pub(super) fn baggage_field(values: Option<Vec<&str>>) -> Field<'_> {
    match values {
        Some(values) if !values.is_empty() => Field::Values(values),
        _ => Field::Absent,
    }
}

pub(super) struct Fields<'a> {
    pub(super) traceparent: Field<'a>,
    pub(super) tracestate: Field<'a>,
}

/// The carrier held a `traceparent` that is not valid W3C Trace Context.
pub(super) struct Rejected;

/// A valid incoming trace context.
pub(super) struct Incoming {
    pub(super) parent: SpanContext,
    /// The whole `tracestate`, when the parent's [`TraceState`] holds only part of it.
    pub(super) full_state: Option<String>,
    /// Whether (part of) the `tracestate` was dropped.
    pub(super) state_rejected: bool,
}

/// `Ok(None)` when there is no `traceparent`, `Ok(Some)` for a valid one (with what could be
/// kept of the `tracestate`), `Err` for anything else.
pub(super) fn parse_fields(fields: &Fields<'_>) -> Result<Option<Incoming>, Rejected> {
    let value = match &fields.traceparent {
        Field::Absent => return Ok(None),
        Field::NotText => return Err(Rejected),
        Field::One(v) => v,
        // One request, one parent: several `traceparent` headers are ambiguous.
        Field::Values(v) if v.len() != 1 => return Err(Rejected),
        Field::Values(v) => v[0],
    };
    let (trace_id, span_id, flags) = parse_traceparent(value)?;
    // A bad `tracestate` never costs the trace: it is dropped, and the trace continues.
    let (members, state_rejected) = match &fields.tracestate {
        Field::Absent => (Members::default(), false),
        Field::NotText => (Members::default(), true),
        Field::One(part) => tracestate_members(std::slice::from_ref(part)),
        Field::Values(parts) => tracestate_members(parts),
    };
    let (state, full_state) = trace_state(&members.list);
    Ok(Some(Incoming {
        parent: SpanContext::new(trace_id, span_id, flags, true, state),
        full_state,
        state_rejected,
    }))
}

/// The members of the `tracestate` headers to keep, and whether some were dropped.
fn tracestate_members<'a>(parts: &[&'a str]) -> (Members<'a>, bool) {
    match parse_tracestate(parts) {
        Ok(members) => {
            let dropped = members.dropped;
            (members, dropped)
        }
        Err(BadTraceState) => (Members::default(), true),
    }
}

/// The number at most 16 lower-case hex digits write; `None` for any other byte.
fn hex_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some((n << 4) | u64::from(nibble))
    })
}

fn is_lower_hex(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses `version-traceid-parentid-flags` strictly (W3C Trace Context Level 2, *Traceparent Header*).
fn parse_traceparent(value: &str) -> Result<(TraceId, SpanId, TraceFlags), Rejected> {
    // Optional whitespace around the value is allowed by HTTP.
    let value = crate::text::trim_ows(value);
    // Only the first 56 bytes are read, each checked as the ASCII it must be: a later
    // version's own fields, however long, cost nothing (the specification bounds none).
    let b = value.as_bytes();
    if b.len() < 55 {
        return Err(Rejected);
    }
    let (version, trace_id, span_id, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(Rejected);
    }
    if !is_lower_hex(version) || version == b"ff" {
        return Err(Rejected);
    }
    // Version 00 has exactly four fields; a later version may append `-...`.
    if b.len() > 55 && (version == b"00" || b[55] != b'-') {
        return Err(Rejected);
    }
    // Checked and read in one pass: every request with a context pays for this parse.
    let high = hex_value(&trace_id[..16]).ok_or(Rejected)?;
    let low = hex_value(&trace_id[16..]).ok_or(Rejected)?;
    let trace_id = TraceId::from((u128::from(high) << 64) | u128::from(low));
    let span_id = SpanId::from(hex_value(span_id).ok_or(Rejected)?);
    let flags = hex_value(flags).ok_or(Rejected)? as u8;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return Err(Rejected);
    }
    // Unknown flags are reserved: kept as zero (*Other Flags*).
    Ok((trace_id, span_id, TraceFlags::new(flags) & known_flags()))
}

/// The `tracestate` headers are not a valid list (they are dropped).
struct BadTraceState;

/// The members of a valid `tracestate`, in order.
#[derive(Default)]
struct Members<'a> {
    list: Vec<(&'a str, &'a str)>,
    /// Whether members were left out: later members with an earlier member's key, or
    /// members trimmed to [`MAX_TRACESTATE_LEN`].
    dropped: bool,
}

/// The most `tracestate` bytes read (all its headers together); more is dropped whole. No
/// valid list needs as much: 32 members of 256-byte keys and values take 16,447 bytes; the
/// rest could only be empty members and spaces.
const MAX_TRACESTATE_INPUT: usize = 64 * 1024;

/// A member longer than this goes first when the list is trimmed (*tracestate Limits*:
/// "Entries larger than 128 characters long SHOULD be removed first").
const LONG_MEMBER: usize = 128;

/// Parses the `tracestate` headers (joined with commas, as HTTP allows) strictly; of members
/// with the same key, keeps the first; trims a valid list longer than [`MAX_TRACESTATE_LEN`].
fn parse_tracestate<'a>(parts: &[&'a str]) -> Result<Members<'a>, BadTraceState> {
    let total: usize = parts.iter().map(|p| p.len() + 1).sum();
    if total > MAX_TRACESTATE_INPUT + 1 {
        return Err(BadTraceState);
    }
    let mut members = Members::default();
    let mut keys = HashSet::new();
    let mut count = 0;
    for member in parts.iter().flat_map(|p| p.split(',')) {
        let member = crate::text::trim_ows(member);
        if member.is_empty() {
            // Empty members are allowed and ignored.
            continue;
        }
        count += 1;
        if count > MAX_TRACESTATE_MEMBERS {
            return Err(BadTraceState);
        }
        let (key, value) = member.split_once('=').ok_or(BadTraceState)?;
        if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
            return Err(BadTraceState);
        }
        if keys.insert(key) {
            members.list.push((key, value));
        } else {
            members.dropped = true;
        }
    }
    members.dropped |= trim_to_limit(&mut members.list);
    Ok(members)
}

/// Removes whole members until the list, written out with commas, takes at most
/// [`MAX_TRACESTATE_LEN`] bytes (*tracestate Limits*: "the vendor MUST truncate whole entries.
/// Entries larger than 128 characters long SHOULD be removed first. Then entries SHOULD be
/// removed starting from the end"); the long ones go from the end too. Whether any went.
fn trim_to_limit(list: &mut Vec<(&str, &str)>) -> bool {
    let width = |(key, value): &(&str, &str)| key.len() + 1 + value.len();
    // Each member and the comma before it; the first has none.
    let mut len = list
        .iter()
        .map(|m| width(m) + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if len <= MAX_TRACESTATE_LEN {
        return false;
    }
    let mut i = list.len();
    while len > MAX_TRACESTATE_LEN && i > 0 {
        i -= 1;
        if width(&list[i]) > LONG_MEMBER {
            len -= width(&list.remove(i)) + 1;
        }
    }
    while len > MAX_TRACESTATE_LEN {
        let last = list.pop().expect("a list this long is not empty");
        len -= width(&last) + 1;
    }
    true
}

/// OpenTelemetry's [`TraceState`] of `members`, and the whole list as a header when that type
/// refuses some of them (it then holds the others; see the module docs).
fn trace_state(members: &[(&str, &str)]) -> (TraceState, Option<String>) {
    if members.is_empty() {
        return (TraceState::NONE, None);
    }
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return (state, None);
    }
    let accepted = members
        .iter()
        .copied()
        .filter(|&member| TraceState::from_key_value([member]).is_ok());
    let held = TraceState::from_key_value(accepted).unwrap_or_default();
    (held, Some(join(members)))
}

/// The `tracestate` sent with a span context whose [`TraceState`] is `state`. `came_with`,
/// when this trace's list came in with members OpenTelemetry's type refused: the part it held
/// (`state` was built from it) and the whole list, as it came. Members OpenTelemetry code
/// added or changed since go first, as that type orders them (*Mutating the tracestate
/// Field*: a changed key moves to the front); the others keep their place, also the refused
/// ones, which only the limits may remove; a member that code deleted stays deleted. Only
/// valid members go out (that type takes values the grammar does not: control characters, a
/// space at the end), a key once, at most [`MAX_TRACESTATE_MEMBERS`] of them in
/// [`MAX_TRACESTATE_LEN`] bytes.
pub(super) fn outgoing_tracestate(
    state: &TraceState,
    came_with: Option<(&TraceState, &str)>,
) -> String {
    let own = state.header();
    let Some((held, whole)) = came_with else {
        let mut list = list_members(&own).collect();
        return if keep_valid(&mut list) {
            join(&list)
        } else {
            own
        };
    };
    if held == state {
        // Unchanged: the whole list, valid as it came in.
        return whole.to_owned();
    }
    let held = held.header();
    let held: Vec<(&str, &str)> = list_members(&held).collect();
    let now: Vec<(&str, &str)> = list_members(&own).collect();
    let mut list: Vec<(&str, &str)> = now.iter().filter(|m| !held.contains(m)).copied().collect();
    let set_anew = list.len();
    for member in list_members(whole) {
        let kept = if held.iter().any(|h| h.0 == member.0) {
            // Still held as it came (a changed one is at the front, a deleted one gone).
            now.contains(&member)
        } else {
            // Refused by OpenTelemetry's type: kept, unless code has set its key since.
            !list[..set_anew].iter().any(|m| m.0 == member.0)
        };
        if kept {
            list.push(member);
        }
    }
    keep_valid(&mut list);
    join(&list)
}

/// The `key=value` members of a `tracestate` list as written (`,`-separated, members without
/// `=` left out).
fn list_members(list: &str) -> impl Iterator<Item = (&str, &str)> {
    list.split(',').filter_map(|member| member.split_once('='))
}

/// Leaves out of `list` the members that are not valid, a key's later members, those past
/// [`MAX_TRACESTATE_MEMBERS`] and those [`trim_to_limit`] removes; whether any went.
fn keep_valid(list: &mut Vec<(&str, &str)>) -> bool {
    let before = list.len();
    let mut seen = HashSet::new();
    list.retain(|&(key, value)| {
        valid_tracestate_key(key) && valid_tracestate_value(value) && seen.insert(key)
    });
    list.truncate(MAX_TRACESTATE_MEMBERS);
    trim_to_limit(list) || list.len() != before
}

/// `key=value` members joined with commas.
fn join(list: &[(&str, &str)]) -> String {
    let members: Vec<String> = list.iter().map(|(k, v)| format!("{k}={v}")).collect();
    members.join(",")
}

/// `key = (lcalpha / DIGIT) 0*255(keychar)`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" /
/// "/" / "@"` (W3C Trace Context Level 2, *Key*).
fn valid_tracestate_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(|&c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// 1 to 256 printable ASCII characters but `,` and `=`, not ending in a space (*Value*).
fn valid_tracestate_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}
