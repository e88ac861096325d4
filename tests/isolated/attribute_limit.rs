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
