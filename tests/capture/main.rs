//! Suites that only use `godtrace::testing::capture()`, never `init`: each capture sees only the
//! traces rooted on its own thread, so these tests share one process and run in parallel.
//! Span names carry this binary's name: `capture::<file>::<function>` (see tests/README.md).
#[path = "../support/mod.rs"]
mod support;

mod async_context;
mod capture_rules;
mod detached_spans;
mod error_types;
mod kinds_fields_impls;
mod layers;
mod manual_spans;
mod metrics_recording;
mod parameters;
mod pedantic_lints;
mod propagation_roundtrip;
mod shapes;
mod span_links;
mod threads;
mod tracing_bridge;
