//! The lock-free front of a thread's lane of finished records ([`RingFront`]): the part of the
//! batch queue's hand-off that a kept span's end runs in line (`sink::Pipeline::on_own_box_end`),
//! with no call into the record sink while the lane has room. The lane around it (its budget,
//! its lock, its collection) belongs to the record sink, which registers it here
//! ([`set_this_thread`]) and handles every case this fast path leaves to it.
//!
//! Nothing here knows what the record sink is: a ring, two counts and the id of the sink the
//! lane is for.
use super::clock::Tick;
use super::live::{Finished, LiveBox};
use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};

/// Spans a lane's ring holds (a power of two, so that a slot's index is a mask): twice the
/// default batch. The export thread collects every lane once a batch's worth of slots is in
/// use, so while it keeps up, a thread's spans wait in the ring until they are collected. A
/// smaller ring (it was 64) fills between two collections and its spans are moved to the
/// lane's buffer first: at 20,000 spans/s, `push_locked` cost the recording thread 13
/// instructions a span with 64 slots and 2 with 1024 (callgrind on the export bench's
/// paced case). 24 KiB per recording thread, on the heap.
#[cfg(not(miri))]
pub(crate) const RING: u32 = 1024;
/// Under Miri, the same code with a smaller ring: the lane tests wrap the ring several times,
/// which at 1024 spans a turn took Miri minutes.
#[cfg(miri)]
pub(crate) const RING: u32 = 64;

thread_local! {
    /// The front of this thread's lane, for the record sink that registered it last; null
    /// until one does, and from the moment the lane's owner on this thread is destroyed (no
    /// destructor of its own: readable to the end of the thread).
    static FRONT: Cell<*const RingFront> = const { Cell::new(std::ptr::null()) };
}

/// The part of a lane its thread writes without a lock: the ring and the counts that say which
/// of its slots are free. Its invariants (who writes a slot when) are the lane's: see
/// `export::lanes::Lane`, which holds it and documents `limit`.
pub(crate) struct RingFront {
    /// The id of the record sink the lane is for (never 0).
    pub(crate) owner: u64,
    /// Spans ever published into the ring: written by the lane's thread alone (counted modulo
    /// 2^32, like every count here).
    pub(crate) published: AtomicU32,
    /// How far `published` may go with the budget slots the lane holds (see
    /// `export::lanes::Lane`): every slot below it is free.
    pub(crate) limit: AtomicU32,
    /// Slot `i % RING` holds the `i`th span published while `i` is in the lane's
    /// `head..published` (counted modulo 2^32). Boxed on its own: made on the heap, never on
    /// the stack of the thread whose first span makes its lane (24 KiB there would overflow a
    /// thread started with a small stack).
    ring: Box<Ring>,
}

/// The slots of a lane's ring.
type Ring = [UnsafeCell<MaybeUninit<Finished>>; RING as usize];

/// A ring of free slots, made on the heap.
fn new_ring() -> Box<Ring> {
    let slots: Box<[UnsafeCell<MaybeUninit<Finished>>]> = (0..RING)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    match slots.try_into() {
        Ok(ring) => ring,
        Err(_) => unreachable!("{RING} slots were made"),
    }
}

impl RingFront {
    /// An empty ring for the record sink of id `owner`, with no slot to publish into.
    pub(crate) fn new(owner: u64) -> RingFront {
        RingFront {
            owner,
            published: AtomicU32::new(0),
            limit: AtomicU32::new(0),
            ring: new_ring(),
        }
    }

    /// The ring slot of the `i`th span.
    #[inline(always)]
    pub(crate) fn slot(&self, i: u32) -> *mut Finished {
        self.ring[(i % RING) as usize].get().cast::<Finished>()
    }

    /// The slots of the spans from the `i`th on that follow each other in memory: a pointer to
    /// the first (reaching all of them) and how many, at most `count` and `most`.
    #[inline]
    pub(crate) fn run_from(&self, i: u32, count: u32, most: u32) -> (*const Finished, u32) {
        let at = i % RING;
        let run = count.min(RING - at).min(most);
        // From the whole ring's pointer, not one slot's: it reaches every slot of the run.
        let first = UnsafeCell::raw_get(self.ring.as_ptr().wrapping_add(at as usize));
        (first.cast::<Finished>().cast_const(), run)
    }

    /// Writes `span` into ring slot `published` and publishes it.
    ///
    /// # Safety
    /// Called on the lane's thread, with `published` the count it read and found below the
    /// limit it read (see [`below`]), so that the slot is free.
    #[inline(always)]
    pub(crate) unsafe fn publish(&self, published: u32, span: Finished) {
        let slot = self.slot(published);
        // SAFETY: the slot's index is `published`, outside `head..published`, and below a limit
        // this thread raised under the lane's lock when `head` was at most `RING` below it (a
        // limit a collection lowered is a count this thread had reached, which `published` is
        // not below: see `export::lanes::Lane::front`): the slot's previous span, `RING` spans
        // earlier, was moved out under that lock before this thread took it (our caller's
        // guarantee). Nobody reads the slot until the store below publishes it, and only this
        // thread writes slots.
        unsafe { slot.write(span) };
        // Release: the span is written before it is published.
        self.published
            .store(published.wrapping_add(1), Ordering::Release);
    }
}

/// Whether a lane that has published `published` spans may publish another under `limit`:
/// the limit is ahead. Wrapping: the counts run modulo 2^32, and `published` may be past a
/// limit a collection lowered (see `export::lanes::Lane::front`); they are never 2^31 apart.
#[inline(always)]
pub(crate) fn below(published: u32, limit: u32) -> bool {
    limit.wrapping_sub(published) as i32 > 0
}

/// Registers `front` as this thread's (null: none).
///
/// # Safety
/// A non-null `front` stays allocated, and is written by no other thread but as its lane
/// allows, until this thread registers another or null.
pub(crate) unsafe fn set_this_thread(front: *const RingFront) {
    FRONT.set(front);
}

/// This thread's front for the record sink of id `owner` when it has a free slot: the front
/// and the count to publish at.
#[inline(always)]
fn with_room(owner: u64) -> Option<(&'static RingFront, u32)> {
    // SAFETY: a non-null `FRONT` points at a front that stays allocated until this thread
    // registers another (`set_this_thread`'s caller's guarantee); the reference is used only
    // by our callers, which register nothing before they are done with it.
    let front = unsafe { FRONT.get().as_ref() }?;
    if front.owner != owner {
        return None;
    }
    // Relaxed: only this thread writes the count; a limit lowered meanwhile is settled later
    // (see `export::lanes::Lane::front`).
    let published = front.published.load(Ordering::Relaxed);
    if !below(published, front.limit.load(Ordering::Relaxed)) {
        return None;
    }
    Some((front, published))
}

/// Appends `span` to this thread's lane of the record sink of id `owner` when that takes no
/// lock: the lane is registered and holds a budget slot (the ring then has room). Gives the
/// span back when it does not.
#[inline(always)]
pub(crate) fn try_append(owner: u64, span: Finished) -> Result<(), Finished> {
    let Some((front, published)) = with_room(owner) else {
        return Err(span);
    };
    // SAFETY: on this thread, `published` read and found below the limit just now.
    unsafe { front.publish(published, span) };
    Ok(())
}

/// The record sink's common path in line: puts the record `live` (a span that ran from
/// `start` to `end`) into this thread's lane of the record sink of id `owner` when that takes
/// no lock and the span is on no list; else gives it back, for the record sink.
#[inline(always)]
pub(crate) fn try_take(owner: u64, live: LiveBox, start: Tick, end: Tick) -> Result<(), LiveBox> {
    let Some((front, published)) = with_room(owner) else {
        return Err(live);
    };
    let span = live.finish_off_list(start, end)?;
    // SAFETY: on this thread, `published` read and found below the limit just now (nothing in
    // between publishes).
    unsafe { front.publish(published, span) };
    Ok(())
}
