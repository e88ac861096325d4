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
