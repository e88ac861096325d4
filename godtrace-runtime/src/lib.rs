//! Runtime of [godtrace](https://docs.rs/godtrace): the global provider, the span hot path,
//! value capture, the manual API, exporters and the test capture.
//!
//! Users depend on the `godtrace` crate, which re-exports everything public here together with
//! the `#[traced]` attribute. Items under [`__private`] serve the code the macro generates and
//! are not part of the public API.
// What is public is what the root and its modules re-export; nothing else says `pub`.
#![warn(unreachable_pub)]

mod api;
mod base64;
#[cfg(any(feature = "tracing", feature = "log"))]
mod bridge;
mod config;
#[cfg(any(feature = "sqlx", feature = "redis"))]
pub mod db;
mod error;
mod export;
mod global_tracer;
#[cfg(any(feature = "tower", feature = "reqwest"))]
pub mod layers;
pub mod limits;
pub mod links;
pub mod metrics;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub mod propagation;
mod provider;
mod record;
mod redact;
mod span;
mod stats;
mod stderr;
pub mod testing;
mod text;
pub mod thread;
mod value;

// Tests of builds that leave a transport out (scripts/features runs them).
#[cfg(all(test, not(all(feature = "otlp-grpc", feature = "otlp-http"))))]
mod features_tests;

#[doc(hidden)]
pub mod __private;

pub use api::builder::{SpanBuilder, span_builder};
pub use api::detached::Span;
pub use api::{SpanGuard, add_event, current_context, set_attribute, span, span_id, trace_id};
#[cfg(feature = "log")]
pub use bridge::log;
#[cfg(feature = "tracing")]
pub use bridge::tracing;
pub use config::{Compression, Config, Propagator, Protocol};
pub use error::InitError;
pub use metrics::config::MetricsConfig;
pub use provider::{Guard, init, is_enabled};
pub use span::ParentContext;
pub use stats::{Stats, stats};
pub use thread::in_current_span;

/// The OpenTelemetry API crate godtrace is built on, re-exported so that users name the same
/// version (for `KeyValue`, `Value`, propagators and other OpenTelemetry-instrumented code).
pub use opentelemetry as otel;
/// The kind of a span (`#[traced(kind = ..)]`, [`SpanBuilder::kind`]), as OpenTelemetry exports it.
pub use opentelemetry::trace::SpanKind;
