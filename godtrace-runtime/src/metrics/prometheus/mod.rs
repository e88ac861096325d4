//! The Prometheus scrape endpoint: `/metrics` in the text format, or in OpenMetrics (with
//! exemplars) when the scraper asks for it.
mod names;
mod render;
mod server;

pub(crate) use server::Server;
