//! The queue between the recording threads and the export thread ([`Shared`]: the central
//! queue, its counts and signals) and the per-thread hand-off of finished spans into it.
//!
//! Each recording thread appends its spans to its own lane: a ring it writes without a lock or
//! a read-modify-write (a plain store publishes a span) and a buffer behind a lock only that
//! thread and the export thread ever take, so two recording threads share no cache line on the
//! common path. A lane is registered in the processor's queue state; the export thread
//! collects every lane on each of its turns (a full batch, the schedule delay, a flush,
//! shutdown), so a span never waits in the lane of an idle or exited thread longer than the
//! schedule delay.
//!
//! The queue bound (`OTEL_BSP_MAX_QUEUE_SIZE`) is a budget of slots shared by every thread:
//! a lane takes slots from it a chunk at a time (one atomic operation per chunk), and the
//! export thread gives them back when it takes spans for export, and a lane's unused ones when
//! it collects the lane of an exited thread, any lane once the queue is half full, and every
//! lane at shutdown. Spans in lanes, in the central queue and slots held by lanes together
//! never exceed the bound, so memory stays bounded and a span that finds no slot is dropped
//! and counted, as before.
//!
//! Once its lane has found the budget empty, a dropped span takes no lock and writes no line
//! another recording thread writes: the lane counts it in a counter of its own (which each
//! collection adds to the process's count), and looks at the budget again only once slots have
//! been given back since. Two threads dropping spans at once then do not slow each other down.
use crate::config::BatchSettings;
use crate::span::record_ring::{self, RING, RingFront, below};
use crate::span::{Finished, Live};
use crate::stats::{Counters, Pending};
use opentelemetry_sdk::trace::SpanData;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// The queue and the signals between the application's threads and the export thread.
#[derive(Debug)]
pub(super) struct Shared {
    /// Itself, for the lanes it registers: the thread of one lets it go at its exit (see
    /// [`OwnedLane`]). Dangling when it is not in an `Arc` (the tests' own).
    pub(super) this: Weak<Shared>,
    pub(super) state: Mutex<QueueState>,
    /// Wakes the export thread: a full batch, a flush, or shutdown (it waits inside its
    /// runtime, on its requests in flight too).
    pub(super) wake: tokio::sync::Notify,
    /// Wakes flush and shutdown callers: an export finished, or the thread exited.
    pub(super) progress: Condvar,
    pub(super) settings: BatchSettings,
    pub(super) counters: &'static Counters,
    /// The queue's slots, shared by the lanes and the central queue.
    pub(super) budget: Budget,
    /// The shutdown deadline, for an export already in flight when shutdown starts.
    pub(super) deadline: tokio::sync::watch::Sender<Option<Instant>>,
}

/// A queued span: godtrace's own record (its `SpanData` is built on the export thread) or
/// another OpenTelemetry span, already built by the SDK.
pub(crate) enum Queued {
    Own(Finished),
    /// Boxed, so that a queue slot is the size of godtrace's own record (a pointer and two
    /// ticks); spans from other OpenTelemetry code are the rare case.
    Sdk(Box<SpanData>),
}

impl Queued {
    /// The exporters' form; the box of one of godtrace's own spans goes into `emptied`.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    pub(crate) fn into_span_data(self, emptied: &mut Vec<Box<Live>>) -> SpanData {
        match self {
            Queued::Own(span) => {
                let (data, live) = span.into_span_data();
                emptied.push(live);
                data
            }
            Queued::Sdk(span) => *span,
        }
    }
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Queued::Own(_) => "Own",
            Queued::Sdk(_) => "Sdk",
        })
    }
}

/// The queue and its counts, behind `Shared`'s lock.
#[derive(Debug, Default)]
pub(super) struct QueueState {
    pub(super) queue: VecDeque<Queued>,
    /// Every recording thread's lane, collected into `queue` by the export thread.
    pub(super) lanes: Vec<Arc<Lane>>,
    /// Spans ever pushed into the queue.
    pub(super) pushed: u64,
    /// The highest `pushed` count a pending flush waits for.
    pub(super) flush_target: u64,
    /// Spans taken from the queue whose export has finished (delivered or not).
    pub(super) done: u64,
    /// Flushes asked for, and those the export thread has seen through (its exporter told,
    /// once what the flush waits for was prepared: see `Exporter::between_batches`).
    pub(super) flushes_asked: u64,
    pub(super) flushes_seen: u64,
    /// Set once by shutdown: the export thread sends what it can until then, and exits.
    pub(super) shutdown_deadline: Option<Instant>,
    pub(super) exited: bool,
}

impl Pending for Shared {
    /// Moves what the lanes hold to the queue, where it is counted.
    fn publish(&self) {
        collect(self, &mut self.lock(), false);
    }
}

impl Drop for Shared {
    /// Counts what the lanes dropped since their last collection, and the spans still in them
    /// (a thread that raced the last collection with a limit it had read before: see
    /// `Lane::limit`): nothing collects them after this (their threads may outlive the
    /// processor), and the counters are the process's.
    fn drop(&mut self) {
        let queue = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let dropped: u64 = queue
            .lanes
            .iter()
            .map(|lane| {
                let mut state = lane.lock();
                lane.drops_to_count(&mut state) + lane.stranded(&state)
            })
            .sum();
        if dropped > 0 {
            self.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding the lock leaves the queue consistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Slots a lane takes from the budget at a time, at most.
const MAX_CHUNK: usize = 64;

/// A lane's buffer keeps at most this many spans' worth of capacity after a collection that
/// found it mostly unused: a burst does not keep its memory once the thread records less.
const KEPT_CAPACITY: usize = 4 * MAX_CHUNK;

// A chunk of the budget fits in an empty ring (see `Lane::limit`).
const _: () = assert!(MAX_CHUNK <= RING as usize);

/// Tells processors apart (an address could be reused by a later one).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's lane, for the processor that registered it last.
    static LANE: RefCell<OwnedLane> = const { RefCell::new(OwnedLane(None)) };
    /// The lane `LANE` holds, for the hot path: read without a borrow or a check of `LANE`'s
    /// state. Null until a lane is registered, and from the moment `LANE` is destroyed (no
    /// destructor of its own: readable to the end of the thread).
    static LANE_PTR: Cell<*const Lane> = const { Cell::new(std::ptr::null()) };
}

/// What `LANE` holds: nulls `LANE_PTR` before the lane it points at can go, and at the
/// thread's exit lets go of the lane.
struct OwnedLane(Option<Arc<Lane>>);

impl Drop for OwnedLane {
    fn drop(&mut self) {
        LANE_PTR.set(std::ptr::null());
        // SAFETY: null registers no front.
        unsafe { record_ring::set_this_thread(std::ptr::null()) };
        if let Some(lane) = self.0.take() {
            leave(lane);
        }
    }
}

/// Takes the lane of a thread that exits out of its queue, when it holds no span: its slots
/// go back to the budget and its drops are counted now, and its memory (a ring of 24 KiB) is
/// freed at once rather than at the next collection, which may be a second away while the
/// export is stuck: threads started and ended faster than that would otherwise hold a lane
/// each. A lane holding spans waits for the collection, which moves them.
#[cold]
fn leave(lane: Arc<Lane>) {
    // In a forked child, the queue's lock may be held by a thread of the parent's for ever.
    if crate::span::switches::in_forked_child() {
        return;
    }
    let Some(shared) = lane.queue.upgrade() else {
        return;
    };
    // The queue's lock first, then the lane's, as a collection takes them.
    let mut queue = shared.lock();
    let mut state = lane.lock();
    if lane.stranded(&state) != 0 {
        return;
    }
    shared.budget.settle(lane.settle(&mut state, true));
    let dropped = lane.drops_to_count(&mut state);
    drop(state);
    queue.lanes.retain(|held| !Arc::ptr_eq(held, &lane));
    shared.budget.note_lanes(queue.lanes.len());
    drop(queue);
    if dropped > 0 {
        shared
            .counters
            .dropped
            .fetch_add(dropped, Ordering::Relaxed);
    }
}

/// One recording thread's buffer for one processor. Aligned to two cache lines (the unit
/// adjacent-line prefetchers pull in), so that no other thread's lane shares one with it.
///
/// Its thread appends a span without a lock: it writes the span into the ring and publishes it
/// with a plain (release) store of `published`, which also uses one of the lane's slots of the
/// budget. Everything else (taking a new chunk of the budget, making room in the ring for it, a
/// closed lane, and the export thread's collection) happens under `state`'s lock.
///
/// No read-modify-write: a locked instruction would wait for every store of the span's record
/// to drain before it, on every span. The price is that a collection lowering `limit` can race
/// the thread's publishing against the old one (see `limit`): such spans are charged to the
/// budget afterwards, under the lock.
#[repr(align(128))]
pub(super) struct Lane {
    /// The ring and the counts its thread publishes with, in line on the common path
    /// ([`record_ring`]): the owner is the processor's id (`Budget::id`), and `published`
    /// counts the spans ever published into the ring, written by the lane's thread alone
    /// (counted modulo 2^32, like every count here).
    ///
    /// `limit` is how far `published` may go with the budget slots the lane holds: raised by
    /// the lane's thread and lowered to `published` by a collection taking the lane's unused
    /// slots back, both under `state`'s lock.
    ///
    /// A thread that read the limit before a collection lowered it may still publish up to the
    /// old one: `published` is then past `limit`, by at most the chunk the lane held, and those
    /// spans are charged to the budget by the next look under the lock (`settle`), so the
    /// queue's bound holds again from there.
    ///
    /// Every limit the thread publishes below it raised itself, under the lock, when it was at
    /// most [`RING`] past `head` (`push_locked` empties the ring into the buffer before it
    /// raises the limit further; a collection only lowers the limit, to a count the thread has
    /// reached already, and raises `head`): a span published below the limit finds its ring
    /// slot free, so that the lock-free path tests the limit alone.
    ///
    /// Ring slot `i % RING` holds the `i`th span published while `i` is in `head..published`.
    front: RingFront,
    /// The queue that registered the lane (see [`leave`]).
    queue: Weak<Shared>,
    /// Spans this lane refused (a full queue, or closed): written by the lane's thread only,
    /// added to the process's count by each collection (see `LaneState::dropped_counted`).
    dropped: AtomicU64,
    /// [`Budget::given_back`] when this lane last found the budget empty (`u64::MAX`: never):
    /// while it is unchanged no slot has come back, and a span is dropped without the lock or
    /// a look at the budget. Read and written by the lane's thread only.
    full_at: AtomicU64,
    /// Spans ever taken out of the ring; changed under `state`'s lock only.
    head: AtomicU32,
    state: Mutex<LaneState>,
}

// SAFETY: a ring slot is written only by the lane's thread, while it is outside the published
// range (`head <= i < published` fails for it), and read (moved out) only under `state`'s lock,
// while it is inside it; `published`'s release/acquire pairs order the write before the read,
// and the lock the read before the next write (the thread writes slot `i` only below a limit it
// raised under the lock, after `head` had passed `i - RING`: see `limit` and `push`). The rest
// is atomics and a `Mutex`. `Finished` is `Send`.
unsafe impl Sync for Lane {}

/// What a lane holds besides its ring, behind its lock.
#[derive(Default)]
struct LaneState {
    /// Spans moved out of a full ring by its thread, older than any still in the ring.
    spans: Vec<Finished>,
    /// Set when the processor shuts down: the lane takes no more spans.
    closed: bool,
    /// How much of `Lane::dropped` is in the process's count already.
    dropped_counted: u64,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("owner", &self.front.owner)
            .field("published", &self.front.published.load(Ordering::Relaxed))
            .field("limit", &self.front.limit.load(Ordering::Relaxed))
            .field("head", &self.head.load(Ordering::Relaxed))
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Lane {
    fn new(owner: u64, queue: Weak<Shared>) -> Lane {
        Lane {
            front: RingFront::new(owner),
            queue,
            dropped: AtomicU64::new(0),
            full_at: AtomicU64::new(u64::MAX),
            head: AtomicU32::new(0),
            state: Mutex::new(LaneState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LaneState> {
        // A panic while holding the lock leaves the buffer consistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a span this lane refused. Only the lane's thread counts, so a load and a store
    /// do: no read-modify-write, and no line another recording thread writes.
    #[inline(always)]
    fn count_drop(&self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        self.dropped
            .store(dropped.wrapping_add(1), Ordering::Relaxed);
    }

    /// Counts the span dropped, and says so, while no slot has been given back to `budget`
    /// since this lane found it empty: none is free then either (slots only come back through
    /// `Budget::give_back`, which changes the count), and the span is refused without the
    /// lock. Called on the lane's thread, which alone reads and writes `full_at`.
    #[inline(always)]
    fn drops_while_full(&self, budget: &Budget) -> bool {
        if self.full_at.load(Ordering::Relaxed) != budget.given_back() {
            return false;
        }
        self.count_drop();
        true
    }

    /// The spans this lane refused since the last call, now to be counted in the process's
    /// count. Called with `state`'s lock held (`locked`).
    fn drops_to_count(&self, locked: &mut LaneState) -> u64 {
        // Relaxed: a collection reads what the thread counted so far; a thread that has let go
        // of its lane is ordered before it by the collection's fence (or `&mut` in a drop).
        let dropped = self.dropped.load(Ordering::Relaxed);
        let new = dropped.wrapping_sub(locked.dropped_counted);
        locked.dropped_counted = dropped;
        new
    }

    /// Brings the limit to what the lane's thread has published (called with `state`'s lock
    /// held, `_locked`): with `take_back`, the slots it holds and has not used are let go;
    /// without, only a limit the thread went past (it published against one a collection had
    /// lowered: see `limit`) is raised to it. Returns the change to the budget's free slots:
    /// the slots let go, or minus those the spans past the limit used.
    fn settle(&self, _locked: &mut LaneState, take_back: bool) -> isize {
        // Relaxed: the ring's spans are read, if at all, after `take_published`'s acquire.
        let published = self.front.published.load(Ordering::Relaxed);
        // Only changed under the lock, which is held.
        let limit = self.front.limit.load(Ordering::Relaxed);
        let unused = limit.wrapping_sub(published) as i32;
        if unused < 0 || take_back {
            self.front.limit.store(published, Ordering::Relaxed);
            return unused as isize;
        }
        0
    }

    /// Spans published into the ring and not taken out, and those in the buffer (called with
    /// `state`'s lock held): what no collection will move once the processor goes.
    fn stranded(&self, locked: &LaneState) -> u64 {
        let published = self.front.published.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Relaxed);
        u64::from(published.wrapping_sub(head)) + locked.spans.len() as u64
    }

    /// The ring slot of the `i`th span.
    #[inline(always)]
    fn slot(&self, i: u32) -> *mut Finished {
        self.front.slot(i)
    }

    /// Moves the published spans out of the ring into `to`, oldest first. Called with `state`'s
    /// lock held (`locked`), by the collection or by the lane's own thread.
    fn take_published(&self, locked: &mut LaneState, to: &mut impl Extend<Finished>) -> usize {
        self.take_published_runs(locked, |first, run| {
            to.extend((0..run).map(|k| {
                // SAFETY: `k < run`: in the run, which `first` reaches (see `run_from`).
                let slot = unsafe { first.add(k) };
                // SAFETY: a slot of the run, read once (see `take_published_runs`).
                unsafe { slot.read() }
            }));
        })
    }

    /// [`Lane::take_published`] into the lane's buffer, by its own thread when the ring is full
    /// (see `push_locked`): the spans copied a run at a time, not read one by one.
    fn take_published_into(&self, locked: &mut LaneState, to: &mut Vec<Finished>) -> usize {
        self.take_published_runs(locked, |first, run| {
            to.reserve(run);
            // SAFETY: `to` has room for `run` more (reserved just above): the end of its
            // length is within its capacity.
            let end = unsafe { to.as_mut_ptr().add(to.len()) };
            // SAFETY: the run's slots are read once (see `take_published_runs`), into `to`'s
            // capacity past its length, which cannot overlap the ring.
            unsafe { std::ptr::copy_nonoverlapping(first, end, run) };
            // SAFETY: the `run` spans past the length were just written.
            unsafe { to.set_len(to.len() + run) };
        })
    }

    /// Hands the published spans to `take`, oldest first, as runs of slots that follow each
    /// other in memory (a pointer to the first, and how many): `take` moves each span of a run
    /// out once (it may read them; nobody else does). Called with `state`'s lock held
    /// (`_locked`).
    fn take_published_runs(
        &self,
        _locked: &mut LaneState,
        mut take: impl FnMut(*const Finished, usize),
    ) -> usize {
        // Acquire: the spans published so far are written (their thread's release).
        let published = self.front.published.load(Ordering::Acquire);
        // Only changed under the lock, which is held.
        let head = self.head.load(Ordering::Relaxed);
        let count = published.wrapping_sub(head);
        let mut moved = 0;
        while moved < count {
            let (first, run) =
                self.front
                    .run_from(head.wrapping_add(moved), count - moved, COPY_RUN);
            // The run's slots hold the spans `head + moved` onwards, all in `head..published`:
            // published by the lane's thread (visible: the acquire load above), which nobody
            // else reads or writes while they are in that range, and which `take` moves out
            // once: `head` passes them below, under the lock every reader holds. This holds
            // because `take` does not unwind: it only grows a collection (`extend`,
            // `reserve`) by spans the queue bounds, so its capacity cannot overflow, and
            // running out of memory aborts; a `take` that unwound after moving spans out
            // would leave them in range for `Lane`'s drop, which would drop them again.
            take(first, run as usize);
            moved += run;
        }
        // Relaxed: the lock orders these reads before the slots are written again (their thread
        // writes them only below a limit it raises under the lock: see `limit`).
        self.head.store(published, Ordering::Relaxed);
        count as usize
    }
}

/// The most spans in one run of [`Lane::take_published_runs`] (1.5 KiB): a larger copy in
/// [`Lane::take_published_into`] is a `rep movsb`, whose bytes callgrind counts one by one (the
/// instruction counts would then say it got dearer).
const COPY_RUN: u32 = 64;

impl Drop for Lane {
    fn drop(&mut self) {
        let published = *self.front.published.get_mut();
        let head = *self.head.get_mut();
        for k in 0..published.wrapping_sub(head) {
            let i = head.wrapping_add(k);
            // SAFETY: `&mut self`: nobody else reaches the lane; slots in `head..published`
            // hold a span not moved out yet, dropped once here.
            unsafe { std::ptr::drop_in_place(self.slot(i)) };
        }
    }
}

/// The budget of queue slots, and how a lane takes from it.
#[derive(Debug)]
pub(super) struct Budget {
    /// A processor's identity, which its lanes carry: read with every span, so it is kept off
    /// the line the counts below are written on (`Slots` has lines of its own).
    pub(super) id: u64,
    /// The most slots a lane takes at a time.
    chunk: usize,
    /// The queue's size, which the lanes' chunks are cut from.
    size: usize,
    /// Lanes registered, read for the size of a chunk (changed under the queue's lock).
    lanes: AtomicUsize,
    /// [`Budget::given_back`] when a lane that found the budget empty last took the other
    /// lanes' unused slots back (`u64::MAX`: never): one such pass per giving back, so that a
    /// queue really full costs no more than one pass over the lanes until slots come back.
    reclaimed_at: AtomicU64,
    /// The same for a lane whose chunk left the budget low ([`Budget::runs_low_first`]): one pass
    /// per giving back, apart from the passes of lanes that found the budget empty.
    reclaimed_low_at: AtomicU64,
    /// [`Budget::given_back`] when a pass claimed through `reclaimed_at` last ended: the lanes
    /// that found the budget empty at that count while it ran look again then.
    swept_at: AtomicU64,
    slots: Slots,
}

/// The budget's counts, written by every lane taking a chunk and by the export thread.
#[derive(Debug)]
#[repr(align(128))]
struct Slots {
    /// Below zero while spans a lane published past its limit (see `Lane::limit`) are
    /// charged and not yet given back.
    free: AtomicIsize,
    /// How many times slots were given back: a lane that found none free looks again only
    /// once this has changed.
    given_back: AtomicU64,
}

impl Budget {
    pub(super) fn new(max_queue_size: usize, max_export_batch_size: usize) -> Self {
        Budget {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            // Small queues are shared out in small chunks, so one thread cannot hold them all;
            // and no chunk is larger than a batch: a lane wakes the export thread only when it
            // takes a chunk, so a full batch that fit in one would wait for the schedule delay.
            chunk: (max_queue_size / 32)
                .clamp(1, MAX_CHUNK)
                .min(max_export_batch_size.max(1)),
            size: max_queue_size,
            lanes: AtomicUsize::new(0),
            reclaimed_at: AtomicU64::new(u64::MAX),
            reclaimed_low_at: AtomicU64::new(u64::MAX),
            swept_at: AtomicU64::new(u64::MAX),
            slots: Slots {
                free: AtomicIsize::new(isize::try_from(max_queue_size).unwrap_or(isize::MAX)),
                given_back: AtomicU64::new(0),
            },
        }
    }

    /// The slots a lane takes at a time: smaller as more lanes are registered, so that the
    /// slots lanes hold unused stay a small part of the queue (an eighth while there are
    /// fewer lanes than that many slots), whatever the number of recording threads.
    fn chunk(&self) -> usize {
        let lanes = self.lanes.load(Ordering::Relaxed).max(1);
        (self.size / 8 / lanes).clamp(1, self.chunk)
    }

    /// Notes how many lanes are registered now (called under the queue's lock, where that
    /// list changes).
    pub(super) fn note_lanes(&self, lanes: usize) {
        self.lanes.store(lanes, Ordering::Relaxed);
    }

    /// Whether less than an eighth of the queue is free (the most the lanes' chunks take at a
    /// time): the first lane whose chunk left it so since slots were last given back takes
    /// back the slots other lanes hold unused, before the budget is empty (see `push_locked`).
    fn runs_low_first(&self, given_back: u64) -> bool {
        self.slots.free.load(Ordering::Relaxed) < isize::try_from(self.size / 8).unwrap_or(0)
            && self.reclaimed_low_at.swap(given_back, Ordering::Relaxed) != given_back
    }

    /// Whether the lane that found the budget empty at `given_back` is the first to do so
    /// since slots were last given back: it then takes the lanes' unused slots back.
    fn claims_reclaim(&self, given_back: u64) -> bool {
        self.reclaimed_at.swap(given_back, Ordering::Relaxed) != given_back
    }

    /// Whether the pass claimed at `given_back` ended.
    fn swept(&self, given_back: u64) -> bool {
        self.swept_at.load(Ordering::Acquire) == given_back
    }

    /// Notes the end of the pass claimed at `given_back`.
    fn note_swept(&self, given_back: u64) {
        self.swept_at.store(given_back, Ordering::Release);
    }

    /// For a lane that found the budget empty at `given_back` while another lane's pass takes
    /// the lanes' unused slots back: waits for that pass to end, or for slots to come back,
    /// [`SWEEP_WAIT`] at most, spinning (a pass locks each lane once, in microseconds; giving
    /// the core up could cost the thread a scheduler's slice). Returns whether the lane should
    /// look again.
    fn await_sweep(&self, given_back: u64) -> bool {
        let until = Instant::now() + SWEEP_WAIT;
        loop {
            for _ in 0..64 {
                if self.swept(given_back) || self.given_back() != given_back {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return false;
            }
        }
    }

    /// Takes up to `wanted` slots; returns how many it got (0 when the queue is full).
    pub(super) fn take(&self, wanted: usize) -> usize {
        let free_slots = &self.slots.free;
        let mut free = free_slots.load(Ordering::Relaxed);
        loop {
            if free <= 0 {
                return 0;
            }
            let take = free.unsigned_abs().min(wanted);
            match free_slots.compare_exchange_weak(
                free,
                free - take as isize,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => free = now,
            }
        }
    }

    /// Applies a lane's [`Lane::settle`]: gives back the slots it let go, or charges those
    /// its spans used past its limit.
    fn settle(&self, change: isize) {
        match change {
            0 => {}
            let_go if let_go > 0 => self.give_back(let_go.unsigned_abs()),
            used => {
                self.slots.free.fetch_add(used, Ordering::Relaxed);
            }
        }
    }

    /// Gives back `n` slots: spans taken for export, or a lane's unused ones.
    pub(super) fn give_back(&self, n: usize) {
        if n > 0 {
            self.slots.free.fetch_add(n as isize, Ordering::Relaxed);
            // Release: a lane that reads the new count (acquire) finds these slots free.
            self.slots.given_back.fetch_add(1, Ordering::Release);
        }
    }

    /// How many times slots were given back so far. Read before a [`Budget::take`] that finds
    /// none: while it is unchanged, no slot is free.
    #[inline(always)]
    fn given_back(&self) -> u64 {
        // Acquire: the slots given back up to this count are seen by the `take` after it.
        self.slots.given_back.load(Ordering::Acquire)
    }

    /// Slots in use (spans queued, in lanes, or held by lanes), for the wake-up rule.
    pub(super) fn used(&self, max_queue_size: usize) -> usize {
        // Past the size while spans past a lane's limit are charged.
        max_queue_size.saturating_add_signed(-self.slots.free.load(Ordering::Relaxed))
    }
}

/// What became of a span handed to [`hand_over`].
pub(super) enum Handed {
    /// In this thread's lane.
    Queued,
    /// Refused: the queue is full or shutting down (counted dropped).
    Dropped,
    /// This thread's lane cannot be reached (its thread-local storage is being destroyed, or
    /// the lane is in use further up this thread's stack): the span is still the caller's.
    Unreachable,
}

/// Appends the span `finish` makes to this thread's lane of `shared`, registering the lane
/// on first use. `finish` runs only once a slot is secured.
#[inline]
pub(super) fn hand_over(shared: &Shared, finish: impl FnOnce() -> Option<Finished>) -> Handed {
    // SAFETY: a non-null `LANE_PTR` points at the lane `LANE` holds (set with it, below), which
    // stays allocated while `LANE` holds it: it is replaced only in `hand_over_slow`, never
    // while this reference is in use (nothing below calls back into this module's callers),
    // and `LANE`'s destructor nulls `LANE_PTR` before dropping it.
    match unsafe { LANE_PTR.get().as_ref() } {
        Some(lane) if lane.front.owner == shared.budget.id => push(shared, lane, finish),
        _ => hand_over_slow(shared, finish),
    }
}

/// Appends `span` to this thread's lane of `shared` when that takes no lock: the lane is
/// registered and holds a budget slot (the ring then has room). Gives the span back when it
/// does not: [`hand_over`] then takes it.
///
/// [`hand_over`]'s common path, with the span as it is: nothing is built for a closure (it
/// would be written to the stack on every call, for the slow path to read).
#[inline(always)]
pub(super) fn try_append(shared: &Shared, span: Finished) -> Result<(), Finished> {
    record_ring::try_append(shared.budget.id, span)
}

/// Whether this thread's lane of `shared` refuses a span now, counting it dropped when so: the
/// lane holds no slot, and it found the budget empty with no slot given back since, the test
/// [`push_locked`] makes first. The record sink asks before it takes a record: a refused span's
/// box then stays with the caller, which keeps it for this thread's next span, and a queue
/// that is full costs a span this test rather than the hand-over's whole path.
#[inline(always)]
pub(super) fn refuses(shared: &Shared) -> bool {
    // SAFETY: as in `hand_over`: a non-null `LANE_PTR` points at the lane `LANE` holds, which
    // nothing replaces while this reference is in use (it ends in this function).
    let Some(lane) = (unsafe { LANE_PTR.get().as_ref() }) else {
        return false;
    };
    if lane.front.owner != shared.budget.id {
        return false;
    }
    // Relaxed: only this thread writes the count (see `push`).
    let published = lane.front.published.load(Ordering::Relaxed);
    !below(published, lane.front.limit.load(Ordering::Relaxed))
        && lane.drops_while_full(&shared.budget)
}

/// [`hand_over`] through `LANE` itself: registers this thread's lane for `shared`, or finds
/// that it cannot be reached.
#[cold]
#[inline(never)]
fn hand_over_slow(shared: &Shared, finish: impl FnOnce() -> Option<Finished>) -> Handed {
    // In a forked child, the queue's lock may be held by a thread of the parent's for ever.
    if crate::span::switches::in_forked_child() {
        return Handed::Dropped;
    }
    LANE.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Handed::Unreachable;
        };
        let lane = match &slot.0 {
            Some(lane) if lane.front.owner == shared.budget.id => lane.clone(),
            _ => {
                // After shutdown no lane is made: nothing would collect it.
                let Some(lane) = register(shared) else {
                    shared.counters.count_shutdown_drop();
                    return Handed::Dropped;
                };
                // The new lane is held before the pointer to it is published, and the old one
                // (if any) let go after.
                let old = slot.0.replace(lane.clone());
                LANE_PTR.set(Arc::as_ptr(&lane));
                // SAFETY: the lane stays allocated while `LANE` holds it, and its front is
                // written by other threads only as the lane allows (see `Lane`); `LANE`'s
                // destructor, and the next registration here, register another front first.
                unsafe { record_ring::set_this_thread(&lane.front) };
                drop(old);
                lane
            }
        };
        drop(slot);
        push(shared, &lane, finish)
    })
    .unwrap_or(Handed::Unreachable)
}

/// Publishes a span into the ring without a lock while the lane holds a budget slot (the ring
/// then has room: see `Lane::limit`); otherwise [`push_locked`].
#[inline(always)]
fn push(shared: &Shared, lane: &Lane, finish: impl FnOnce() -> Option<Finished>) -> Handed {
    // Relaxed: only this thread writes the count; a limit lowered meanwhile is settled later
    // (see `Lane::limit`).
    let published = lane.front.published.load(Ordering::Relaxed);
    if !below(published, lane.front.limit.load(Ordering::Relaxed)) {
        return push_locked(shared, lane, finish);
    }
    let Some(span) = finish() else {
        return Handed::Queued;
    };
    // SAFETY: on this thread (the lane is `LANE`'s), `published` read and found below the
    // limit just now.
    unsafe { lane.front.publish(published, span) };
    Handed::Queued
}

/// Appends a span under the lane's lock: takes a new chunk of the budget when the lane has no
/// slot left (making room in the ring for it), or refuses (and counts) the span. While the
/// budget is as empty as the lane last found it, refuses it without the lock.
#[cold]
#[inline(never)]
fn push_locked(shared: &Shared, lane: &Lane, finish: impl FnOnce() -> Option<Finished>) -> Handed {
    let mut reclaimed = false;
    // Whether this lane's chunk was the first to leave the budget low since slots came back.
    let mut ran_low = false;
    loop {
        // In a forked child, the lane's lock may be held by the parent's export thread.
        if lane.drops_while_full(&shared.budget) || crate::span::switches::in_forked_child() {
            return Handed::Dropped;
        }
        let mut state = lane.lock();
        if state.closed {
            drop(state);
            shared.counters.count_shutdown_drop();
            return Handed::Dropped;
        }
        // Spans published past a limit a collection lowered hold slots from here on.
        shared.budget.settle(lane.settle(&mut state, false));
        // Only this thread writes the count, and nobody else changes the limit while the lock
        // is held.
        let published = lane.front.published.load(Ordering::Relaxed);
        let mut limit = lane.front.limit.load(Ordering::Relaxed);
        if published == limit {
            // Read before the budget: slots given back after the read change it, and the
            // lane's next span looks at the budget again.
            let given_back = shared.budget.given_back();
            let got = refill(shared);
            if got == 0 {
                // The budget is empty, but other lanes may hold slots they have not used (many
                // threads, each with a chunk, or threads gone since the last collection): the
                // first lane to find it so takes them back, then looks again, and the others
                // that find it so meanwhile look again once that pass is over (or make one
                // themselves when the queue's lock is free). Once per span. Without the lane's
                // lock: the queue's lock comes first.
                if !reclaimed {
                    drop(state);
                    reclaimed = true;
                    let budget = &shared.budget;
                    if budget.claims_reclaim(given_back) {
                        reclaim(&shared.lock(), budget);
                        budget.note_swept(given_back);
                        continue;
                    }
                    if let Ok(queue) = shared.state.try_lock() {
                        // Unless slots came back, or the claimed pass ended (finding none).
                        if budget.given_back() == given_back && !budget.swept(given_back) {
                            reclaim(&queue, budget);
                        }
                        continue;
                    }
                    if budget.await_sweep(given_back) {
                        continue;
                    }
                    state = lane.lock();
                }
                lane.full_at.store(given_back, Ordering::Relaxed);
                drop(state);
                lane.count_drop();
                return Handed::Dropped;
            }
            ran_low = shared.budget.runs_low_first(given_back);
            // `got` is at most `MAX_CHUNK`, no more than `RING`.
            limit = published.wrapping_add(got as u32);
            // The limit stays within `RING` of `head` (see `Lane::limit`): the spans still in
            // the ring move to the buffer (older than any published after them), freeing
            // every slot.
            if limit.wrapping_sub(lane.head.load(Ordering::Relaxed)) > RING {
                let mut spans = std::mem::take(&mut state.spans);
                lane.take_published_into(&mut state, &mut spans);
                state.spans = spans;
            }
            lane.front.limit.store(limit, Ordering::Relaxed);
        }
        if let Some(span) = finish() {
            // SAFETY: the slot at `published` is outside `head..published` and below the
            // limit, at most `RING` past `head` (see `Lane::limit`), so its previous span was
            // moved out, under the lock, which is held: no collection runs meanwhile.
            unsafe { lane.slot(published).write(span) };
            // Release: the span is written before it is published.
            lane.front
                .published
                .store(published.wrapping_add(1), Ordering::Release);
        }
        drop(state);
        // The budget runs low while other lanes may hold slots unused: they are taken back
        // now, by the first lane to see it so, while the rest of the budget lets the others go
        // on. Lanes finding the budget empty at the same moment (a burst of threads, each with
        // its chunk) would otherwise drop spans while slots sit unused.
        if ran_low {
            reclaim(&shared.lock(), &shared.budget);
        }
        return Handed::Queued;
    }
}

/// The longest a lane waits for another lane's pass over the lanes before it drops its span
/// (see [`Budget::await_sweep`]).
const SWEEP_WAIT: Duration = Duration::from_micros(100);

/// Takes back the slots every lane of `queue` (locked) holds and has not used, for a lane
/// that found the `budget` empty or low (called with no lane's lock held: the queue's lock is
/// taken first, as a collection takes it). Their threads take new chunks when they next need
/// one.
#[cold]
#[inline(never)]
fn reclaim(queue: &QueueState, budget: &Budget) {
    for lane in &queue.lanes {
        let mut state = lane.lock();
        budget.settle(lane.settle(&mut state, true));
    }
}

/// A new chunk of slots for a lane (0 when the queue is full). Wakes the export thread when a
/// batch's worth of slots is in use: it collects the lanes then. A full queue wakes nobody
/// (the chunk that filled it did), so that a span dropped costs no shared write.
#[cold]
fn refill(shared: &Shared) -> usize {
    let settings = &shared.settings;
    let got = shared.budget.take(shared.budget.chunk());
    if got > 0 && shared.budget.used(settings.max_queue_size) >= settings.max_export_batch_size {
        shared.wake.notify_one();
    }
    got
}

/// A new lane for this thread, registered in `shared`'s queue; `None` once the queue shuts
/// down.
#[cold]
fn register(shared: &Shared) -> Option<Arc<Lane>> {
    // Made (its ring allocated) before the queue's lock is taken: threads starting together
    // then wait on the lock for one push each, not for each other's allocations.
    let lane = Arc::new(Lane::new(shared.budget.id, shared.this.clone()));
    let mut queue = shared.lock();
    if queue.shutdown_deadline.is_some() || queue.exited {
        return None;
    }
    queue.lanes.push(lane.clone());
    shared.budget.note_lanes(queue.lanes.len());
    Some(lane)
}

/// Moves every lane's spans to the end of the central queue, counts the spans they dropped,
/// and forgets the lanes of threads that have exited. Takes back the slots the lanes hold and
/// have not used when the queue is half full or more (so that idle threads' slots serve the
/// others), from the lanes of exited threads, and with `close`, when the lanes take no more
/// spans. Returns how many spans it moved.
pub(super) fn collect(shared: &Shared, queue: &mut QueueState, close: bool) -> usize {
    let QueueState {
        lanes,
        queue: central,
        pushed,
        ..
    } = queue;
    let max_queue_size = shared.settings.max_queue_size;
    // While half the queue is free, a lane keeps its slots: its thread then takes no lock for
    // its next spans (at most a chunk per thread is held this way).
    let short = shared.budget.used(max_queue_size) >= max_queue_size / 2;
    let mut moved = 0;
    let mut dropped = 0;
    lanes.retain(|lane| {
        // Read before the spans are taken: a thread that has let go of its lane has published
        // its last span already (acquire: ordered after it), and the lane can go once emptied.
        let exited = Arc::strong_count(lane) == 1;
        fence(Ordering::Acquire);
        let mut state = lane.lock();
        let take_back = short || exited || close;
        shared.budget.settle(lane.settle(&mut state, take_back));
        let held = state.spans.len();
        moved += held;
        central.extend(state.spans.drain(..).map(Queued::Own));
        // A buffer a quarter full or more is kept as it is: its thread fills it again before
        // the next collection, and shrinking it would make the thread grow it again (copying
        // what it holds, each time) in the middle of its spans.
        if state.spans.capacity() > KEPT_CAPACITY.max(4 * held) {
            state.spans.shrink_to(KEPT_CAPACITY.max(held));
        }
        moved += lane.take_published(&mut state, &mut IntoQueue(central));
        state.closed |= close;
        // Counted before an exited thread's lane is forgotten: its last drops with it.
        dropped += lane.drops_to_count(&mut state);
        drop(state);
        !exited
    });
    shared.budget.note_lanes(lanes.len());
    if dropped > 0 {
        shared
            .counters
            .dropped
            .fetch_add(dropped, Ordering::Relaxed);
    }
    *pushed += moved as u64;
    if moved > 0 {
        shared
            .counters
            .queued
            .fetch_add(moved as u64, Ordering::Relaxed);
    }
    moved
}

/// The central queue as a destination of a lane's spans: each moved once, straight in.
struct IntoQueue<'a>(&'a mut VecDeque<Queued>);

impl Extend<Finished> for IntoQueue<'_> {
    fn extend<I: IntoIterator<Item = Finished>>(&mut self, spans: I) {
        self.0.extend(spans.into_iter().map(Queued::Own));
    }
}

#[cfg(test)]
mod tests;
