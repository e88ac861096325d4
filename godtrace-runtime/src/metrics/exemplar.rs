//! Exemplar slots: the trace of a recent sampled call, one slot per histogram bucket.
//!
//! A slot is a tiny seqlock over plain atomics. A sampled call writes the slot of the bucket it
//! fell into, unless another writer holds it at that moment (then it skips: any recent call is
//! a good exemplar). Readers retry a few times and give up on a slot that keeps changing.
use crate::span::clock::{self, Tick};
use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::SystemTime;

/// The trace of one recorded measurement, attached to the histogram bucket it fell into.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The trace the measured call belongs to.
    pub trace_id: TraceId,
    /// The measured call's span.
    pub span_id: SpanId,
    /// The measured value (seconds, for the duration histogram).
    pub value: f64,
    /// When it was recorded.
    pub time: SystemTime,
}

/// One bucket's latest exemplar.
#[derive(Debug)]
pub(crate) struct ExemplarSlot {
    /// Even: stable (0 = never written); odd: a write is in progress.
    seq: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    span_id: AtomicU64,
    value_bits: AtomicU64,
    /// When it was recorded, in nanoseconds since the Unix epoch: made a wall-clock time by
    /// the clock that times the spans when written (so an exemplar's time is its span's end),
    /// not when read, since the clock's anchor is taken again every second and every export
    /// would then give it another time.
    at_unix_nanos: AtomicU64,
    /// The earliest clock reading at which a traced call replaces the exemplar
    /// ([`ExemplarSlot::write_at`]): just past a millisecond after the last one it wrote; 0
    /// before any. One comparison per call, the age computed once per write.
    next_write: AtomicU64,
}

/// How long a traced call's exemplar stands before another call of the same bucket replaces
/// it: scrapes come seconds apart, so a fresher one is never seen, and skipping the write
/// keeps a hot operation's sampled calls to one relaxed load here.
const MIN_EXEMPLAR_AGE_NS: u64 = 1_000_000;

/// The longest time in ticks that is shorter than [`MIN_EXEMPLAR_AGE_NS`]: an exemplar written
/// at most this many ticks before a call stands (compared without scaling the ticks).
pub(crate) fn fresh_ticks() -> u64 {
    clock::ticks_within(MIN_EXEMPLAR_AGE_NS - 1)
}

impl ExemplarSlot {
    pub(crate) const fn new() -> Self {
        ExemplarSlot {
            seq: AtomicU64::new(0),
            trace_hi: AtomicU64::new(0),
            trace_lo: AtomicU64::new(0),
            span_id: AtomicU64::new(0),
            value_bits: AtomicU64::new(0),
            at_unix_nanos: AtomicU64::new(0),
            next_write: AtomicU64::new(0),
        }
    }

    /// Whether a traced call that ended at `at` replaces this exemplar
    /// ([`ExemplarSlot::write_at`]): unless the slot was written at most the minimum age before
    /// (less than a millisecond: see [`fresh_ticks`]), or after `at` (a counter read on another
    /// CPU). One load and a comparison.
    #[inline(always)]
    pub(crate) fn is_due(&self, at: Tick) -> bool {
        at.raw() >= self.next_write.load(Ordering::Relaxed)
    }

    /// [`ExemplarSlot::write`] of `value` for a traced call that ended at `at`, for which the
    /// slot [`is_due`](ExemplarSlot::is_due): none replaces it for `fresh_ticks` more.
    pub(crate) fn write_at(&self, span: &SpanContext, at: Tick, fresh_ticks: u64, value: f64) {
        let next = at.raw().saturating_add(fresh_ticks).saturating_add(1);
        self.next_write.store(next, Ordering::Relaxed);
        self.store(span, value, at);
    }

    /// Stores `span`'s ids with `value`, now; skipped if another call is writing this slot.
    pub(crate) fn write(&self, span: &SpanContext, value: f64) {
        self.store(span, value, clock::now());
    }

    fn store(&self, span: &SpanContext, value: f64, at: Tick) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        let trace = span.trace_id().to_bytes();
        let (hi, lo) = trace.split_at(8);
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        self.trace_hi.store(word(hi), Ordering::Relaxed);
        self.trace_lo.store(word(lo), Ordering::Relaxed);
        self.span_id.store(
            u64::from_be_bytes(span.span_id().to_bytes()),
            Ordering::Relaxed,
        );
        self.value_bits.store(value.to_bits(), Ordering::Relaxed);
        self.at_unix_nanos.store(unix_nanos(at), Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// The latest exemplar, if one was ever written and a consistent read succeeds.
    pub(crate) fn read(&self) -> Option<Exemplar> {
        for _ in 0..8 {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.trace_hi.load(Ordering::Relaxed);
            let lo = self.trace_lo.load(Ordering::Relaxed);
            let span_id = self.span_id.load(Ordering::Relaxed);
            let value = f64::from_bits(self.value_bits.load(Ordering::Relaxed));
            let at_unix_nanos = self.at_unix_nanos.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            let mut trace = [0u8; 16];
            trace[..8].copy_from_slice(&hi.to_be_bytes());
            trace[8..].copy_from_slice(&lo.to_be_bytes());
            return Some(Exemplar {
                trace_id: TraceId::from_bytes(trace),
                span_id: SpanId::from_bytes(span_id.to_be_bytes()),
                value,
                time: SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(at_unix_nanos),
            });
        }
        None
    }
}

/// `at` as nanoseconds since the Unix epoch (0 before it), by the clock's anchor now. Once per
/// exemplar written, that is at most once a millisecond per bucket.
fn unix_nanos(at: Tick) -> u64 {
    clock::wall(at)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceFlags, TraceState};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_written_slot_reads_back() {
        let slot = ExemplarSlot::new();
        assert_eq!(slot.read(), None);
        let trace_id = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let span_id = SpanId::from_hex("b7ad6b7169203331").unwrap();
        let cx = SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        slot.write(&cx, 0.25);
        let ex = slot.read().unwrap();
        assert_eq!(
            (ex.trace_id, ex.span_id, ex.value),
            (trace_id, span_id, 0.25)
        );
        let age = SystemTime::now()
            .duration_since(ex.time)
            .unwrap_or_default();
        assert!(
            ex.time > UNIX_EPOCH && age < Duration::from_secs(60),
            "{:?}",
            ex.time
        );
    }

    #[test]
    fn a_traced_call_replaces_an_exemplar_only_once_it_is_a_millisecond_old() {
        let slot = ExemplarSlot::new();
        let span = |id: u64| {
            SpanContext::new(
                TraceId::from(u128::from(id)),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            )
        };
        let fresh = fresh_ticks();
        // What a traced call does (`DurationSeries::record`).
        let traced_call = |id: u64, at: Tick| {
            if slot.is_due(at) {
                slot.write_at(&span(id), at, fresh, 0.5);
            }
        };
        let first = clock::now();
        traced_call(1, first);
        traced_call(2, first);
        assert_eq!(slot.read().unwrap().span_id, SpanId::from(1));
        std::thread::sleep(Duration::from_millis(2));
        traced_call(3, clock::now());
        assert_eq!(slot.read().unwrap().span_id, SpanId::from(3));
    }

    /// The clock's anchor is taken again every second: an exemplar read once it was keeps the
    /// time it had (every export, every scrape gives the same).
    #[test]
    fn an_exemplars_time_stays_across_the_clocks_anchors() {
        let slot = ExemplarSlot::new();
        let cx = SpanContext::new(
            TraceId::from(8u128),
            SpanId::from(8u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        slot.write_at(&cx, clock::now(), fresh_ticks(), 0.5);
        let first = slot.read().unwrap().time;
        std::thread::sleep(Duration::from_millis(1100));
        // Past the anchor's second: this conversion takes a new one.
        let _ = clock::wall(clock::now());
        assert_eq!(slot.read().unwrap().time, first);
    }

    #[test]
    fn a_traced_call_exemplar_is_timed_by_the_clock_of_its_span() {
        let slot = ExemplarSlot::new();
        let cx = SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let end = clock::now();
        slot.write_at(&cx, end, fresh_ticks(), 0.5);
        // The span's end time, by the anchor in use before or after the read.
        let before = clock::wall(end);
        let time = slot.read().unwrap().time;
        assert!(
            time == before || time == clock::wall(end),
            "{time:?} vs {before:?}"
        );
    }
}
