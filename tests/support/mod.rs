//! Shared by every test binary (see tests/README.md): in-process OTLP receivers (`otlp`), the
//! Phoenix backend (`e2e`), running the examples (`examples`), a counting allocator (`alloc`)
//! and the one-test-per-process harness (`process`, the `own_process!` macro).
#![allow(dead_code, unused_imports, unused_macros)]

pub mod alloc;
pub mod db;
pub mod e2e;
pub mod examples;
pub mod otlp;
pub mod process;
pub mod traced_macro;
pub mod w3c;

/// A tokio runtime with two worker threads and its I/O and time drivers on: what the
/// suites that drive real clients (databases, the Phoenix scenario) run them on.
pub fn two_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the rest of the calling test in a fresh process of this test binary, alone: in the
/// parent, re-runs the binary on this one test and returns once the child has passed; in the
/// child, falls through to the body. Put it first in every test of a suite that calls `init`,
/// sets environment variables or reads process-wide counters (see tests/README.md).
macro_rules! own_process {
    () => {{
        fn here() {}
        if !$crate::support::process::in_own_process(::std::any::type_name_of_val(&here)) {
            return;
        }
    }};
}
pub(crate) use own_process;
