//! Per-metric settings read when a series or instrument is created: the cardinality limit and
//! a manual histogram's bucket bounds. `install` sets them; until then the defaults apply.
use std::sync::{Arc, RwLock};

/// Attribute sets a metric keeps unless configured otherwise (OpenTelemetry's default).
pub(crate) const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The settings in force.
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits {
    pub(crate) cardinality_limit: Option<usize>,
    pub(crate) per_metric: Vec<(String, usize)>,
    pub(crate) buckets: Vec<(String, Arc<[f64]>)>,
}

static CURRENT: RwLock<Option<Limits>> = RwLock::new(None);

/// Puts `limits` in force for series and instruments created from now on.
pub(crate) fn set(limits: Limits) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(limits);
}

/// How many attribute sets `metric` keeps before new ones go to its overflow series.
pub(crate) fn cardinality_limit(metric: &str) -> usize {
    let current = CURRENT.read().unwrap_or_else(|e| e.into_inner());
    let Some(limits) = current.as_ref() else {
        return DEFAULT_CARDINALITY_LIMIT;
    };
    limits
        .per_metric
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(metric))
        .map(|(_, n)| *n)
        .or(limits.cardinality_limit)
        .unwrap_or(DEFAULT_CARDINALITY_LIMIT)
}

/// The bucket bounds of manual histogram `metric`: the configured ones, else `default`.
pub(crate) fn histogram_bounds(metric: &str, default: &[f64]) -> Arc<[f64]> {
    let current = CURRENT.read().unwrap_or_else(|e| e.into_inner());
    current
        .as_ref()
        .and_then(|l| {
            l.buckets
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(metric))
        })
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| Arc::from(default))
}
