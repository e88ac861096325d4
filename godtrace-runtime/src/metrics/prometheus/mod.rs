//! The Prometheus scrape endpoint: `/metrics` in the text format, or in OpenMetrics (with
//! exemplars) when the scraper asks for it; and the same exposition for the application's own
//! HTTP server ([`prometheus_exposition`]).
mod names;
mod render;
mod server;

pub(crate) use render::set_resource;
pub use render::{PrometheusExposition, prometheus_exposition};
pub(crate) use server::Server;
#[cfg(unix)]
pub(crate) use server::close_listener_in_forked_child;
