//! The runtime of an export thread (spans or metrics).
use opentelemetry::{Context, ContextGuard};

/// Suppresses telemetry on the calling thread and builds the current-thread runtime its
/// transport runs on, whose blocking threads (name resolution) are named `blocking_name` and
/// suppressed too. Whatever runs there (the transport, its logging, tracing bridges) records
/// no spans: they would feed the queue the thread drains. Keep the guard for the thread's
/// life.
pub(crate) fn suppressed_runtime(
    blocking_name: &str,
) -> Result<(ContextGuard, tokio::runtime::Runtime), String> {
    let suppressed = Context::enter_telemetry_suppressed_scope();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(blocking_name)
        .on_thread_start(|| std::mem::forget(Context::enter_telemetry_suppressed_scope()))
        .build()
        .map(|runtime| (suppressed, runtime))
        .map_err(|e| format!("could not start the export runtime: {e}"))
}
