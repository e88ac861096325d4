//! The series of one metric, keyed by attribute set, bounded by the cardinality limit.
use super::attrs::{canonical, same_set, set_hash};
use super::{limits, report};
use opentelemetry::KeyValue;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, RwLock};

/// The attribute that marks the series collecting every attribute set past the limit.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// What a table stores: a series that knows its attribute set.
pub(crate) trait Series {
    /// The canonical attribute set.
    fn attributes(&self) -> &[KeyValue];
}

struct Entries<S> {
    by_hash: HashMap<u64, Vec<Arc<S>>>,
    /// In creation order, for collection.
    all: Vec<Arc<S>>,
}

/// One metric's series.
pub(crate) struct SeriesTable<S> {
    metric: String,
    entries: RwLock<Entries<S>>,
    overflow: OnceLock<Arc<S>>,
    overflow_reported: AtomicBool,
}

impl<S: Series> SeriesTable<S> {
    pub(crate) fn new(metric: impl Into<String>) -> Self {
        SeriesTable {
            metric: metric.into(),
            entries: RwLock::new(Entries {
                by_hash: HashMap::new(),
                all: Vec::new(),
            }),
            overflow: OnceLock::new(),
            overflow_reported: AtomicBool::new(false),
        }
    }

    /// The series of `attributes`: found, created with `make` while under the limit, or else
    /// the overflow series (reported once).
    pub(crate) fn get_or_insert(
        &self,
        attributes: &[KeyValue],
        make: impl Fn(Vec<KeyValue>) -> S,
    ) -> Arc<S> {
        if let Some(found) = self.find(set_hash(attributes), attributes) {
            return found;
        }
        let key = canonical(attributes);
        let hash = set_hash(&key);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = lookup(&entries.by_hash, hash, &key) {
            return found;
        }
        let limit = limits::cardinality_limit(&self.metric);
        if entries.all.len() >= limit {
            drop(entries);
            report::once(&self.overflow_reported, || {
                format!(
                    "metric {:?} reached its cardinality limit of {limit} attribute sets; \
                     further sets are recorded with {OVERFLOW_KEY}=true",
                    self.metric
                )
            });
            return self
                .overflow
                .get_or_init(|| Arc::new(make(vec![KeyValue::new(OVERFLOW_KEY, true)])))
                .clone();
        }
        let series = Arc::new(make(key));
        entries
            .by_hash
            .entry(hash)
            .or_default()
            .push(series.clone());
        entries.all.push(series.clone());
        series
    }

    fn find(&self, hash: u64, attributes: &[KeyValue]) -> Option<Arc<S>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        lookup(&entries.by_hash, hash, attributes)
    }

    /// Every series, in creation order, the overflow series last.
    pub(crate) fn series(&self) -> Vec<Arc<S>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let mut all = entries.all.clone();
        all.extend(self.overflow.get().cloned());
        all
    }
}

fn lookup<S: Series>(
    by_hash: &HashMap<u64, Vec<Arc<S>>>,
    hash: u64,
    attributes: &[KeyValue],
) -> Option<Arc<S>> {
    by_hash
        .get(&hash)?
        .iter()
        .find(|s| same_set(s.attributes(), attributes))
        .cloned()
}

impl Series for super::series::DurationSeries {
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

impl Series for super::series::ValueSeries {
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

impl Series for super::series::CounterSeries {
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::series::CounterSeries;

    #[test]
    fn past_the_limit_new_sets_share_the_overflow_series() {
        let table: SeriesTable<CounterSeries> = SeriesTable::new("table.rs.limit");
        let limit = limits::cardinality_limit("table.rs.limit");
        for i in 0..limit + 5 {
            table
                .get_or_insert(&[KeyValue::new("i", i as i64)], CounterSeries::new)
                .add(1.0);
        }
        // A known set still finds its own series.
        table
            .get_or_insert(&[KeyValue::new("i", 0)], CounterSeries::new)
            .add(1.0);
        let series = table.series();
        assert_eq!(series.len(), limit + 1);
        let overflow = series.last().unwrap().snapshot();
        assert_eq!(overflow.attributes, vec![KeyValue::new(OVERFLOW_KEY, true)]);
        assert_eq!(overflow.value, 5.0);
        assert_eq!(series[0].snapshot().value, 2.0);
        let reports = report::recent();
        let about = |m: &&String| m.contains("\"table.rs.limit\" reached its cardinality limit");
        assert_eq!(reports.iter().filter(about).count(), 1);
    }
}
