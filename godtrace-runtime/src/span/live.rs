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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

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
    /// This thread's spare records, emptied, for its next spans (recording then allocates
    /// nothing in the steady state): the first `spare_count`, each a leaked `Box` owned here
    /// (the others are left as they were: not owned, never read). Not a `Vec`, which would need
    /// a destructor (and a `RefCell`).
    spares: [Cell<NonNull<Live>>; MAX_SPARES],
    /// How many of `spares` hold a record.
    spare_count: Cell<usize>,
    /// Whether this thread keeps spares: `None` until its first is kept, which registers
    /// [`SparesOwner`] to free them when the thread exits; `false` once that has run (or
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
            spares: [const { Cell::new(NonNull::dangling()) }; MAX_SPARES],
            spare_count: Cell::new(0),
            keeps_spares: Cell::new(None),
        }
    };
    /// Frees this thread's spare records when the thread exits ([`ThisThread`] has no
    /// destructor, so that it stays readable to the end).
    static SPARES_OWNER: SparesOwner = const { SparesOwner };
}

impl ThisThread {
    /// The spare kept last, if any.
    #[inline(always)]
    fn pop_spare(&self) -> Option<Spare> {
        let last = self.spare_count.get().checked_sub(1)?;
        // SAFETY: `spare_count` never exceeds `MAX_SPARES` (`keep_spare` raises it only below
        // the array's length, `refill` to at most `REFILL`, which is no more), so `last` is
        // within `spares`.
        let spare = unsafe { self.spares.get_unchecked(last) }.get();
        self.spare_count.set(last);
        // SAFETY: the first `spare_count` of `spares` hold boxes leaked by `keep_spare` or
        // `refill` on this thread, each once; this one was just left out of them, so it is
        // taken back once.
        Some(Spare(unsafe { Box::from_raw(spare.as_ptr()) }))
    }

    /// Keeps `spare` for this thread's next span, or frees it when the thread has enough
    /// (or exits).
    #[inline]
    fn keep_spare(&self, spare: Spare) {
        let count = self.spare_count.get();
        let Some(slot) = self.spares.get(count) else {
            return;
        };
        if !self.keeps_spares() {
            return;
        }
        slot.set(NonNull::from(Box::leak(spare.0)));
        self.spare_count.set(count + 1);
    }

    /// Whether this thread may keep spares: the first time, registers [`SparesOwner`]; not
    /// once it has run (the thread exits).
    #[inline]
    fn keeps_spares(&self) -> bool {
        match self.keeps_spares.get() {
            Some(keeps) => keeps,
            None => {
                let keeps = SPARES_OWNER.try_with(|_| {}).is_ok();
                self.keeps_spares.set(Some(keeps));
                keeps
            }
        }
    }
}

/// See [`SPARES_OWNER`].
struct SparesOwner;

impl Drop for SparesOwner {
    fn drop(&mut self) {
        let thread = this_thread();
        // A span ended after this (from another thread-local's destructor) frees its record.
        thread.keeps_spares.set(Some(false));
        while let Some(spare) = thread.pop_spare() {
            drop(spare);
        }
    }
}

/// This thread's [`ThisThread`].
///
/// A reference rather than a closure run by `LocalKey::with`: that call, generic over the
/// closure, was left out of line (a call through the thread-local's accessor) where the
/// closure was any bigger than one read.
#[inline(always)]
pub(super) fn this_thread() -> &'static ThisThread {
    let thread = THIS_THREAD.with(std::ptr::from_ref);
    // SAFETY: a `const` thread-local without a destructor is never dropped: it stays valid as
    // long as its thread runs code, the thread-locals' destructors included. The reference
    // cannot leave this thread: `ThisThread` is not `Sync` (its `Cell`s), so the reference is
    // not `Send`, and cannot be put in a `static` either.
    unsafe { &*thread }
}

/// The top of this thread's list of current spans (`current` reads it).
#[inline]
pub(super) fn list_top() -> Option<Link> {
    this_thread().top.get()
}

/// Puts `live` on top of this thread's list of current spans until [`remove_current`] takes
/// it off (its owner does, at the latest, when it ends or is dropped); `otel_seen` gives the
/// span id OpenTelemetry's current context shows. A span already on the list stays where it
/// is.
///
/// # Safety
/// Until the span is taken off, its owner `live` stays on this thread: the list is this
/// thread's, and the record is not `Sync`.
#[inline]
pub(super) unsafe fn push_current(live: &LiveBox, otel_seen: impl FnOnce() -> SpanId) {
    if live.linked.get() {
        return;
    }
    // SAFETY: not on the list (checked just above); the rest is forwarded to our caller.
    unsafe { push_unlinked(live, otel_seen()) };
}

/// [`push_current`] of a span known not to be on the list (one just started), which
/// `otel_seen` entered.
///
/// # Safety
/// As for [`push_current`], and `live` is on no list.
#[inline(always)]
pub(super) unsafe fn push_unlinked(live: &LiveBox, otel_seen: SpanId) {
    live.linked.set(true);
    live.otel_seen.set(otel_seen);
    let top = &this_thread().top;
    let below = top.get();
    live.prev.set(below);
    if let Some(below) = below {
        // SAFETY: `below` was read from this thread's list, where it stays meanwhile.
        unsafe { below.get() }.next.set(Some(live.link()));
    }
    top.set(Some(live.link()));
}

/// Takes `live` off this thread's list, wherever it is: normally on top, but a manual span's
/// guard may be dropped out of order, or outlive the traced call it was made in. At once
/// wherever it is (the list is linked both ways): guards dropped outermost first (a
/// `Vec<SpanGuard>` dropped whole) cost as much as innermost first. Nothing when `live` is on
/// no list.
#[inline]
pub(super) fn remove_current(live: &Live) {
    let top = &this_thread().top;
    if top.get().is_some_and(|entered| entered.is(live)) {
        top.set(live.prev.get());
        live.linked.set(false);
    } else if live.linked.get() {
        unlink_below_top(live);
    }
}

/// Whether `live` is on this thread's list with a span entered after it still there (it is
/// not the top).
#[inline]
pub(super) fn has_spans_above(live: &Live) -> bool {
    live.linked.get() && !this_thread().top.get().is_some_and(|top| top.is(live))
}

/// Has each span entered above `live` (on this thread's list below its top) that noted
/// OpenTelemetry's context showing span `from` when it was entered note `to` instead (see
/// `current::detach_below`): the [`RESEATED_AT_MOST`] entered right after it, so that
/// guards dropped out of order under thousands of open spans cost no more each.
#[cold]
pub(super) fn reseat_otel_seen_above(live: &Live, from: SpanId, to: SpanId) {
    if !has_spans_above(live) {
        return;
    }
    let top = this_thread().top.get();
    let mut at = live.next.get();
    for _ in 0..RESEATED_AT_MOST {
        let Some(link) = at else { return };
        // SAFETY: `live` is on this thread's list below its top, so the spans entered after
        // it are too, each linked to the next by `next` (kept up below the top) up to the
        // top; they stay there meanwhile.
        let above = unsafe { link.get() };
        if above.otel_seen.get() == from {
            above.otel_seen.set(to);
        }
        at = if Some(link) == top {
            None
        } else {
            above.next.get()
        };
    }
}

/// How many spans above a guard dropped out of order [`reseat_otel_seen_above`] looks at.
const RESEATED_AT_MOST: usize = 64;

/// Takes off this thread's list every span entered above `live` and still on it, which is
/// what a poll of `live`'s future left there: a `SpanGuard` held across an `.await` is current
/// in that future only, not in the tasks the thread polls next (each such span is unlinked,
/// and its guard's drop then finds nothing to take off). Nothing when `live` is on no list.
#[inline]
pub(super) fn leave_above(live: &Live) {
    if !live.linked.get() {
        return;
    }
    take_off_down_to(Some(Link(NonNull::from(live))));
}

/// Takes off this thread's list the spans above `floor` (all of them for `None`), which the
/// caller knows to be on it (or `None`).
fn take_off_down_to(floor: Option<Link>) {
    let top = &this_thread().top;
    while let Some(entered) = top.get() {
        if Some(entered) == floor {
            return;
        }
        // SAFETY: `entered` was read from this thread's list, and is taken off it only below.
        let entered = unsafe { entered.get() };
        top.set(entered.prev.get());
        entered.linked.set(false);
        // Left by its owner later, off the list: nothing was handed for that.
        entered.handed_mark.set(None);
    }
}

/// Where this thread's list stands, to compare with later ([`leave_above_top`]): its top,
/// never read through afterwards.
#[derive(Clone, Copy)]
pub(super) struct ListPosition(Option<Link>);

/// This thread's list as it stands now (see [`ListPosition`]).
#[inline(always)]
pub(super) fn list_position() -> ListPosition {
    ListPosition(this_thread().top.get())
}

/// Takes off this thread's list the spans entered since `at` (when the poll of a future with
/// no span of its own began, a sampled-out call's) and left there, as [`leave_above`] does for
/// a future with a span.
#[inline(always)]
pub(super) fn leave_above_top(at: ListPosition) {
    if this_thread().top.get() != at.0 {
        leave_above_top_slow(at);
    }
}

/// [`leave_above_top`] with spans above: they are taken off down to the top at `at`, found
/// by its address (it may have gone meanwhile: then the poll ended the span current when it
/// began, a guard handed to it, and what was entered since cannot be told from what was
/// there; the list is left as it is).
#[cold]
#[inline(never)]
fn leave_above_top_slow(at: ListPosition) {
    let mut found = this_thread().top.get();
    while found.is_some() && found != at.0 {
        // SAFETY: `found` was read from this thread's list (its top, or a span's `prev`
        // there), where it is.
        found = found.and_then(|entered| unsafe { entered.get() }.prev.get());
    }
    if found == at.0 {
        take_off_down_to(at.0);
    }
}

/// [`remove_current`] of a span on the list below its top: the span entered right above it
/// (its `next`, kept up for a span below the top) now follows what it followed, and the span
/// below it (if any) is followed by that one; a mark handed to `live` goes on to that span,
/// which now leaves where `live` would have.
#[cold]
#[inline(never)]
fn unlink_below_top(live: &Live) {
    let (below, above) = (live.prev.get(), live.next.get());
    // A span below the top has one above it: its `next`.
    if let Some(above) = above {
        // SAFETY: `above` was read from `live`, which is on this thread's list below its top,
        // so `above` is on it too, and stays there meanwhile.
        let above = unsafe { above.get() };
        above.prev.set(below);
        if let Some(mark) = live.handed_mark.take() {
            above.handed_mark.set(Some(mark));
        }
    }
    if let Some(below) = below {
        // SAFETY: `below` was read from `live`, which is on this thread's list: so is `below`.
        unsafe { below.get() }.next.set(above);
    }
    live.linked.set(false);
}

/// A pointer to a span on this thread's list of current spans (`current`): the list's top and
/// each span's `prev`. A span is linked (`Live::linked`) exactly while it is on the list, its
/// owner stays on that thread meanwhile (`current::push`'s contract), and takes it off before
/// it frees or recycles it (`LiveBox::take_box`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Link(NonNull<Live>);

impl Link {
    /// The span this points at.
    ///
    /// # Safety
    /// The span must be on this thread's list, and stay there while the reference is used.
    #[inline(always)]
    pub(super) unsafe fn get<'a>(self) -> &'a Live {
        // SAFETY: a span on the list is allocated (its owner takes it off before freeing it,
        // see the type's doc) and only read through shared references while it is there.
        unsafe { self.0.as_ref() }
    }

    /// Whether this points at `live`.
    #[inline(always)]
    pub(super) fn is(self, live: &Live) -> bool {
        std::ptr::eq(self.0.as_ptr(), live)
    }
}

/// Spare boxes kept per thread, at most.
const MAX_SPARES: usize = 64;
/// Boxes the export thread has emptied, for any thread to take, at most: as many as the queue
/// holds (set at install), so that memory stays bounded by the configured queue.
static MAX_RETURNED: AtomicUsize = AtomicUsize::new(4096);
/// How many boxes a thread takes from the returned ones at a time.
const REFILL: usize = 32;
// `refill` takes a batch into a thread's empty pool of spares, which keeps all of it.
const _: () = assert!(REFILL <= MAX_SPARES);

/// Boxes of spans the export thread has turned into `SpanData`: they were taken from the
/// recording threads' pools, and go back to them from here, a batch per lock.
static RETURNED: Mutex<Vec<Spare>> = Mutex::new(Vec::new());
/// How many boxes `RETURNED` holds, readable without its lock.
static RETURNED_LEN: AtomicUsize = AtomicUsize::new(0);

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
    /// ([`Live::record_start_attributes`]).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(crate) fn start_child(
        parent: &Live,
        write_child_of: impl FnOnce(&SpanContext, &mut SpanContext),
        name: Name,
    ) -> LiveBox {
        let ids = &parent.span_context;
        let Some(Spare(mut boxed)) = take_spare() else {
            let mut span_context = SpanContext::NONE;
            write_child_of(ids, &mut span_context);
            let parent = ParentIds::of(Some(ids)).seen_with(parent.otel_seen.get());
            return Live::start_boxed(span_context, parent, name, Vec::new());
        };
        // As in `reuse`: the emptied values replaced here own no memory.
        write_child_of(ids, &mut boxed.span_context);
        boxed.parent_span_id = ids.span_id();
        boxed.parent_is_remote = ids.is_remote();
        *boxed.otel_seen_at_start.get_mut() = Some(parent.otel_seen.get());
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
        let mut attributes = std::mem::take(&mut self.fields.borrow_mut().attributes);
        attributes.reserve(arg_count);
        record_args(&mut attributes);
        let room = max_attributes().saturating_sub(self.call_site_keys().len());
        if attributes.len() > room {
            // The count limit holds for the arguments and fields too (in their order), as for
            // what is set later: past it they are dropped and counted.
            let over = attributes.len() - room;
            attributes.truncate(room);
            let dropped = &mut self.fields.borrow_mut().dropped_attributes;
            *dropped = dropped.saturating_add(u32::try_from(over).unwrap_or(u32::MAX));
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

    /// The attributes a `#[traced]` span's call site gives it when it is exported (none for
    /// other spans): they are not set at run time, and count toward the attribute limit.
    fn call_site_keys(&self) -> &'static [&'static str] {
        match self.name {
            Name::Site(_) => &crate::value::CALL_SITE_KEYS,
            Name::Given(..) => &[],
        }
    }

    /// Sets `attributes` (one per key, each value bounded: the caller saw to it), in order: into the span's own
    /// list when it has none yet (no copy, no allocation), keeping at most the span attribute
    /// count limit; `dropped` more were left out already.
    #[cfg(any(feature = "tracing", feature = "tower", feature = "reqwest"))]
    pub(crate) fn set_attributes(&self, mut attributes: Vec<KeyValue>, dropped: usize) {
        let mut fields = self.fields.borrow_mut();
        fields.dropped_attributes = fields
            .dropped_attributes
            .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
        if !fields.attributes.is_empty() {
            drop(fields);
            attributes.into_iter().for_each(|a| self.set_attribute(a));
            return;
        }
        let limit = max_attributes();
        let over = attributes.len().saturating_sub(limit);
        attributes.truncate(limit);
        fields.attributes = attributes;
        fields.dropped_attributes = fields
            .dropped_attributes
            .saturating_add(u32::try_from(over).unwrap_or(u32::MAX));
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
            Status::Error { description } if description.len() > limit => Status::error(
                crate::redact::error_text(crate::value::bounded_text(&description, limit)),
            ),
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

/// An emptied box for a new span of this thread, if one is at hand.
#[inline(always)]
fn take_spare() -> Option<Spare> {
    let thread = this_thread();
    match thread.pop_spare() {
        Some(spare) => Some(spare),
        None => refill(thread),
    }
}

/// Keeps up to `queue_size` emptied boxes for reuse (the export queue's size).
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code, reason = "only the export thread returns boxes")
)]
pub(crate) fn set_max_returned(queue_size: usize) {
    MAX_RETURNED.store(queue_size.max(REFILL), Ordering::Relaxed);
}

/// Takes a batch of the boxes the export thread returned into this thread's spares (which
/// are none), and one of them.
#[cold]
fn refill(thread: &ThisThread) -> Option<Spare> {
    // Nothing returned (the export thread is behind, or there is none): no lock to take.
    if RETURNED_LEN.load(Ordering::Relaxed) == 0 || !thread.keeps_spares() {
        return None;
    }
    let mut returned = RETURNED.lock().unwrap_or_else(PoisonError::into_inner);
    let at = returned.len().saturating_sub(REFILL);
    // At most `REFILL` (below `MAX_SPARES`) into an empty pool: every one is kept, written
    // here in one pass, without `keep_spare`'s checks.
    let taken = returned.drain(at..);
    thread.spare_count.set(taken.len());
    for (slot, Spare(spare)) in thread.spares.iter().zip(taken) {
        slot.set(NonNull::from(Box::leak(spare)));
    }
    RETURNED_LEN.store(returned.len(), Ordering::Relaxed);
    drop(returned);
    thread.pop_spare()
}

/// Hands emptied boxes back for the recording threads, keeping at most `MAX_RETURNED`.
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code, reason = "only the export thread returns boxes")
)]
#[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
pub(crate) fn return_spares(boxes: &mut Vec<Box<Live>>) {
    if boxes.is_empty() {
        return;
    }
    // Emptied here, on the export thread, and outside the lock the recording threads take.
    for boxed in boxes.iter_mut() {
        boxed.empty();
    }
    give_back_emptied(boxes);
}

/// [`return_spares`] of boxes known to hold nothing already: each was a [`Finished`] for which
/// [`Finished::holds_nothing`] was true (the check `Live::empty` makes), and is not read again.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
pub(crate) fn return_empty_spares(boxes: &mut Vec<Box<Live>>) {
    if !boxes.is_empty() {
        give_back_emptied(boxes);
    }
}

/// Into the pool the recording threads take boxes from, as many of `boxes` (emptied) as it
/// has room for; the rest are freed. `boxes` is left empty.
#[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
fn give_back_emptied(boxes: &mut Vec<Box<Live>>) {
    let mut returned = RETURNED.lock().unwrap_or_else(PoisonError::into_inner);
    let room = MAX_RETURNED
        .load(Ordering::Relaxed)
        .saturating_sub(returned.len());
    let kept = boxes.len().min(room);
    // Emptied just above.
    returned.extend(boxes.drain(..kept).map(Spare));
    RETURNED_LEN.store(returned.len(), Ordering::Relaxed);
    drop(returned);
    // No room for these: freed, outside the lock.
    boxes.clear();
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

/// A box whose span has ended, emptied ([`Live::empty`]) where it was given up, ready for the
/// next one.
struct Spare(Box<Live>);

impl From<Box<Live>> for Spare {
    // In line into `Live::recycle`, the path of a span no exporter takes: a call saved.
    #[inline(always)]
    fn from(mut boxed: Box<Live>) -> Spare {
        boxed.empty();
        Spare(boxed)
    }
}

/// The instrumentation scope of godtrace's own spans.
pub(crate) static SCOPE: LazyLock<InstrumentationScope> = LazyLock::new(|| {
    InstrumentationScope::builder("godtrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
});

mod finished;
pub(crate) use finished::Finished;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use finished::Recorded;

#[cfg(test)]
mod clear_tests;

#[cfg(test)]
mod reuse_tests;

#[cfg(test)]
mod kept_list_tests;
