//! The duration histogram and the manual API, read back through `metrics_snapshot`.
//! Each test uses its own operation and metric names: the registry is process-wide.
use godtrace::metrics::{HistogramPoint, metrics_snapshot, record_counter, record_histogram};
use godtrace::otel::KeyValue;
use godtrace::otel::trace::TraceId;
use godtrace::{testing, traced};
use std::time::Duration;

#[derive(Debug)]
struct LedgerError;

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ledger unavailable")
    }
}

#[traced(operation = "rec.sync.quick")]
fn quick(i: u32) -> u32 {
    i + 1
}

#[traced(operation = "rec.sync.slow")]
fn slow() {
    std::thread::sleep(Duration::from_millis(30));
}

#[traced(operation = "rec.sync.fallible")]
fn fallible(fail: bool) -> Result<u32, LedgerError> {
    if fail { Err(LedgerError) } else { Ok(7) }
}

#[traced(operation = "rec.sync.panics")]
fn panics() {
    panic!("boom");
}

#[traced(operation = "rec.sync.opted_out", include_duration = false)]
fn opted_out() -> u32 {
    1
}

#[traced(operation = "rec.async.wait")]
async fn wait(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[traced(operation = "rec.async.fallible")]
async fn async_fallible(fail: bool) -> Result<(), LedgerError> {
    tokio::task::yield_now().await;
    if fail { Err(LedgerError) } else { Ok(()) }
}

/// The one bucket holding every observation of `p`, checking count and sum agree.
fn only_bucket(p: &HistogramPoint) -> usize {
    let filled: Vec<usize> = (0..p.bucket_counts.len())
        .filter(|&i| p.bucket_counts[i] > 0)
        .collect();
    assert_eq!(filled.len(), 1, "{p:?}");
    filled[0]
}

#[test]
fn sync_calls_are_counted_summed_and_bucketed() {
    let _c = testing::capture();
    for i in 0..3 {
        quick(i);
    }
    slow();
    let snap = metrics_snapshot();
    let q = snap.operation("rec.sync.quick").expect("quick series");
    assert_eq!(q.count, 3);
    assert_eq!(q.bucket_counts.iter().sum::<u64>(), 3);
    assert!(q.sum > 0.0);
    assert_eq!(
        q.attributes,
        vec![KeyValue::new("operation", "rec.sync.quick")]
    );

    let s = snap.operation("rec.sync.slow").expect("slow series");
    assert_eq!(s.count, 1);
    assert!(s.sum >= 0.030, "{}", s.sum);
    // One observation: it sits in the bucket its own value belongs to, above 25 ms.
    let bucket = only_bucket(s);
    assert_eq!(bucket, s.bucket_of(s.sum));
    assert!(bucket >= 8 && s.bounds[7] == 0.025, "{s:?}");
    // Seconds, from 100 µs to 10 s.
    assert_eq!(s.bounds.first(), Some(&0.0001));
    assert_eq!(s.bounds.last(), Some(&10.0));
}

#[test]
fn the_error_label_is_set_on_failures_only() {
    let _c = testing::capture();
    fallible(false).unwrap();
    fallible(false).unwrap();
    fallible(true).unwrap_err();
    let _ = std::panic::catch_unwind(panics);
    let snap = metrics_snapshot();
    let ok = snap.operation("rec.sync.fallible").unwrap();
    assert_eq!(ok.count, 2);
    assert!(ok.attr("error.type").is_none());
    let err_type = std::any::type_name::<LedgerError>();
    let err = snap
        .operation_errors("rec.sync.fallible", err_type)
        .unwrap();
    assert_eq!(err.count, 1);
    assert_eq!(snap.operation_points("rec.sync.fallible").len(), 2);
    let panicked = snap.operation_errors("rec.sync.panics", "panic").unwrap();
    assert_eq!(panicked.count, 1);
    assert!(snap.operation("rec.sync.panics").is_none());
}

/// An error whose type name is long, as generic types' names are.
#[derive(Debug)]
struct Wrapped<T>(T);

impl<T: std::fmt::Debug> std::fmt::Display for Wrapped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wrapped: {:?}", self.0)
    }
}

impl<T: std::fmt::Debug> std::error::Error for Wrapped<T> {}

type LongNamedError = Wrapped<Wrapped<Wrapped<Wrapped<Wrapped<Wrapped<Wrapped<LedgerError>>>>>>>;

#[traced(operation = "rec.sync.long_error_type")]
fn fails_with_a_long_named_error() -> Result<(), LongNamedError> {
    Err(Wrapped(Wrapped(Wrapped(Wrapped(Wrapped(Wrapped(
        Wrapped(LedgerError),
    )))))))
}

/// A type name longer than a metric attribute may be (256 bytes) is cut once, the same for the
/// span and the histogram, so that the two still join on `error.type` (each cut it at its own
/// limit: the span's value was the whole name, the series' its first 256 bytes).
#[test]
fn a_long_error_type_name_is_the_same_on_the_span_and_the_histogram() {
    let c = testing::capture();
    fails_with_a_long_named_error().unwrap_err();
    assert!(std::any::type_name::<LongNamedError>().len() > 256);
    let span = c.span("rec.sync.long_error_type");
    let on_span = span.attr("error.type").expect("error.type").as_str();
    assert!(on_span.len() <= 256, "{on_span}");
    let snap = metrics_snapshot();
    let points = snap.operation_points("rec.sync.long_error_type");
    let on_series: Vec<_> = points.iter().filter_map(|p| p.attr("error.type")).collect();
    assert_eq!(on_series.len(), 1, "{points:?}");
    assert_eq!(on_series[0].as_str(), on_span);
}

/// A local whose drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped in a bad state");
    }
}

#[traced(operation = "rec.async.dropped.kept")]
async fn dropped_kept() {
    let _bad = PanicsOnDrop;
    std::future::pending::<()>().await;
}

#[traced(operation = "rec.async.dropped.sampled_out", sample_rate = 0.0)]
async fn dropped_sampled_out() {
    let _bad = PanicsOnDrop;
    std::future::pending::<()>().await;
}

/// A panic while an unfinished future drops is a panic in the histogram, sampled in or out
/// (sampling does not change what the histogram says).
#[test]
fn a_panic_while_an_unfinished_future_drops_is_a_panic_in_the_histogram() {
    let _c = testing::capture();
    let waker = std::task::Waker::noop();
    let mut task = std::task::Context::from_waker(waker);
    let kept: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = Box::pin(dropped_kept());
    let out: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
        Box::pin(dropped_sampled_out());
    for mut future in [kept, out] {
        assert!(future.as_mut().poll(&mut task).is_pending());
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(future)));
        assert!(dropped.is_err());
    }
    let snap = metrics_snapshot();
    for operation in ["rec.async.dropped.kept", "rec.async.dropped.sampled_out"] {
        let panicked = snap.operation_errors(operation, "panic");
        assert_eq!(panicked.map(|p| p.count), Some(1), "{operation}");
        assert!(snap.operation(operation).is_none(), "{operation}");
    }
}

#[test]
fn include_duration_false_records_nothing() {
    let c = testing::capture();
    assert_eq!(opted_out(), 1);
    // The span is still there; only the histogram is skipped.
    c.span("rec.sync.opted_out");
    assert!(
        metrics_snapshot()
            .operation_points("rec.sync.opted_out")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_cover_the_whole_future() {
    let _c = testing::capture();
    wait(20).await;
    tokio::spawn(wait(20)).await.unwrap();
    async_fallible(false).await.unwrap();
    async_fallible(true).await.unwrap_err();
    let snap = metrics_snapshot();
    let w = snap.operation("rec.async.wait").unwrap();
    assert_eq!(w.count, 2);
    assert!(w.sum >= 0.040, "{}", w.sum);
    // Both calls slept 20 ms: none can sit at or below the 10 ms bound.
    assert_eq!(w.bucket_counts[..=6].iter().sum::<u64>(), 0, "{w:?}");
    assert_eq!(snap.operation("rec.async.fallible").unwrap().count, 1);
    let err_type = std::any::type_name::<LedgerError>();
    assert_eq!(
        snap.operation_errors("rec.async.fallible", err_type)
            .unwrap()
            .count,
        1
    );
}

#[traced(operation = "rec.exemplar")]
fn with_exemplar() {}

#[test]
fn a_sampled_call_leaves_its_trace_in_its_bucket() {
    let c = testing::capture();
    with_exemplar();
    let span = c.span("rec.exemplar");
    let snap = metrics_snapshot();
    let p = snap.operation("rec.exemplar").unwrap();
    let bucket = only_bucket(p);
    let ex = p.exemplars[bucket].expect("an exemplar in the filled bucket");
    assert_eq!(ex.trace_id, span.trace_id);
    assert_eq!(ex.span_id, span.span_id);
    assert_ne!(ex.trace_id, TraceId::INVALID);
    assert_eq!(p.bucket_of(ex.value), bucket);
    assert_eq!(p.exemplars.iter().flatten().count(), 1);
}

#[test]
fn manual_counters_add_per_attribute_set() {
    let _c = testing::capture();
    let sol = [KeyValue::new("chain", "solana")];
    record_counter("rec.nft.mints.total", 1, &sol);
    record_counter("rec.nft.mints.total", 2u64, &sol);
    record_counter("rec.nft.mints.total", 1.5, &[KeyValue::new("chain", "eth")]);
    record_counter("rec.nft.mints.total", 4, &[]);
    // Dropped, reported once, never a panic:
    record_counter("rec.nft.mints.total", -1, &sol);
    record_counter("9 not a name", 1, &[]);
    record_counter("", 1, &[]);
    record_histogram("rec.nft.mints.total", 1, &[]); // already a counter
    let snap = metrics_snapshot();
    assert_eq!(snap.counter("rec.nft.mints.total", &sol), Some(3.0));
    assert_eq!(
        snap.counter("rec.nft.mints.total", &[KeyValue::new("chain", "eth")]),
        Some(1.5)
    );
    assert_eq!(snap.counter("rec.nft.mints.total", &[]), Some(4.0));
    assert!(snap.metric("9 not a name").is_none());
}

/// Instrument names are case-insensitive (OpenTelemetry): names that differ in case only are
/// one instrument, exported under the name it was first given.
#[test]
fn names_that_differ_in_case_only_are_one_instrument() {
    let _c = testing::capture();
    record_counter("rec.Case.Hits", 1, &[]);
    record_counter("rec.case.hits", 2, &[]);
    record_counter("REC.CASE.HITS", 4, &[]);
    let snap = metrics_snapshot();
    assert_eq!(snap.counter("rec.case.hits", &[]), Some(7.0));
    let named: Vec<_> = snap
        .metrics()
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| n.eq_ignore_ascii_case("rec.case.hits"))
        .collect();
    assert_eq!(named, ["rec.Case.Hits"]);
}

/// A series is looked up with the attributes it was recorded with, read the same way: a key
/// given twice is its last value, a long value is cut.
#[test]
fn a_series_is_found_with_the_attributes_it_was_recorded_with() {
    let _c = testing::capture();
    let twice = [KeyValue::new("a", 1), KeyValue::new("a", 2)];
    let long = [KeyValue::new("note", "n".repeat(1000))];
    record_counter("rec.lookup.twice", 1, &twice);
    record_histogram("rec.lookup.long", 2, &long);
    let snap = metrics_snapshot();
    assert_eq!(snap.counter("rec.lookup.twice", &twice), Some(1.0));
    assert_eq!(
        snap.counter("rec.lookup.twice", &[KeyValue::new("a", 2)]),
        Some(1.0)
    );
    assert_eq!(
        snap.histogram("rec.lookup.long", &long).map(|p| p.count),
        Some(1)
    );
}

/// Every integer type is a value, 128-bit ones too (as the nearest `f64`).
#[test]
fn wide_integers_are_metric_values() {
    let _c = testing::capture();
    record_counter("rec.wide.total", 3u128, &[]);
    record_counter("rec.wide.total", 4i128, &[]);
    assert_eq!(metrics_snapshot().counter("rec.wide.total", &[]), Some(7.0));
}

#[test]
fn a_metric_whose_values_were_all_refused_takes_no_prometheus_name_and_is_not_exported() {
    let _c = testing::capture();
    // Refused values, under names that become the same Prometheus families as valid metrics
    // recorded later (`.` turns to `_`, and sorts before it).
    record_counter("rec.refused.orders", f64::NAN, &[]);
    record_histogram("rec.refused.latency", -1.0, &[]);
    record_counter("rec_refused_orders", 5, &[]);
    record_counter("rec.refused.latency.count", 7, &[]);
    let page = godtrace::metrics::prometheus_exposition(None).body;
    let scope = concat!(
        "{otel_scope_name=\"godtrace\",otel_scope_version=\"",
        env!("CARGO_PKG_VERSION"),
        "\"}"
    );
    assert!(
        page.contains(&format!("\nrec_refused_orders_total{scope} 5\n")),
        "{page}"
    );
    assert!(
        page.contains(&format!("\nrec_refused_latency_count_total{scope} 7\n")),
        "{page}"
    );
    let snap = metrics_snapshot();
    assert!(snap.metric("rec.refused.orders").is_none());
    assert!(snap.metric("rec.refused.latency").is_none());
}

#[test]
fn manual_histograms_bucket_their_values() {
    let _c = testing::capture();
    let attrs = [KeyValue::new("kind", "royalty"), KeyValue::new("tier", 2)];
    let reversed = [KeyValue::new("tier", 2), KeyValue::new("kind", "royalty")];
    for v in [2.5, 7.0, 7.5, 600.0] {
        record_histogram("rec.royalty.amounts", v, &attrs);
    }
    record_histogram("rec.royalty.amounts", 20_000, &reversed);
    record_histogram("rec.royalty.amounts", f64::NAN, &attrs); // dropped
    let snap = metrics_snapshot();
    let h = snap.histogram("rec.royalty.amounts", &reversed).unwrap();
    assert_eq!(h.count, 5);
    assert_eq!(h.sum, 20_617.0);
    // Default bounds 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, ...
    assert_eq!(h.bucket_counts[1], 1); // 2.5 in (0, 5]
    assert_eq!(h.bucket_counts[2], 2); // 7.0, 7.5 in (5, 10]
    assert_eq!(h.bucket_counts[9], 1); // 600 in (500, 750]
    assert_eq!(*h.bucket_counts.last().unwrap(), 1); // 20000 above 10000
}

#[test]
fn huge_attribute_keys_and_values_are_cut_and_a_set_keeps_32_attributes() {
    let _c = testing::capture();
    let value: std::sync::Arc<str> = "v".repeat(1 << 14).into();
    let huge: Vec<KeyValue> = (0..64)
        .map(|i| {
            let key: std::sync::Arc<str> = format!("{i:02}{}", "k".repeat(1 << 14)).into();
            KeyValue::new(key, value.clone())
        })
        .collect();
    // 100 sets: each counts against the 128 MiB budget with its scrape lines (about 0.7 MiB
    // for a histogram of 32 such attributes), and every set here must get its own series.
    for i in 0..100 {
        let mut set = huge.clone();
        // '#' sorts before the digits: among the first 32 attributes by key, which are kept.
        set.push(KeyValue::new("#series", i));
        record_counter("rec.huge.attributes", 1, &set);
        record_histogram("rec.huge.attributes.hist", 1.0, &set);
    }
    let snap = metrics_snapshot();
    let mut sets = Vec::new();
    for metric in ["rec.huge.attributes", "rec.huge.attributes.hist"] {
        match &snap.metric(metric).expect("recorded").points {
            godtrace::metrics::MetricPoints::Counter(points) => {
                sets.extend(points.iter().map(|p| (p.attributes.clone(), p.value)));
            }
            godtrace::metrics::MetricPoints::Histogram(points) => {
                sets.extend(
                    points
                        .iter()
                        .map(|p| (p.attributes.clone(), p.count as f64)),
                );
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(sets.len(), 200);
    for (attributes, total) in &sets {
        assert_eq!(*total, 1.0);
        assert_eq!(attributes.len(), 32);
        assert_eq!(attributes[0].key.as_str(), "#series");
        for kv in &attributes[1..] {
            assert_eq!(kv.key.as_str().len(), 256);
            let text = kv.value.as_str();
            assert!(text.ends_with("…[truncated]"));
            assert_eq!(text.len(), 256, "the marker counts within the limit");
        }
    }
}

#[test]
fn of_a_key_given_twice_the_last_value_wins() {
    let _c = testing::capture();
    let twice = [
        KeyValue::new("chain", "ethereum"),
        KeyValue::new("kind", "mint"),
        KeyValue::new("chain", "solana"),
    ];
    record_counter("rec.duplicates.total", 1, &twice);
    record_counter(
        "rec.duplicates.total",
        2,
        &[
            KeyValue::new("kind", "mint"),
            KeyValue::new("chain", "solana"),
        ],
    );
    let snap = metrics_snapshot();
    let only = [
        KeyValue::new("chain", "solana"),
        KeyValue::new("kind", "mint"),
    ];
    assert_eq!(snap.counter("rec.duplicates.total", &only), Some(3.0));
    let Some(godtrace::metrics::MetricPoints::Counter(points)) =
        snap.metric("rec.duplicates.total").map(|m| &m.points)
    else {
        panic!("not a counter")
    };
    assert_eq!(points.len(), 1);
}
