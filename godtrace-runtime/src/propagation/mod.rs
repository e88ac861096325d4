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
//!     propagation::inject(&mut headers);
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
//! A `HashMap<String, String>` ([`inject`], which writes keys in lower case, and
//! [`extract_map`], which reads them without regard to case), an `http::HeaderMap`
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
//!   by its first four fields (*Versioning of traceparent*), whatever its length: nothing past
//!   them is read.
//! - A `tracestate` that is not a valid list is **dropped as a whole, and the trace
//!   continues** under the valid `traceparent` (*Tracestate Header*: "failure to parse
//!   tracestate MUST NOT affect the parsing of traceparent"; *Processing Model* step 3:
//!   "the vendor MAY discard the entire header"): more than 32 members (*list*), an invalid
//!   key (*Key*) or value (*Value*), a member without `=`, longer than 64 KiB in all (a
//!   valid list needs at most 16,447 bytes), or not text. The whole header rather than the bad
//!   members, because a list that breaks the grammar may be cut or joined anywhere: what
//!   looks like a good member beside a bad one is not known to be what its vendor wrote.
//! - Of members with the same key, the first is kept and the later ones dropped (*Mutating
//!   the tracestate Field*: vendors "MAY also discard duplicate keys"); the rest of the
//!   list and the trace are kept.
//! - A valid list longer than [`MAX_TRACESTATE_LEN`] bytes is trimmed by whole members:
//!   those over 128 bytes first, from the end, then others from the end (*tracestate
//!   Limits*); the rest of the list and the trace are kept.
//! - Keys follow the Level 2 grammar (*Key*): `(lcalpha / DIGIT) 0*255(keychar)`, where
//!   `keychar` is `lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`, so `foo@`, `foo@@bar`
//!   and `foo@bar@baz` are valid keys.
//!
//! Each rejection, of a `traceparent` or of (part of) a `tracestate`, is counted in
//! [`Stats::contexts_rejected`](crate::Stats::contexts_rejected).
//!
//! `baggage` follows [W3C Baggage](https://www.w3.org/TR/baggage/), cited by section title:
//!
//! - Several `baggage` headers are one list, as HTTP combines them. Longer than
//!   [`MAX_BAGGAGE_LEN`] bytes together, the baggage is **dropped as a whole**. Of a valid
//!   list, the first [`MAX_BAGGAGE_MEMBERS`] keys are kept and later ones **dropped**
//!   (*Limits*). Either is counted once per request in
//!   [`Stats::baggage_rejected`](crate::Stats::baggage_rejected).
//! - A malformed list member is skipped, and the others kept: a key that is not an RFC 7230
//!   token, no `=`, a value with a byte outside `baggage-octet` (a raw space, `"`, `\`, `,`,
//!   `;`, a control or non-ASCII character), a malformed `%` escape, or an invalid property.
//!   Empty members are ignored, and spaces or tabs are allowed around keys, `=`, values and
//!   `;` (*Header Content*).
//! - A member splits at its first `=` (`k=a=b` is `a=b`). Only the OWS around the raw value is
//!   trimmed; the value is then percent-decoded as UTF-8, invalid sequences read as U+FFFD
//!   (*value*). Of members with the same key, the last one is kept.
//! - Properties (`;p`, `;p=v`) are kept as the entry's
//!   [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata), joined by `;`, and sent
//!   back as they came.
//! - On the way out, every value byte outside `baggage-octet`, and `%` and `=`, is
//!   percent-encoded (`=` for parsers that split a member at every `=`, OpenTelemetry's Rust
//!   SDK among them; where that would take the list past [`MAX_BAGGAGE_LEN`], `=` goes as it
//!   is, a `baggage-octet`, rather than lose members); metadata that is not a valid property
//!   list is left out (the entry goes without it), and so is a key that is not a token. Members go in key order, and the
//!   header stops before the member that would take it past [`MAX_BAGGAGE_LEN`] bytes.
//!
//! Baggage is independent of the trace context: a rejected `traceparent` keeps the request's
//! valid baggage.
//!
//! # Trace flags
//! The `sampled` (`0x01`) and `random` (`0x02`) flags are read and written; other bits are
//! written as zero (*Other Flags*). An incoming random flag, set or unset, goes out
//! unchanged on every `traceparent` of the same trace; new traces godtrace starts set it
//! (*Random Trace ID Flag*). A traced call that is not recorded under a parent from another process
//! propagates a span id of its own with its decision in the `sampled` flag, as *Mutating
//! the traceparent Field* allows the flag to change only with a new `parent-id`.
//!
//! Under a root godtrace sampled out, [`inject`] writes that root's own trace id, not
//! sampled, so that downstream drops the trace too: the same for every call under that root,
//! different for every root (*trace-id*: "SHOULD be globally unique"). Every request sent
//! from a span of this process that is not recorded names a span id new for that request as
//! its parent (*parent-id*: "the ID of this request as known by the caller"); a context
//! from another process injected as it came goes on unchanged.
//!
//! # How a trace state travels
//! The members travel in OpenTelemetry's
//! [`TraceState`](opentelemetry::trace::TraceState), inside the span context: a span's
//! children copy it, OpenTelemetry code sees it, and the exporter sends it with each span.
//! That type refuses some keys the specification allows (opentelemetry 0.33 takes at most
//! 13 characters after an `@`, and only one `@`), so when it cannot hold every member, the
//! span context holds the members it accepts and the extracted [`Context`] also holds the
//! whole list as godtrace received it. [`inject_context`] writes that whole list for any
//! span context of the same trace; where OpenTelemetry code changed the trace state since,
//! the members it added or changed go first and the others, the refused ones too, keep
//! their place (*Mutating the tracestate Field*). Only valid members go out (that type also
//! takes values the grammar does not, such as control characters), within the limits, a key
//! once. Everything derived
//! from the extracted context (a traced call under it, its children,
//! [`crate::current_context`]) keeps the whole list; exported spans show the part
//! OpenTelemetry holds.
//!
//! # Which headers
//! These functions, and the framework layers built on them, carry what `OTEL_PROPAGATORS`
//! (or [`Config::propagators`](crate::Config::propagators)) names, as the global propagator
//! [`crate::init`] installs for other OpenTelemetry-instrumented code does: both by default;
//! with `tracecontext` alone no `baggage` is read or written (baggage then goes to no other
//! host), with `baggage` alone no trace context, with `none` nothing. [`W3cPropagator::new`]
//! always carries both.
mod baggage;
mod carriers;
mod context;
mod propagator;
#[cfg(test)]
mod tests;
mod w3c;

use carriers::CaseInsensitive;
use context::from_fields;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use w3c::{Field, Fields, baggage_field, field};

#[cfg(feature = "http")]
pub use carriers::{HeaderExtractor, HeaderInjector, extract_headers, inject_headers};
pub use propagator::W3cPropagator;

/// The W3C Trace Context header naming the caller's trace and span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context header with vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";
/// The W3C Baggage header.
pub const BAGGAGE: &str = "baggage";

/// The longest `tracestate` kept and sent on, in bytes: a longer valid list is trimmed by
/// whole members, those over 128 bytes first, then from the end (W3C *tracestate Limits*).
pub const MAX_TRACESTATE_LEN: usize = 8192;
/// The most list members a `tracestate` may have (the W3C limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// The longest `baggage` accepted, in bytes (all its headers together; the W3C limit): a
/// longer one is dropped. No longer `baggage` header is sent either.
pub const MAX_BAGGAGE_LEN: usize = 8192;
/// The most baggage entries kept of a `baggage` (the W3C limit, and OpenTelemetry's): the
/// first ones are kept, the others dropped. No more are sent either.
pub const MAX_BAGGAGE_MEMBERS: usize = 64;

/// What [`inject`] and [`extract`] carry: [`TRACE_CONTEXT`] and [`CARRIES_BAGGAGE`] bits, as
/// the last `init` was configured (both until then).
static CARRIED: AtomicU8 = AtomicU8::new(TRACE_CONTEXT | CARRIES_BAGGAGE);
const TRACE_CONTEXT: u8 = 1;
const CARRIES_BAGGAGE: u8 = 2;

/// Makes [`inject`] and [`extract`] carry the headers of `propagators` (called by `init`).
pub(crate) fn carry(propagators: &[crate::Propagator]) {
    let bits = propagators.iter().fold(0, |bits, p| {
        bits | match p {
            crate::Propagator::TraceContext => TRACE_CONTEXT,
            crate::Propagator::Baggage => CARRIES_BAGGAGE,
        }
    });
    CARRIED.store(bits, Ordering::Relaxed);
}

/// The propagator [`inject`] and [`extract`] use: the configured headers.
fn carried() -> W3cPropagator {
    let bits = CARRIED.load(Ordering::Relaxed);
    W3cPropagator::carrying(bits & TRACE_CONTEXT != 0, bits & CARRIES_BAGGAGE != 0)
}

/// `field` when the configured propagators carry it (`wanted`), else absent: not read at all.
fn if_carried<'a>(wanted: bool, field: impl FnOnce() -> Field<'a>) -> Field<'a> {
    if wanted { field() } else { Field::Absent }
}

static CONTEXTS_REJECTED: AtomicU64 = AtomicU64::new(0);
static BAGGAGE_REJECTED: AtomicU64 = AtomicU64::new(0);

/// Incoming trace contexts rejected, wholly or in part, since the process started (see the
/// module docs).
pub(crate) fn contexts_rejected() -> u64 {
    CONTEXTS_REJECTED.load(Ordering::Relaxed)
}

/// Incoming baggage dropped, wholly or in part, since the process started (see the module
/// docs).
pub(crate) fn baggage_rejected() -> u64 {
    BAGGAGE_REJECTED.load(Ordering::Relaxed)
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
    // root godtrace sampled out, that root's trace, not sampled, so downstream drops it too.
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
    carried().inject_context(cx, &mut Dyn(injector));
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
    let carried = carried();
    let fields = Fields {
        traceparent: if_carried(carried.trace_context, || {
            field(extractor.get_all(TRACEPARENT))
        }),
        tracestate: if_carried(carried.trace_context, || {
            field(extractor.get_all(TRACESTATE))
        }),
    };
    let baggage = if_carried(carried.baggage, || {
        baggage_field(extractor.get_all(BAGGAGE))
    });
    from_fields(&fields, &baggage)
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
