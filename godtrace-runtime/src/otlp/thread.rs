//! The start of an export thread (spans or metrics): telemetry suppressed, its own runtime,
//! its transport built inside that runtime.
use opentelemetry::{Context, ContextGuard};

/// What an export thread runs with.
pub(crate) struct Started<T> {
    pub(crate) runtime: tokio::runtime::Runtime,
    /// The exporter or client `build` made, inside `runtime`.
    pub(crate) client: T,
    /// Keeps telemetry suppressed on the thread: keep it for the thread's life.
    pub(crate) suppressed: ContextGuard,
}

/// Suppresses telemetry on the calling thread, builds the current-thread runtime the
/// transport runs on (its blocking threads, for name resolution, named `blocking_name` and
/// suppressed too), builds the client with `build` inside it, and tells `ready` whether all of
/// that worked; `None` when it did not and the thread should end.
///
/// Whatever runs on these threads (the transport, its logging, tracing bridges) records no
/// spans: they would feed the queue the thread drains.
pub(crate) fn start<T>(
    blocking_name: &str,
    build: impl FnOnce() -> Result<T, String>,
    ready: impl FnOnce(Result<(), String>),
) -> Option<Started<T>> {
    let suppressed = Context::enter_telemetry_suppressed_scope();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(blocking_name)
        .on_thread_start(|| std::mem::forget(Context::enter_telemetry_suppressed_scope()))
        .build();
    let built = match runtime {
        Err(e) => Err(format!("could not start the export runtime: {e}")),
        Ok(runtime) => {
            let client = {
                let _entered = runtime.enter();
                build()
            };
            client.map(|client| Started {
                runtime,
                client,
                suppressed,
            })
        }
    };
    match built {
        Ok(started) => {
            ready(Ok(()));
            Some(started)
        }
        Err(e) => {
            ready(Err(e));
            None
        }
    }
}
