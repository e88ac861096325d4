//! Timestamps from one clock reading per span end: the TSC-backed [`Instant`] serves the
//! duration histogram and, through a once-per-process anchor, the span's wall-clock start and
//! end, so a sampled call reads the clock twice in all (the SDK would read `SystemTime` twice
//! more).
use quanta::Instant;
use std::sync::LazyLock;
use std::time::SystemTime;

/// The same moment on both clocks, read once.
static ANCHOR: LazyLock<(Instant, SystemTime)> =
    LazyLock::new(|| (Instant::now(), SystemTime::now()));

/// The wall-clock time of `at`. Drift against the system clock is that of the TSC against
/// NTP over the life of the process (parts per million), well below what a trace view shows.
pub(super) fn wall(at: Instant) -> SystemTime {
    let (anchor, system) = *ANCHOR;
    if at >= anchor {
        system + at.duration_since(anchor)
    } else {
        system - anchor.duration_since(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_tracks_the_system_clock() {
        let before = SystemTime::now();
        let at = wall(Instant::now());
        let after = SystemTime::now();
        let slack = std::time::Duration::from_millis(5);
        assert!(
            at + slack >= before && at <= after + slack,
            "{at:?} not in {before:?}..{after:?}"
        );
    }
}
