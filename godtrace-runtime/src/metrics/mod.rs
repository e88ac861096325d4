//! Metrics: every traced operation's duration histogram, the manual counters and histograms,
//! and their export (a Prometheus scrape endpoint and OTLP push).
//!
//! Recording is lock-free: each call site caches its series ([`SiteMetrics`]), so a traced call
//! adds to two atomics and looks nothing up. Collection ([`metrics_snapshot`]) reads every
//! series into one model that the exporters render.
mod attrs;
mod buckets;
mod config;
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
mod worker;

pub use config::MetricsConfig;
pub(crate) use config::MetricsSettings;
pub use exemplar::Exemplar;
pub use lifecycle::prometheus_addr;
pub(crate) use lifecycle::{flush_begin, shutdown_begin, start};
pub use manual::{MetricValue, record_counter, record_histogram};
pub use prometheus::{PrometheusExposition, prometheus_exposition};
pub(crate) use site::SiteMetrics;
pub use snapshot::{CounterPoint, HistogramPoint, MetricData, MetricPoints, MetricsSnapshot};

/// Every metric's current values (cumulative since recording started), as the exporters see
/// them: for tests, and for anything that wants to read metrics in process.
pub fn metrics_snapshot() -> MetricsSnapshot {
    registry::registry().collect()
}
