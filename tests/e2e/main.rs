//! End to end: the Phoenix, Prometheus, PostgreSQL and Redis backends `scripts/test` starts
//! (skipped without them unless `GODTRACE_REQUIRE_E2E=1`) and the examples, run as the user
//! runs them. Tests that call `init` start with `own_process!()` (see tests/README.md).
#[path = "../support/mod.rs"]
mod support;

mod db_phoenix;
mod db_postgres;
mod db_redis;
mod e2e_phoenix_grpc;
mod e2e_phoenix_http;
mod e2e_phoenix_shutdown;
mod e2e_phoenix_tls;
mod e2e_phoenix_tracing_bridge;
mod examples_nft_platform;
mod examples_services;
mod examples_transaction_pipeline;
mod local_tree;
mod metrics_prometheus_e2e;
