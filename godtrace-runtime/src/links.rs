//! Links to a trace in the Jaeger UI, to print after an operation for debugging.
//!
//! The UI's base address is, in order: what [`set_jaeger_ui`] set, the `GODTRACE_JAEGER_UI`
//! environment variable, or `http://localhost:16686` (the docker-compose stack). The variable
//! is checked by `init` when its configuration reads the environment (an invalid value is an
//! `InitError`); read here otherwise, where a value that is not an http(s) URL is not used. A
//! link leads somewhere only when spans are exported ([`is_exporting`]).
use crate::InitError;
use std::sync::RwLock;

pub use crate::provider::is_exporting;

/// The Jaeger UI base address used when nothing else is configured.
pub const DEFAULT_JAEGER_UI: &str = "http://localhost:16686";

/// The environment variable naming the Jaeger UI base address, e.g.
/// `GODTRACE_JAEGER_UI=https://jaeger.internal.example`.
pub const JAEGER_UI_ENV: &str = "GODTRACE_JAEGER_UI";

static UI_OVERRIDE: RwLock<Option<String>> = RwLock::new(None);

/// `GODTRACE_JAEGER_UI` as `init` read and checked it (from the environment its configuration
/// read, which `Config::with_env_vars` may have replaced).
static UI_FROM_INIT: RwLock<Option<String>> = RwLock::new(None);

/// Checks a value of `GODTRACE_JAEGER_UI`: an absolute http(s) URL, returned normalised and
/// without a trailing slash.
pub(crate) fn parse_jaeger_ui(name: &str, value: &str) -> Result<String, InitError> {
    let normalized =
        crate::config::url::normalize(name, value.trim(), "https://jaeger.example.com")?;
    Ok(normalized.trim_end_matches('/').to_owned())
}

/// Keeps what `init` read from `GODTRACE_JAEGER_UI` (checked by [`parse_jaeger_ui`]).
pub(crate) fn set_from_init(base: Option<String>) {
    *UI_FROM_INIT.write().unwrap_or_else(|e| e.into_inner()) = base;
}

/// The link to the current trace in the Jaeger UI (`{ui}/trace/{trace id}`), or `None`
/// outside any span (or before `init`), or when the current trace is not recorded (sampled
/// out: there is nothing to open, although [`crate::trace_id`] gives the id it propagates).
///
/// ```
/// let _capture = godtrace_runtime::testing::capture(); // or `init` in a real program
/// let _span = godtrace_runtime::span("wallet.analyze");
/// let url = godtrace_runtime::links::trace_url().unwrap();
/// let id = godtrace_runtime::trace_id().unwrap();
/// assert!(url.ends_with(&format!("/trace/{id}")));
/// ```
pub fn trace_url() -> Option<String> {
    crate::span::current_span_context()
        .filter(|sc| sc.is_sampled())
        .map(|sc| trace_url_for(sc.trace_id().to_string()))
}

/// The Jaeger UI link to the trace `trace_id` (32 hex digits, as [`crate::trace_id`]
/// returns).
///
/// ```
/// use godtrace_runtime::links::trace_url_for;
///
/// let url = trace_url_for("4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(url.ends_with("/trace/4bf92f3577b34da6a3ce929d0e0e4736"));
/// ```
pub fn trace_url_for(trace_id: impl AsRef<str>) -> String {
    format!("{}/trace/{}", jaeger_ui(), trace_id.as_ref())
}

/// The Jaeger UI base address in use, without a trailing slash.
///
/// ```
/// let base = godtrace_runtime::links::jaeger_ui();
/// assert!(!base.ends_with('/'));
/// ```
pub fn jaeger_ui() -> String {
    let read =
        |slot: &RwLock<Option<String>>| slot.read().unwrap_or_else(|e| e.into_inner()).clone();
    let set = read(&UI_OVERRIDE).map(|s| s.trim().trim_end_matches('/').to_owned());
    let from_env = || {
        read(&UI_FROM_INIT).or_else(|| {
            let value = std::env::var(JAEGER_UI_ENV).ok()?;
            parse_jaeger_ui(JAEGER_UI_ENV, &value).ok()
        })
    };
    set.filter(|s| !s.is_empty())
        .or_else(from_env)
        .unwrap_or_else(|| DEFAULT_JAEGER_UI.to_owned())
}

/// Sets the Jaeger UI base address for this process, over `GODTRACE_JAEGER_UI`; an empty
/// string goes back to the environment or the default.
///
/// ```
/// use godtrace_runtime::links;
///
/// links::set_jaeger_ui("https://jaeger.example/");
/// assert_eq!(links::trace_url_for("abc"), "https://jaeger.example/trace/abc");
/// # links::set_jaeger_ui("");
/// ```
pub fn set_jaeger_ui(base: impl Into<String>) {
    let base = base.into();
    let value = (!base.trim().is_empty()).then_some(base);
    *UI_OVERRIDE.write().unwrap_or_else(|e| e.into_inner()) = value;
}
