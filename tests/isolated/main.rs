//! Suites that need a process of their own: they call `init` (once per process), change the
//! environment or read process-wide counters. Every test starts with `own_process!()`, which
//! re-runs this binary on that one test in a child process (see tests/README.md).
#[path = "../support/mod.rs"]
mod support;

// Counts allocations per thread (for the "allocates nothing" tests); other threads' tests
// in the same process do not disturb the count.
#[global_allocator]
static ALLOCATIONS: support::alloc::CountingAllocator = support::alloc::CountingAllocator;

mod attribute_limit;
mod before_init;
mod config_env;
mod config_propagators;
mod config_sampling;
mod disabled;
mod faults_custom_exporter;
mod faults_many_threads;
mod faults_one_worker;
mod faults_overflow;
mod faults_restart_grpc;
mod faults_restart_http;
mod faults_rust_log;
mod faults_stderr;
mod faults_tokio_test;
mod faults_unreachable;
mod fork;
mod init_once;
mod layers_hostile;
mod layers_known_methods;
mod links_and_threads_otlp;
mod local_tree;
mod metrics_otlp_grpc;
mod metrics_otlp_http;
mod metrics_sampled_out;
mod otel_context_off;
mod otlp_grpc_options;
mod otlp_http_options;
mod otlp_span_kinds;
mod propagation_always_off;
mod propagation_hostile;
mod propagation_trace_url;
mod sampling_ratio;
mod stack_depth;
mod tracing_bridge_global;
mod tracing_bridge_otel_off;
