//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` bounds every string value a span carries, the ones
//! godtrace writes itself too: the call site's `code.*` text and `error.type`, over OTLP and in
//! the `SpanData` an exporter of the user's own gets.
use crate::support::otlp as otlp_support;
use godtrace::{Config, traced};
use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::{Arc, Mutex};

const LIMIT: usize = 20;

#[derive(Debug)]
struct AnErrorWhoseTypeNameIsLongerThanTheLimit;

impl std::fmt::Display for AnErrorWhoseTypeNameIsLongerThanTheLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for AnErrorWhoseTypeNameIsLongerThanTheLimit {}

#[traced(operation = "limit.fails")]
fn a_function_whose_path_is_longer_than_the_limit()
-> Result<(), AnErrorWhoseTypeNameIsLongerThanTheLimit> {
    Err(AnErrorWhoseTypeNameIsLongerThanTheLimit)
}

/// The `(key, text)` of every string attribute, checked against the limit.
fn assert_within(texts: &[(String, String)]) {
    for key in ["code.function.name", "code.file.path", "error.type"] {
        let (_, text) = texts
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key} missing: {texts:?}"));
        assert!(text.len() <= LIMIT, "{key} = {text:?}");
        assert!(text.ends_with("…[truncated]"), "{key} = {text:?}");
    }
}

#[test]
fn values_godtrace_writes_are_cut_at_the_limit_over_otlp() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    crate::support::own_process!();
    let receiver = otlp_support::Receiver::start(otlp_support::Kind::Http);
    let guard = godtrace::init(
        Config::new("attribute-limit")
            .endpoint(receiver.endpoint())
            .protocol(godtrace::Protocol::HttpProtobuf)
            .max_attribute_len(LIMIT),
    )
    .expect("init");
    let _ = a_function_whose_path_is_longer_than_the_limit();
    guard.flush();
    let spans = receiver.sink.wait_spans(1);
    let texts: Vec<(String, String)> = spans[0]
        .attributes
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Any::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect();
    assert_within(&texts);
}

#[derive(Debug, Clone, Default)]
struct Keeps(Arc<Mutex<Vec<SpanData>>>);

impl Keeps {
    /// godtrace installed with the attribute limit [`LIMIT`], its spans kept by a new `Keeps`.
    fn installed() -> (Keeps, godtrace::Guard) {
        let exporter = Keeps::default();
        let guard = godtrace::init(
            Config::new("attribute-limit")
                .span_exporter(exporter.clone())
                .max_attribute_len(LIMIT),
        )
        .expect("init");
        (exporter, guard)
    }

    /// The `(key, text)` of every string attribute of the first span kept.
    fn texts(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap()[0]
            .attributes
            .iter()
            .filter_map(|kv| match &kv.value {
                Value::String(s) => Some((kv.key.to_string(), s.to_string())),
                _ => None,
            })
            .collect()
    }
}

impl SpanExporter for Keeps {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

#[test]
fn values_godtrace_writes_are_cut_at_the_limit_for_an_exporter_of_ones_own() {
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    let _ = a_function_whose_path_is_longer_than_the_limit();
    guard.flush();
    assert_within(&exporter.texts());
}

#[traced(include_args)]
fn wide(digits: u128, index: usize) -> u128 {
    digits / index as u128
}

/// An argument recorded as text though it is a number (an integer too wide for an
/// OpenTelemetry int keeps its digits) is cut like any text.
#[test]
fn wide_integers_recorded_as_digits_are_cut_at_the_limit() {
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    assert_eq!(wide(u128::MAX, usize::MAX), u128::MAX / usize::MAX as u128);
    guard.flush();
    let texts = exporter.texts();
    for (key, digits) in [("digits", "34028"), ("index", "18446")] {
        let (_, text) = texts
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key} missing: {texts:?}"));
        assert!(text.len() <= LIMIT, "{key} = {text:?}");
        assert!(text.starts_with(digits), "{key} = {text:?}");
    }
}

/// A bridged `tracing` span's `code.*` text is cut like the rest.
#[test]
fn a_bridged_spans_code_attributes_are_cut_at_the_limit() {
    use tracing_subscriber::layer::SubscriberExt as _;
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    let subscriber = tracing_subscriber::registry().with(godtrace::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("a_span_named_like_a_long_function").entered();
    });
    guard.flush();
    let texts = exporter.texts();
    let (_, path) = texts
        .iter()
        .find(|(k, _)| k == "code.file.path")
        .unwrap_or_else(|| panic!("code.file.path missing: {texts:?}"));
    assert!(path.len() <= LIMIT, "code.file.path = {path:?}");
}

/// The limit is on attribute values: a span's name is not cut below 256 bytes by a small
/// one (it would be cut to nothing at 0), and a longer name is still bounded.
#[test]
fn span_names_are_not_cut_below_256_bytes_by_a_small_value_limit() {
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    let name = "orders.reconcile.settlement.batch.for.exchange";
    assert!(name.len() > LIMIT);
    drop(godtrace::span(name));
    drop(godtrace::span(format!("url.{}", "x".repeat(1000))));
    guard.flush();
    let spans = exporter.0.lock().unwrap();
    assert_eq!(spans[0].name, name);
    assert!(spans[1].name.len() <= 256, "{}", spans[1].name.len());
    assert!(spans[1].name.starts_with("url.xxx"), "{}", spans[1].name);
}

/// A `log` logger that writes nothing: its records only go through godtrace's wrapper (as
/// span events).
pub(crate) struct Discard;

impl log::Log for Discard {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, _: &log::Record<'_>) {}
    fn flush(&self) {}
}

/// The names the bridges make (a `tracing` event's message, formatted or given as text, an
/// `otel.name` given at the start or recorded later, a `log` record's message as a span
/// event) are cut as span names are: not below 256 bytes by a small value limit, and a longer
/// one still bounded.
#[test]
fn bridged_names_are_not_cut_below_256_bytes_by_a_small_value_limit() {
    use tracing_subscriber::layer::SubscriberExt as _;
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    let logger = godtrace::log::TraceIdLogger::new(Discard).span_events(log::Level::Info);
    let subscriber = tracing_subscriber::registry().with(godtrace::tracing::layer());
    let named = "orders.reconcile.settlement.batch.for.exchange";
    let long = "x".repeat(1000);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("limit.bridged", otel.name = named).entered();
        let n = 3;
        tracing::info!("a formatted message longer than the limit, {n} times");
        tracing::info!(message = "a message given as text, longer than the limit");
        tracing::info!("url.{long}");
        log::Log::log(
            &logger,
            &log::Record::builder()
                .level(log::Level::Info)
                .target("limit")
                .args(format_args!("a log record longer than the limit"))
                .build(),
        );
        drop(span);
        let renamed = tracing::info_span!("limit.renamed", otel.name = tracing::field::Empty);
        renamed.record(
            "otel.name",
            tracing::field::display("renamed later, past the limit"),
        );
    });
    guard.flush();
    let spans = exporter.0.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(names.contains(&named), "{names:?}");
    assert!(
        names.contains(&"renamed later, past the limit"),
        "{names:?}"
    );
    let span = spans.iter().find(|s| s.name == named).unwrap();
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(
        events[..2],
        [
            "a formatted message longer than the limit, 3 times",
            "a message given as text, longer than the limit",
        ]
    );
    assert_eq!(events[3], "a log record longer than the limit");
    assert!(events[2].len() <= 256, "{}", events[2].len());
    assert!(events[2].starts_with("url.xxx"), "{}", events[2]);
    assert!(events[2].ends_with("…[truncated]"), "{}", events[2]);
}

#[traced(operation = "limit.panics")]
fn panics() -> u32 {
    panic!("boom")
}

/// The `error.type` of the spans kept (the first one each operation ended with), by operation.
fn error_types(exporter: &Keeps) -> Vec<(String, String)> {
    let spans = exporter.0.lock().unwrap();
    spans
        .iter()
        .filter_map(|span| {
            let error_type = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "error.type")?;
            Some((
                span.name.to_string(),
                error_type.value.as_str().into_owned(),
            ))
        })
        .collect()
}

/// Under a limit shorter than the names, a failure's `error.type` is cut once, the same on the
/// span and on the duration histogram's series, a panic's too (its span had `pan…` and its
/// series `panic`); and the series is found by the `Err` type's name as written.
#[test]
fn a_cut_error_type_is_the_same_on_the_span_and_the_histogram() {
    crate::support::own_process!();
    let (exporter, guard) = Keeps::installed();
    let _ = a_function_whose_path_is_longer_than_the_limit();
    let _ = std::panic::catch_unwind(panics);
    guard.flush();
    let on_spans = error_types(&exporter);
    assert_eq!(on_spans.len(), 2, "{on_spans:?}");
    let snapshot = godtrace::metrics::metrics_snapshot();
    for (operation, error_type) in &on_spans {
        assert!(error_type.len() <= LIMIT, "{error_type}");
        let series = snapshot
            .operation_points(operation)
            .into_iter()
            .find_map(|p| p.attr("error.type").map(|v| v.as_str().into_owned()));
        assert_eq!(series.as_ref(), Some(error_type), "{operation}");
    }
    let by_name = std::any::type_name::<AnErrorWhoseTypeNameIsLongerThanTheLimit>();
    let found = snapshot.operation_errors("limit.fails", by_name);
    assert_eq!(found.map(|p| p.count), Some(1), "looked up by {by_name}");
}

/// A limit of 0 empties every span value, `error.type` included; the histogram then labels the
/// failure `_OTHER` (an empty label is no label to Prometheus, which would count it a success).
#[test]
fn a_limit_of_zero_keeps_failures_apart_in_the_histogram() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("attribute-limit-zero")
            .local_tree(false)
            .max_attribute_len(0),
    )
    .expect("init");
    let _ = a_function_whose_path_is_longer_than_the_limit();
    let snapshot = godtrace::metrics::metrics_snapshot();
    let labels: Vec<String> = snapshot
        .operation_points("limit.fails")
        .into_iter()
        .filter_map(|p| p.attr("error.type").map(|v| v.as_str().into_owned()))
        .collect();
    assert_eq!(labels, ["_OTHER"]);
    drop(guard);
}

/// Under a limit shorter than `panic`, a panic's `error.type` is cut alike on the span and on
/// the histogram's series (the span had `pan`, the series `panic`).
#[test]
fn a_panics_error_type_is_cut_alike_under_a_tiny_limit() {
    crate::support::own_process!();
    let exporter = Keeps::default();
    let guard = godtrace::init(
        Config::new("attribute-limit-tiny")
            .span_exporter(exporter.clone())
            .max_attribute_len(3),
    )
    .expect("init");
    let _ = std::panic::catch_unwind(panics);
    guard.flush();
    let on_spans = error_types(&exporter);
    assert_eq!(on_spans.len(), 1, "{on_spans:?}");
    let snapshot = godtrace::metrics::metrics_snapshot();
    let series: Vec<String> = snapshot
        .operation_points("limit.panics")
        .into_iter()
        .filter_map(|p| p.attr("error.type").map(|v| v.as_str().into_owned()))
        .collect();
    assert_eq!(series, [on_spans[0].1.clone()]);
}

#[traced(operation = "limit.tiny")]
fn fails_naming_a_url_with_credentials() -> Result<(), String> {
    Err("https://u:SECRETSECRET@host/x".to_owned())
}

/// A limit shorter than the cut's marker (cut unmarked) leaves no part of a URL's
/// credentials in a status description: it is redacted before it is cut.
#[test]
fn a_limit_shorter_than_the_marker_leaks_no_credentials() {
    crate::support::own_process!();
    let exporter = Keeps::default();
    let guard = godtrace::init(
        Config::new("tiny-limit")
            .span_exporter(exporter.clone())
            .max_attribute_len(13),
    )
    .expect("init");
    let _ = fails_naming_a_url_with_credentials();
    guard.flush();
    let spans = exporter.0.lock().unwrap();
    match &spans[0].status {
        opentelemetry::trace::Status::Error { description } => {
            assert!(description.len() <= 13, "{description}");
            assert!(!description.contains("SEC"), "{description}");
        }
        other => panic!("{other:?}"),
    }
}
