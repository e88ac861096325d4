//! Spare span records: each thread keeps emptied boxes for its next spans, and the export
//! thread hands back those it emptied, so that recording allocates nothing in the steady state
//! and the number of records stays bounded by the queue.
use super::{Live, ThisThread, this_thread};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

thread_local! {
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
    pub(super) fn keep_spare(&self, spare: Spare) {
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

/// Spare boxes kept per thread, at most.
pub(super) const MAX_SPARES: usize = 64;
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

/// An emptied box for a new span of this thread, if one is at hand.
#[inline(always)]
pub(super) fn take_spare() -> Option<Spare> {
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

/// [`return_spares`] of boxes known to hold nothing already: each was a [`Finished`](super::Finished) for which
/// [`Finished::holds_nothing`](super::Finished::holds_nothing) was true (the check `Live::empty` makes), and is not read again.
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

/// A box whose span has ended, emptied ([`Live::empty`]) where it was given up, ready for the
/// next one.
pub(super) struct Spare(pub(super) Box<Live>);

impl From<Box<Live>> for Spare {
    // In line into `Live::recycle`, the path of a span no exporter takes: a call saved.
    #[inline(always)]
    fn from(mut boxed: Box<Live>) -> Spare {
        boxed.empty();
        Spare(boxed)
    }
}
