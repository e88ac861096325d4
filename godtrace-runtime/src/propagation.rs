//! Carry a trace across process boundaries: W3C Trace Context (`traceparent`, `tracestate`)
//! and W3C Baggage (`baggage`).
//!
//! The caller **injects** its current context into the outgoing request's headers; the callee
//! **extracts** it and starts its work under it (with `#[traced(parent = ...)]`), so both
//! processes' spans form one trace.
//!
//! ```
//! use godtrace_runtime::propagation;
//! use std::collections::HashMap;
//!
//! let _capture = godtrace_runtime::testing::capture(); // or `init` in a real program
//!
//! // Client side: inside the span that makes the call.
//! let mut headers = HashMap::new();
//! {
//!     let _call = godtrace_runtime::span("risk_service.call");
//!     propagation::inject_map(&mut headers);
//! }
//! assert!(headers.contains_key("traceparent"));
//!
//! // Server side: the request's context, to start the handler under.
//! let parent = propagation::extract_map(&headers);
//! assert!(propagation::is_remote_parent(&parent));
//! ```
//!
//! On the server, hand the extracted context to the handler:
//!
//! ```text
//! #[godtrace::traced(operation = "risk.score_request", parent = &parent)]
//! async fn handle(parent: godtrace::otel::Context, body: Request) -> Response { ... }
//! ```
//!
//! # Carriers
//! A `HashMap<String, String>` ([`inject_map`], [`extract_map`]), an `http::HeaderMap`
//! (`inject_headers`, `extract_headers`, `HeaderInjector`, `HeaderExtractor`, with the `http`
//! cargo feature), or anything that
//! implements OpenTelemetry's [`Injector`] / [`Extractor`] ([`inject`], [`extract`]).
//! [`W3cPropagator`] is the same logic as an OpenTelemetry [`TextMapPropagator`], for code
//! that takes one.
//!
//! # Untrusted input
//! Headers come from the network, so extraction never panics and never fails. The rules
//! follow [W3C Trace Context Level 2](https://www.w3.org/TR/trace-context-2/), cited by
//! section title:
//!
//! - A `traceparent` that is not exactly what *Traceparent Header* allows is ignored and
//!   the request starts a **new root** trace, without its `tracestate` (*Tracestate
//!   Header*: "If the vendor failed to parse traceparent, it MUST NOT attempt to parse
//!   tracestate"; *Processing Model*, "A traceparent is Received", step 2). Rejected are,
//!   among others: a wrong length, non-hex or upper-case hex digits, an all-zero trace id
//!   or parent id, version `ff`, version `00` with extra fields, several `traceparent`
//!   headers, bytes that are not visible ASCII. A later version with extra fields is read
//!   by its first four fields (*Versioning of traceparent*).
//! - A `tracestate` that is not a valid list is **dropped as a whole, and the trace
//!   continues** under the valid `traceparent` (*Tracestate Header*: "failure to parse
//!   tracestate MUST NOT affect the parsing of traceparent"; *Processing Model* step 3:
//!   "the vendor MAY discard the entire header"): more than 32 members (*list*), an invalid
//!   key (*Key*) or value (*Value*), a member without `=`, longer than
//!   [`MAX_TRACESTATE_LEN`] bytes in all, or not text. The whole header rather than the bad
//!   members, because a list that breaks the grammar may be cut or joined anywhere: what
//!   looks like a good member beside a bad one is not known to be what its vendor wrote.
//! - Of members with the same key, the first is kept and the later ones dropped (*Mutating
//!   the tracestate Field*: vendors "MAY also discard duplicate keys"); the rest of the
//!   list and the trace are kept.
//! - Keys follow the Level 2 grammar (*Key*): `(lcalpha / DIGIT) 0*255(keychar)`, where
//!   `keychar` is `lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`, so `foo@`, `foo@@bar`
//!   and `foo@bar@baz` are valid keys.
//!
//! Each rejection, of a `traceparent` or of (part of) a `tracestate`, is counted in
//! [`Stats::contexts_rejected`](crate::Stats::contexts_rejected). A `baggage` header longer
//! than [`MAX_BAGGAGE_LEN`] bytes is dropped and counted in
//! [`Stats::baggage_rejected`](crate::Stats::baggage_rejected); malformed baggage entries
//! are skipped. Baggage is independent of the trace context: a rejected `traceparent` keeps
//! the request's valid baggage.
//!
//! # Trace flags
//! The `sampled` (`0x01`) and `random` (`0x02`) flags are read and written; other bits are
//! written as zero (*Other Flags*). An incoming random flag, set or unset, goes out
//! unchanged on every `traceparent` of the same trace; new traces set it (*Random Trace ID
//! Flag*). A traced call that is not recorded under a parent from another process
//! propagates a span id of its own with its decision in the `sampled` flag, as *Mutating
//! the traceparent Field* allows the flag to change only with a new `parent-id`.
//!
//! Under a root godtrace sampled out, [`inject`] writes that root's own trace id and span
//! id, not sampled, so that downstream drops the trace too: the same for every call under
//! that root, different for every root (*trace-id*: "SHOULD be globally unique").
//!
//! # How a trace state travels
//! The members travel in OpenTelemetry's [`TraceState`], inside the span context: a span's
//! children copy it, OpenTelemetry code sees it, and the exporter sends it with each span.
//! That type refuses some keys the specification allows (opentelemetry 0.33 takes at most
//! 13 characters after an `@`, and only one `@`), so when it cannot hold every member, the
//! span context holds the members it accepts and the extracted [`Context`] also holds the
//! whole list as godtrace received it. [`inject_context`] writes that whole list for any
//! span context of the same trace whose trace state is still the one it was made with (so a
//! trace state that OpenTelemetry code changed goes out as changed). Everything derived
//! from the extracted context (a traced call under it, its children,
//! [`crate::current_context`]) keeps the whole list; exported spans show the part
//! OpenTelemetry holds.
//!
//! These functions always speak W3C Trace Context and Baggage, whatever `OTEL_PROPAGATORS`
//! says; that setting chooses the global propagator [`crate::init`] installs for other
//! OpenTelemetry-instrumented code.
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::BaggagePropagator;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The W3C Trace Context header naming the caller's trace and span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context header with vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";
/// The W3C Baggage header.
pub const BAGGAGE: &str = "baggage";

/// The longest `tracestate` accepted, in bytes (all its headers together); a longer one is
/// dropped (the trace continues without it).
pub const MAX_TRACESTATE_LEN: usize = 8192;
/// The most list members a `tracestate` may have (the W3C limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// The longest `baggage` header accepted, in bytes (the W3C limit); a longer one is dropped.
pub const MAX_BAGGAGE_LEN: usize = 8192;
/// The longest `traceparent` accepted. Version 00 is exactly 55 bytes; later versions may
/// append fields, up to this bound.
const MAX_TRACEPARENT_LEN: usize = 512;

static CONTEXTS_REJECTED: AtomicU64 = AtomicU64::new(0);
static BAGGAGE_REJECTED: AtomicU64 = AtomicU64::new(0);

/// Incoming trace contexts rejected, wholly or in part, since the process started (see the
/// module docs).
pub(crate) fn contexts_rejected() -> u64 {
    CONTEXTS_REJECTED.load(Ordering::Relaxed)
}

/// Incoming `baggage` headers dropped since the process started.
pub(crate) fn baggage_rejected() -> u64 {
    BAGGAGE_REJECTED.load(Ordering::Relaxed)
}

/// W3C Trace Context and Baggage as an OpenTelemetry [`TextMapPropagator`], with the checks
/// and counters described in the [module docs](self).
///
/// [`inject`] and [`extract`] use it; hand it to code that takes a propagator, or install it
/// as OpenTelemetry's global one (after [`crate::init`], which installs its own):
///
/// ```
/// opentelemetry::global::set_text_map_propagator(godtrace_runtime::propagation::W3cPropagator::new());
/// ```
///
/// Unlike [`extract`], its [`TextMapPropagator::extract_with_context`] keeps what the given
/// context holds (its span included) when the carrier has no valid trace context, as the
/// trait specifies.
#[derive(Debug, Clone, Copy)]
pub struct W3cPropagator {
    /// Whether `baggage` is carried too (`init` installs it without, when the configured
    /// propagators leave baggage out).
    baggage: bool,
}

impl Default for W3cPropagator {
    fn default() -> Self {
        W3cPropagator::new()
    }
}

impl W3cPropagator {
    /// The propagator: `traceparent`, `tracestate` and `baggage`.
    pub const fn new() -> Self {
        W3cPropagator { baggage: true }
    }

    /// `traceparent` and `tracestate` only (`OTEL_PROPAGATORS=tracecontext`).
    pub(crate) const fn trace_context_only() -> Self {
        W3cPropagator { baggage: false }
    }
}

fn fields() -> &'static [String; 3] {
    static FIELDS: OnceLock<[String; 3]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()])
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            injector.set(TRACEPARENT, traceparent(sc));
            let state = tracestate_header(cx, sc);
            if !state.is_empty() {
                injector.set(TRACESTATE, state);
            }
        }
        if self.baggage {
            BaggagePropagator::new().inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let fields = Fields {
            traceparent: field(extractor.get_all(TRACEPARENT)),
            tracestate: field(extractor.get_all(TRACESTATE)),
        };
        let cx = match remote_parent(&fields) {
            Some(incoming) => incoming.under(cx),
            None => cx.clone(),
        };
        if !self.baggage {
            return cx;
        }
        with_baggage(cx, extractor.get(BAGGAGE), false)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

/// The trace flags this version of the specification defines: sampled and random.
fn known_flags() -> TraceFlags {
    TraceFlags::SAMPLED | crate::span::RANDOM
}

/// `00-{trace id}-{span id}-{flags}`, keeping the sampled and random flags.
fn traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags() & known_flags()
    )
}

/// The `tracestate` to send with `sc` from `cx`: the whole list extracted, when `cx` holds
/// one of this trace that OpenTelemetry's type could only hold in part and `sc` still holds
/// that part (see the module docs); else `sc`'s own.
fn tracestate_header(cx: &Context, sc: &SpanContext) -> String {
    match cx.get::<FullTraceState>() {
        Some(full) if full.trace_id == sc.trace_id() && &full.held == sc.trace_state() => {
            full.header.clone()
        }
        _ => sc.trace_state().header(),
    }
}

/// An extracted `tracestate` that OpenTelemetry's [`TraceState`] holds only in part, kept
/// whole in the [`Context`] beside the span context.
#[derive(Debug)]
struct FullTraceState {
    /// The trace it came with.
    trace_id: TraceId,
    /// The part the span context's [`TraceState`] holds.
    held: TraceState,
    /// The whole list, as it goes out.
    header: String,
}

/// Writes the current context (the current span, and any baggage) into `injector`.
///
/// Nothing is written for the trace when there is no current span (e.g. before `init`).
///
/// ```
/// use std::collections::HashMap;
///
/// let mut carrier: HashMap<String, String> = HashMap::new();
/// godtrace_runtime::propagation::inject(&mut carrier);
/// ```
pub fn inject<I: Injector + ?Sized>(injector: &mut I) {
    // The current span is godtrace's own or OpenTelemetry's, whichever is innermost; under a
    // root godtrace sampled out, that root's own ids, not sampled, so downstream drops it too.
    inject_context(&crate::span::current_context(), injector)
}

/// Writes `cx` (its span, and any baggage) into `injector`.
///
/// ```
/// use godtrace_runtime::otel::{Context, KeyValue, baggage::BaggageExt};
/// use std::collections::HashMap;
///
/// let cx = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
/// let mut carrier: HashMap<String, String> = HashMap::new();
/// godtrace_runtime::propagation::inject_context(&cx, &mut carrier);
/// assert_eq!(carrier["baggage"], "tenant=acme");
/// ```
pub fn inject_context<I: Injector + ?Sized>(cx: &Context, injector: &mut I) {
    struct Dyn<'a, I: ?Sized>(&'a mut I);
    impl<I: Injector + ?Sized> Injector for Dyn<'_, I> {
        fn set(&mut self, key: &str, value: String) {
            self.0.set(key, value);
        }
    }
    W3cPropagator::new().inject_context(cx, &mut Dyn(injector));
}

/// The context a carrier holds: its remote parent (if valid) and its baggage, and nothing
/// else — it never inherits the caller's current span, so a request without a valid
/// `traceparent` starts a new root. Never fails; see the [module docs](self) for what is
/// rejected and counted.
///
/// ```
/// use std::collections::HashMap;
///
/// let headers = HashMap::from([(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
/// )]);
/// let parent = godtrace_runtime::propagation::extract(&headers);
/// assert!(godtrace_runtime::propagation::is_remote_parent(&parent));
/// ```
pub fn extract<E: Extractor + ?Sized>(extractor: &E) -> Context {
    let fields = Fields {
        traceparent: field(extractor.get_all(TRACEPARENT)),
        tracestate: field(extractor.get_all(TRACESTATE)),
    };
    from_fields(&fields, extractor.get(BAGGAGE), false)
}

/// Writes the current context into a `HashMap` (keys in lower case).
///
/// ```
/// let mut headers = std::collections::HashMap::new();
/// godtrace_runtime::propagation::inject_map(&mut headers);
/// ```
pub fn inject_map<S: BuildHasher>(map: &mut HashMap<String, String, S>) {
    inject(map);
}

/// The context held by a `HashMap` of headers, looking the keys up without regard to case
/// (`Traceparent` is found too). See [`extract`].
///
/// ```
/// use std::collections::HashMap;
///
/// // All-zero ids are invalid: a new root, and the rejection is counted.
/// let hostile = HashMap::from([(
///     "Traceparent".to_string(),
///     "00-00000000000000000000000000000000-0000000000000000-01".to_string(),
/// )]);
/// let cx = godtrace_runtime::propagation::extract_map(&hostile);
/// assert!(!godtrace_runtime::propagation::is_remote_parent(&cx));
/// ```
pub fn extract_map<S: BuildHasher>(map: &HashMap<String, String, S>) -> Context {
    extract(&CaseInsensitive(map))
}

/// Whether `cx` carries a span context that came from another process (as [`extract`]
/// returns when the carrier held a valid `traceparent`).
///
/// ```
/// let cx = godtrace_runtime::otel::Context::new();
/// assert!(!godtrace_runtime::propagation::is_remote_parent(&cx));
/// ```
pub fn is_remote_parent(cx: &Context) -> bool {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid() && sc.is_remote()
}

/// A `HashMap` read with case-insensitive keys.
struct CaseInsensitive<'a, S>(&'a HashMap<String, String, S>);

impl<S: BuildHasher> Extractor for CaseInsensitive<'_, S> {
    fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).and_then(|v| v.first().copied())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// A header as the checks see it.
enum Field<'a> {
    Absent,
    Values(Vec<&'a str>),
    /// Present but not text (e.g. not visible ASCII in an HTTP header).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    NotText,
}

fn field(values: Option<Vec<&str>>) -> Field<'_> {
    match values {
        None => Field::Absent,
        Some(v) if v.is_empty() => Field::Absent,
        Some(v) => Field::Values(v),
    }
}

struct Fields<'a> {
    traceparent: Field<'a>,
    tracestate: Field<'a>,
}

/// The carrier held a `traceparent` that is not valid W3C Trace Context.
struct Rejected;

/// A valid incoming trace context.
struct Incoming {
    parent: SpanContext,
    /// The whole `tracestate`, when the parent's [`TraceState`] holds only part of it.
    full_state: Option<String>,
    /// Whether (part of) the `tracestate` was dropped.
    state_rejected: bool,
}

impl Incoming {
    /// `base` with this remote parent (and the whole trace state, when needed).
    fn under(self, base: &Context) -> Context {
        let full = match self.full_state {
            Some(header) => Some(FullTraceState {
                trace_id: self.parent.trace_id(),
                held: self.parent.trace_state().clone(),
                header,
            }),
            // A whole list `base` holds from before must not be taken for this one's.
            None if base.get::<FullTraceState>().is_some() => Some(FullTraceState {
                trace_id: TraceId::INVALID,
                held: TraceState::NONE,
                header: String::new(),
            }),
            None => None,
        };
        let cx = base.with_remote_span_context(self.parent);
        match full {
            Some(full) => cx.with_value(full),
            None => cx,
        }
    }
}

/// The carrier's remote parent: `None` when there is no valid `traceparent`. Counts a
/// rejected `traceparent`, and a valid one whose `tracestate` was dropped in whole or part.
fn remote_parent(fields: &Fields<'_>) -> Option<Incoming> {
    match parse_fields(fields) {
        Ok(incoming) => {
            if incoming.as_ref().is_some_and(|i| i.state_rejected) {
                CONTEXTS_REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            incoming
        }
        Err(Rejected) => {
            CONTEXTS_REJECTED.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// `Ok(None)` when there is no `traceparent`, `Ok(Some)` for a valid one (with what could be
/// kept of the `tracestate`), `Err` for anything else.
fn parse_fields(fields: &Fields<'_>) -> Result<Option<Incoming>, Rejected> {
    let value = match &fields.traceparent {
        Field::Absent => return Ok(None),
        Field::NotText => return Err(Rejected),
        // One request, one parent: several `traceparent` headers are ambiguous.
        Field::Values(v) if v.len() != 1 => return Err(Rejected),
        Field::Values(v) => v[0],
    };
    let (trace_id, span_id, flags) = parse_traceparent(value)?;
    // A bad `tracestate` never costs the trace: it is dropped, and the trace continues.
    let (members, state_rejected) = match &fields.tracestate {
        Field::Absent => (Members::default(), false),
        Field::NotText => (Members::default(), true),
        Field::Values(parts) => match parse_tracestate(parts) {
            Ok(members) => {
                let dropped = members.duplicates_dropped;
                (members, dropped)
            }
            Err(BadTraceState) => (Members::default(), true),
        },
    };
    let (state, full_state) = trace_state(&members.list);
    Ok(Some(Incoming {
        parent: SpanContext::new(trace_id, span_id, flags, true, state),
        full_state,
        state_rejected,
    }))
}

fn is_lower_hex(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses `version-traceid-parentid-flags` strictly (W3C Trace Context Level 2, *Traceparent Header*).
fn parse_traceparent(value: &str) -> Result<(TraceId, SpanId, TraceFlags), Rejected> {
    // Optional whitespace around the value is allowed by HTTP.
    let value = value.trim_matches([' ', '\t']);
    let b = value.as_bytes();
    if b.len() < 55 || b.len() > MAX_TRACEPARENT_LEN || !value.is_ascii() {
        return Err(Rejected);
    }
    let (version, trace_id, span_id, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(Rejected);
    }
    if ![version, trace_id, span_id, flags]
        .iter()
        .all(|part| is_lower_hex(part))
        || version == b"ff"
    {
        return Err(Rejected);
    }
    // Version 00 has exactly four fields; a later version may append `-...`.
    if b.len() > 55 && (version == b"00" || b[55] != b'-') {
        return Err(Rejected);
    }
    let trace_id = TraceId::from_hex(&value[3..35]).map_err(|_| Rejected)?;
    let span_id = SpanId::from_hex(&value[36..52]).map_err(|_| Rejected)?;
    let flags = u8::from_str_radix(&value[53..55], 16).map_err(|_| Rejected)?;
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
    /// Whether later members with an earlier member's key were left out.
    duplicates_dropped: bool,
}

/// Parses the `tracestate` headers (joined with commas, as HTTP allows) strictly; of members
/// with the same key, keeps the first.
fn parse_tracestate<'a>(parts: &[&'a str]) -> Result<Members<'a>, BadTraceState> {
    let total: usize = parts.iter().map(|p| p.len() + 1).sum();
    if total > MAX_TRACESTATE_LEN + 1 {
        return Err(BadTraceState);
    }
    let mut members = Members::default();
    let mut keys = HashSet::new();
    let mut count = 0;
    for member in parts.iter().flat_map(|p| p.split(',')) {
        let member = member.trim_matches([' ', '\t']);
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
            members.duplicates_dropped = true;
        }
    }
    Ok(members)
}

/// OpenTelemetry's [`TraceState`] of `members`, and the whole list as a header when that type
/// refuses some of them (it then holds the others; see the module docs).
fn trace_state(members: &[(&str, &str)]) -> (TraceState, Option<String>) {
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return (state, None);
    }
    let accepted = members
        .iter()
        .copied()
        .filter(|&member| TraceState::from_key_value([member]).is_ok());
    let held = TraceState::from_key_value(accepted).unwrap_or_default();
    let whole: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
    (held, Some(whole.join(",")))
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

/// A new context with the carrier's remote parent (when valid) and baggage.
fn from_fields(fields: &Fields<'_>, baggage: Option<&str>, baggage_not_text: bool) -> Context {
    let cx = match remote_parent(fields) {
        Some(incoming) => incoming.under(&Context::new()),
        None => Context::new(),
    };
    with_baggage(cx, baggage, baggage_not_text)
}

/// Adds the entries of a `baggage` header to `cx`; drops (and counts) one that is too long or
/// not text.
fn with_baggage(cx: Context, header: Option<&str>, not_text: bool) -> Context {
    if not_text || header.is_some_and(|h| h.len() > MAX_BAGGAGE_LEN) {
        BAGGAGE_REJECTED.fetch_add(1, Ordering::Relaxed);
        return cx;
    }
    let Some(header) = header else {
        return cx;
    };
    struct One<'a>(&'a str);
    impl Extractor for One<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            (key == BAGGAGE).then_some(self.0)
        }
        fn keys(&self) -> Vec<&str> {
            vec![BAGGAGE]
        }
    }
    // Builds on `cx`, so its span context is kept.
    BaggagePropagator::new().extract_with_context(&cx, &One(header))
}

/// Baggage entries as key-value pairs, e.g. to record them as attributes.
///
/// ```
/// use godtrace_runtime::otel::{Context, KeyValue, baggage::BaggageExt};
///
/// let cx = Context::new().with_baggage([KeyValue::new("scan.batch", "b-42")]);
/// let entries = godtrace_runtime::propagation::baggage(&cx);
/// assert_eq!(entries, vec![KeyValue::new("scan.batch", "b-42")]);
/// ```
pub fn baggage(cx: &Context) -> Vec<KeyValue> {
    let mut entries: Vec<KeyValue> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
        .collect();
    entries.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    entries
}

#[cfg(feature = "http")]
pub use self::http_carrier::{HeaderExtractor, HeaderInjector, extract_headers, inject_headers};

#[cfg(feature = "http")]
mod http_carrier {
    use super::{BAGGAGE, Field, Fields, TRACEPARENT, TRACESTATE, from_fields};
    use http::header::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::Context;
    use opentelemetry::propagation::{Extractor, Injector};

    /// Writes the current context into HTTP headers (feature `http`). A value that is not a
    /// valid header value is left out rather than failing the request.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// godtrace_runtime::propagation::inject_headers(&mut headers);
    /// ```
    pub fn inject_headers(headers: &mut HeaderMap) {
        super::inject(&mut HeaderInjector(headers));
    }

    /// The context of an incoming request's headers (feature `http`); see
    /// [`extract`](super::extract). A `traceparent` or `tracestate` header that is not visible
    /// ASCII is rejected like any malformed one.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(
    ///     "traceparent",
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
    /// );
    /// let parent = godtrace_runtime::propagation::extract_headers(&headers);
    /// assert!(godtrace_runtime::propagation::is_remote_parent(&parent));
    /// ```
    pub fn extract_headers(headers: &HeaderMap) -> Context {
        let fields = Fields {
            traceparent: field(headers, TRACEPARENT),
            tracestate: field(headers, TRACESTATE),
        };
        let baggage = headers.get(BAGGAGE).map(HeaderValue::to_str);
        let not_text = matches!(baggage, Some(Err(_)));
        from_fields(&fields, baggage.and_then(Result::ok), not_text)
    }

    fn field<'a>(headers: &'a HeaderMap, name: &str) -> Field<'a> {
        let mut values = Vec::new();
        for value in headers.get_all(name) {
            match value.to_str() {
                Ok(v) => values.push(v),
                Err(_) => return Field::NotText,
            }
        }
        if values.is_empty() {
            Field::Absent
        } else {
            Field::Values(values)
        }
    }

    /// An OpenTelemetry [`Injector`] writing into an `http::HeaderMap` (feature `http`).
    ///
    /// ```
    /// use godtrace_runtime::propagation::{HeaderInjector, inject};
    ///
    /// let mut headers = http::HeaderMap::new();
    /// inject(&mut HeaderInjector(&mut headers));
    /// ```
    #[derive(Debug)]
    pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

    impl Injector for HeaderInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    /// An OpenTelemetry [`Extractor`] reading an `http::HeaderMap` (feature `http`); values
    /// that are not visible ASCII read as absent. Prefer [`extract_headers`], which rejects
    /// and counts them.
    ///
    /// ```
    /// use godtrace_runtime::propagation::{HeaderExtractor, extract};
    ///
    /// let headers = http::HeaderMap::new();
    /// let cx = extract(&HeaderExtractor(&headers));
    /// # let _ = cx;
    /// ```
    #[derive(Debug, Clone, Copy)]
    pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let values: Vec<&str> = self
                .0
                .get_all(key)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then_some(values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SID: &str = "00f067aa0ba902b7";

    fn incoming(traceparent: &str, tracestate: Option<&str>) -> Result<Option<Incoming>, ()> {
        let fields = Fields {
            traceparent: Field::Values(vec![traceparent]),
            tracestate: tracestate.map_or(Field::Absent, |s| Field::Values(vec![s])),
        };
        parse_fields(&fields).map_err(|_| ())
    }

    fn parent_of(traceparent: &str, tracestate: Option<&str>) -> Result<Option<SpanContext>, ()> {
        incoming(traceparent, tracestate).map(|i| i.map(|i| i.parent))
    }

    #[test]
    fn valid_traceparents_parse() {
        let sc = parent_of(&format!("00-{TID}-{SID}-01"), None)
            .unwrap()
            .unwrap();
        assert_eq!(sc.trace_id().to_string(), TID);
        assert_eq!(sc.span_id().to_string(), SID);
        assert!(sc.is_sampled() && sc.is_remote());
        let unsampled = parent_of(&format!("00-{TID}-{SID}-00"), None)
            .unwrap()
            .unwrap();
        assert!(!unsampled.is_sampled());
        // Unknown flags are dropped; a future version may append fields.
        let future = parent_of(&format!("cc-{TID}-{SID}-09-what-the-future-holds"), None)
            .unwrap()
            .unwrap();
        assert_eq!(future.trace_flags(), TraceFlags::SAMPLED);
        assert!(parent_of(&format!(" 00-{TID}-{SID}-01\t"), None).is_ok());
    }

    #[test]
    fn malformed_traceparents_are_rejected() {
        let long_tid = format!("{TID}00");
        let cases = [
            String::new(),
            "garbage".into(),
            format!("00-{TID}-{SID}"),
            format!("00-{TID}-{SID}-"),
            format!("00-{TID}-{SID}-01-"),
            format!("00-{TID}-{SID}-01-extra"),
            format!("00-{long_tid}-{SID}-01"),
            format!("00-{TID}-{SID}00-01"),
            format!("00-{}-{SID}-01", TID.to_uppercase()),
            format!("00-{TID}-{SID}-0G"),
            format!("0x-{TID}-{SID}-01"),
            format!("ff-{TID}-{SID}-01"),
            format!("00_{TID}-{SID}-01"),
            format!("00-{}-{SID}-01", "0".repeat(32)),
            format!("00-{TID}-{}-01", "0".repeat(16)),
            format!("00-{}é-{SID}-01", &TID[..31]),
            format!("01-{TID}-{SID}-01{}", "-x".repeat(300)),
        ];
        for case in cases {
            assert!(parent_of(&case, None).is_err(), "accepted {case:?}");
        }
    }

    /// The `tracestate` kept of `state` (as it goes out), with a valid `traceparent`; `None`
    /// when it was dropped. The trace itself is always kept.
    fn kept_state(state: &str) -> Option<String> {
        let tp = format!("00-{TID}-{SID}-01");
        let incoming = incoming(&tp, Some(state)).unwrap().unwrap();
        assert_eq!(incoming.parent.trace_id().to_string(), TID, "{state:?}");
        let header = incoming
            .full_state
            .unwrap_or_else(|| incoming.parent.trace_state().header());
        (!incoming.state_rejected).then_some(header)
    }

    #[test]
    fn tracestate_rules() {
        let kept = |s: &str| kept_state(s).is_some();
        assert!(kept("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
        assert!(kept("tenant@vendor=x, , a-b_c*d/e=1 2"));
        assert!(kept(""));
        let members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert!(kept(&members.join(",")));
        let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(!kept(&too_many.join(",")));
        assert!(!kept(&format!("a={}", "x".repeat(257))));
        assert!(!kept(&format!("a=b,{}", "c".repeat(MAX_TRACESTATE_LEN))));
        for bad in [
            "a", "A=1", "a=b=c", "a= ", "-a=1", "@a=1", "a=\u{7f}", "a=1,b=",
        ] {
            assert!(!kept(bad), "kept tracestate {bad:?}");
        }
        assert_eq!(kept_state("rojo=1,congo=2").unwrap(), "rojo=1,congo=2");
    }

    #[test]
    fn level_2_keys_are_kept_whole_even_where_opentelemetry_refuses_them() {
        let system_14 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        for key in ["foo@", "foo@@bar", "foo@bar@baz", system_14.as_str(), "z@"] {
            let state = format!("a=1,{key}=2,b=3");
            assert_eq!(kept_state(&state).as_deref(), Some(state.as_str()));
        }
        assert!(kept_state(&format!("{}=1", "z".repeat(257))).is_none());
    }

    #[test]
    fn duplicate_keys_keep_the_first_member() {
        let tp = format!("00-{TID}-{SID}-01");
        let incoming = incoming(&tp, Some("foo=1,bar=2,foo=3")).unwrap().unwrap();
        assert_eq!(incoming.parent.trace_state().header(), "foo=1,bar=2");
        assert!(incoming.state_rejected, "counted");
    }

    #[test]
    fn tracestate_headers_join() {
        let fields = Fields {
            traceparent: Field::Values(vec![
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ]),
            tracestate: Field::Values(vec!["a=1", "b=2"]),
        };
        let incoming = parse_fields(&fields).ok().flatten().unwrap();
        assert_eq!(incoming.parent.trace_state().header(), "a=1,b=2");
    }

    #[test]
    fn several_traceparents_are_rejected() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let fields = Fields {
            traceparent: Field::Values(vec![tp, tp]),
            tracestate: Field::Absent,
        };
        assert!(parse_fields(&fields).is_err());
    }

    #[test]
    fn no_traceparent_is_a_root_not_a_rejection() {
        let fields = Fields {
            traceparent: Field::Absent,
            tracestate: Field::Values(vec!["a=1"]),
        };
        assert!(matches!(parse_fields(&fields), Ok(None)));
    }

    #[test]
    fn flags_other_than_sampled_and_random_are_read_and_written_as_zero() {
        let sc = parent_of(&format!("00-{TID}-{SID}-ff"), None)
            .unwrap()
            .unwrap();
        assert_eq!(sc.trace_flags(), known_flags());
        let random = parent_of(&format!("00-{TID}-{SID}-02"), None)
            .unwrap()
            .unwrap();
        assert!(!random.is_sampled());
        let mut map: HashMap<String, String> = HashMap::new();
        inject_context(&Context::new().with_remote_span_context(random), &mut map);
        assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-02"));
        let all = SpanContext::new(
            TraceId::from_hex(TID).unwrap(),
            SpanId::from_hex(SID).unwrap(),
            TraceFlags::new(0xff),
            false,
            TraceState::NONE,
        );
        inject_context(&Context::new().with_remote_span_context(all), &mut map);
        assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-03"));
    }

    #[test]
    fn inject_writes_sampled_flag_and_state() {
        let sc = SpanContext::new(
            TraceId::from_hex(TID).unwrap(),
            SpanId::from_hex(SID).unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        );
        let cx = Context::new().with_remote_span_context(sc);
        let mut map: HashMap<String, String> = HashMap::new();
        inject_context(&cx, &mut map);
        assert_eq!(map[TRACEPARENT], format!("00-{TID}-{SID}-01"));
        assert_eq!(map[TRACESTATE], "k=v");
        assert!(!map.contains_key(BAGGAGE));
    }
}
