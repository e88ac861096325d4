//! godtrace: one attribute turns any Rust function into a traced operation.
//!
//! ```
//! use godtrace::traced;
//!
//! #[traced(operation = "wallet.analyze", include_args)]
//! fn analyze(wallet: &str, depth: u32) -> Result<u32, String> {
//!     Ok(depth * 2)
//! }
//!
//! let _guard = godtrace::init(godtrace::Config::new("doc-example")).unwrap();
//! analyze("7xKX", 3).unwrap();
//! ```
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
///
/// Flags may also be written `include_args = true` / `= false`. Every misuse is a compile
/// error at the offending token, all of them reported at once. A function that returns
/// `Err(e)` or panics ends its span with status Error and `error.type`.
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
pub use godtrace_runtime::*;
