//! Bucket boundaries: the duration histogram's (fixed, in seconds) and the manual histograms'.
use crate::span::clock;

/// Upper bounds (inclusive) of the duration histogram's buckets, in seconds: from 100 µs to
/// 10 s. A last, unbounded bucket (`+Inf`) follows.
pub(crate) const DURATION_BOUNDS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The same bounds in nanoseconds, made ticks once ([`TickBounds`]) for the hot path.
const DURATION_BOUNDS_NS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Buckets of the duration histogram, `+Inf` included.
pub(crate) const DURATION_BUCKETS: usize = DURATION_BOUNDS_NS.len() + 1;

/// Bounds of a manual histogram unless configured otherwise: OpenTelemetry's defaults.
pub(crate) const DEFAULT_BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The duration histogram's bounds as durations in the clock's ticks: a traced call's
/// duration is put in its bucket without being scaled to nanoseconds first.
#[derive(Debug)]
pub(crate) struct TickBounds([u64; DURATION_BOUNDS_NS.len()]);

impl TickBounds {
    /// The bounds by the process's clock (`ticks <= bound` exactly when the duration's
    /// nanoseconds are within the bound's).
    pub(crate) fn of_clock() -> TickBounds {
        TickBounds::with(clock::ticks_within)
    }

    /// The bounds, each the longest duration in ticks that `ticks_within` says lasts at most
    /// the bound's nanoseconds.
    pub(crate) fn with(ticks_within: impl Fn(u64) -> u64) -> TickBounds {
        TickBounds(DURATION_BOUNDS_NS.map(ticks_within))
    }

    /// Whether a duration of `ticks` falls into the first bucket: short calls, the common case.
    #[inline(always)]
    pub(crate) fn in_first(&self, ticks: u64) -> bool {
        ticks <= self.0[0]
    }

    /// The bucket a duration of `ticks` falls into (a bound is inclusive).
    pub(crate) fn bucket(&self, ticks: u64) -> usize {
        let mut i = 0;
        while i < self.0.len() && ticks > self.0[i] {
            i += 1;
        }
        i
    }
}

/// The bucket `value` falls into among `bounds` (inclusive upper bounds, increasing).
pub(crate) fn value_bucket(bounds: &[f64], value: f64) -> usize {
    bounds.partition_point(|&bound| value > bound)
}

/// The most bucket bounds a histogram takes: each series holds a count and an exemplar slot
/// per bucket, and one point is exported whole in one request (at most 1 MiB of metrics).
pub(crate) const MAX_BOUNDS: usize = 1024;

/// Whether `bounds` can be a histogram's: finite, non-negative (histograms take no negative
/// values: see `manual::histogram_record_in`) and strictly increasing (their number is
/// checked apart: [`MAX_BOUNDS`]).
pub(crate) fn valid_bounds(bounds: &[f64]) -> bool {
    bounds.iter().all(|b| b.is_finite() && *b >= 0.0) && bounds.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By the process's clock, a duration of a bound's nanoseconds is in the bound's bucket and
    /// one a tick longer than the bound in the next.
    #[test]
    fn the_clocks_bounds_split_durations_at_the_bounds_nanoseconds() {
        let bounds = TickBounds::of_clock();
        for (i, &ns) in DURATION_BOUNDS_NS.iter().enumerate() {
            let last = clock::ticks_within(ns);
            assert_eq!(bounds.bucket(last), i, "{ns} ns");
            assert_eq!(bounds.bucket(last + 1), i + 1, "{ns} ns");
        }
    }

    #[test]
    fn nanosecond_bounds_match_the_seconds() {
        for (ns, s) in DURATION_BOUNDS_NS.iter().zip(DURATION_BOUNDS_SECONDS) {
            assert!(((*ns as f64) / 1e9 - s).abs() < 1e-12, "{ns} vs {s}");
        }
    }

    #[test]
    fn a_bound_belongs_to_its_own_bucket() {
        // A clock whose ticks are nanoseconds.
        let bounds = TickBounds::with(|ns| ns);
        assert_eq!(bounds.bucket(0), 0);
        assert_eq!(bounds.bucket(100_000), 0);
        assert_eq!(bounds.bucket(100_001), 1);
        assert_eq!(bounds.bucket(10_000_000_000), 15);
        assert_eq!(bounds.bucket(u64::MAX), 16);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, -1.0), 0);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 5.0), 1);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 5.5), 2);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 1e9), 15);
        assert!(valid_bounds(&DEFAULT_BOUNDS));
        assert!(!valid_bounds(&[1.0, 1.0]));
        assert!(!valid_bounds(&[f64::NAN]));
        assert!(!valid_bounds(&[-1.0, 0.0, 1.0]));
        assert!(!valid_bounds(&[0.0, f64::INFINITY]));
        assert!(valid_bounds(&[0.0, 0.5]));
    }
}
