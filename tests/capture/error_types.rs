//! `error.type` and the status description of failed calls, as dashboards group them: one
//! low-cardinality `error.type` per kind of failure (the same value on the span and on the
//! duration histogram's label), and the whole cause chain in the description.
use godtrace::metrics::metrics_snapshot;
use godtrace::otel::Value;
use godtrace::testing::{self, FinishedSpan};
use godtrace::traced;
use std::error::Error;
use std::fmt;

/// The error of a lower layer, with no source of its own.
#[derive(Debug)]
enum StoreError {
    Timeout { after_ms: u64 },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Timeout { after_ms } => write!(f, "store timed out after {after_ms} ms"),
        }
    }
}

impl Error for StoreError {}

/// An error that wraps a lower layer's as its `source()`.
#[derive(Debug)]
struct LoadError {
    source: StoreError,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loading the ledger failed")
    }
}

impl Error for LoadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[traced(operation = "errors.boxed_chain")]
fn boxed_chain() -> Result<(), Box<dyn Error + Send + Sync>> {
    Err(Box::new(LoadError {
        source: StoreError::Timeout { after_ms: 250 },
    }))
}

#[traced(operation = "errors.boxed_io")]
fn boxed_io() -> Result<(), Box<dyn Error>> {
    std::fs::read("/nonexistent/godtrace/ledger.json")?;
    Ok(())
}

#[traced(operation = "errors.boxed_message")]
fn boxed_message() -> Result<(), Box<dyn Error>> {
    Err("quota exceeded for wallet 7xKX".into())
}

#[traced(operation = "errors.anyhow_context")]
fn anyhow_context() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let read = std::fs::read("/nonexistent/godtrace/config.toml");
    read.context("reading the config")?;
    Ok(())
}

#[traced(operation = "errors.anyhow_enum")]
fn anyhow_enum() -> anyhow::Result<()> {
    Err(anyhow::Error::new(StoreError::Timeout { after_ms: 9 }).context("syncing the ledger"))
}

#[traced(operation = "errors.plain_enum")]
fn plain_enum() -> Result<(), StoreError> {
    Err(StoreError::Timeout { after_ms: 30 })
}

#[traced(operation = "errors.plain_chain")]
fn plain_chain() -> Result<(), LoadError> {
    Err(LoadError {
        source: StoreError::Timeout { after_ms: 5 },
    })
}

#[traced(operation = "errors.panics")]
fn panics() {
    panic!("ledger corrupted");
}

/// Checks the span's `error.type` and description, and that the duration histogram counted
/// the call under the same `error.type`.
fn assert_failed(span: &FinishedSpan, operation: &str, error_type: &str, description: &str) {
    assert_eq!(
        span.attr("error.type"),
        Some(&Value::from(error_type.to_owned())),
        "{operation}"
    );
    assert_eq!(span.error_message(), Some(description), "{operation}");
    let snap = metrics_snapshot();
    assert!(
        snap.operation_errors(operation, error_type)
            .is_some_and(|p| p.count >= 1),
        "{operation}: no duration series labelled error.type={error_type:?}: {:?}",
        snap.operation_points(operation)
    );
}

#[test]
fn a_boxed_error_is_typed_by_its_innermost_cause_and_described_by_its_chain() {
    let c = testing::capture();
    assert!(boxed_chain().is_err());
    assert_failed(
        &c.span("errors.boxed_chain"),
        "errors.boxed_chain",
        // The root cause's variant: its `Debug` text starts with it.
        "Timeout",
        "loading the ledger failed: store timed out after 250 ms",
    );
}

#[test]
fn a_boxed_std_error_has_the_type_name_it_has_unboxed() {
    let c = testing::capture();
    let io = std::fs::read("/nonexistent/godtrace/ledger.json").unwrap_err();
    assert!(boxed_io().is_err());
    assert_failed(
        &c.span("errors.boxed_io"),
        "errors.boxed_io",
        std::any::type_name::<std::io::Error>(),
        &io.to_string(),
    );
}

#[test]
fn a_boxed_message_is_other() {
    let c = testing::capture();
    assert!(boxed_message().is_err());
    assert_failed(
        &c.span("errors.boxed_message"),
        "errors.boxed_message",
        "_OTHER",
        "quota exceeded for wallet 7xKX",
    );
}

#[test]
fn an_anyhow_error_is_typed_by_its_root_cause_and_described_as_alternate_display() {
    let c = testing::capture();
    let err = anyhow_context().unwrap_err();
    assert_failed(
        &c.span("errors.anyhow_context"),
        "errors.anyhow_context",
        std::any::type_name::<std::io::Error>(),
        // anyhow's own `{:#}`: the context, then each cause.
        &format!("{err:#}"),
    );
    assert!(format!("{err:#}").starts_with("reading the config: "));

    assert!(anyhow_enum().is_err());
    assert_failed(
        &c.span("errors.anyhow_enum"),
        "errors.anyhow_enum",
        "Timeout",
        "syncing the ledger: store timed out after 9 ms",
    );
}

#[test]
fn a_plain_error_keeps_its_type_name_and_its_chain() {
    let c = testing::capture();
    assert!(plain_enum().is_err());
    assert_failed(
        &c.span("errors.plain_enum"),
        "errors.plain_enum",
        "capture::error_types::StoreError",
        "store timed out after 30 ms",
    );
    assert!(plain_chain().is_err());
    assert_failed(
        &c.span("errors.plain_chain"),
        "errors.plain_chain",
        "capture::error_types::LoadError",
        "loading the ledger failed: store timed out after 5 ms",
    );
}

#[test]
fn a_panic_has_the_error_type_of_its_duration_label() {
    let c = testing::capture();
    assert!(std::panic::catch_unwind(panics).is_err());
    assert_failed(
        &c.span("errors.panics"),
        "errors.panics",
        "panic",
        "ledger corrupted",
    );
}

#[traced(operation = "errors.fetch_quote")]
fn fetch_quote() -> Result<u32, String> {
    Err(
        "error sending request for url (https://api.example.com/v3/price?symbol=BTC&apiKey=k3y): \
         connection refused"
            .into(),
    )
}

#[traced(operation = "errors.panics_with_a_url")]
fn panics_with_a_url() {
    panic!("cannot reach postgres://app:hunter2@db.internal/ledger");
}

/// An error's or a panic's text is recorded without being asked for, and an HTTP client's
/// names the URL it failed on: the credentials in it are redacted, as in `url.full`.
#[test]
fn credentials_in_urls_of_error_and_panic_texts_are_redacted() {
    let c = testing::capture();
    assert!(fetch_quote().is_err());
    assert_eq!(
        c.span("errors.fetch_quote").error_message(),
        Some(
            "error sending request for url (https://api.example.com/v3/price?symbol=BTC&apiKey=REDACTED): \
             connection refused"
        )
    );
    assert!(std::panic::catch_unwind(panics_with_a_url).is_err());
    let span = c.span("errors.panics_with_a_url");
    let redacted = "cannot reach postgres://REDACTED:REDACTED@db.internal/ledger";
    assert_eq!(span.error_message(), Some(redacted));
    let exception = span.event("exception").expect("an exception event");
    assert_eq!(
        exception.attr("exception.message"),
        Some(&Value::from(redacted))
    );
}

#[traced(operation = "errors.long_with_a_url")]
fn long_error_with_a_url() -> Result<(), String> {
    Err(format!(
        "{} postgres://admin:hunter2SECRET@db.internal/app",
        "x".repeat(990)
    ))
}

/// An error's text is cut at the attribute limit before its URLs are read: a cut inside
/// a URL's user-info (its `@` gone) still redacts what is left of it.
#[test]
fn a_url_the_attribute_limit_cuts_is_redacted_as_far_as_it_goes() {
    let c = testing::capture();
    assert!(long_error_with_a_url().is_err());
    let span = c.span("errors.long_with_a_url");
    let message = span.error_message().expect("failed");
    assert!(
        message.ends_with("postgres://REDACTED…[truncated]"),
        "{message}"
    );
    assert!(!message.contains("hun"), "{message}");
}
