//! Runtime of [godtrace](https://docs.rs/godtrace): the global provider, the span hot path,
//! value capture, the manual API, exporters and the test capture.
//!
//! Users depend on the `godtrace` crate, which re-exports everything public here together with
//! the `#[traced]` attribute. Items under [`__private`] serve the code the macro generates and
//! are not part of the public API.
#![warn(missing_docs)]
// Every unsafe block says why it is sound, and holds one unsafe operation, so that the
// comment is about that one.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod api;
mod config;
mod error;
mod export;
pub mod links;
mod metrics;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub mod propagation;
mod provider;
mod record;
mod span;
mod stats;
pub mod testing;
mod value;

#[doc(hidden)]
pub mod __private;

pub use api::{SpanGuard, add_event, current_context, set_attribute, span, span_id, trace_id};
pub use config::Config;
pub use config::{Compression, Propagator, Protocol};
pub use error::InitError;
pub use links::trace_url;
pub use metrics::{
    CounterPoint, Exemplar, HistogramPoint, MetricData, MetricPoints, MetricValue, MetricsConfig,
    MetricsSnapshot, metrics_snapshot, prometheus_addr, record_counter, record_histogram,
};
pub use metrics::{PrometheusExposition, prometheus_exposition};
pub use provider::{Guard, init, is_enabled, is_exporting};
pub use stats::{Stats, stats};
pub use value::{MAX_ATTRIBUTE_KEY_LEN, max_attribute_len};

/// The OpenTelemetry API crate godtrace is built on, re-exported so that users name the same
/// version (for `KeyValue`, `Value`, propagators and other OpenTelemetry-instrumented code).
pub use opentelemetry as otel;
