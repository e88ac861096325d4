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
pub use godtrace_macros::traced;
pub use godtrace_runtime::*;
