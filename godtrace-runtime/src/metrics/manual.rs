//! The manual API: [`record_counter`] and [`record_histogram`].
use super::buckets::DEFAULT_BOUNDS;
use super::limits;
use super::registry::{Instrument, Manual, registry};
use super::report;
use super::series::{CounterSeries, ValueSeries};
use super::snapshot::DURATION_METRIC;
use super::table::{MANUAL_SERIES, SeriesTable};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanContext;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

mod sealed {
    pub trait Sealed {}
}

/// A number [`record_counter`] and [`record_histogram`] accept: any integer or float type.
pub trait MetricValue: Copy + sealed::Sealed {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

macro_rules! metric_values {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl MetricValue for $t {
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
metric_values!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

/// Adds `value` to the counter `name` for the attribute set `attributes`.
///
/// The counter is created on first use and kept for the process; later calls find it by name
/// (one map read). Exported as `name` over OTLP and, in Prometheus form, with dots turned to
/// underscores and a `_total` suffix (`nft.mints.total` is `nft_mints_total`). An invalid name
/// (see the README) or a negative or non-finite increment is reported once on stderr and the
/// value is dropped; this never panics. Nothing is recorded while godtrace is not initialised.
///
/// ```
/// use godtrace_runtime::{metrics::record_counter, otel::KeyValue};
///
/// record_counter("nft.mints.total", 1, &[KeyValue::new("chain", "solana")]);
/// ```
pub fn record_counter(name: &str, value: impl MetricValue, attributes: &[KeyValue]) {
    if crate::span::switches::is_enabled() {
        counter_add(name, value.to_f64(), attributes);
    }
}

pub(super) fn counter_add(name: &str, value: f64, attributes: &[KeyValue]) {
    if !(value >= 0.0 && value.is_finite()) {
        refuse(name, Kind::Counter, || {
            format!(
                "counter {name:?} got the increment {value}; counters only go up by finite, non-negative amounts: dropped"
            )
        });
        return;
    }
    let Some(Instrument::Counter(counter)) = instrument(name, Kind::Counter) else {
        return;
    };
    counter
        .table
        .get_or_insert(attributes, CounterSeries::new)
        .add(value);
}

/// Records `value` in the histogram `name` for the attribute set `attributes`.
///
/// Created on first use with OpenTelemetry's default buckets (0, 5, 10, 25, … 10000) unless
/// [`MetricsConfig::histogram_buckets`](crate::MetricsConfig::histogram_buckets) set others.
/// Inside a sampled span, the bucket also keeps that span's trace as its exemplar. An invalid
/// name or a value that is negative, infinite or NaN is reported once on stderr and dropped;
/// this never panics.
///
/// ```
/// godtrace_runtime::metrics::record_histogram("watermark.confidence_score", 0.98, &[]);
/// ```
pub fn record_histogram(name: &str, value: impl MetricValue, attributes: &[KeyValue]) {
    if crate::span::switches::is_enabled() {
        histogram_record(name, value.to_f64(), attributes);
    }
}

/// [`record_histogram`] for the integrations' semantic-convention histograms
/// (`http.server.request.duration`, `db.client.operation.duration`…): created with
/// `default_bounds` (the convention's buckets) unless
/// [`MetricsConfig::histogram_buckets`](crate::MetricsConfig::histogram_buckets) set others.
#[allow(
    dead_code,
    reason = "used by the integrations, each behind its own feature"
)]
pub(crate) fn record_histogram_with_bounds(
    name: &str,
    value: f64,
    attributes: &[KeyValue],
    default_bounds: &'static [f64],
    description: &'static str,
) {
    if crate::span::switches::is_enabled() {
        let kind = Kind::Histogram(default_bounds, SECONDS, description);
        histogram_record_in(name, kind, value, attributes, current_exemplar);
    }
}

/// [`record_histogram_with_bounds`] whose exemplar is `span` (when sampled) rather than the
/// current span: for a layer that records when its request ends, where making the request's
/// span current again only to be read here would cost more than the recording.
#[allow(
    dead_code,
    reason = "used by the integrations, each behind its own feature"
)]
pub(crate) fn record_histogram_for_span(
    name: &str,
    value: f64,
    attributes: &[KeyValue],
    default_bounds: &'static [f64],
    description: &'static str,
    span: Option<&SpanContext>,
) {
    if crate::span::switches::is_enabled() {
        let kind = Kind::Histogram(default_bounds, SECONDS, description);
        histogram_record_in(name, kind, value, attributes, || {
            span.filter(|s| s.is_sampled()).cloned()
        });
    }
}

/// One series of a histogram, found once and recorded into many times: for a layer that
/// keeps the series of the attribute sets it sees, so that a request looks nothing up in
/// the registry.
#[allow(
    dead_code,
    reason = "used by the integrations, each behind its own feature"
)]
#[derive(Clone)]
pub(crate) struct HistogramSeries(Arc<ValueSeries>);

#[allow(
    dead_code,
    reason = "used by the integrations, each behind its own feature"
)]
impl HistogramSeries {
    /// The series of `attributes` in histogram `name` (created with `default_bounds`, as
    /// [`record_histogram_with_bounds`] does); `None` when the name is refused or godtrace
    /// is off.
    pub(crate) fn find(
        name: &str,
        attributes: &[KeyValue],
        default_bounds: &'static [f64],
        description: &'static str,
    ) -> Option<HistogramSeries> {
        if !crate::span::switches::is_enabled() {
            return None;
        }
        let Some(Instrument::Histogram(histogram)) =
            instrument(name, Kind::Histogram(default_bounds, SECONDS, description))
        else {
            return None;
        };
        let bounds = histogram.bounds.clone();
        Some(HistogramSeries(
            histogram
                .table
                .get_or_insert(attributes, |attrs| ValueSeries::new(attrs, bounds.clone())),
        ))
    }

    /// Records `value` (not NaN: a duration), with `span` as its exemplar when sampled.
    pub(crate) fn record(&self, value: f64, span: Option<&SpanContext>) {
        if crate::span::switches::is_enabled() {
            self.0.record(value, span.filter(|s| s.is_sampled()));
        }
    }
}

fn histogram_record(name: &str, value: f64, attributes: &[KeyValue]) {
    histogram_record_in(
        name,
        Kind::Histogram(&DEFAULT_BOUNDS, "", ""),
        value,
        attributes,
        current_exemplar,
    );
}

/// The innermost span, godtrace's own included (whether or not `otel_context` is on), read so
/// that a call made while the thread exits never touches OpenTelemetry's dropped context.
fn current_exemplar() -> Option<SpanContext> {
    crate::span::current_span_context().filter(SpanContext::is_sampled)
}

fn histogram_record_in(
    name: &str,
    kind: Kind,
    value: f64,
    attributes: &[KeyValue],
    exemplar: impl FnOnce() -> Option<SpanContext>,
) {
    // A histogram's sum is a counter (OpenMetrics: never NaN nor negative): one negative or
    // infinite value would break it for the life of the process.
    if !(value >= 0.0 && value.is_finite()) {
        refuse(name, kind, || {
            format!(
                "histogram {name:?} got {value}; histograms take finite, non-negative values: dropped"
            )
        });
        return;
    }
    let Some(Instrument::Histogram(histogram)) = instrument(name, kind) else {
        return;
    };
    let bounds = histogram.bounds.clone();
    let exemplar = exemplar();
    histogram
        .table
        .get_or_insert(attributes, |attrs| ValueSeries::new(attrs, bounds.clone()))
        .record(value, exemplar.as_ref());
}

/// The unit of the integrations' histograms: every one is a duration in seconds
/// (`http.server.request.duration`, `db.client.operation.duration`…), as their conventions say.
const SECONDS: &str = "s";

/// Which instrument a call records into; a histogram with the bounds, unit (UCUM, empty
/// when unknown) and description (the conventions' text for theirs, else empty) it gets when
/// created.
#[derive(Clone, Copy, Debug)]
enum Kind<'a> {
    Counter,
    Histogram(&'a [f64], &'static str, &'static str),
}

impl Kind<'_> {
    fn is_counter(self) -> bool {
        matches!(self, Kind::Counter)
    }
}

/// Reports a value metric `name` (of `kind`) cannot take (`message`), which is dropped. It
/// makes no instrument: a name that only ever gets such values would take one of the names'
/// places for nothing. An instrument already made says it once, on its own (or, of the other
/// kind, says that); another name is reported among the names without one, up to
/// [`report`]'s bound: names built from data never silence what a metric in use is told.
#[cold]
fn refuse(name: &str, kind: Kind, message: impl FnOnce() -> String) {
    if !valid(name) {
        return;
    }
    match registry().existing(name) {
        Some(Instrument::Counter(m)) if kind.is_counter() => {
            report::once(&m.bad_value_reported, message);
        }
        Some(Instrument::Histogram(m)) if !kind.is_counter() => {
            report::once(&m.bad_value_reported, message);
        }
        Some(other) => kind_conflict(name, &other),
        None => report::once_for(report::Topic::BadValue, &bad_value_key(name, kind), message),
    }
}

/// What a bad value given to `name` as `kind` with no metric made yet is reported under: the
/// metric made later, of that kind, does not report its own first bad value again.
fn bad_value_key(name: &str, kind: Kind) -> String {
    let kind = if kind.is_counter() {
        "counter"
    } else {
        "histogram"
    };
    // Names that differ in case only are one metric (see `Registry::instrument`).
    format!("{kind} {}", name.to_ascii_lowercase())
}

/// Reports that `name` is `found`, of the other kind than it is recorded as.
fn kind_conflict(name: &str, found: &Instrument) {
    let (found_kind, kind) = match found {
        Instrument::Counter(_) => ("Counter", "Histogram"),
        Instrument::Histogram(_) => ("Histogram", "Counter"),
    };
    report::once_for(
        report::Topic::Conflict,
        &format!("kind of {}", name.to_ascii_lowercase()),
        || format!("metric {name:?} is a {found_kind}; recording it as a {kind} is dropped"),
    );
}

/// Whether `name` may name a metric of the user's; reported once if not.
fn valid(name: &str) -> bool {
    if !valid_name(name) || name.eq_ignore_ascii_case(DURATION_METRIC) {
        // Once per name whatever its case, as a metric's own reports (told apart by their
        // first 256 bytes, as reports are: a name built from data is not copied whole).
        let key = name[..crate::value::floor_char_boundary(name, 256)].to_ascii_lowercase();
        report::once_for(report::Topic::InvalidName, &key, || {
            format!(
                "{name:?} is not a valid metric name (a letter, then up to 254 letters, digits, \
                 '_', '.', '-' or '/'; and not {DURATION_METRIC}): values dropped"
            )
        });
        return false;
    }
    true
}

/// The instrument `name` of `kind`, if the name is valid and not taken by the other kind.
fn instrument(name: &str, kind: Kind) -> Option<Instrument> {
    if !valid(name) {
        return None;
    }
    let found = registry().instrument(name, || match kind {
        Kind::Counter => {
            Instrument::Counter(Arc::new(new_manual(name, kind, Arc::from([]), "", "")))
        }
        Kind::Histogram(default, unit, description) => Instrument::Histogram(Arc::new(new_manual(
            name,
            kind,
            limits::histogram_bounds(name, default),
            unit,
            description,
        ))),
    })?;
    if matches!(found, Instrument::Counter(_)) != kind.is_counter() {
        kind_conflict(name, &found);
        return None;
    }
    // One name, one unit: a histogram of yours named like an integration's (its durations in
    // seconds, with their buckets) would mix the two in one series.
    if let (Instrument::Histogram(found), Kind::Histogram(_, unit, _)) = (&found, kind)
        && found.unit != unit
    {
        let found_unit = found.unit;
        report::once_for(
            report::Topic::Conflict,
            &format!("unit of {}", name.to_ascii_lowercase()),
            || {
                format!(
                    "histogram {name:?} was made with the unit {found_unit:?}; values recorded under \
                 that name with the unit {unit:?} are dropped (a godtrace integration and the \
                 application share the name)"
                )
            },
        );
        return None;
    }
    Some(found)
}

fn new_manual<S: super::table::Series>(
    name: &str,
    kind: Kind,
    bounds: Arc<[f64]>,
    unit: &'static str,
    description: &'static str,
) -> Manual<S> {
    Manual {
        table: SeriesTable::budgeted(name, &MANUAL_SERIES),
        bounds,
        unit,
        description,
        // A bad value it got before its first good one was reported already.
        bad_value_reported: AtomicBool::new(report::was_reported(
            report::Topic::BadValue,
            &bad_value_key(name, kind),
        )),
    }
}

/// OpenTelemetry's instrument name syntax: a letter, then up to 254 of `[A-Za-z0-9_.\-/]`.
pub(crate) fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_alphabetic())
        && bytes.len() <= 255
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::report::recent;
    use std::sync::atomic::Ordering;

    fn reports_about(needle: &str) -> usize {
        recent().iter().filter(|m| m.contains(needle)).count()
    }

    #[test]
    fn misuse_is_reported_once_and_dropped() {
        for _ in 0..3 {
            counter_add("manual.rs bad name", 1.0, &[]);
            counter_add("manual.rs.negative", -1.0, &[]);
            counter_add("manual.rs.negative", f64::INFINITY, &[]);
            counter_add("manual.rs.kind", 1.0, &[]);
            histogram_record("manual.rs.kind", 1.0, &[]);
            histogram_record("manual.rs.nan", f64::NAN, &[]);
            histogram_record("manual.rs.below", -5.0, &[]);
            histogram_record("manual.rs.infinite", f64::INFINITY, &[]);
            histogram_record("manual.rs.infinite", f64::NEG_INFINITY, &[]);
            counter_add(DURATION_METRIC, 1.0, &[]);
        }
        assert_eq!(
            reports_about("\"manual.rs bad name\" is not a valid metric name"),
            1
        );
        assert_eq!(reports_about("\"manual.rs.negative\" got the increment"), 1);
        assert_eq!(reports_about("\"manual.rs.kind\" is a Counter"), 1);
        assert_eq!(reports_about("\"manual.rs.nan\" got NaN"), 1);
        assert_eq!(reports_about("\"manual.rs.below\" got -5"), 1);
        assert_eq!(reports_about("\"manual.rs.infinite\" got inf"), 1);
        assert_eq!(
            reports_about("\"godtrace.operation.duration\" is not a valid"),
            1
        );
        let snap = registry().collect();
        // Only refused values: no metric of that name, nor a place taken among the names.
        assert!(snap.metric("manual.rs.negative").is_none());
        assert_eq!(snap.counter("manual.rs.kind", &[]), Some(3.0));
        for dropped in ["manual.rs.below", "manual.rs.infinite"] {
            assert_eq!(snap.histogram(dropped, &[]), None, "{dropped}");
        }
        assert!(snap.metric("manual.rs bad name").is_none());
    }

    /// A metric in use says its bad values on its own, not among the names that never got a
    /// value (whose reports, from names built from data, may have run out).
    #[test]
    fn a_metric_in_use_reports_its_bad_values_on_its_own() {
        counter_add("manual.rs.in_use", 1.0, &[]);
        histogram_record("manual.rs.in_use.histogram", 1.0, &[]);
        counter_add("manual.rs.in_use", -2.0, &[]);
        histogram_record("manual.rs.in_use.histogram", f64::NAN, &[]);
        for name in ["manual.rs.in_use", "manual.rs.in_use.histogram"] {
            let flagged = match registry().existing(name) {
                Some(Instrument::Counter(m)) => m.bad_value_reported.load(Ordering::Relaxed),
                Some(Instrument::Histogram(m)) => m.bad_value_reported.load(Ordering::Relaxed),
                None => panic!("{name} was made"),
            };
            assert!(flagged, "{name}");
        }
        assert_eq!(
            reports_about("\"manual.rs.in_use\" got the increment -2"),
            1
        );
        assert_eq!(reports_about("\"manual.rs.in_use.histogram\" got NaN"), 1);
    }

    /// A bad value recorded as the other kind says that the name is of the other kind, and
    /// leaves the metric's own report for its own bad values; a bad value reported before a
    /// name's first good one is not reported again once the metric is made.
    #[test]
    fn a_bad_value_is_told_once_and_as_what_it_is() {
        histogram_record("manual.rs.kind.h", 1.0, &[]);
        counter_add("manual.rs.kind.h", -1.0, &[]);
        histogram_record("manual.rs.kind.h", -3.0, &[]);
        assert_eq!(
            reports_about("\"manual.rs.kind.h\" is a Histogram; recording it as a Counter"),
            1
        );
        assert_eq!(reports_about("counter \"manual.rs.kind.h\""), 0);
        assert_eq!(reports_about("\"manual.rs.kind.h\" got -3"), 1);
        counter_add("manual.rs.late", -1.0, &[]);
        counter_add("manual.rs.late", 1.0, &[]);
        counter_add("manual.rs.late", -5.0, &[]);
        assert_eq!(reports_about("\"manual.rs.late\" got the increment"), 1);
        // A bad counter increment before a histogram of the name is made leaves the
        // histogram's own report.
        counter_add("manual.rs.late.other", -1.0, &[]);
        histogram_record("manual.rs.late.other", 2.0, &[]);
        histogram_record("manual.rs.late.other", f64::NAN, &[]);
        assert_eq!(reports_about("\"manual.rs.late.other\" got NaN"), 1);
    }

    #[test]
    fn a_nan_attribute_is_one_series() {
        let nan = [KeyValue::new("ratio", f64::NAN)];
        for _ in 0..3 {
            counter_add("manual.rs.nan.attribute", 1.0, &nan);
        }
        let snap = registry().collect();
        assert_eq!(snap.counter("manual.rs.nan.attribute", &nan), Some(3.0));
        let points = &snap.metric("manual.rs.nan.attribute").unwrap().points;
        assert!(matches!(points, crate::metrics::MetricPoints::Counter(p) if p.len() == 1));
    }

    #[test]
    fn a_semantic_convention_histogram_gets_its_own_buckets_and_unit() {
        const BOUNDS: [f64; 3] = [0.005, 0.01, 0.025];
        record_histogram_with_bounds_unchecked("manual.rs.semconv.duration", 0.007, &BOUNDS);
        histogram_record("manual.rs.plain", 0.007, &[]);
        let snap = registry().collect();
        let points = snap
            .histogram("manual.rs.semconv.duration", &[])
            .expect("recorded");
        assert_eq!(points.bounds, BOUNDS);
        assert_eq!(points.bucket_counts, vec![0, 1, 0, 0]);
        // The conventions give every such duration in seconds (Prometheus: `_seconds`).
        let unit = |name| snap.metric(name).map(|m| m.unit.clone());
        assert_eq!(unit("manual.rs.semconv.duration").as_deref(), Some("s"));
        assert_eq!(unit("manual.rs.plain").as_deref(), Some(""));
    }

    /// A histogram of the application's named like an integration's would mix its values
    /// (no unit, its own buckets) with the integration's durations in seconds: whichever
    /// records first keeps the name, and the other's values are dropped (reported once).
    #[test]
    fn an_integrations_histogram_and_yours_do_not_share_a_name() {
        const BOUNDS: [f64; 2] = [0.005, 0.01];
        histogram_record("manual.rs.taken.duration", 5.0, &[]);
        record_histogram_with_bounds_unchecked("manual.rs.taken.duration", 0.007, &BOUNDS);
        record_histogram_with_bounds_unchecked("manual.rs.integration.duration", 0.007, &BOUNDS);
        histogram_record("manual.rs.integration.duration", 5.0, &[]);
        let snap = registry().collect();
        let yours = snap
            .histogram("manual.rs.taken.duration", &[])
            .expect("kept");
        assert_eq!((yours.count, yours.sum), (1, 5.0));
        let theirs = snap
            .histogram("manual.rs.integration.duration", &[])
            .expect("kept");
        assert_eq!((theirs.count, theirs.sum), (1, 0.007));
        assert_eq!(theirs.bounds, BOUNDS);
    }

    /// [`record_histogram_with_bounds`] without the on/off switch, which these unit tests do
    /// not turn on.
    fn record_histogram_with_bounds_unchecked(name: &str, value: f64, bounds: &'static [f64]) {
        let kind = Kind::Histogram(bounds, SECONDS, "");
        histogram_record_in(name, kind, value, &[], current_exemplar);
    }

    #[test]
    fn names_follow_the_opentelemetry_syntax() {
        assert!(valid_name("nft.mints.total"));
        assert!(valid_name("a/b-c_d.e9"));
        assert!(!valid_name(""));
        assert!(!valid_name("9lives"));
        assert!(!valid_name("has space"));
        assert!(!valid_name(&"a".repeat(256)));
        assert!(valid_name(&"a".repeat(255)));
    }
}
