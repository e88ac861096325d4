//! Bucket boundaries: the duration histogram's (fixed, in seconds) and the manual histograms'.

/// Upper bounds (inclusive) of the duration histogram's buckets, in seconds: from 100 µs to
/// 10 s. A last, unbounded bucket (`+Inf`) follows.
pub(crate) const DURATION_BOUNDS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The same bounds in nanoseconds, compared on the hot path without floating point.
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

/// The bucket a duration of `ns` nanoseconds falls into (a bound is inclusive). Short calls,
/// the common case, stop at the first comparison.
#[inline(always)]
pub(crate) fn duration_bucket(ns: u64) -> usize {
    let mut i = 0;
    while i < DURATION_BOUNDS_NS.len() && ns > DURATION_BOUNDS_NS[i] {
        i += 1;
    }
    i
}

/// The bucket `value` falls into among `bounds` (inclusive upper bounds, increasing).
pub(crate) fn value_bucket(bounds: &[f64], value: f64) -> usize {
    bounds.partition_point(|&bound| value > bound)
}

/// Whether `bounds` can be a histogram's: finite and strictly increasing.
pub(crate) fn valid_bounds(bounds: &[f64]) -> bool {
    bounds.iter().all(|b| b.is_finite()) && bounds.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_bounds_match_the_seconds() {
        for (ns, s) in DURATION_BOUNDS_NS.iter().zip(DURATION_BOUNDS_SECONDS) {
            assert!(((*ns as f64) / 1e9 - s).abs() < 1e-12, "{ns} vs {s}");
        }
    }

    #[test]
    fn a_bound_belongs_to_its_own_bucket() {
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(100_000), 0);
        assert_eq!(duration_bucket(100_001), 1);
        assert_eq!(duration_bucket(10_000_000_000), 15);
        assert_eq!(duration_bucket(u64::MAX), 16);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, -1.0), 0);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 5.0), 1);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 5.5), 2);
        assert_eq!(value_bucket(&DEFAULT_BOUNDS, 1e9), 15);
        assert!(valid_bounds(&DEFAULT_BOUNDS));
        assert!(!valid_bounds(&[1.0, 1.0]));
        assert!(!valid_bounds(&[f64::NAN]));
    }
}
