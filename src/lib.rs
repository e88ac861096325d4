#![doc = include_str!("../docs/overview.md")]
//!
//! # Where things are
//!
//! The everyday API is at the root: [`traced`], [`init`] with its [`Config`] (and the types
//! its methods take: [`Protocol`], [`Compression`], [`Propagator`], [`MetricsConfig`]), the
//! [`Guard`] that flushes when dropped, the manual API ([`span`], [`set_attribute`],
//! [`add_event`], [`trace_id`], [`span_id`], [`current_context`]) and the export counters
//! ([`stats`]). The rest is in modules:
//!
//! - [`metrics`]: counters and histograms of your own, the in-process snapshot, the
//!   Prometheus endpoint's address and exposition;
//! - [`propagation`]: W3C Trace Context and Baggage across process boundaries;
//! - `layers` (cargo features `tower`, `axum`, `reqwest`, `tonic`): server and client spans
//!   for axum/hyper, reqwest and tonic;
//! - `db` (cargo features `sqlx`, `redis`): PostgreSQL queries and Redis commands as client
//!   spans;
//! - [`testing`]: capture spans in your own tests;
//! - [`links`]: a link to the current trace in the Jaeger UI;
//! - [`limits`]: the bounds on recorded keys and values;
//! - [`otel`]: the OpenTelemetry API crate godtrace is built on.
//!
//! The README has the whole manual: configuration and the environment, sampling, export,
//! metrics, propagation, and the cost of each.

/// Turns a function or method, sync or async, into a traced operation: a span around each
/// call, a point in the operation's duration histogram, and (opt-in) its arguments and result
/// as attributes.
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | *(none)* | span named after the function's path; nothing about arguments or results is recorded |
/// | `operation = "name"` | the span (and metric) name |
/// | `include_args` | each parameter becomes an attribute named after it (integers, floats, `bool` and strings typed; anything else its `Debug` text); `self` never |
/// | `skip(a, b)` | these parameters are never recorded (secrets); only with `include_args` |
/// | `include_result` | the return value (for a `Result`, the `Ok` value) as attribute `result` |
/// | `include_duration = false` | leave this function out of the duration histogram (on by default) |
/// | `sample_rate = 0.01` | record this share of the operation's root calls instead of the configured ratio |
/// | `parent = expr` | start under this context (`Context`, `&Context`, or an `Option` of one) instead of the current span |
/// | `crate = path` | where godtrace is, for a renamed dependency |
/// | `kind = server` | the OpenTelemetry span kind: `server`, `client`, `producer`, `consumer` or `internal` (the default) |
/// | `fields(user.id = user.id, attempt = n + 1)` | attributes computed at the call, before the body runs and only when the span is sampled in; values typed as with `include_args`; names are dotted identifiers |
///
/// Flags may also be written `include_args = true` / `= false`. Every misuse is a compile
/// error at the offending token, all of them reported at once. A function that returns
/// `Err(e)` or panics ends its span with status Error and `error.type`.
///
/// # On an `impl` block
///
/// `#[traced(...)]` on an `impl` block (inherent or trait, with `#[async_trait]` written
/// above or below it) traces every method with a body, `const fn`s excepted, with the block's
/// options. A method's own `#[traced(...)]` wins option by option (the block's other options
/// still apply); [`#[untraced]`](untraced) leaves a method alone. `operation` is refused on a
/// block (every method would get the same name), and a block's `skip(..)` applies to the
/// methods that have that parameter.
///
/// ```
/// use godtrace::{traced, untraced};
///
/// struct Ledger;
///
/// #[traced(kind = server, include_args)]
/// impl Ledger {
///     fn balance(&self, account: &str) -> u64 { account.len() as u64 }
///
///     #[traced(kind = client)] // still records its arguments
///     async fn fetch(&self, id: u64) -> u64 { id }
///
///     #[untraced]
///     fn hot_path(&self) {}
/// }
/// ```
///
/// # Example
///
/// ```
/// use godtrace::traced;
///
/// #[traced(operation = "wallet.analyze", include_args, skip(api_key))]
/// async fn analyze(wallet: &str, api_key: &str) -> Result<u32, String> {
///     Ok(wallet.len() as u32 + api_key.len() as u32)
/// }
/// ```
pub use godtrace_macros::traced;

/// Leaves one method of a `#[traced]` impl block untraced (see [`traced`]); anywhere else it is
/// a compile error.
pub use godtrace_macros::untraced;
pub use godtrace_runtime::*;

#[cfg(test)]
mod tests {
    /// The crate page opens with the README's opening: one text, checked rather than copied.
    #[test]
    fn the_readme_opens_with_the_crate_overview() {
        let readme = include_str!("../README.md");
        let overview = include_str!("../docs/overview.md");
        assert!(
            readme.starts_with(&format!("# godtrace\n\n{overview}")),
            "README.md must open with docs/overview.md, word for word"
        );
    }
}
