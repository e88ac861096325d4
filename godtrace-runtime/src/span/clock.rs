//! The clock of the hot path: raw TSC readings ([`Tick`]), scaled only where a number is
//! needed (a duration for the histogram at the end of a call, wall-clock timestamps where the
//! span is exported). A traced call reads the counter twice in all: the same two readings
//! serve its histogram and its span's start and end.
use quanta::Clock;
use std::sync::LazyLock;
use std::time::SystemTime;

/// The one calibrated clock every reading comes from and is scaled by.
#[cfg(not(miri))]
static CLOCK: LazyLock<Clock> = LazyLock::new(Clock::new);
/// Miri cannot read the TSC: a clock that stays at zero (every span lasts 0 ns).
#[cfg(miri)]
static CLOCK: LazyLock<Clock> = LazyLock::new(|| Clock::mock().0);

/// The same moment on both clocks, read once.
static ANCHOR: LazyLock<(u64, SystemTime)> = LazyLock::new(|| (CLOCK.raw(), SystemTime::now()));

/// One raw reading of the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(u64);

impl Tick {
    /// The raw counter value, for storing in an atomic.
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    pub(crate) fn from_raw(raw: u64) -> Tick {
        Tick(raw)
    }
}

/// The clock now.
#[inline]
pub(crate) fn now() -> Tick {
    Tick(CLOCK.raw())
}

/// Nanoseconds from `start` to `end` (zero if `end` is not later).
#[inline]
pub(crate) fn nanos_between(start: Tick, end: Tick) -> u64 {
    CLOCK.delta_as_nanos(start.0, end.0)
}

/// The wall-clock time of `at`. Drift against the system clock is that of the TSC against
/// NTP over the life of the process (parts per million), well below what a trace view shows.
pub(crate) fn wall(at: Tick) -> SystemTime {
    let (anchor, system) = *ANCHOR;
    if at.0 >= anchor {
        system + std::time::Duration::from_nanos(CLOCK.delta_as_nanos(anchor, at.0))
    } else {
        system - std::time::Duration::from_nanos(CLOCK.delta_as_nanos(at.0, anchor))
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
    fn durations_are_in_nanoseconds() {
        let start = now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ns = nanos_between(start, now());
        assert!((15_000_000..2_000_000_000).contains(&ns), "{ns} ns");
    }
}
