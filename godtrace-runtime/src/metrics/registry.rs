//! The process's metrics: the duration histogram's series and the manual instruments by name.
use super::report;
use super::series::{CounterSeries, DurationSeries, ValueSeries};
use super::snapshot::{DURATION_METRIC, MetricData, MetricPoints, MetricsSnapshot};
use super::table::SeriesTable;
use opentelemetry::KeyValue;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::SystemTime;

/// Distinct manual instrument names kept at most; past that, new names are dropped (reported
/// once), so that names built from data cannot grow memory without bound.
const MAX_INSTRUMENTS: usize = 1000;

/// A manual counter or histogram, created on its first use and kept for the process.
pub(crate) struct Manual<S> {
    pub(crate) table: SeriesTable<S>,
    /// Bucket bounds (histograms only).
    pub(crate) bounds: Arc<[f64]>,
    /// Its unit in UCUM form (`s` for the integrations' durations), empty when unknown.
    pub(crate) unit: &'static str,
    /// Its description: the conventions' text for an instrument they define, else empty.
    pub(crate) description: &'static str,
    /// Reported: a negative increment (counters) or a value that is not a number.
    pub(crate) bad_value_reported: AtomicBool,
}

/// A manual instrument of either kind.
#[derive(Clone)]
pub(crate) enum Instrument {
    Counter(Arc<Manual<CounterSeries>>),
    Histogram(Arc<Manual<ValueSeries>>),
}

/// Everything recorded in this process.
pub(crate) struct Registry {
    durations: SeriesTable<DurationSeries>,
    /// By name in lower case (OpenTelemetry: instrument names are case-insensitive, and one
    /// name is one instrument), each with the name it was first given, which it is exported
    /// under.
    instruments: RwLock<HashMap<String, (String, Instrument)>>,
    /// When recording started: the start of every cumulative series.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) start: SystemTime,
    too_many_reported: AtomicBool,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    durations: SeriesTable::new(DURATION_METRIC),
    instruments: RwLock::new(HashMap::new()),
    start: SystemTime::now(),
    too_many_reported: AtomicBool::new(false),
});

/// `name` as the registry keys it: in lower case (copied only when it has upper case).
fn folded(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// The process's registry.
pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    /// The duration series of `operation` (and `error_type` for failures); called once per
    /// call site and error type, never per call.
    pub(crate) fn duration_series(
        &self,
        operation: &'static str,
        error_type: Option<&'static str>,
    ) -> Arc<DurationSeries> {
        let mut attributes = vec![KeyValue::new("operation", operation)];
        if let Some(error_type) = error_type {
            attributes.push(KeyValue::new("error.type", error_type));
        }
        self.durations
            .get_or_insert(&attributes, DurationSeries::new)
    }

    /// The instrument named `name`, if one was made.
    pub(crate) fn existing(&self, name: &str) -> Option<Instrument> {
        let instruments = self.instruments.read().unwrap_or_else(|e| e.into_inner());
        instruments
            .get(&*folded(name))
            .map(|(_, instrument)| instrument.clone())
    }

    /// The instrument `name`, created by `make` on first use; `None` past the instrument cap.
    pub(crate) fn instrument(
        &self,
        name: &str,
        make: impl FnOnce() -> Instrument,
    ) -> Option<Instrument> {
        if let Some(found) = self.existing(name) {
            return Some(found);
        }
        let mut instruments = self.instruments.write().unwrap_or_else(|e| e.into_inner());
        let key = folded(name);
        if let Some((_, found)) = instruments.get(&*key) {
            return Some(found.clone());
        }
        if instruments.len() >= MAX_INSTRUMENTS {
            report::once(&self.too_many_reported, || {
                format!(
                    "more than {MAX_INSTRUMENTS} metric names; {name:?} and later new names are dropped"
                )
            });
            return None;
        }
        let instrument = make();
        instruments.insert(key.into_owned(), (name.to_owned(), instrument.clone()));
        Some(instrument)
    }

    /// Every metric's current values: the duration histogram, then the manual ones by name.
    /// A metric with no series yet (every value it got was refused) is left out: it is not
    /// exported, nor does it take a Prometheus name from one that has values.
    pub(crate) fn collect(&self) -> MetricsSnapshot {
        let mut metrics = Vec::new();
        let durations = self.durations.series();
        if !durations.is_empty() {
            metrics.push(MetricData {
                name: DURATION_METRIC.to_owned(),
                description: "Duration of traced operations; error.type is set on failures."
                    .to_owned(),
                unit: "s".to_owned(),
                points: MetricPoints::Histogram(durations.iter().map(|s| s.snapshot()).collect()),
            });
        }
        let mut manual: Vec<(String, Instrument)> = self
            .instruments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|(name, i)| (name.clone(), i.clone()))
            .collect();
        manual.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, instrument) in manual {
            let (points, unit, description) = match instrument {
                Instrument::Counter(c) => (
                    MetricPoints::Counter(c.table.series().iter().map(|s| s.snapshot()).collect()),
                    c.unit,
                    c.description,
                ),
                Instrument::Histogram(h) => (
                    MetricPoints::Histogram(
                        h.table.series().iter().map(|s| s.snapshot()).collect(),
                    ),
                    h.unit,
                    h.description,
                ),
            };
            if points.is_empty() {
                continue;
            }
            metrics.push(MetricData {
                name,
                description: description.to_owned(),
                unit: unit.to_owned(),
                points,
            });
        }
        MetricsSnapshot { metrics }
    }
}
