//! The godtrace span of one bridged `tracing` span: started under the right parent, written by
//! the layer only, behind a lock (a `tracing` span may be entered on several threads at once).
use super::Bridged;
use super::fields::{SpanUpdates, SpanVisitor};
use crate::span::{DetachedSpan, OpSpan};
use crate::value::EventAttributes;
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use tracing::Metadata;
use tracing::span::Record as Values;

/// Where a new `tracing` span starts.
pub(super) enum Parent {
    /// Under the innermost current span of this thread.
    Current,
    /// Under this context (a bridged span's, given as `parent:`).
    Explicit(Context),
    /// A new trace (`parent: None`).
    Root,
}

/// A recorded bridged span.
pub(super) struct Record {
    inner: Mutex<Inner>,
}

/// What the lock of a [`Record`] guards.
struct Inner {
    span: DetachedSpan,
    /// What `otel.status_code` and `otel.status_description` ask for, set when the span
    /// ends (the two fields may be recorded at different times). Boxed: most spans have
    /// neither, and a smaller record is cheaper to move into the span's extensions.
    asked: Option<Box<AskedStatus>>,
}

/// See [`Inner::asked`].
#[derive(Default)]
struct AskedStatus {
    /// `Some(true)`: Ok.
    ok: Option<bool>,
    description: Option<String>,
}

impl Inner {
    /// Sets the status the span's fields asked for, if any, and `error.type` if it ends failed
    /// without one.
    fn set_asked_status(&mut self) {
        let status = self.asked.take().and_then(|asked| match asked.ok {
            Some(true) => Some(Status::Ok),
            Some(false) => Some(Status::error(asked.description.unwrap_or_default())),
            None => None,
        });
        if let Some(status) = status {
            self.span.span().set_status(status);
        }
        // The conventions ask a failed span for an `error.type`, and `SpanGuard::set_error`
        // gives a manual span the same. Set at the end, as the status is final then (a later
        // `otel.status_code = ok` clears an ERROR event's failure). A bridged span has no
        // duration histogram to agree with.
        self.span
            .span()
            .type_failure(crate::record::error_type::OTHER);
    }

    /// Keeps the status parts of `updates`.
    fn merge(&mut self, updates: SpanUpdates) {
        if updates.ok.is_none() && updates.description.is_none() {
            return;
        }
        let asked = self.asked.get_or_insert_default();
        if updates.ok.is_some() {
            asked.ok = updates.ok;
        }
        if updates.description.is_some() {
            asked.description = updates.description;
        }
    }
}

impl Record {
    /// Starts the span named `name` under `parent`: its record when it is recorded, and the
    /// context its children start under (its own ids, or, sampled out, the decision it
    /// carries). `None` when there is nothing to keep (telemetry suppressed here).
    #[inline]
    pub(super) fn start(
        name: Cow<'static, str>,
        kind: Option<SpanKind>,
        parent: Parent,
    ) -> Option<Bridged> {
        let explicit = match &parent {
            Parent::Current => None,
            Parent::Explicit(cx) => Some(cx.clone()),
            Parent::Root => Some(Context::new()),
        };
        // Sampled out, what its children follow is carried below.
        let span = OpSpan::start_named(name, kind.unwrap_or(SpanKind::Internal), explicit, false)
            .map(DetachedSpan::new);
        match span {
            Some(span) if span.span().is_recording() => Some(Bridged {
                context: span.context(),
                record: Some(Arc::new(Record {
                    inner: Mutex::new(Inner { span, asked: None }),
                })),
                transparent: false,
            }),
            // Sampled out: children follow the decision its own context carries (a root's
            // ids), or, under a sampled-out parent, that parent's.
            span => {
                let own = span.map(|s| s.context()).filter(has_span);
                let carried = own.or_else(|| match parent {
                    Parent::Current => Some(crate::span::current_context()),
                    Parent::Explicit(cx) => Some(cx),
                    Parent::Root => None,
                });
                carried.filter(has_span).map(|context| Bridged {
                    context,
                    record: None,
                    transparent: false,
                })
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while the lock was held left nothing half-written that matters here.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the span.
    fn with(&self, f: impl FnOnce(&OpSpan)) {
        f(self.lock().span.span());
    }

    /// Sets a new span's first attributes, which `fill` pushes into the span's own list and
    /// returns whether their keys are known to be distinct and non-empty (see
    /// [`SiteFacts::distinct_keys`]); no lock: the record is not shared yet. `capacity`: how
    /// many it is likely to push.
    #[inline(always)]
    pub(super) fn init(&mut self, capacity: usize, fill: impl FnOnce(&mut Vec<KeyValue>) -> bool) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner
            .span
            .span()
            .record_first_attributes(capacity, |attributes| {
                // A field may repeat a key the bridge writes (`code.line.number`,
                // `exception.message` beside an error) or have none: one per key, as later
                // `record`s set them.
                if fill(attributes) {
                    0
                } else {
                    crate::value::one_per_key(attributes)
                }
            });
    }

    /// Keeps the status a new span's fields ask for (no lock: the record is not shared yet).
    pub(super) fn ask_status(&mut self, updates: SpanUpdates) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner.merge(updates);
    }

    /// Applies fields recorded later (`Span::record`, read by [`fields_of`]): attributes,
    /// the name and kind, and the status `otel.*` asks for.
    pub(super) fn apply(&self, attributes: Vec<KeyValue>, mut updates: SpanUpdates) {
        let (name, kind) = (updates.name.take(), updates.kind.take());
        let mut inner = self.lock();
        let span = inner.span.span();
        attributes.into_iter().for_each(|a| span.record_owned(a));
        if name.is_some() || kind.is_some() {
            span.rename(name, kind);
        }
        inner.merge(updates);
    }

    /// Adds an event; when `fails`, marks the span failed, described by the error's text
    /// (`exception.message`) when the event has one, else by the event's name.
    pub(super) fn add_event(
        &self,
        name: Cow<'static, str>,
        attributes: EventAttributes,
        fails: bool,
    ) {
        self.with(|span| {
            if fails {
                span.set_status(failed_status(|| name.clone(), &attributes));
            }
            span.add_event(name, attributes);
        });
    }

    /// Sets an attribute (`godtrace::set_attribute` in the span): as on a span of godtrace's.
    pub(super) fn set_attribute(&self, attribute: KeyValue) {
        self.with(|span| span.record_owned(attribute));
    }

    /// Links the span to one it follows from.
    pub(super) fn follows_from(&self, span_context: SpanContext) {
        if span_context.is_valid() {
            self.with(|span| span.add_link(span_context));
        }
    }

    /// Ends the span, with the status its fields asked for, once `record` is its last handle
    /// (always, but for an entry a thread could not take off its list: see `exit`).
    pub(super) fn end(record: Arc<Record>) {
        match Arc::try_unwrap(record) {
            // In place (no lock: the record is no longer shared), not moved out of the lock.
            Ok(mut record) => {
                let inner = record
                    .inner
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner);
                inner.set_asked_status();
                // Dropping the record drops its span, which ends it.
            }
            Err(shared) => shared.lock().set_asked_status(),
        }
    }
}

/// Reads fields recorded later (`Span::record`): their attributes and `otel.*` updates.
pub(super) fn fields_of(values: &Values<'_>) -> (Vec<KeyValue>, SpanUpdates) {
    let mut attributes = Vec::with_capacity(values.len());
    let mut updates = SpanUpdates::default();
    values.record(&mut SpanVisitor::new(Some(&mut attributes), &mut updates));
    (attributes, updates)
}

/// Whether `cx` has a span context to carry.
pub(super) fn has_span(cx: &Context) -> bool {
    cx.span().span_context().is_valid()
}

/// The most call sites whose facts are kept; past it, the facts of new call sites are worked
/// out again for each span.
const MAX_SITES: usize = 4096;

/// What the spans of one call site share, worked out once per call site ([`site_facts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SiteFacts {
    /// Whether a field is named `otel.*`, and so may set the span's name, kind or status.
    pub(super) has_span_updates: bool,
    /// Whether the keys of the attributes a span of the site starts with are non-empty and
    /// distinct whatever its fields hold: its fields' names (as cut to the key limit), the
    /// `code.*` keys and one `exception.message` (an error value's), all told apart.
    pub(super) distinct_keys: bool,
}

impl SiteFacts {
    /// Facts of no site: an empty slot of [`RECENT`].
    const NONE: SiteFacts = SiteFacts {
        has_span_updates: false,
        distinct_keys: false,
    };

    /// The facts of `meta`'s site.
    fn of(meta: &'static Metadata<'static>) -> SiteFacts {
        let names = || meta.fields().iter().map(|f| f.name());
        SiteFacts {
            has_span_updates: super::fields::has_span_updates(names()),
            distinct_keys: distinct_keys(names()),
        }
    }
}

/// Whether the keys a span with fields `names` starts with are non-empty and distinct (see
/// [`SiteFacts::distinct_keys`]). Quadratic: a call site has at most 32 fields.
fn distinct_keys<'a>(names: impl Iterator<Item = &'a str>) -> bool {
    let bridges = crate::value::CALL_SITE_KEYS.into_iter();
    let keys: Vec<&str> = names
        .map(crate::value::key_prefix)
        .chain(bridges)
        .chain([super::fields::EXCEPTION_MESSAGE])
        .collect();
    keys.iter()
        .enumerate()
        .all(|(at, key)| !key.is_empty() && !keys[..at].contains(key))
}

/// The facts of each call site, by the address of its metadata.
type Sites = HashMap<usize, SiteFacts, AddressHash>;

/// The [`Sites`] of the process.
static SITES: LazyLock<RwLock<Sites>> = LazyLock::new(Default::default);

/// Hashes an address by itself (addresses of `static` metadata are distinct, and their low
/// bits are alignment): a lookup per span costs no SipHash.
type AddressHash = std::hash::BuildHasherDefault<AddressHasher>;

/// See [`AddressHash`].
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        // Spread the bits hashbrown reads (top 7 for the tag, low ones for the bucket).
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }
    fn write_usize(&mut self, address: usize) {
        self.0 = address as u64;
    }
}

/// The facts of the call site of `meta`, worked out once per call site.
pub(super) fn site_facts(meta: &'static Metadata<'static>) -> SiteFacts {
    let key = std::ptr::from_ref(meta) as usize;
    let slot = recent_slot(key);
    let cached = RECENT.try_with(|recent| {
        let (seen, facts) = recent[slot].get();
        (seen == key).then_some(facts)
    });
    if let Ok(Some(facts)) = cached {
        return facts;
    }
    let facts = kept_facts(&SITES, MAX_SITES, key, || SiteFacts::of(meta));
    let _ = RECENT.try_with(|recent| recent[slot].set((key, facts)));
    facts
}

/// How many call sites [`RECENT`] holds (a power of two).
const RECENT_SLOTS: usize = 64;

thread_local! {
    /// The facts this thread looked up last, one per slot of their address's hash: found
    /// again with one comparison, without a lock or a hash map. `const` and without `Drop`:
    /// no destructor to register, readable while the thread exits.
    static RECENT: [Cell<(usize, SiteFacts)>; RECENT_SLOTS] =
        const { [const { Cell::new((0, SiteFacts::NONE)) }; RECENT_SLOTS] };
}

/// The slot of [`RECENT`] for the metadata at `address`.
fn recent_slot(address: usize) -> usize {
    // The top bits of a Fibonacci hash: spread even for addresses a few bytes apart.
    (address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
        >> (usize::BITS - RECENT_SLOTS.trailing_zeros())
}

/// The facts `sites` keeps for `key`, made by `make` when `sites` has none; kept while it
/// holds fewer than `max`.
fn kept_facts(
    sites: &RwLock<Sites>,
    max: usize,
    key: usize,
    make: impl FnOnce() -> SiteFacts,
) -> SiteFacts {
    if let Some(facts) = sites
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return *facts;
    }
    let mut sites = sites.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(facts) = sites.get(&key) {
        return *facts; // another thread got there first
    }
    let facts = make();
    if sites.len() < max {
        sites.insert(key, facts);
    }
    facts
}

/// The status an ERROR event that fails its span gives it, whichever span that is: described
/// by the error's text (`exception.message`) when the event has one, else by its message.
pub(super) fn failed_status(
    name: impl FnOnce() -> Cow<'static, str>,
    attributes: &EventAttributes,
) -> Status {
    match attributes.get("exception.message") {
        Some(message) => Status::error(message.as_str().into_owned()),
        None => Status::error(name()),
    }
}

#[cfg(test)]
mod tests {
    use super::{SiteFacts, Sites, distinct_keys, kept_facts};
    use std::cell::Cell;
    use std::sync::RwLock;

    #[test]
    fn past_the_bound_no_site_is_kept() {
        let sites = RwLock::new(Sites::default());
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            SiteFacts::NONE
        };
        kept_facts(&sites, 1, 1, make);
        kept_facts(&sites, 1, 1, make);
        for _ in 0..3 {
            kept_facts(&sites, 1, 2, make);
        }
        assert_eq!(made.get(), 4, "site 1 made once, site 2 each time");
        assert_eq!(sites.read().unwrap().len(), 1);
    }

    #[test]
    fn keys_are_distinct_unless_a_field_repeats_one_or_has_none() {
        assert!(distinct_keys(["wallet", "rows"].into_iter()));
        assert!(distinct_keys(std::iter::empty()));
        assert!(!distinct_keys(["rows", "rows"].into_iter()));
        assert!(!distinct_keys(["code.line.number"].into_iter()));
        assert!(!distinct_keys(["exception.message"].into_iter()));
        assert!(!distinct_keys([""].into_iter()));
        // Told apart as cut to the key limit.
        let (a, b) = ("k".repeat(300), format!("{}x", "k".repeat(299)));
        assert!(!distinct_keys([a.as_str(), b.as_str()].into_iter()));
    }
}
