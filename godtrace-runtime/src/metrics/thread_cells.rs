//! The duration histogram's counts, per recording thread: a traced call adds to cells that only
//! its own thread writes, so two threads recording the same operation share no cache line and
//! no call pays for a locked read-modify-write.
//!
//! A thread takes one of [`SLOTS`] slots on its first recorded duration and gives it back when
//! it exits; each series keeps one set of cells per slot, allocated on that slot's first use.
//! The slot's owner is the only writer of its cells (a plain load and store, no `lock` prefix);
//! collection reads them with relaxed loads. A slot handed from an exiting thread to a new one
//! carries its counts on (they are cumulative): the release of the slot and its next claim are
//! a release/acquire pair on [`TAKEN`], so the new owner's first load sees the last store of the
//! old one. Threads beyond [`SLOTS`] at once (and a thread recording while it exits) add to the
//! series' shared cells with atomic read-modify-writes, as every thread did before.
use super::buckets::DURATION_BUCKETS;
use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Threads that get cells of their own at once.
pub(crate) const SLOTS: usize = 64;

/// Bit `i` set: slot `i` is owned by a live thread.
static TAKEN: AtomicU64 = AtomicU64::new(0);

/// One set of counts: a bucket count per duration bucket and the sum in the clock's ticks
/// (scaled to nanoseconds once, when read: a call adds its raw duration). Aligned
/// to a cache line, so that two slots' cells never share one.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(crate) struct Cells {
    counts: [AtomicU64; DURATION_BUCKETS],
    sum_ticks: AtomicU64,
}

impl Cells {
    /// Adds one call by read-modify-write: for cells any thread may write.
    #[inline]
    fn add_shared(&self, bucket: usize, ticks: u64) {
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ticks.fetch_add(ticks, Ordering::Relaxed);
    }

    /// Adds one call by a plain load and store: only for cells this thread alone writes (its
    /// slot's), where no other write can come in between.
    #[inline]
    fn add_owned(&self, bucket: usize, ticks: u64) {
        let count = &self.counts[bucket];
        count.store(
            count.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        self.sum_ticks.store(
            self.sum_ticks.load(Ordering::Relaxed).wrapping_add(ticks),
            Ordering::Relaxed,
        );
    }

    /// Adds these counts to `counts` and returns the sum, in ticks.
    fn read_into(&self, counts: &mut [u64; DURATION_BUCKETS]) -> u64 {
        for (total, cell) in counts.iter_mut().zip(&self.counts) {
            *total = total.wrapping_add(cell.load(Ordering::Relaxed));
        }
        self.sum_ticks.load(Ordering::Relaxed)
    }
}

/// Indices a thread's [`SLOT`] can hold, a power of two: the [`SLOTS`] slots, then the marks
/// ([`UNCLAIMED`], [`NONE_FREE`]) and unused indices, whose cells never exist. A slot read from
/// the thread-local then indexes `per_slot` with a mask, no bounds check.
const INDICES: usize = 128;

/// A series' counts: shared cells, and one set per slot.
#[derive(Debug)]
pub(crate) struct ThreadCells {
    shared: Cells,
    /// Slot `i`'s cells, null until the slot's first add here: a leaked `Box`, written once,
    /// by the slot's owner, and freed with the series. One load and a test on the hot path
    /// (a `OnceLock` would test its state, then load). Null from index [`SLOTS`] on.
    per_slot: [AtomicPtr<Cells>; INDICES],
}

impl Default for ThreadCells {
    fn default() -> Self {
        ThreadCells {
            shared: Cells::default(),
            per_slot: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        }
    }
}

impl Drop for ThreadCells {
    fn drop(&mut self) {
        for cells in &mut self.per_slot {
            let cells = *cells.get_mut();
            if !cells.is_null() {
                // SAFETY: a non-null pointer here came from `Box::into_raw` in `add_first`,
                // stored once; `&mut self` means no thread adds to or reads the cells now.
                drop(unsafe { Box::from_raw(cells) });
            }
        }
    }
}

impl ThreadCells {
    /// Adds one call of `ticks` to `bucket`, in this thread's cells.
    #[inline(always)]
    pub(crate) fn add(&self, bucket: usize, ticks: u64) {
        // One load and one test on the common path: a claimed slot whose cells exist.
        let slot = usize::from(SLOT.get()) & (INDICES - 1);
        // Relaxed: the slot's cells were made by this thread, or by the slot's previous owner
        // before it gave the slot back (release), which this thread claimed (acquire).
        let cells = self.per_slot[slot].load(Ordering::Relaxed);
        // SAFETY: a non-null pointer is a `Box` leaked by `add_first`, freed only when the
        // series is dropped (not while `&self` is borrowed).
        match unsafe { cells.as_ref() } {
            Some(cells) => cells.add_owned(bucket, ticks),
            None => self.add_first(slot, bucket, ticks),
        }
    }

    /// `add` on a thread's first call here: claims its slot, or creates its cells, or (no slot
    /// to have) adds to the shared cells.
    #[cold]
    #[inline(never)]
    fn add_first(&self, slot: usize, bucket: usize, ticks: u64) {
        let slot = if slot == usize::from(UNCLAIMED) {
            claim()
        } else {
            Some(slot).filter(|&slot| slot < SLOTS)
        };
        match slot {
            Some(slot) => self.owned_cells(slot).add_owned(bucket, ticks),
            None => self.shared.add_shared(bucket, ticks),
        }
    }

    /// The cells of `slot`, which this thread owns, made on first use.
    fn owned_cells(&self, slot: usize) -> &Cells {
        let cells = &self.per_slot[slot];
        let mut ours = cells.load(Ordering::Relaxed);
        if ours.is_null() {
            ours = Box::into_raw(Box::<Cells>::default());
            // Release: a collection that finds the pointer (acquire) sees the cells made.
            // Only the slot's owner writes it: a store, not a swap.
            cells.store(ours, Ordering::Release);
        }
        // SAFETY: as in `add`: a leaked `Box`, freed only with the series.
        unsafe { &*ours }
    }

    /// Every slot's cells that exist.
    fn existing(&self) -> impl Iterator<Item = &Cells> {
        self.per_slot.iter().filter_map(|cells| {
            // SAFETY: as in `add`; acquire: the cells were made before their pointer was
            // published (`owned_cells`).
            unsafe { cells.load(Ordering::Acquire).as_ref() }
        })
    }

    /// The bucket counts and the sum in ticks, over every thread's cells.
    pub(crate) fn read(&self) -> ([u64; DURATION_BUCKETS], u64) {
        let mut counts = [0; DURATION_BUCKETS];
        let mut sum = self.shared.read_into(&mut counts);
        for cells in self.existing() {
            sum = sum.wrapping_add(cells.read_into(&mut counts));
        }
        (counts, sum)
    }

    /// The bytes the cells hold beyond `size_of::<ThreadCells>()`.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.existing().count() * size_of::<Cells>()
    }
}

/// A slot index, or one of these (indices in `per_slot` whose cells never exist).
const UNCLAIMED: u8 = (INDICES - 1) as u8;
const NONE_FREE: u8 = (INDICES - 2) as u8;

thread_local! {
    /// This thread's slot, claimed on its first recorded duration. A `const` thread-local
    /// without `Drop`: one load, no registration check, readable while the thread exits.
    static SLOT: Cell<u8> = const { Cell::new(UNCLAIMED) };
    /// Gives the slot back when the thread exits; touched once, when the slot is claimed.
    static RELEASE: Release = const { Release };
}

/// Claims a free slot for this thread; `None` when all are taken or the thread exits.
#[cold]
#[inline(never)]
fn claim() -> Option<usize> {
    // No slot for a thread whose destructors are running: it would never give it back.
    if RELEASE.try_with(|_| ()).is_err() {
        SLOT.set(NONE_FREE);
        return None;
    }
    let mut taken = TAKEN.load(Ordering::Relaxed);
    loop {
        let free = (!taken).trailing_zeros() as usize;
        if free >= SLOTS {
            // Not retried: the thread uses the shared cells for the rest of its life.
            SLOT.set(NONE_FREE);
            return None;
        }
        // Acquire: this thread's first load of the slot's cells sees the previous owner's last
        // store (it released the slot after it).
        match TAKEN.compare_exchange_weak(
            taken,
            taken | 1 << free,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                SLOT.set(free as u8);
                return Some(free);
            }
            Err(now) => taken = now,
        }
    }
}

/// See `RELEASE`.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let slot = SLOT.replace(NONE_FREE);
        if usize::from(slot) < SLOTS {
            // Release: the next owner's claim (acquire) sees every store of this thread.
            TAKEN.fetch_and(!(1 << slot), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls each thread adds: fewer under Miri, which runs these tests (`scripts/miri`) and
    /// needs only the hand-overs of slots, not the volume.
    const CALLS: u64 = if cfg!(miri) { 20 } else { 1_000 };

    #[test]
    fn every_threads_calls_are_counted_once() {
        let cells = std::sync::Arc::new(ThreadCells::default());
        // More threads than slots over the test's life (slots are given back and reused), and
        // more at once than one: each adds `CALLS` calls of 3 ticks to bucket 2.
        for _ in 0..4 {
            let threads: Vec<_> = (0..20)
                .map(|_| {
                    let cells = cells.clone();
                    std::thread::spawn(move || {
                        for _ in 0..CALLS {
                            cells.add(2, 3);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        }
        let (counts, sum) = cells.read();
        assert_eq!(counts[2], 80 * CALLS);
        assert_eq!(counts.iter().sum::<u64>(), 80 * CALLS);
        assert_eq!(sum, 240 * CALLS);
    }

    #[test]
    fn threads_beyond_the_slots_share_cells_and_lose_no_count() {
        let cells = ThreadCells::default();
        let threads = SLOTS + 6;
        // Every thread records once, then waits for all the others: more threads than slots
        // are alive at once, so some find none free and add to the shared cells.
        let all_recorded = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    cells.add(1, 5);
                    all_recorded.wait();
                    cells.add(1, 5);
                });
            }
        });
        let (counts, sum) = cells.read();
        assert_eq!(counts[1], 2 * threads as u64);
        assert_eq!(sum, 10 * threads as u64);
        assert!(cells.shared.counts[1].load(Ordering::Relaxed) >= 2);
    }

    /// Each thread that holds a slot adds to cells of its own. The slots are the process's:
    /// another test running at the same time (one that takes them all) may leave a thread
    /// none, and it then adds to the shared cells, so only the threads holding one count.
    #[test]
    fn two_threads_write_cells_of_their_own() {
        let holds_a_slot = || usize::from(SLOT.get()) < SLOTS;
        let cells = ThreadCells::default();
        cells.add(0, 1);
        let spawned = std::thread::scope(|s| {
            s.spawn(|| {
                cells.add(0, 1);
                holds_a_slot()
            })
            .join()
            .expect("the thread finished")
        });
        cells.add(0, 1);
        let (counts, _) = cells.read();
        assert_eq!(counts[0], 3);
        let owners = usize::from(holds_a_slot()) + usize::from(spawned);
        assert!(
            cells.heap_bytes() >= owners * size_of::<Cells>(),
            "each thread holding a slot added to cells of its own"
        );
    }
}
