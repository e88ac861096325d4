//! The clock of the hot path: raw TSC readings ([`Tick`]), scaled only where a number is
//! needed (a duration for the histogram at the end of a call, wall-clock timestamps where the
//! span is exported). A traced call reads the counter twice in all: the same two readings
//! serve its histogram and its span's start and end.
use quanta::Clock;
use std::sync::{LazyLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// The one calibrated clock every reading comes from and is scaled by.
#[cfg(not(miri))]
static CLOCK: LazyLock<Clock> = LazyLock::new(|| {
    let clock = Clock::new();
    #[cfg(target_arch = "x86_64")]
    tsc::note_source(&clock);
    clock
});
/// Miri cannot read the TSC: a clock that stays at zero (every span lasts 0 ns).
#[cfg(miri)]
static CLOCK: LazyLock<Clock> = LazyLock::new(|| Clock::mock().0);

/// The same moment on both clocks, read again once a reading is `REANCHOR_AFTER` past it.
static ANCHOR: AnchorCell = AnchorCell::new(REANCHOR_AFTER);

/// How long one anchor serves: the counter's rate, as calibrated at start-up, is off the
/// system clock's (which NTP keeps right, and which may be stepped) by tenths of a
/// millisecond per second or more (0.29 ms/s measured on an idle VM; on a loaded one a 10 s
/// anchor was seen 12 ms off), so a span is placed on the wall clock within about a
/// millisecond however long the process has run. A re-anchor costs one `SystemTime::now`,
/// once per period, on whichever thread converts.
const REANCHOR_AFTER: Duration = Duration::from_secs(1);

/// One raw reading of the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(u64);

impl Tick {
    /// The raw counter value, for storing in an atomic.
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// A reading from its raw value (tests build spans of chosen times).
    #[cfg(test)]
    pub(crate) fn from_raw(raw: u64) -> Tick {
        Tick(raw)
    }
}

/// The clock now.
#[inline]
pub(crate) fn now() -> Tick {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if let Some(tick) = tsc::read() {
        return Tick(tick);
    }
    Tick(CLOCK.raw())
}

/// The counter read in line, where the clock's source is the CPU's time-stamp counter: the
/// same value `Clock::raw` gives, without its call, its lazy-initialisation check and its
/// match on the source (a traced call reads the clock twice).
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod tsc {
    use quanta::Clock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Nanoseconds per counter tick, in units of 2^-[`SHIFT`] (the calibrated clock's own
    /// scale, read from it once: its conversion of 2^`SHIFT` ticks), once the clock is known
    /// to read the time-stamp counter; 0 otherwise.
    static NANOS_PER_TICK: AtomicU64 = AtomicU64::new(0);
    /// The fixed point of [`NANOS_PER_TICK`]: precise to one part in 2^40 and more for any
    /// counter slower than 64 GHz, and far from overflowing the 128-bit product.
    const SHIFT: u32 = 40;

    /// The counter now, if it is the clock's source; `None` otherwise, and until the clock
    /// is first used.
    #[inline(always)]
    pub(super) fn read() -> Option<u64> {
        if NANOS_PER_TICK.load(Ordering::Relaxed) != 0 {
            // SAFETY: `rdtsc` exists on every x86_64 CPU and reads no memory.
            Some(unsafe { std::arch::x86_64::_rdtsc() })
        } else {
            None
        }
    }

    /// The nanoseconds between two counter readings (zero if `end` is not later), scaled as
    /// the calibrated clock scales them, with one multiplication; `None` if the counter is
    /// not the clock's source.
    #[inline(always)]
    pub(super) fn nanos_between(start: u64, end: u64) -> Option<u64> {
        let scale = NANOS_PER_TICK.load(Ordering::Relaxed);
        if scale == 0 {
            return None;
        }
        let ticks = end.saturating_sub(start);
        Some(((u128::from(ticks) * u128::from(scale)) >> SHIFT) as u64)
    }

    /// Notes whether `clock` reads the time-stamp counter: its reading falls between two of
    /// the counter's, taken just around it (a clock in nanoseconds never does: the counter
    /// runs at a different rate, and from a different origin). A thread moved between CPUs
    /// in between may miss it: tried a few times, and the slow reading kept if all miss.
    pub(super) fn note_source(clock: &Clock) {
        let reads_counter = (0..4).any(|_| {
            // SAFETY: as in `read`.
            let before = unsafe { std::arch::x86_64::_rdtsc() };
            let reading = clock.raw();
            // SAFETY: as in `read`.
            let after = unsafe { std::arch::x86_64::_rdtsc() };
            before <= reading && reading <= after
        });
        if reads_counter {
            // Never 0 (that would take a counter faster than 2^40 GHz): 0 means "not the
            // source".
            let scale = clock.delta_as_nanos(0, 1 << SHIFT).max(1);
            NANOS_PER_TICK.store(scale, Ordering::Relaxed);
        }
    }
}

/// Nanoseconds from `start` to `end` (zero if `end` is not later).
#[inline]
pub(crate) fn nanos_between(start: Tick, end: Tick) -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if let Some(nanos) = tsc::nanos_between(start.0, end.0) {
        return nanos;
    }
    CLOCK.delta_as_nanos(start.0, end.0)
}

/// Counter ticks from `start` to `end` (zero if `end` is not later): a duration in the clock's
/// own unit, what the hot path compares and adds without scaling it. [`nanos_of_ticks`] makes
/// it nanoseconds, as [`nanos_between`] would have.
#[inline(always)]
pub(crate) fn ticks_between(start: Tick, end: Tick) -> u64 {
    end.0.saturating_sub(start.0)
}

/// The nanoseconds a duration of `ticks` lasts: `nanos_between(a, b)` is
/// `nanos_of_ticks(ticks_between(a, b))` for any two readings (both scale the difference alone).
#[inline]
pub(crate) fn nanos_of_ticks(ticks: u64) -> u64 {
    nanos_between(Tick(0), Tick(ticks))
}

/// The longest duration in ticks that lasts at most `ns` nanoseconds: `ticks <= ticks_within(ns)`
/// exactly when `nanos_of_ticks(ticks) <= ns`, so that a bound in nanoseconds is compared to a
/// raw duration with the same outcome, by whichever source the clock reads.
pub(crate) fn ticks_within(ns: u64) -> u64 {
    // `nanos_of_ticks` never decreases as `ticks` grows (a difference times a fixed scale,
    // rounded down): the last count within `ns` is found by bisection. 0 ticks are 0 ns.
    let within = |ticks: u64| nanos_of_ticks(ticks) <= ns;
    let mut beyond: u64 = 1;
    while within(beyond) {
        if beyond > u64::MAX / 2 {
            return u64::MAX;
        }
        beyond *= 2;
    }
    let mut last_within = beyond / 2;
    while beyond - last_within > 1 {
        let middle = last_within + (beyond - last_within) / 2;
        if within(middle) {
            last_within = middle;
        } else {
            beyond = middle;
        }
    }
    last_within
}

/// The wall-clock time of `at`, by the current anchor.
pub(crate) fn wall(at: Tick) -> SystemTime {
    ANCHOR.anchor_for(at.0).wall_of(at.0)
}

/// The wall-clock times of `start` and `end`, by one anchor: a re-anchor in between never
/// puts the end before the start.
pub(crate) fn wall_span(start: Tick, end: Tick) -> (SystemTime, SystemTime) {
    let anchor = ANCHOR.anchor_for(start.0.max(end.0));
    (anchor.wall_of(start.0), anchor.wall_of(end.0))
}

/// Readings turned into Unix time in nanoseconds (0 before 1970), as OTLP carries them, by
/// the anchor [`wall_span`] would use for any reading up to now: what it gives, with one lock
/// and no `SystemTime` arithmetic per reading (the OTLP encoder takes one per batch).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnixClock {
    tick: u64,
    /// The anchor's wall-clock time, ns since the Unix epoch (negative before it).
    base: i128,
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl UnixClock {
    /// The conversion by the current anchor (a fresh one if it no longer serves now).
    pub(crate) fn now() -> UnixClock {
        let anchor = ANCHOR.anchor_for(CLOCK.raw());
        let base = match anchor.system.duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => since.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        UnixClock {
            tick: anchor.tick,
            base,
        }
    }

    /// `at` in ns since the Unix epoch.
    #[inline(always)]
    pub(crate) fn nanos(self, at: Tick) -> u64 {
        // `nanos_between`, as `Anchor::wall_of`: the same figures as the SDK path, with the
        // counter's one multiplication in line rather than a call into the clock per reading.
        // The common case (a reading after an anchor taken after 1970) in unsigned arithmetic.
        if at.0 >= self.tick && self.base >= 0 {
            return (self.base as u64).wrapping_add(nanos_between(Tick(self.tick), at));
        }
        self.nanos_otherwise(at)
    }

    /// [`UnixClock::nanos`] of a reading before the anchor, or of an anchor before 1970.
    #[cold]
    fn nanos_otherwise(self, at: Tick) -> u64 {
        let nanos = if at.0 >= self.tick {
            self.base + i128::from(nanos_between(Tick(self.tick), at))
        } else {
            self.base - i128::from(nanos_between(at, Tick(self.tick)))
        };
        nanos.max(0) as u64
    }
}

/// A counter reading and the wall-clock time at that moment.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    tick: u64,
    system: SystemTime,
}

impl Anchor {
    fn now() -> Anchor {
        Anchor {
            tick: CLOCK.raw(),
            system: SystemTime::now(),
        }
    }

    fn wall_of(self, at: u64) -> SystemTime {
        if at >= self.tick {
            self.system + Duration::from_nanos(nanos_between(Tick(self.tick), Tick(at)))
        } else {
            self.system - Duration::from_nanos(nanos_between(Tick(at), Tick(self.tick)))
        }
    }
}

/// The anchor in use, replaced by a fresh one when a reading is more than `max_age` past it.
struct AnchorCell {
    anchor: RwLock<Option<Anchor>>,
    max_age: Duration,
}

impl AnchorCell {
    const fn new(max_age: Duration) -> AnchorCell {
        AnchorCell {
            anchor: RwLock::new(None),
            max_age,
        }
    }

    /// The anchor to convert `latest` (and earlier readings) with.
    fn anchor_for(&self, latest: u64) -> Anchor {
        let current = *self.anchor.read().unwrap_or_else(PoisonError::into_inner);
        match current {
            Some(anchor) if self.serves(anchor, latest) || self.pinned() => anchor,
            _ => {
                let mut slot = self.anchor.write().unwrap_or_else(PoisonError::into_inner);
                // Another thread may have just replaced it: every caller then uses that one.
                match *slot {
                    Some(anchor) if self.serves(anchor, latest) => anchor,
                    _ => *slot.insert(Anchor::now()),
                }
            }
        }
    }

    /// Whether a test holds the process's anchor (`pinned`; never outside tests).
    #[inline(always)]
    fn pinned(&self) -> bool {
        pinned::held() && std::ptr::eq(self, &ANCHOR)
    }

    /// Whether `anchor` is recent enough for a reading at `latest`.
    fn serves(&self, anchor: Anchor, latest: u64) -> bool {
        latest <= anchor.tick
            || CLOCK.delta_as_nanos(anchor.tick, latest) <= self.max_age.as_nanos() as u64
    }
}

/// Tests that convert one reading twice (the encoder's way and the SDK path's) and compare
/// the bytes hold the anchor meanwhile: a re-anchor in between (once a second) would move the
/// second conversion by the counter's drift, a few microseconds.
#[cfg(test)]
pub(crate) mod pinned {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static PINS: AtomicUsize = AtomicUsize::new(0);

    /// While held, the current anchor serves every reading (the encoder's tests hold it: an
    /// OTLP transport's).
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) struct Pin(());

    /// Holds the current anchor (once there is one) until the pin is dropped.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn pin() -> Pin {
        PINS.fetch_add(1, Ordering::SeqCst);
        Pin(())
    }

    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    impl Drop for Pin {
        fn drop(&mut self) {
            PINS.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(super) fn held() -> bool {
        PINS.load(Ordering::SeqCst) > 0
    }
}

#[cfg(not(test))]
mod pinned {
    /// Never outside tests.
    #[inline(always)]
    pub(super) fn held() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_tracks_the_system_clock() {
        let _ = wall(now()); // anchors the clock
        let before = SystemTime::now();
        let at = wall(now());
        let after = SystemTime::now();
        let slack = std::time::Duration::from_millis(5);
        assert!(
            at + slack >= before && at <= after + slack,
            "{at:?} not in {before:?}..{after:?}"
        );
    }

    #[test]
    fn a_stale_anchor_is_replaced_and_a_fresh_one_kept() {
        let hour = Duration::from_secs(3600);
        // An anchor an hour off the system clock, as drift would make one over a long uptime.
        let drifted = || Anchor {
            tick: CLOCK.raw(),
            system: SystemTime::now() - hour,
        };
        let kept = AnchorCell::new(hour);
        *kept.anchor.write().unwrap() = Some(drifted());
        let at = wall(now());
        let by_kept = kept.anchor_for(now().0).wall_of(now().0);
        assert!(
            by_kept + hour / 2 < at,
            "a fresh anchor serves until it is stale"
        );

        let stale = AnchorCell::new(Duration::ZERO);
        let injected = drifted();
        *stale.anchor.write().unwrap() = Some(injected);
        // Any reading past the anchor is stale with a zero period.
        let mut later = now();
        while CLOCK.delta_as_nanos(injected.tick, later.0) == 0 {
            later = now();
        }
        let before = SystemTime::now();
        let converted = stale.anchor_for(later.0).wall_of(later.0);
        let slack = Duration::from_millis(5);
        assert!(
            converted + slack >= before && converted <= SystemTime::now() + slack,
            "re-anchored on the system clock: {converted:?} vs {before:?}"
        );
        let replaced = stale.anchor.read().unwrap().unwrap();
        assert!(replaced.tick > injected.tick);
    }

    /// The counter read in line and its one-multiplication scale give what the calibrated
    /// clock gives: readings in its order, durations within a nanosecond of its own.
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[test]
    fn the_in_line_counter_agrees_with_the_calibrated_clock() {
        let first = now();
        let between = CLOCK.raw();
        let last = now();
        assert!(first.0 <= between && between <= last.0, "one source");
        if tsc::read().is_none() {
            return; // not reading the counter: `now` is `CLOCK.raw()` itself
        }
        for ticks in [0, 1, 3, 1_000, 123_456_789, 1 << 40, 3 << 50, u64::MAX / 2] {
            let ours = nanos_between(Tick(7), Tick(7 + ticks));
            let calibrated = CLOCK.delta_as_nanos(7, 7 + ticks);
            assert!(
                ours.abs_diff(calibrated) <= 1 + calibrated / (1 << 38),
                "{ticks} ticks: {ours} vs {calibrated} ns"
            );
        }
        assert_eq!(nanos_between(Tick(9), Tick(5)), 0, "not later: zero");
    }

    /// A bound in nanoseconds turned into ticks splits durations in ticks exactly where their
    /// nanoseconds cross it, and a duration in ticks converts as the two readings would.
    #[test]
    fn a_bound_in_ticks_splits_durations_where_their_nanoseconds_cross_it() {
        for ns in [0, 1, 999_999, 100_000, 2_500_000, 10_000_000_000] {
            let last = ticks_within(ns);
            assert!(nanos_of_ticks(last) <= ns, "{ns} ns: {last} ticks");
            assert!(nanos_of_ticks(last + 1) > ns, "{ns} ns: {last} ticks");
        }
        let start = now();
        let end = now();
        assert_eq!(
            nanos_of_ticks(ticks_between(start, end)),
            nanos_between(start, end)
        );
        assert_eq!(ticks_between(Tick(9), Tick(5)), 0, "not later: zero");
    }

    #[test]
    fn durations_are_in_nanoseconds() {
        let start = now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ns = nanos_between(start, now());
        assert!((15_000_000..2_000_000_000).contains(&ns), "{ns} ns");
    }
}
