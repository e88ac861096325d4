//! Metrics: every traced operation's duration histogram, the manual counters and histograms
//! ([`record_counter`], [`record_histogram`]), and their export: a Prometheus scrape endpoint
//! ([`prometheus_addr`], or [`prometheus_exposition`] for an application's own router) and
//! OTLP push, both configured with [`MetricsConfig`].
//!
//! ```
//! use godtrace_runtime::metrics::{self, MetricPoints};
//! use godtrace_runtime::otel::KeyValue;
//!
//! let _capture = godtrace_runtime::testing::capture(); // or `init` in a real program
//! metrics::record_counter("orders.placed", 2, &[KeyValue::new("region", "eu")]);
//! let snapshot = metrics::metrics_snapshot();
//! let orders = snapshot.metric("orders.placed").unwrap();
//! assert!(matches!(orders.points, MetricPoints::Counter(_)));
//! assert_eq!(snapshot.counter("orders.placed", &[KeyValue::new("region", "eu")]), Some(2.0));
//! ```
//!
//! Recording is lock-free: each call site caches its series, so a traced call adds to two
//! counters of its own thread's (no locked instruction, no cache line shared with another
//! recording thread) and looks nothing up. Collection ([`metrics_snapshot`]) reads every series into one
//! model that the exporters render.
pub(crate) mod attrs;
mod buckets;
pub(crate) mod config;
mod exemplar;
mod lifecycle;
mod limits;
mod manual;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
mod prometheus;
mod registry;
mod report;
mod series;
mod site;
mod snapshot;
mod table;
mod thread_cells;
mod worker;

pub(crate) use config::{MetricsConfig, MetricsSettings};
pub use exemplar::Exemplar;
pub use lifecycle::prometheus_addr;
pub(crate) use lifecycle::{flush_begin, shutdown_begin, start};
#[allow(
    unused_imports,
    reason = "used by the integrations, each behind its own feature"
)]
pub(crate) use manual::{HistogramSeries, record_histogram_for_span, record_histogram_with_bounds};
pub use manual::{MetricValue, record_counter, record_histogram};
#[cfg(unix)]
pub(crate) use prometheus::close_listener_in_forked_child;
pub use prometheus::{PrometheusExposition, prometheus_exposition};
pub(crate) use site::SiteMetrics;
pub use snapshot::{CounterPoint, HistogramPoint, MetricData, MetricPoints, MetricsSnapshot};

/// Every metric's current values (cumulative since recording started), as the exporters see
/// them: for tests, and for anything that wants to read metrics in process. Empty in a child
/// that `fork` made of a process recording (see [`prometheus_exposition`]).
pub fn metrics_snapshot() -> MetricsSnapshot {
    if crate::span::switches::in_forked_child() {
        return MetricsSnapshot::default();
    }
    registry::registry().collect()
}
