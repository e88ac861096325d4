//! A span godtrace records itself, without the SDK: ids, one clock reading at each end, and the
//! attributes, events and status set while it runs. It stays inline in its `OpSpan` (no
//! allocation for a span without attributes) and becomes [`SpanData`](opentelemetry_sdk::trace::SpanData) only where it is
//! exported or captured, which for OTLP is the export thread.
use super::clock;
use super::clock::Tick;
use super::site::CallSite;
use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::ptr::NonNull;

use std::sync::LazyLock;

/// The span limits (SDK defaults unless `OTEL_SPAN_*_COUNT_LIMIT` say otherwise).
use crate::config::limits::{
    span_attributes as max_attributes, span_events as max_events, span_links as max_links,
};

/// What names a span: a traced function's call site (its name, kind and `code.*` attributes
/// are read when the span is exported) or a name and kind given to the manual API.
#[derive(Clone)]
pub(crate) enum Name {
    Site(&'static CallSite),
    Given(Cow<'static, str>, SpanKind),
}

/// A span while it runs. On the heap (in a box from a per-thread pool of spares, so that
/// recording allocates nothing in the steady state) to keep `OpSpan`, and the futures that hold
/// one, small, and to give it a fixed address for the thread's list of current spans. Owned
/// through a [`LiveBox`] while it runs, a plain `Box` once it has ended ([`Finished`]).
pub(crate) struct Live {
    pub(crate) span_context: SpanContext,
    pub(crate) parent_span_id: SpanId,
    parent_is_remote: bool,
    name: Name,
    fields: RefCell<Fields>,
    /// The span that was current when this one was entered (see `current`).
    pub(super) prev: Cell<Option<Link>>,
    /// The span entered right above this one, while this one is on the list below its top.
    /// Not kept up otherwise, so that a span leaving the top writes nothing here: read only
    /// for a span on the list and not on top (see [`remove_current`]).
    next: Cell<Option<Link>>,
    /// Whether the span is on this thread's list of current spans (see [`Link`]).
    pub(super) linked: Cell<bool>,
    /// The span id OpenTelemetry's current context showed when this one was entered.
    pub(super) otel_seen: Cell<SpanId>,
    /// What the span current before this one noted as `otel_seen` (`INVALID` for none): an
    /// older state of OpenTelemetry's context, which it shows again once a context attached
    /// before this span was entered is detached inside it.
    pub(super) otel_seen_below: Cell<SpanId>,
    /// The span id OpenTelemetry's current context shows when a sync call enters the span
    /// right after its start, when the start path knows it: what it showed when the span's
    /// parent was read, or the span's own when the span's context is attached there
    /// (`Config::otel_context`). The call then records it as `otel_seen` without reading
    /// the context again.
    pub(super) otel_seen_at_start: Cell<Option<SpanId>>,
    /// The sampled-out-root mark to put back when this span leaves, instead of the one it
    /// saved (if it saved one): handed up by the span entered right before it, which left
    /// first and whose saved mark is the one to come back (see `sampled_out`). Taken when the
    /// span leaves, or by [`Live::empty`] before its box is reused.
    pub(super) handed_mark: Cell<Option<u64>>,
}

// SAFETY: `prev` and `next` are only followed through the list of the thread the span is linked on
// (`current` links and unlinks on the calling thread only), and a span's owner takes it off that
// list before it ends or is dropped (`LiveBox::take_box`), so a span that reaches another
// thread as a `Box` (a `Finished` for the export thread) carries no link anyone follows. The
// `Cell`s and `RefCell` are `Send`; a span is never shared between threads (not `Sync`).
unsafe impl Send for Live {}

/// The owner of a running span's record: the pointer of a leaked `Box`, taken back (to be freed or
/// recycled) in one place ([`LiveBox::take_box`]).
///
/// Not a `Box`, because the thread's list of current spans points into the record while its
/// owner moves (a guard returned or pushed into a `Vec`, a future moved between polls): moving
/// a `Box` asserts unique access to what it points at, which invalidates every other pointer
/// into it (undefined behaviour under Stacked and Tree Borrows). Moving a `LiveBox` moves a
/// plain pointer; the record is only ever read through shared references (its mutable parts
/// are `Cell`s and a `RefCell`) until `take_box` takes it back, off the list.
pub(crate) struct LiveBox(NonNull<Live>);

// SAFETY: a `LiveBox` owns its `Live`, which is `Send`. While the span is linked, its owner
// stays on the thread whose list points at it (`current::push`'s contract), so no two threads
// reach the record at once.
unsafe impl Send for LiveBox {}

impl Deref for LiveBox {
    type Target = Live;

    #[inline(always)]
    fn deref(&self) -> &Live {
        // SAFETY: the pointer comes from a `Box` (`LiveBox::new`) and the record stays
        // allocated until `take_box`, which takes the owner by `&mut` (after the last use of
        // this reference) and only once. No `&mut Live` exists while the owner does: the record
        // is only read through shared references like this one and `Link::get`.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for LiveBox {
    #[inline]
    fn drop(&mut self) {
        Live::recycle(self.take_box());
    }
}

impl LiveBox {
    fn new(boxed: Box<Live>) -> LiveBox {
        LiveBox(NonNull::from(Box::leak(boxed)))
    }

    /// The pointer the thread's list of current spans keeps (see `current::push`).
    #[inline(always)]
    pub(super) fn link(&self) -> Link {
        Link(self.0)
    }

    /// The record as a `Box` again: the one place its pointer is taken back, by `drop` or by
    /// `finish` (which then forgets the owner). A span still on this thread's list (its owner
    /// let go without leaving it) is taken off first.
    #[inline]
    fn take_box(&mut self) -> Box<Live> {
        if self.linked.get() {
            remove_current(self);
        }
        // SAFETY: the pointer came from `Box::leak` in `new` and is taken back once (the two
        // callers never both run for one owner). The span is on no list (a linked span is on
        // this thread's, `current::push`'s contract, and was just taken off), so no `Link` to
        // it remains. No reference to the record is in use: none from `deref` outlives the
        // `&mut self` borrowed here, and those read from the list (`Link::get`) are used, and
        // held in no function's argument, only until code that could drop an owner runs (see
        // `current::ParentAt`).
        unsafe { Box::from_raw(self.0.as_ptr()) }
    }

    /// Ends the span.
    #[inline]
    pub(crate) fn finish(mut self, start: Tick, end: Tick) -> Finished {
        let live = self.take_box();
        // Its box was taken back just above: nothing left to drop.
        std::mem::forget(self);
        // A name given after the start (`Live::rename`) is applied where the span is read, off
        // the calling thread (`Finished::recorded`, `Finished::into_span_data`).
        Finished { live, start, end }
    }

    /// [`LiveBox::finish`] of a span its owner took off the thread's list already (a traced
    /// call's span, which leaves the list before it ends); a span still on it is given back,
    /// for `finish`. The record sink's common path: with the rare unlinking call kept out of it,
    /// what it holds (the sink, the ticks) need not be saved across a call.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    #[inline(always)]
    pub(crate) fn finish_off_list(self, start: Tick, end: Tick) -> Result<Finished, LiveBox> {
        if self.linked.get() {
            return Err(self);
        }
        let live = std::mem::ManuallyDrop::new(self);
        // SAFETY: the pointer came from `Box::leak` in `new`, and its owner is consumed here
        // without being dropped (`ManuallyDrop`), so it is taken back once, as `take_box`
        // would. The span is on no list (not linked, checked just above), so no `Link` to it
        // remains, and no reference from `deref` outlives the owner.
        let live = unsafe { Box::from_raw(live.0.as_ptr()) };
        Ok(Finished { live, start, end })
    }
}

/// What the hot path keeps of this thread, in one thread-local: a traced call then computes
/// one thread-local address, where a thread-local per value cost two or three instructions
/// each. No destructor: readable while the thread exits.
pub(super) struct ThisThread {
    /// The top of this thread's list of current spans: the innermost entered span; each links
    /// to the one entered before it (`Live::prev`).
    top: Cell<Option<Link>>,
    /// The mark of the sampled-out root this thread runs under (`sampled_out`); 0 for none.
    pub(super) sampled_out_root: Cell<u64>,
    /// How many spans current on this thread hold a sampled-out-root mark (`sampled_out`).
    pub(super) marks_held: Cell<u32>,
    /// The state of this thread's random generator (`sampling`); 0 until it is seeded.
    pub(super) random: Cell<u64>,
    /// Whether OpenTelemetry's context can be read on this thread (see
    /// `current::otel_context_usable`); `None` until checked.
    pub(super) otel_context_usable: Cell<Option<bool>>,
    /// Whether `current::restore` kept guards of OpenTelemetry contexts to drop later.
    pub(super) guards_kept: Cell<bool>,
    /// How many of the contexts godtrace made current on this thread, and that are still
    /// attached, are worth taking along by a span that may run elsewhere (see
    /// `span::carried::is_worth_carrying`).
    pub(super) carrying_attached: Cell<u32>,
    /// This thread's spare records, emptied, for its next spans (recording then allocates
    /// nothing in the steady state): the first `spare_count`, each a leaked `Box` owned here
    /// (the others are left as they were: not owned, never read). Not a `Vec`, which would need
    /// a destructor (and a `RefCell`).
    spares: [Cell<NonNull<Live>>; MAX_SPARES],
    /// How many of `spares` hold a record.
    spare_count: Cell<usize>,
    /// Whether this thread keeps spares: `None` until its first is kept, which registers
    /// `spares::SparesOwner` to free them when the thread exits; `false` once that has run (or
    /// could not be registered, the thread exiting already).
    keeps_spares: Cell<Option<bool>>,
}

thread_local! {
    static THIS_THREAD: ThisThread = const {
        ThisThread {
            top: Cell::new(None),
            sampled_out_root: Cell::new(0),
            marks_held: Cell::new(0),
            random: Cell::new(0),
            otel_context_usable: Cell::new(None),
            guards_kept: Cell::new(false),
            carrying_attached: Cell::new(0),
            spares: [const { Cell::new(NonNull::dangling()) }; MAX_SPARES],
            spare_count: Cell::new(0),
            keeps_spares: Cell::new(None),
        }
    };
}

/// This thread's [`ThisThread`].
///
/// A reference rather than a closure run by `LocalKey::with`: that call, generic over the
/// closure, was left out of line (a call through the thread-local's accessor) where the
/// closure was any bigger than one read.
#[inline(always)]
pub(super) fn this_thread() -> &'static ThisThread {
    let thread = THIS_THREAD.with(std::ptr::from_ref);
    // SAFETY: a `const` thread-local without a destructor is never dropped where the target
    // has native thread-locals (Linux, macOS and Windows among them: std keeps it in the
    // thread's own block, with no destructor to register): it stays valid as long as its
    // thread runs code, the thread-locals' destructors included. (On a target without them,
    // std frees it in its key's destructor, after which `with` panics rather than give a
    // pointer; no caller holds the reference across a thread-local's destructor.) The reference
    // cannot leave this thread: `ThisThread` is not `Sync` (its `Cell`s), so the reference is
    // not `Send`, and cannot be put in a `static` either.
    unsafe { &*thread }
}

/// What is set on a span while it runs.
#[derive(Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    /// Spans this one follows from (`SpanGuard::follows_from`).
    links: Vec<opentelemetry::trace::Link>,
    dropped_links: u32,
    status: Status,
    /// A new name and kind, given after the span started (`Live::rename`).
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    renamed: (Option<Cow<'static, str>>, Option<SpanKind>),
}

/// What a span's record keeps of its parent: its span id (invalid for a root) and whether it
/// came from another process.
#[derive(Clone, Copy)]
pub(crate) struct ParentIds {
    span_id: SpanId,
    is_remote: bool,
    /// The span id OpenTelemetry's current context showed when the parent was read, if the
    /// caller knows it (see `Live::otel_seen_at_start`).
    otel_seen: Option<SpanId>,
}

impl ParentIds {
    /// The parent of a root span.
    pub(crate) const NONE: ParentIds = ParentIds {
        span_id: SpanId::INVALID,
        is_remote: false,
        otel_seen: None,
    };

    /// The ids of `parent` (`None` for a root).
    #[inline(always)]
    pub(crate) fn of(parent: Option<&SpanContext>) -> ParentIds {
        match parent {
            Some(parent) => ParentIds {
                span_id: parent.span_id(),
                is_remote: parent.is_remote(),
                otel_seen: None,
            },
            None => ParentIds::NONE,
        }
    }

    /// These ids, read where OpenTelemetry's current context showed span id `otel_seen`.
    #[inline(always)]
    pub(crate) fn seen_with(self, otel_seen: SpanId) -> ParentIds {
        ParentIds {
            otel_seen: Some(otel_seen),
            ..self
        }
    }
}

impl Live {
    /// A span with id `span_context` under `parent` (`None` for a root), with `attributes`
    /// set from the start.
    #[inline(always)]
    pub(crate) fn start(
        span_context: SpanContext,
        parent: Option<&SpanContext>,
        name: Name,
        attributes: Vec<KeyValue>,
    ) -> LiveBox {
        Live::start_under(span_context, ParentIds::of(parent), name, attributes)
    }

    /// [`Live::start`] with the parent's ids already read (they are all a record keeps of it).
    #[inline(always)]
    pub(crate) fn start_under(
        span_context: SpanContext,
        parent: ParentIds,
        name: Name,
        attributes: Vec<KeyValue>,
    ) -> LiveBox {
        match take_spare() {
            // Only what differs from an emptied record is written: no record is built on the
            // stack and copied into the box.
            Some(Spare(mut boxed)) => {
                boxed.reuse(span_context, parent, name, attributes);
                LiveBox::new(boxed)
            }
            None => Live::start_boxed(span_context, parent, name, attributes),
        }
    }

    /// [`Live::start_under`] without attributes yet ([`Live::record_start_attributes`]), with the
    /// ids `ids` makes once the record is taken: they are then written into it in place, not
    /// built on the stack and copied.
    #[inline(always)]
    pub(crate) fn start_with_ids(
        ids: impl FnOnce() -> SpanContext,
        parent: ParentIds,
        name: Name,
    ) -> LiveBox {
        let Some(Spare(mut boxed)) = take_spare() else {
            return Live::start_boxed(ids(), parent, name, Vec::new());
        };
        boxed.reuse(ids(), parent, name, Vec::new());
        LiveBox::new(boxed)
    }

    /// A kept child of `parent`, the innermost span of this thread, with the ids
    /// `write_child_of` writes from the parent's over an emptied record's (the caller's
    /// decision, in `parent`'s trace), as a traced call starts it: the ids are written into the
    /// record straight from the parent's, with nothing built on the stack and copied (the
    /// record is taken first), and no attributes yet
    /// ([`Live::record_start_attributes`]). `otel_seen` is the span id OpenTelemetry's context
    /// shows now (see `Live::otel_seen_at_start`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(crate) fn start_child(
        parent: &Live,
        otel_seen: SpanId,
        write_child_of: impl FnOnce(&SpanContext, &mut SpanContext),
        name: Name,
    ) -> LiveBox {
        let ids = &parent.span_context;
        let Some(Spare(mut boxed)) = take_spare() else {
            let mut span_context = SpanContext::NONE;
            write_child_of(ids, &mut span_context);
            let parent = ParentIds::of(Some(ids)).seen_with(otel_seen);
            return Live::start_boxed(span_context, parent, name, Vec::new());
        };
        // As in `reuse`: the emptied values replaced here own no memory.
        write_child_of(ids, &mut boxed.span_context);
        boxed.parent_span_id = ids.span_id();
        boxed.parent_is_remote = ids.is_remote();
        *boxed.otel_seen_at_start.get_mut() = Some(otel_seen);
        std::mem::forget(std::mem::replace(&mut boxed.name, name));
        LiveBox::new(boxed)
    }

    /// Records the `arg_count` attributes `record_args` pushes (a traced call's arguments)
    /// into a span just started (by [`Live::start_child`] or [`Live::start_under`], its
    /// attribute list still empty), in the record's own list: a reused record keeps that
    /// list's capacity ([`Fields::clear`]), so that in the steady state nothing is allocated
    /// for it.
    ///
    /// The list is taken out of the record while `record_args` runs: that is the caller's code
    /// (`Debug`, `Display`, `fields(..)` expressions), which may start and end spans of its own
    /// on this thread, or panic. No borrow of the record is held meanwhile, and a panic drops
    /// the list with what was pushed into it (the record is left with an empty one).
    #[inline(never)]
    pub(crate) fn record_start_attributes(
        &self,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) {
        self.fill_start_attributes(arg_count, |attributes| {
            record_args(attributes);
            0
        });
    }

    /// [`Live::record_start_attributes`] in line (for the bridge and the layers, each of which
    /// starts spans from one place), `fill` returning how many attributes it left out (keyless,
    /// or a key repeated: see `value::one_per_key`), which are counted dropped.
    #[inline(always)]
    pub(crate) fn fill_start_attributes(
        &self,
        capacity: usize,
        fill: impl FnOnce(&mut Vec<KeyValue>) -> usize,
    ) {
        let mut attributes = std::mem::take(&mut self.fields.borrow_mut().attributes);
        attributes.reserve(capacity);
        let left_out = fill(&mut attributes);
        let room = max_attributes().saturating_sub(self.call_site_keys().len());
        // The count limit holds for the arguments and fields too (in their order), as for
        // what is set later: past it they are dropped and counted.
        if attributes.len() > room || left_out > 0 {
            let over = attributes.len().saturating_sub(room);
            attributes.truncate(room);
            let dropped = &mut self.fields.borrow_mut().dropped_attributes;
            *dropped = dropped.saturating_add(u32::try_from(over + left_out).unwrap_or(u32::MAX));
        }
        let left = std::mem::replace(&mut self.fields.borrow_mut().attributes, attributes);
        // What `take` left: nothing reaches the record's list meanwhile (the span is on no
        // list yet, and only its owner, our caller, holds it), so it owns nothing, and the
        // drop call is spared. Dropped all the same if it does.
        if left.capacity() == 0 {
            std::mem::forget(left);
        } else {
            drop_out_of_line(left);
        }
    }

    /// [`Live::start`] in a new box (no spare at hand: the first spans of a thread).
    #[cold]
    #[inline(never)]
    fn start_boxed(
        span_context: SpanContext,
        parent: ParentIds,
        name: Name,
        attributes: Vec<KeyValue>,
    ) -> LiveBox {
        let mut boxed = Box::new(Live::emptied());
        boxed.reuse(span_context, parent, name, attributes);
        LiveBox::new(boxed)
    }

    /// A new record, owning nothing, as [`Live::empty`] leaves one (but for the capacity of
    /// its attribute list, which a new record does not have yet).
    fn emptied() -> Live {
        Live {
            span_context: SpanContext::NONE,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name: Name::Given(Cow::Borrowed(""), SpanKind::Internal),
            fields: RefCell::new(Fields::default()),
            prev: Cell::new(None),
            next: Cell::new(None),
            linked: Cell::new(false),
            otel_seen: Cell::new(SpanId::INVALID),
            otel_seen_below: Cell::new(SpanId::INVALID),
            otel_seen_at_start: Cell::new(None),
            handed_mark: Cell::new(None),
        }
    }

    /// Drops what the span held, keeping its box, for the next span: afterwards the record owns
    /// no memory but its attribute list's capacity (bounded, see [`Fields::clear`]), and its
    /// [`Fields`] are at their defaults otherwise (no elements, counts, status or rename), which
    /// [`Live::reuse`] and [`Live::start_child`] rely on.
    ///
    /// Only what holds something is written: this runs on the export thread for every span it
    /// exported, and a line written there is one the recording thread must pull back, modified,
    /// when it takes the box. The ids, parent and name are left as they are when they own
    /// nothing (a trace state that is none, a call site's or a borrowed name): every start
    /// writes them again. `prev` and `otel_seen` are written when the span is entered, before
    /// anything reads them (`push_current`).
    #[inline(always)]
    fn empty(&mut self) {
        if self.holds_anything() {
            self.empty_what_it_holds();
        }
    }

    /// Whether [`Live::empty`] has anything to write: every field read, one branch.
    #[inline(always)]
    fn holds_anything(&mut self) -> bool {
        let trace_state = *self.span_context.trace_state() != TraceState::NONE;
        let owned_name = matches!(self.name, Name::Given(Cow::Owned(_), _));
        let handed = self.handed_mark.get_mut().is_some();
        trace_state
            | owned_name
            | *self.linked.get_mut()
            | handed
            | self.fields.get_mut().hold_anything()
    }

    /// [`Live::empty`] of a record that holds something: each field that does is reset. Out of
    /// line, to keep the common case (nothing held) a few reads and a branch.
    #[inline(never)]
    fn empty_what_it_holds(&mut self) {
        if *self.span_context.trace_state() != TraceState::NONE {
            self.span_context = SpanContext::NONE;
        }
        if matches!(self.name, Name::Given(Cow::Owned(_), _)) {
            self.name = Name::Given(Cow::Borrowed(""), SpanKind::Internal);
        }
        self.fields.get_mut().clear();
        // False already: a span is taken off its thread's list before its box is given up
        // (`LiveBox::take_box`).
        if *self.linked.get_mut() {
            *self.linked.get_mut() = false;
        }
        // A mark handed to a span that left without putting one back (a kept call under no
        // mark, a span taken off by its future's poll): not the next span's.
        *self.handed_mark.get_mut() = None;
    }

    /// Makes an emptied record (see [`Live::empty`]) the record of a new span: only the fields
    /// a new span sets differently are written.
    #[inline(always)]
    fn reuse(
        &mut self,
        span_context: SpanContext,
        parent: ParentIds,
        name: Name,
        attributes: Vec<KeyValue>,
    ) {
        // The ids and name replaced here own no memory (`Live::empty` left a trace state that
        // is none, a call site's or a borrowed name): forgotten, not dropped, which spares the
        // drop code's branches. (Were one to own memory, it would leak, nothing worse.)
        std::mem::forget(std::mem::replace(&mut self.span_context, span_context));
        self.parent_span_id = parent.span_id;
        self.parent_is_remote = parent.is_remote;
        *self.otel_seen_at_start.get_mut() = parent.otel_seen;
        std::mem::forget(std::mem::replace(&mut self.name, name));
        // An empty list that never allocated (known at compile time where the caller passes
        // `Vec::new()`): the emptied record's own stays, with its capacity. A given list
        // replaces it, which is dropped: empty, but it may own memory.
        if attributes.capacity() != 0 {
            self.fields.get_mut().attributes = attributes;
        } else {
            // Nothing to free: no drop call.
            std::mem::forget(attributes);
        }
    }

    /// Keeps `boxed` for the next span started on this thread (the span has ended).
    pub(crate) fn recycle(boxed: Box<Live>) {
        let spare = Spare::from(boxed);
        this_thread().keep_spare(spare);
    }

    /// Sets `attribute`: a key set before gets the new value (the specification: setting a
    /// key again overwrites it), a new key is kept while the count limit leaves room. An empty
    /// key (the specification: keys are non-empty) and, on a `#[traced]` span, one of the
    /// `code.*` keys its call site gives it are not recorded, counted as dropped.
    pub(crate) fn set_attribute(&self, attribute: KeyValue) {
        let attribute = crate::value::bounded_attribute(attribute);
        let mut fields = self.fields.borrow_mut();
        let key = attribute.key.as_str();
        let site_keys = self.call_site_keys();
        if key.is_empty() || site_keys.contains(&key) {
            fields.dropped_attributes = fields.dropped_attributes.saturating_add(1);
        } else if let Some(kept) = fields
            .attributes
            .iter_mut()
            .find(|kept| kept.key == attribute.key)
        {
            kept.value = attribute.value;
        } else if fields.attributes.len() < max_attributes().saturating_sub(site_keys.len()) {
            fields.attributes.push(attribute);
        } else {
            fields.dropped_attributes = fields.dropped_attributes.saturating_add(1);
        }
    }

    /// Sets `attribute` unless a value was set for its key (a default, such as the
    /// `error.type` of a failure given by hand, that what the user set stays over).
    pub(crate) fn set_attribute_if_absent(&self, attribute: KeyValue) {
        let set = (self.fields.borrow().attributes.iter()).any(|kept| kept.key == attribute.key);
        if !set {
            self.set_attribute(attribute);
        }
    }

    /// The attributes a `#[traced]` span's call site gives it when it is exported (none for
    /// other spans): they are not set at run time, and count toward the attribute limit.
    fn call_site_keys(&self) -> &'static [&'static str] {
        match self.name {
            Name::Site(_) => &crate::value::CALL_SITE_KEYS,
            Name::Given(..) => &[],
        }
    }

    /// Adds an event, keeping at most the event attribute count limit of its attributes and
    /// counting the others as dropped on the event.
    pub(crate) fn add_event(
        &self,
        name: Cow<'static, str>,
        attributes: impl Into<crate::value::EventAttributes>,
    ) {
        let mut fields = self.fields.borrow_mut();
        if fields.events.len() < max_events() {
            let (kept, dropped) = attributes.into().into_parts();
            let timestamp = clock::wall(clock::now());
            let name = crate::value::bounded_name(name);
            fields
                .events
                .push(Event::new(name, timestamp, kept, dropped));
        } else {
            fields.dropped_events += 1;
        }
    }

    /// Links this span to `span_context` (one it follows from), keeping at most the span link
    /// count limit and counting the others as dropped.
    pub(crate) fn add_link(&self, span_context: SpanContext) {
        let mut fields = self.fields.borrow_mut();
        if fields.links.len() < max_links() {
            fields
                .links
                .push(opentelemetry::trace::Link::with_context(span_context));
        } else {
            fields.dropped_links += 1;
        }
    }

    /// Gives the span a new name and/or kind (a bridged `tracing` span's `otel.name` or
    /// `otel.kind` recorded after it started, a gRPC server call its server does not
    /// implement), applied when it is exported.
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    pub(crate) fn rename(&self, name: Option<Cow<'static, str>>, kind: Option<SpanKind>) {
        let renamed = &mut self.fields.borrow_mut().renamed;
        if let Some(name) = name {
            renamed.0 = Some(crate::value::bounded_name(name));
        }
        if kind.is_some() {
            renamed.1 = kind;
        }
    }

    /// Makes a name and kind given by [`Live::rename`] the span's own, once, where a finished
    /// span is read (for the OTLP encoder, or as `SpanData`): every reader sees the one name.
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    #[inline(always)]
    fn apply_rename(&mut self) {
        let renamed = &self.fields.get_mut().renamed;
        if renamed.0.is_some() || renamed.1.is_some() {
            self.apply_rename_slow();
        }
    }

    #[cfg(any(feature = "tracing", feature = "tonic"))]
    #[cold]
    #[inline(never)]
    fn apply_rename_slow(&mut self) {
        let (name, kind) = std::mem::take(&mut self.fields.get_mut().renamed);
        let placeholder = Name::Given(Cow::Borrowed(""), SpanKind::Internal);
        let (old_name, old_kind) = match std::mem::replace(&mut self.name, placeholder) {
            Name::Site(site) => (Cow::Borrowed(site.name()), site.kind.clone()),
            Name::Given(name, kind) => (name, kind),
        };
        self.name = Name::Given(name.unwrap_or(old_name), kind.unwrap_or(old_kind));
    }

    /// Whether the span's status is Error.
    #[cfg(feature = "tracing")]
    pub(crate) fn is_failed(&self) -> bool {
        matches!(self.fields.borrow().status, Status::Error { .. })
    }

    /// Sets the status as the specification says: Ok is final, Unset never replaces
    /// anything, and an error replaces an earlier one (the last description is kept; not the
    /// greater, as comparing two `Status` values would). The description is bounded as
    /// attribute values are, and the credentials in URLs it names are redacted: it is the
    /// user's error text (an HTTP client's error names its URL, API key and all).
    pub(crate) fn set_status(&self, status: Status) {
        let limit = crate::value::max_attribute_len();
        let status = match status {
            // Cut first, then redacted (a cut URL as cut): the work is bounded by the limit,
            // not by the text's length.
            Status::Error { description } if description.len() > limit => {
                Status::error(crate::redact::error_text_within(&description, limit))
            }
            Status::Error { description } => match crate::redact::urls_in(&description) {
                Some(redacted) => Status::error(crate::value::bounded_text(&redacted, limit)),
                None => Status::Error { description },
            },
            status => status,
        };
        let mut fields = self.fields.borrow_mut();
        match (&fields.status, &status) {
            (Status::Ok, _) | (_, Status::Unset) => {}
            // A failure with nothing to say (a layer's, which knows only the status code) keeps
            // the description an earlier one gave (a handler's panic, its error).
            (Status::Error { .. }, Status::Error { description }) if description.is_empty() => {}
            _ => fields.status = status,
        }
    }
}

/// The largest attribute list an emptied record keeps (its capacity, in attributes), for its
/// next span to record into without allocating; a larger one is dropped. 16 covers a traced
/// call's arguments and `fields(..)` and a few attributes set while it runs (lists grow 4, 8,
/// 16), and bounds what a record keeps at 16 × 56 bytes (`KeyValue`'s size): records are
/// bounded in number (the per-thread spares, the returned pool and the export queue, each
/// capped), so is this memory.
const KEPT_ATTRIBUTE_CAPACITY: usize = 16;

impl Fields {
    /// Whether any field differs from what [`Fields::clear`] leaves (see
    /// [`Live::holds_anything`]): an attribute list with elements, or with more capacity
    /// than it keeps, and any other field that differs from `Fields::default()`.
    #[inline(always)]
    fn hold_anything(&self) -> bool {
        // Every field named: a new one must be considered here.
        let Fields {
            attributes,
            dropped_attributes,
            events,
            dropped_events,
            links,
            dropped_links,
            status,
            #[cfg(any(feature = "tracing", feature = "tonic"))]
            renamed,
        } = self;
        let attributes = !attributes.is_empty() | (attributes.capacity() > KEPT_ATTRIBUTE_CAPACITY);
        let capacity = events.capacity() | links.capacity();
        let dropped = dropped_attributes | dropped_events | dropped_links;
        let held = attributes | (capacity != 0) | (dropped != 0) | !matches!(status, Status::Unset);
        #[cfg(any(feature = "tracing", feature = "tonic"))]
        let held = held | renamed.0.is_some() | renamed.1.is_some();
        held
    }

    /// Back to `Fields::default()` (called only when [`Fields::hold_anything`]), but for the
    /// attribute list's capacity: its elements are dropped, and so is the list itself when its
    /// capacity is above [`KEPT_ATTRIBUTE_CAPACITY`]. Whatever else owns memory is dropped.
    #[inline]
    fn clear(&mut self) {
        // Every field named: a new one must be considered here.
        let Fields {
            attributes,
            dropped_attributes,
            events,
            dropped_events,
            links,
            dropped_links,
            status,
            #[cfg(any(feature = "tracing", feature = "tonic"))]
            renamed,
        } = self;
        if attributes.capacity() > KEPT_ATTRIBUTE_CAPACITY {
            *attributes = Vec::new();
        } else {
            attributes.clear();
        }
        *dropped_attributes = 0;
        // Written only when they own memory: no drop call for the common empty list.
        if events.capacity() != 0 {
            *events = Vec::new();
        }
        *dropped_events = 0;
        if links.capacity() != 0 {
            *links = Vec::new();
        }
        *dropped_links = 0;
        *status = Status::Unset;
        #[cfg(any(feature = "tracing", feature = "tonic"))]
        {
            *renamed = (None, None);
        }
    }
}

/// Drops `value`, in a call of its own: for a rare case kept out of a hot path.
#[cold]
#[inline(never)]
fn drop_out_of_line<T>(value: T) {
    drop(value);
}

/// The instrumentation scope of godtrace's own spans.
pub(crate) static SCOPE: LazyLock<InstrumentationScope> = LazyLock::new(|| {
    InstrumentationScope::builder("godtrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
});

mod finished;
mod list;
mod spares;
pub(crate) use finished::Finished;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use finished::Recorded;
pub(crate) use list::Unnoted;
pub(super) use list::unnote_shown;
pub(super) use list::{
    Link, ListPosition, find_listed, has_spans_above, leave_above, leave_above_top, list_position,
    list_top, push_current, push_unlinked, remove_current, reseat_otel_seen_above,
};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use spares::return_empty_spares;
use spares::{MAX_SPARES, Spare, take_spare};
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(unused_imports, reason = "only the export thread returns boxes")
)]
pub(crate) use spares::{return_spares, set_max_returned};

#[cfg(test)]
mod clear_tests;

#[cfg(test)]
mod reuse_tests;

#[cfg(test)]
mod kept_list_tests;
