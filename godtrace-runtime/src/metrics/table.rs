//! The series of one metric, keyed by attribute set, bounded by the cardinality limit and,
//! for the manual metrics, by one memory budget shared by all of them.
use super::attrs::{MAX_ATTRIBUTES, canonical, same_pairs, same_set, set_hash, usable_as_given};
use super::{limits, report};
use opentelemetry::KeyValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// The attribute that marks the series collecting every attribute set past the limit.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// The bytes all the manual metrics' series may hold together (their attribute sets, buckets
/// and table entries); past it, new attribute sets go to their metric's overflow series.
pub(crate) const SERIES_MEMORY_BUDGET: usize = 128 << 20;

/// Bytes that series count against, up to a limit.
pub(crate) struct Budget {
    held: AtomicUsize,
    limit: usize,
    /// Whether running out was reported: once for all the metrics sharing it.
    reported: AtomicBool,
}

impl Budget {
    pub(crate) const fn new(limit: usize) -> Budget {
        Budget {
            held: AtomicUsize::new(0),
            limit,
            reported: AtomicBool::new(false),
        }
    }

    /// Counts `bytes` against the budget, if they fit. Series are never freed, so nothing is
    /// given back.
    fn reserve(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }
}

/// The budget of every manual metric's series.
pub(crate) static MANUAL_SERIES: Budget = Budget::new(SERIES_MEMORY_BUDGET);
/// A table's own bytes per series, over the series' [`Series::footprint`]: the `Arc`'s
/// counts, the slot in the creation-order list and the hash map's entry, with its slack.
pub(crate) const ENTRY_OVERHEAD: usize = 96;

/// What a table stores: a series that knows its attribute set and its size.
pub(crate) trait Series {
    /// The canonical attribute set.
    fn attributes(&self) -> &[KeyValue];
    /// The bytes the series holds.
    fn footprint(&self) -> usize;
    /// Its lines in a Prometheus exposition (see [`SeriesTable::budgeted`]).
    fn scrape_lines(&self) -> usize;
}

struct Entries<S> {
    by_hash: HashMap<u64, Vec<Arc<S>>>,
    /// In creation order, for collection.
    all: Vec<Arc<S>>,
}

/// Reported at most once per table.
#[derive(Default)]
struct Reported {
    overflow: AtomicBool,
    too_many_attributes: AtomicBool,
}

/// One metric's series.
pub(crate) struct SeriesTable<S> {
    metric: String,
    /// What its series count against (the manual metrics': [`MANUAL_SERIES`]).
    budget: Option<&'static Budget>,
    entries: RwLock<Entries<S>>,
    overflow: OnceLock<Arc<S>>,
    reported: Reported,
}

impl<S: Series> SeriesTable<S> {
    /// A table bounded by the cardinality limit only (the duration histogram's, whose
    /// attributes are call sites' names: the memory budget must never starve it).
    pub(crate) fn new(metric: impl Into<String>) -> Self {
        SeriesTable {
            metric: metric.into(),
            budget: None,
            entries: RwLock::new(Entries {
                by_hash: HashMap::new(),
                all: Vec::new(),
            }),
            overflow: OnceLock::new(),
            reported: Reported::default(),
        }
    }

    /// A table bounded by the cardinality limit and `budget` (a manual metric's:
    /// [`MANUAL_SERIES`]). A series counts against the budget with what it holds and what its
    /// lines take in a Prometheus exposition, so that the budget bounds what one scrape
    /// allocates too (its labels are written again on every bucket line).
    pub(crate) fn budgeted(metric: impl Into<String>, budget: &'static Budget) -> Self {
        SeriesTable {
            budget: Some(budget),
            ..Self::new(metric)
        }
    }

    /// What `series` counts against the budget (see [`SeriesTable::budgeted`]).
    fn cost(&self, series: &S) -> usize {
        let line = super::series::rendered_line_bound(&self.metric, series.attributes());
        series.footprint() + ENTRY_OVERHEAD + series.scrape_lines() * line
    }

    /// The series of `attributes`: found, created with `make` while under the limits, or else
    /// the overflow series (reported once). The cost is linear in the number of attributes
    /// (with a sort: O(n log n)), duplicated keys included; of a key given twice the last
    /// value wins.
    pub(crate) fn get_or_insert(
        &self,
        attributes: &[KeyValue],
        make: impl Fn(Vec<KeyValue>) -> S,
    ) -> Arc<S> {
        // The common case, a few short attributes: found with no copy.
        if usable_as_given(attributes)
            && let Some(found) = self.find(set_hash(attributes), |s| same_set(s, attributes))
        {
            return found;
        }
        let (key, left_out) = canonical(attributes);
        if left_out > 0 {
            report::once(&self.reported.too_many_attributes, || {
                format!(
                    "metric {:?} got a set of more than {MAX_ATTRIBUTES} attributes; only the \
                     first {MAX_ATTRIBUTES} by key are kept",
                    self.metric
                )
            });
        }
        // The overflow set given as such is the overflow series: one series per set. So is
        // that key with any value that is exported as `true` (the string `"true"`): two
        // series would otherwise have the same labels in the Prometheus exposition.
        if key.len() == 1 && key[0].key.as_str() == OVERFLOW_KEY && key[0].value.as_str() == "true"
        {
            return self.overflow(&make);
        }
        let hash = set_hash(&key);
        if let Some(found) = self.find(hash, |s| same_pairs(s, &key)) {
            return found;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = lookup(&entries.by_hash, hash, |s| same_pairs(s, &key)) {
            return found;
        }
        let limit = limits::cardinality_limit(&self.metric);
        if entries.all.len() >= limit {
            drop(entries);
            report::once(&self.reported.overflow, || {
                format!(
                    "metric {:?} reached its cardinality limit of {limit} attribute sets; \
                     further sets are recorded with {OVERFLOW_KEY}=true",
                    self.metric
                )
            });
            return self.overflow(&make);
        }
        // A metric's plain series (no attributes) is outside the budget, as its overflow
        // series is: one each, so that a metric made once the budget is spent still has a
        // series of its own.
        let plain = key.is_empty();
        let series = make(key);
        if let Some(budget) = self.budget
            && !plain
            && !budget.reserve(self.cost(&series))
        {
            drop(entries);
            report::once(&budget.reported, || {
                format!(
                    "the metrics' series reached their memory budget of {} KiB; new attribute \
                     sets (the first of {:?}) are recorded in their metric's series with \
                     {OVERFLOW_KEY}=true",
                    budget.limit >> 10,
                    self.metric
                )
            });
            return self.overflow(&make);
        }
        let series = Arc::new(series);
        entries
            .by_hash
            .entry(hash)
            .or_default()
            .push(series.clone());
        entries.all.push(series.clone());
        series
    }

    /// The series of every set past the limits: one per metric, outside the budget.
    fn overflow(&self, make: &impl Fn(Vec<KeyValue>) -> S) -> Arc<S> {
        self.overflow
            .get_or_init(|| Arc::new(make(vec![KeyValue::new(OVERFLOW_KEY, true)])))
            .clone()
    }

    fn find(&self, hash: u64, same: impl Fn(&[KeyValue]) -> bool) -> Option<Arc<S>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        lookup(&entries.by_hash, hash, same)
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
    same: impl Fn(&[KeyValue]) -> bool,
) -> Option<Arc<S>> {
    by_hash
        .get(&hash)?
        .iter()
        .find(|s| same(s.attributes()))
        .cloned()
}

/// The three kinds of series are kept alike: each answers from its own fields.
macro_rules! series_of {
    ($($kind:ident),*) => {$(
        impl Series for super::series::$kind {
            fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }
            fn footprint(&self) -> usize {
                self.footprint()
            }
            fn scrape_lines(&self) -> usize {
                self.scrape_lines()
            }
        }
    )*};
}

series_of!(DurationSeries, ValueSeries, CounterSeries);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::attrs::{MAX_ATTRIBUTES, MAX_SET_BYTES};
    use crate::metrics::series::CounterSeries;

    #[test]
    fn past_the_limit_new_sets_share_the_overflow_series() {
        let table: SeriesTable<CounterSeries> = SeriesTable::new("table.rs.limit");
        let limit = limits::cardinality_limit("table.rs.limit");
        // The overflow set, given as such before the limit: the overflow series, not a set
        // of its own (two series would then have the same attributes).
        table
            .get_or_insert(&[KeyValue::new(OVERFLOW_KEY, true)], CounterSeries::new)
            .add(1.0);
        // Also with a value exported as the same label (`"true"`): one series per label set.
        table
            .get_or_insert(&[KeyValue::new(OVERFLOW_KEY, "true")], CounterSeries::new)
            .add(1.0);
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
        assert_eq!(overflow.value, 7.0);
        assert_eq!(series[0].snapshot().value, 2.0);
        let reports = report::recent();
        let about = |m: &&String| m.contains("\"table.rs.limit\" reached its cardinality limit");
        assert_eq!(reports.iter().filter(about).count(), 1);
    }

    /// `n` attributes with 100 kB keys and values, shared (cheap to clone).
    fn huge_attributes(n: usize) -> Vec<KeyValue> {
        let value: std::sync::Arc<str> = "v".repeat(100_000).into();
        (0..n)
            .map(|i| {
                let key: std::sync::Arc<str> = format!("{i:03}{}", "k".repeat(100_000)).into();
                KeyValue::new(key, value.clone())
            })
            .collect()
    }

    #[test]
    fn what_a_metric_keeps_is_bounded_whatever_it_is_given() {
        static UNLIMITED: Budget = Budget::new(usize::MAX);
        let table: SeriesTable<CounterSeries> = SeriesTable::budgeted("table.rs.huge", &UNLIMITED);
        let limit = limits::cardinality_limit("table.rs.huge");
        let huge = huge_attributes(100);
        for i in 0..limit + 10 {
            let mut set = huge.clone();
            // '#' sorts before the digits: among the sets' first attributes by key.
            set.push(KeyValue::new("#id", i as i64));
            table.get_or_insert(&set, CounterSeries::new).add(1.0);
        }
        let series = table.series();
        assert_eq!(series.len(), limit + 1);
        for s in &series {
            assert!(s.attributes.len() <= MAX_ATTRIBUTES);
            assert!(super::super::series::attributes_footprint(&s.attributes) <= MAX_SET_BYTES);
        }
        let held: usize = series.iter().map(|s| s.footprint() + ENTRY_OVERHEAD).sum();
        let bound = (limit + 1) * (size_of::<CounterSeries>() + MAX_SET_BYTES + ENTRY_OVERHEAD);
        assert!(
            held <= bound,
            "{held} bytes held, over the bound of {bound}"
        );
        // What one set keeps: 31 cut attributes and the id, sorted by key.
        let first = &series[0].attributes;
        assert_eq!(first[0], KeyValue::new("#id", 0));
        assert_eq!(first[1].key.as_str().len(), 256);
        assert_eq!(first[1].value.as_str().len(), 256);
    }

    #[test]
    fn past_the_memory_budget_new_sets_share_the_overflow_series() {
        static SMALL: Budget = Budget::new(256 << 10);
        let table: SeriesTable<CounterSeries> = SeriesTable::budgeted("table.rs.budget", &SMALL);
        let huge = huge_attributes(40);
        for i in 0..50 {
            let mut set = huge.clone();
            set.push(KeyValue::new("#id", i));
            table.get_or_insert(&set, CounterSeries::new).add(1.0);
        }
        let series = table.series();
        let kept = series.len() - 1;
        assert!((1..10).contains(&kept), "{kept} sets kept in 256 KiB");
        let overflow = series.last().unwrap().snapshot();
        assert_eq!(overflow.attributes, vec![KeyValue::new(OVERFLOW_KEY, true)]);
        assert_eq!(overflow.value, (50 - kept) as f64);
        assert!(SMALL.held.load(Ordering::Relaxed) <= 256 << 10);
        let reports = report::recent();
        let about = |m: &&String| m.contains("memory budget") && m.contains("table.rs.budget");
        assert_eq!(reports.iter().filter(about).count(), 1);
    }

    #[test]
    fn once_the_budget_is_spent_a_metric_still_has_its_plain_series() {
        static SPENT: Budget = Budget::new(0);
        for name in ["table.rs.spent.a", "table.rs.spent.b"] {
            let table: SeriesTable<CounterSeries> = SeriesTable::budgeted(name, &SPENT);
            table.get_or_insert(&[], CounterSeries::new).add(1.0);
            table
                .get_or_insert(&[KeyValue::new("k", "v")], CounterSeries::new)
                .add(2.0);
            let series: Vec<_> = table.series().iter().map(|s| s.snapshot()).collect();
            assert_eq!(series.len(), 2, "the plain series and the overflow series");
            assert!(series[0].attributes.is_empty());
            assert_eq!(series[0].value, 1.0);
            assert_eq!(
                series[1].attributes,
                vec![KeyValue::new(OVERFLOW_KEY, true)]
            );
            assert_eq!(series[1].value, 2.0);
        }
        // Reported once for every metric sharing the budget, not once per metric.
        let reports = report::recent();
        let about = |m: &&String| m.contains("memory budget") && m.contains("table.rs.spent");
        assert_eq!(reports.iter().filter(about).count(), 1, "{reports:#?}");
    }

    #[test]
    fn a_set_with_duplicated_keys_is_the_set_of_their_last_values() {
        let table: SeriesTable<CounterSeries> = SeriesTable::new("table.rs.duplicates");
        let given = [
            KeyValue::new("a", 1),
            KeyValue::new("b", 1),
            KeyValue::new("a", 2),
        ];
        table.get_or_insert(&given, CounterSeries::new).add(1.0);
        let deduplicated = [KeyValue::new("b", 1), KeyValue::new("a", 2)];
        table
            .get_or_insert(&deduplicated, CounterSeries::new)
            .add(1.0);
        // 10,000 attributes, two keys: the last of each is the same set again.
        let wide: Vec<KeyValue> = (0..10_000)
            .map(|i| match i % 2 {
                0 => KeyValue::new("a", i / 2),
                _ => KeyValue::new("b", 1),
            })
            .chain([KeyValue::new("a", 2)])
            .collect();
        table.get_or_insert(&wide, CounterSeries::new).add(1.0);
        let series = table.series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].attributes,
            vec![KeyValue::new("a", 2), KeyValue::new("b", 1)]
        );
        assert_eq!(series[0].snapshot().value, 3.0);
    }
}
