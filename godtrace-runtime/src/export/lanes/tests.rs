use super::*;
use crate::config::BatchSettings;
use crate::span::clock::Tick;
use crate::span::{Live, Name};
use crate::stats::Counters;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use std::future::Future;
use std::sync::Condvar;
use std::time::Duration;

/// A processor's queue state, counting into `counters` (each test's own static: a leaked
/// one would be reported by Miri).
fn shared(max_queue_size: usize, counters: &'static Counters) -> Shared {
    // Not in an `Arc` of its own: a lane of an exited thread waits for a collection.
    shared_in(Weak::new(), max_queue_size, counters)
}

/// [`shared`] in an `Arc`, as a processor's is: the thread of a lane lets it go at its exit.
fn shared_arc(max_queue_size: usize, counters: &'static Counters) -> Arc<Shared> {
    Arc::new_cyclic(|this| shared_in(this.clone(), max_queue_size, counters))
}

fn shared_in(this: Weak<Shared>, max_queue_size: usize, counters: &'static Counters) -> Shared {
    shared_batching(this, max_queue_size, max_queue_size, counters)
}

/// [`shared_in`] exporting batches of `max_export_batch_size`.
fn shared_batching(
    this: Weak<Shared>,
    max_queue_size: usize,
    max_export_batch_size: usize,
    counters: &'static Counters,
) -> Shared {
    Shared {
        this,
        state: Mutex::new(QueueState::default()),
        wake: tokio::sync::Notify::new(),
        progress: Condvar::new(),
        settings: BatchSettings {
            max_queue_size,
            max_export_batch_size,
            schedule_delay: Duration::from_secs(600),
            export_timeout: Duration::from_secs(20),
        },
        counters,
        budget: Budget::new(max_queue_size, max_export_batch_size),
        deadline: tokio::sync::watch::Sender::new(None),
    }
}

/// A finished span whose span id is `i + 1`.
fn finished(i: u64) -> Finished {
    let ids = SpanContext::new(
        TraceId::from(1),
        SpanId::from(i + 1),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let name = Name::Given("s".into(), SpanKind::Internal);
    let live = Live::start(ids, None, name, Vec::new());
    live.finish(Tick::from_raw(0), Tick::from_raw(1))
}

/// The span ids of what the central queue holds, taken out of it.
fn drain_ids(shared: &Shared) -> Vec<u64> {
    let mut emptied = Vec::new();
    let ids = shared
        .lock()
        .queue
        .drain(..)
        .map(|queued| {
            let data = queued.into_span_data(&mut emptied);
            u64::from_be_bytes(data.span_context.span_id().to_bytes()) - 1
        })
        .collect();
    crate::span::return_spares(&mut emptied);
    ids
}

fn push_span(shared: &Shared, lane: &Lane, i: u64) -> bool {
    matches!(push(shared, lane, || Some(finished(i))), Handed::Queued)
}

/// A lane of `shared`, registered as a thread's first span registers it.
fn registered_lane(shared: &Shared) -> Arc<Lane> {
    let lane = Arc::new(Lane::new(shared.budget.id, Weak::new()));
    let mut queue = shared.lock();
    queue.lanes.push(lane.clone());
    shared.budget.note_lanes(queue.lanes.len());
    drop(queue);
    lane
}

/// A lane of `shared` that has taken spans `0..n`, each accepted.
fn lane_holding(shared: &Shared, n: u64) -> Arc<Lane> {
    let lane = registered_lane(shared);
    for i in 0..n {
        assert!(push_span(shared, &lane, i), "span {i}");
    }
    lane
}

/// What the export thread does with the queue: collects the lanes, takes every span for
/// export and gives their slots back. Returns their ids.
fn export_all(shared: &Shared) -> Vec<u64> {
    collect(shared, &mut shared.lock(), false);
    let ids = drain_ids(shared);
    shared.budget.give_back(ids.len());
    ids
}

fn dropped(counters: &Counters) -> u64 {
    counters.dropped.load(Ordering::Relaxed)
}

/// Whether the export thread has been woken since this was last asked (a stored permit).
fn woken(shared: &Shared) -> bool {
    let notified = std::pin::pin!(shared.wake.notified());
    let mut task = std::task::Context::from_waker(std::task::Waker::noop());
    notified.poll(&mut task).is_ready()
}

/// A lane wakes the export thread once a batch's worth of its spans is queued, also when the
/// batch is smaller than the slots a lane takes at a time: the chunk is never larger than a
/// batch. A lane used to take 64 slots (a queue of 2048) and wake nobody until it needed more,
/// so full batches of 5 waited for the schedule delay.
#[test]
fn a_full_batch_smaller_than_a_lanes_chunk_wakes_the_export_thread() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared_batching(Weak::new(), 2048, 5, &COUNTERS);
    let lane = registered_lane(&shared);
    assert!(push_span(&shared, &lane, 0));
    assert!(woken(&shared), "the first span's chunk is a batch's worth");
    for i in 1..=10 {
        assert!(push_span(&shared, &lane, i));
    }
    assert!(woken(&shared), "two more batches' worth queued");
    export_all(&shared);
}

#[test]
fn spans_keep_their_order_through_a_full_ring_and_the_counts_wrapping() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(10_000, &COUNTERS);
    let lane = Arc::new(Lane::new(shared.budget.id, Weak::new()));
    // Counts close to 2^32, so that they wrap while this runs.
    let near_wrap = u32::MAX - 40;
    lane.front.published.store(near_wrap, Ordering::Relaxed);
    lane.front.limit.store(near_wrap, Ordering::Relaxed);
    lane.head.store(near_wrap, Ordering::Relaxed);
    shared.lock().lanes.push(lane.clone());
    let total = 3 * u64::from(RING) + 7;
    for i in 0..total {
        assert!(push_span(&shared, &lane, i));
        // A collection now and then, rarer than the ring fills.
        if i % 150 == 149 {
            collect(&shared, &mut shared.lock(), false);
        }
    }
    let moved_last = collect(&shared, &mut shared.lock(), true);
    assert!(moved_last > 0);
    assert_eq!(drain_ids(&shared), (0..total).collect::<Vec<_>>());
    assert_eq!(shared.counters.queued.load(Ordering::Relaxed), total);
    // Closed: every slot the lane took and did not use went back to the budget.
    assert_eq!(shared.budget.used(10_000), total as usize);
}

#[test]
fn a_lane_keeps_its_slots_while_half_the_queue_is_free_and_gives_them_back_after() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(256, &COUNTERS);
    let lane = registered_lane(&shared);
    assert!(push_span(&shared, &lane, 0));
    // One chunk taken (256 / 32 = 8 slots), one used.
    assert_eq!(shared.budget.used(256), 8);
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(shared.budget.used(256), 8, "kept: the queue is mostly free");
    for i in 1..8 {
        assert!(
            push_span(&shared, &lane, i),
            "published without a new chunk"
        );
    }
    assert_eq!(shared.budget.used(256), 8);
    // The queue more than half full (spans taken for export are given back later).
    assert_eq!(shared.budget.take(130), 130);
    assert!(push_span(&shared, &lane, 8));
    assert_eq!(shared.budget.used(256), 8 + 130 + 8);
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(
        shared.budget.used(256),
        9 + 130,
        "the 7 unused slots went back"
    );
    assert_eq!(drain_ids(&shared), (0..9).collect::<Vec<_>>());
}

#[test]
fn a_closed_lane_refuses_and_counts_spans_and_a_dropped_lane_frees_its_spans() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(1000, &COUNTERS);
    let lane = lane_holding(&shared, 5);
    collect(&shared, &mut shared.lock(), true);
    assert_eq!(drain_ids(&shared), vec![0, 1, 2, 3, 4]);
    assert!(!push_span(&shared, &lane, 5));
    // Counted by the next collection (`stats()` makes one).
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(shared.counters.dropped.load(Ordering::Relaxed), 1);
    // Spans still in a ring when its lane goes are dropped with it (Miri checks for leaks).
    let orphan = Lane::new(shared.budget.id, Weak::new());
    assert!(push_span(&shared, &orphan, 6));
    drop(orphan);
}

#[test]
fn a_lane_that_found_the_queue_full_takes_spans_again_once_slots_are_given_back() {
    static COUNTERS: Counters = Counters::new();
    // Chunks of 2 slots (64 / 32).
    let shared = shared(64, &COUNTERS);
    let lane = lane_holding(&shared, 64);
    for i in 64..70 {
        assert!(!push_span(&shared, &lane, i), "the queue is full");
    }
    assert_eq!(export_all(&shared), (0..64).collect::<Vec<_>>());
    assert_eq!(dropped(&COUNTERS), 6);
    // The first span after the slots came back is taken, and so is every one up to the
    // bound, which still holds exactly.
    for i in 70..134 {
        assert!(push_span(&shared, &lane, i), "span {i}: the queue has room");
    }
    assert!(!push_span(&shared, &lane, 134), "the queue is full again");
    assert_eq!(shared.budget.used(64), 64);
    assert_eq!(export_all(&shared), (70..134).collect::<Vec<_>>());
    assert_eq!(dropped(&COUNTERS), 7);
}

#[test]
fn a_lane_refuses_spans_without_its_lock_while_the_queue_stays_full() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(64, &COUNTERS);
    let lane = lane_holding(&shared, 64);
    assert!(!push_span(&shared, &lane, 64));
    // A collection holds the lane's lock: the lane's thread refuses its next span without
    // waiting for it (the timeout only keeps a regression from hanging the test).
    let held = lane.lock();
    let (shared_ref, lane_ref) = (&shared, &*lane);
    let refused = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        scope.spawn(move || tx.send(push_span(shared_ref, lane_ref, 65)));
        let refused = rx.recv_timeout(Duration::from_secs(20));
        drop(held);
        refused
    });
    assert_eq!(refused, Ok(false), "the span waited for the lane's lock");
    export_all(&shared);
    assert_eq!(dropped(&COUNTERS), 2);
}

#[test]
fn a_thread_whose_lane_found_the_queue_full_is_refused_at_once_until_slots_come_back() {
    static COUNTERS: Counters = Counters::new();
    let shared = Arc::new(shared(64, &COUNTERS));
    let on_thread = shared.clone();
    let (filled_tx, filled) = std::sync::mpsc::channel();
    let (emptied_tx, emptied) = std::sync::mpsc::channel::<()>();
    let recorder = std::thread::spawn(move || {
        // With room, and until the lane has found the queue full, `refuses` lets the
        // hand-over decide (and counts nothing).
        let before = refuses(&on_thread);
        let queued = (0..64)
            .filter(|&i| matches!(hand_over(&on_thread, || Some(finished(i))), Handed::Queued))
            .count();
        let at_the_bound = refuses(&on_thread);
        let first = hand_over(&on_thread, || Some(finished(64)));
        let refused: Vec<bool> = (0..3).map(|_| refuses(&on_thread)).collect();
        filled_tx.send(()).unwrap();
        emptied.recv().unwrap();
        let after = refuses(&on_thread);
        let taken = matches!(hand_over(&on_thread, || Some(finished(65))), Handed::Queued);
        (before, queued, at_the_bound, first, refused, after, taken)
    });
    filled.recv().unwrap();
    assert_eq!(export_all(&shared), (0..64).collect::<Vec<_>>());
    emptied_tx.send(()).unwrap();
    let (before, queued, at_the_bound, first, refused, after, taken) = recorder.join().unwrap();
    assert!(
        !before && !at_the_bound,
        "refused before the lane found the queue full"
    );
    assert_eq!(queued, 64);
    assert!(
        matches!(first, Handed::Dropped),
        "the span that found it full"
    );
    assert_eq!(refused, [true; 3]);
    assert!(!after && taken, "refused once slots were given back");
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(
        dropped(&COUNTERS),
        4,
        "the first drop and the three refusals, once each"
    );
}

#[test]
fn every_drop_is_counted_by_a_collection_or_when_the_processor_goes() {
    static COUNTERS: Counters = Counters::new();
    let shared = Arc::new(shared(64, &COUNTERS));
    // A thread fills the queue, drops 5 spans and exits.
    let recorder = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let handed = (0..69).map(|i| hand_over(&shared, || Some(finished(i))));
            handed.filter(|h| matches!(h, Handed::Dropped)).count()
        })
    };
    assert_eq!(recorder.join().unwrap(), 5);
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(dropped(&COUNTERS), 5);
    assert!(shared.lock().lanes.is_empty(), "forgotten once counted");
    assert_eq!(drain_ids(&shared), (0..64).collect::<Vec<_>>());
    // Another lane drops 3 spans, and the processor goes before any collection.
    let lane = registered_lane(&shared);
    for i in 100..103 {
        assert!(!push_span(&shared, &lane, i));
    }
    assert_eq!(collect(&shared, &mut shared.lock(), false), 0);
    for i in 103..106 {
        assert!(!push_span(&shared, &lane, i));
    }
    drop(shared);
    assert_eq!(dropped(&COUNTERS), 11);
}

#[test]
fn a_span_published_against_a_limit_a_collection_lowered_is_kept_and_charged() {
    static COUNTERS: Counters = Counters::new();
    // Chunks of 8 slots (256 / 32).
    let shared = shared(256, &COUNTERS);
    let lane = lane_holding(&shared, 1);
    // The queue more than half full: a collection takes a lane's unused slots back.
    assert_eq!(shared.budget.take(130), 130);
    // The lane's thread finds its next span below the limit it reads...
    let published = lane.front.published.load(Ordering::Relaxed);
    assert!(below(published, lane.front.limit.load(Ordering::Relaxed)));
    // ...a collection takes the lane's 7 unused slots back before it publishes...
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(shared.budget.used(256), 130 + 1);
    // ...and it publishes against the limit it read.
    // SAFETY: as the lane's thread, `published` read below the limit it read (the race of
    // `Lane::front`'s limit, which this test plays).
    unsafe { lane.front.publish(published, finished(1)) };
    // The next collection moves the span and charges its slot to the budget.
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(shared.budget.used(256), 130 + 2, "the span holds a slot");
    assert_eq!(drain_ids(&shared), vec![0, 1]);
    shared.budget.give_back(130 + 2);
    // The lane goes on as before: a new chunk for its next span, every slot back at the end.
    assert!(push_span(&shared, &lane, 2));
    collect(&shared, &mut shared.lock(), true);
    assert_eq!(drain_ids(&shared), vec![2]);
    shared.budget.give_back(1);
    assert_eq!(shared.budget.used(256), 0);
    assert_eq!(dropped(&COUNTERS), 0);
}

#[test]
fn a_span_published_after_the_last_collection_is_counted_dropped_when_the_processor_goes() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(256, &COUNTERS);
    let lane = lane_holding(&shared, 1);
    let published = lane.front.published.load(Ordering::Relaxed);
    // Shutdown's collection closes the lane while its thread is about to publish against
    // the limit it read...
    collect(&shared, &mut shared.lock(), true);
    assert_eq!(drain_ids(&shared), vec![0]);
    // SAFETY: as the lane's thread, `published` read below the limit it read (the race of
    // `Lane::front`'s limit, which this test plays).
    unsafe { lane.front.publish(published, finished(1)) };
    // ...and nothing collects after it: the span is counted, not lost unseen.
    drop(shared);
    assert_eq!(dropped(&COUNTERS), 1);
}

/// A thread hands spans `0..total` over to its lane of `shared` while this one exports
/// (`export_all`) until the thread is done, and once more after, as the batch queue does:
/// through the ring's front in line ([`try_append`], on the thread's registered lane) and
/// [`hand_over`] when that does not take the span. Returns the ids exported, in the order
/// taken, and how many spans the lane accepted.
fn record_while_exporting(shared: &Arc<Shared>, total: u64) -> (Vec<u64>, u64) {
    let recorder = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let handed = (0..total).map(|i| match try_append(&shared, finished(i)) {
                Ok(()) => Handed::Queued,
                Err(span) => hand_over(&shared, || Some(span)),
            });
            handed.filter(|h| matches!(h, Handed::Queued)).count() as u64
        })
    };
    let mut ids = Vec::new();
    while !recorder.is_finished() {
        ids.extend(export_all(shared));
    }
    let accepted = recorder.join().unwrap();
    ids.extend(export_all(shared));
    (ids, accepted)
}

#[test]
fn collections_taking_slots_back_while_a_thread_records_keep_the_count_exact() {
    static COUNTERS: Counters = Counters::new();
    // A small queue with 40 of its 64 slots held throughout: more than half full, so
    // every collection takes the lane's unused slots back.
    let shared = Arc::new(shared(64, &COUNTERS));
    assert_eq!(shared.budget.take(40), 40);
    let total: u64 = if cfg!(miri) { 200 } else { 50_000 };
    let (ids, accepted) = record_while_exporting(&shared, total);
    assert_eq!(
        ids.len() as u64,
        accepted,
        "every span accepted was exported"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(dropped(&COUNTERS), total - accepted);
    assert_eq!(shared.budget.used(64), 40, "every other slot came back");
}

#[test]
fn a_collection_racing_the_recording_thread_loses_no_span() {
    static COUNTERS: Counters = Counters::new();
    let shared = Arc::new(shared(100_000, &COUNTERS));
    let total: u64 = if cfg!(miri) { 300 } else { 20_000 };
    let (ids, accepted) = record_while_exporting(&shared, total);
    assert_eq!(accepted, total);
    assert_eq!(ids, (0..total).collect::<Vec<_>>());
    assert_eq!(dropped(&COUNTERS), 0);
    // The exited thread's lane was forgotten once emptied.
    assert!(shared.lock().lanes.is_empty());
}

/// A thread's first span registers its lane: on the heap, not built on the thread's stack
/// first, so that a thread with a small stack records like any other.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model the size of a thread's stack")]
fn a_thread_with_a_small_stack_registers_its_lane() {
    static COUNTERS: Counters = Counters::new();
    let shared = Arc::new(shared(64, &COUNTERS));
    let on_thread = shared.clone();
    let queued = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(move || matches!(hand_over(&on_thread, || Some(finished(0))), Handed::Queued))
        .expect("spawn")
        .join()
        .expect("the thread ran");
    assert!(queued);
    assert_eq!(export_all(&shared), vec![0]);
}

/// Many recording threads, each holding a chunk of the budget it barely used (a thread per
/// request, a blocking pool): a span is kept while the queue has room for it, the slots the
/// lanes hold unused are taken back for it, and chunks shrink as lanes are added.
#[test]
fn many_lanes_holding_unused_slots_do_not_make_a_queue_with_room_drop_spans() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(256, &COUNTERS);
    let lanes: Vec<Arc<Lane>> = (0..40).map(|_| lane_holding(&shared, 1)).collect();
    assert_eq!(dropped(&COUNTERS), 0);
    let used = shared.budget.used(256);
    assert!(
        used < 256,
        "the lanes hold {used} of 256 slots for 40 spans"
    );
    // Twice the queue's worth of lanes: the slots held unused come back to the lanes that need them.
    let more: Vec<Arc<Lane>> = (40..200).map(|_| lane_holding(&shared, 1)).collect();
    assert_eq!(dropped(&COUNTERS), 0);
    assert_eq!(export_all(&shared).len(), 200);
    drop((lanes, more));
}

#[test]
fn a_busy_lanes_buffer_keeps_its_room_between_collections_and_a_quiet_ones_gives_it_back() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(100_000, &COUNTERS);
    let lane = registered_lane(&shared);
    let burst = 3 * u64::from(RING) + 5;
    // More spans than the ring holds between two collections: the thread moves the ring's
    // spans into the lane's buffer, which grows.
    for i in 0..burst {
        assert!(push_span(&shared, &lane, i));
    }
    assert_eq!(export_all(&shared).len() as u64, burst);
    let room = lane.lock().spans.capacity();
    assert!(
        room >= 2 * RING as usize,
        "kept after a busy collection: {room}"
    );
    // The same again: the buffer is not grown (its spans copied) a second time.
    for i in 0..burst {
        assert!(push_span(&shared, &lane, i));
        assert_eq!(lane.lock().spans.capacity(), room, "span {i}");
    }
    export_all(&shared);
    // A quiet period: a collection that finds the buffer (nearly) unused gives its room back.
    push_span(&shared, &lane, 0);
    export_all(&shared);
    assert!(lane.lock().spans.capacity() <= KEPT_CAPACITY);
}

/// A lane whose chunk leaves less than an eighth of the queue free takes back the slots the
/// other lanes hold unused, before the budget is empty: lanes that would then find it empty at
/// the same moment (a burst of threads, each with its first chunk) find those slots free
/// rather than dropping their spans while the first of them takes them back.
#[test]
fn a_budget_running_low_takes_back_the_slots_lanes_hold_unused() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(256, &COUNTERS);
    // One span, in a chunk of 8: seven slots held unused.
    let holder = lane_holding(&shared, 1);
    // Spans until less than an eighth (32) of the budget is free.
    let filler = registered_lane(&shared);
    let mut pushed = 1;
    while shared.budget.used(256) <= 256 - 32 {
        assert!(push_span(&shared, &filler, pushed));
        pushed += 1;
    }
    // Every slot in use holds a span: the lanes hold none unused.
    assert_eq!(shared.budget.used(256), pushed as usize);
    assert_eq!(export_all(&shared).len(), pushed as usize);
    assert_eq!(dropped(&COUNTERS), 0);
    drop((holder, filler));
}

/// A lane that finds the budget empty when another lane has claimed the pass over the lanes
/// for that emptying (and has not made it yet), with the queue's lock free, makes the pass
/// itself and gets its span in, rather than dropping it.
#[test]
fn a_lane_finding_the_budget_empty_after_another_claimed_the_pass_gets_a_slot() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared(256, &COUNTERS);
    let filler = lane_holding(&shared, 200);
    // One span in a chunk of 8: seven slots held unused.
    let holder = lane_holding(&shared, 1);
    let late = registered_lane(&shared);
    // The rest of the budget, taken (by no lane): the budget is empty.
    shared.budget.take(usize::MAX);
    // Another lane found it empty first and claimed the pass.
    let emptied_at = shared.budget.given_back();
    assert!(shared.budget.claims_reclaim(emptied_at));
    assert!(
        push_span(&shared, &late, 1000),
        "a slot `holder` held unused"
    );
    drop((filler, holder, late));
    collect(&shared, &mut shared.lock(), false);
    assert_eq!(dropped(&COUNTERS), 0);
}

/// Threads that start, record a span the full queue refuses, and exit: their lanes go with
/// them, and their drops are counted, with no collection (which may be a second away while
/// the export is stuck): memory does not grow with how many threads come and go meanwhile.
#[test]
fn the_lane_of_an_exited_thread_holding_no_span_goes_with_it() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared_arc(64, &COUNTERS);
    let on_thread = shared.clone();
    std::thread::spawn(move || {
        for i in 0..64 {
            assert!(matches!(
                hand_over(&on_thread, || Some(finished(i))),
                Handed::Queued
            ));
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        shared.lock().lanes.len(),
        1,
        "its spans wait for the collection"
    );
    for i in 0..8 {
        let on_thread = shared.clone();
        let handed = std::thread::spawn(move || hand_over(&on_thread, || Some(finished(100 + i))))
            .join()
            .unwrap();
        assert!(matches!(handed, Handed::Dropped));
    }
    assert_eq!(
        shared.lock().lanes.len(),
        1,
        "the refused threads' lanes are gone"
    );
    assert_eq!(dropped(&COUNTERS), 8);
    assert_eq!(export_all(&shared), (0..64).collect::<Vec<_>>());
    assert!(shared.lock().lanes.is_empty());
}

/// After shutdown, a span ending on a thread with no lane yet makes none (nothing would ever
/// collect it): it is dropped and counted.
#[test]
fn no_lane_is_made_after_shutdown() {
    static COUNTERS: Counters = Counters::new();
    let shared = shared_arc(64, &COUNTERS);
    shared.lock().shutdown_deadline = Some(std::time::Instant::now());
    let on_thread = shared.clone();
    let lanes_meanwhile = std::thread::spawn(move || {
        let handed = hand_over(&on_thread, || Some(finished(0)));
        assert!(matches!(handed, Handed::Dropped));
        on_thread.lock().lanes.len()
    })
    .join()
    .unwrap();
    assert_eq!(lanes_meanwhile, 0);
    assert_eq!(dropped(&COUNTERS), 1);
}
