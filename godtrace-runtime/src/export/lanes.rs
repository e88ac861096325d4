//! The per-thread hand-off of finished spans from the recording threads to the export thread.
//!
//! Each recording thread appends its spans to its own lane: a buffer behind a lock only that
//! thread and the export thread ever take, so two recording threads share no cache line on
//! the common path. A lane is registered in the processor's queue state; the export thread
//! collects every lane on each of its turns (a full batch, the schedule delay, a flush,
//! shutdown), so a span never waits in the lane of an idle or exited thread longer than the
//! schedule delay.
//!
//! The queue bound (`OTEL_BSP_MAX_QUEUE_SIZE`) is a budget of slots shared by every thread:
//! a lane takes slots from it a chunk at a time (one atomic operation per chunk), and the
//! export thread gives them back when it takes spans for export and when it collects a lane
//! (its unused slots). Spans in lanes, in the central queue and slots held by lanes together
//! never exceed the bound, so memory stays bounded and a span that finds no slot is dropped
//! and counted, as before.
use super::batch::{QueueState, Queued, Shared};
use crate::span::Finished;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Slots a lane takes from the budget at a time, at most.
const MAX_CHUNK: usize = 64;

/// A lane's buffer holds at most this many spans' worth of capacity after a collection: a
/// burst does not keep its memory once handed over.
const KEPT_CAPACITY: usize = 4 * MAX_CHUNK;

/// Tells processors apart (an address could be reused by a later one).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's lane, for the processor that registered it last.
    static LANE: RefCell<Option<Arc<Lane>>> = const { RefCell::new(None) };
}

/// One recording thread's buffer for one processor. Aligned to two cache lines (the unit
/// adjacent-line prefetchers pull in), so that no other thread's lane shares one with it.
#[derive(Debug)]
#[repr(align(128))]
pub(super) struct Lane {
    owner: u64,
    state: Mutex<LaneState>,
}

#[derive(Default)]
struct LaneState {
    spans: Vec<Finished>,
    /// Slots taken from the budget and not used yet.
    credit: usize,
    /// Set when the processor shuts down: the lane takes no more spans.
    closed: bool,
}

impl std::fmt::Debug for LaneState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneState")
            .field("spans", &self.spans.len())
            .field("credit", &self.credit)
            .field("closed", &self.closed)
            .finish()
    }
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        // A panic while holding the lock leaves the buffer consistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The budget of queue slots, and how a lane takes from it.
#[derive(Debug)]
pub(super) struct Budget {
    /// A processor's identity, which its lanes carry.
    id: u64,
    free: AtomicUsize,
    chunk: usize,
}

impl Budget {
    pub(super) fn new(max_queue_size: usize) -> Self {
        Budget {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            free: AtomicUsize::new(max_queue_size),
            // Small queues are shared out in small chunks, so one thread cannot hold them all.
            chunk: (max_queue_size / 32).clamp(1, MAX_CHUNK),
        }
    }

    /// Takes up to `wanted` slots; returns how many it got (0 when the queue is full).
    pub(super) fn take(&self, wanted: usize) -> usize {
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                return 0;
            }
            let take = free.min(wanted);
            match self.free.compare_exchange_weak(
                free,
                free - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => free = now,
            }
        }
    }

    /// Gives back `n` slots: spans taken for export, or a lane's unused ones.
    pub(super) fn give_back(&self, n: usize) {
        if n > 0 {
            self.free.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Slots in use (spans queued, in lanes, or held by lanes), for the wake-up rule.
    pub(super) fn used(&self, max_queue_size: usize) -> usize {
        max_queue_size.saturating_sub(self.free.load(Ordering::Relaxed))
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
    LANE.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Handed::Unreachable;
        };
        let lane = match &*slot {
            Some(lane) if lane.owner == shared.budget.id => lane,
            _ => slot.insert(register(shared)),
        };
        push(shared, lane, finish)
    })
    .unwrap_or(Handed::Unreachable)
}

#[inline]
fn push(shared: &Shared, lane: &Lane, finish: impl FnOnce() -> Option<Finished>) -> Handed {
    let mut state = lane.lock();
    if state.closed {
        drop(state);
        shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        return Handed::Dropped;
    }
    if state.credit == 0 {
        state.credit = refill(shared);
        if state.credit == 0 {
            drop(state);
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Handed::Dropped;
        }
    }
    if let Some(span) = finish() {
        state.credit -= 1;
        state.spans.push(span);
    }
    Handed::Queued
}

/// A new chunk of slots for a lane (0 when the queue is full). Wakes the export thread when a
/// batch's worth of slots is in use: it collects the lanes then. A full queue wakes nobody
/// (the chunk that filled it did), so that a span dropped costs no shared write but its count.
#[cold]
fn refill(shared: &Shared) -> usize {
    let settings = &shared.settings;
    let got = shared.budget.take(shared.budget.chunk);
    if got > 0 && shared.budget.used(settings.max_queue_size) >= settings.max_export_batch_size {
        shared.wake.notify_one();
    }
    got
}

#[cold]
fn register(shared: &Shared) -> Arc<Lane> {
    let mut queue = shared.lock();
    let lane = Arc::new(Lane {
        owner: shared.budget.id,
        state: Mutex::new(LaneState {
            closed: queue.shutdown_deadline.is_some() || queue.exited,
            ..LaneState::default()
        }),
    });
    queue.lanes.push(lane.clone());
    lane
}

/// Moves every lane's spans to the end of the central queue, takes back their unused slots,
/// and forgets the lanes of threads that have exited. With `close`, the lanes take no more
/// spans. Returns how many spans it moved.
pub(super) fn collect(shared: &Shared, queue: &mut QueueState, close: bool) -> usize {
    let QueueState {
        lanes,
        queue: central,
        pushed,
        ..
    } = queue;
    let mut moved = 0;
    lanes.retain(|lane| {
        let mut state = lane.lock();
        moved += state.spans.len();
        central.extend(state.spans.drain(..).map(Queued::Own));
        if state.spans.capacity() > KEPT_CAPACITY {
            state.spans.shrink_to(KEPT_CAPACITY);
        }
        shared.budget.give_back(std::mem::take(&mut state.credit));
        state.closed |= close;
        drop(state);
        // Only the list holds it: its thread has exited, and it is empty.
        Arc::strong_count(lane) > 1
    });
    *pushed += moved as u64;
    if moved > 0 {
        shared
            .counters
            .queued
            .fetch_add(moved as u64, Ordering::Relaxed);
    }
    moved
}
