//! Starting and stopping the exporters: called by `init` and by the guard.
use super::config::MetricsSettings;
use super::limits;
use super::prometheus::Server;
use crate::InitError;
use opentelemetry::KeyValue;
use std::net::SocketAddr;
use std::sync::Mutex;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use super::otlp::Pusher;
/// Without a transport `resolve` never configures a push; this stands in for the pusher.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
struct Pusher;
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl Pusher {
    fn flush(&self) {}
    fn stop(self) {}
}

struct Running {
    prometheus: Option<Server>,
    otlp: Option<Pusher>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Puts the limits in force and starts the configured exporters. `resource` goes with every
/// OTLP push. Fails, starting nothing, if the Prometheus address cannot be bound.
pub(crate) fn install(settings: MetricsSettings, resource: Vec<KeyValue>) -> Result<(), InitError> {
    limits::set(settings.limits);
    let prometheus = match &settings.prometheus {
        Some(addr) => Some(Server::start(addr.as_str()).map_err(|e| {
            InitError::Exporter(format!("could not serve Prometheus metrics on {addr}: {e}"))
        })?),
        None => None,
    };
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    let otlp = match settings.otlp {
        Some(target) => Some(Pusher::start(target, resource, settings.interval)?),
        None => None,
    };
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    let otlp: Option<Pusher> = {
        let _ = resource;
        None
    };
    let previous = RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(Running { prometheus, otlp });
    if let Some(previous) = previous {
        stop(previous);
    }
    Ok(())
}

/// Pushes metrics over OTLP now, if configured (within the export timeout).
pub(crate) fn flush() {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Running {
        otlp: Some(pusher), ..
    }) = running.as_ref()
    {
        pusher.flush();
    }
}

/// Stops the Prometheus endpoint and pushes a last time over OTLP.
pub(crate) fn shutdown() {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(running) = running {
        stop(running);
    }
}

fn stop(running: Running) {
    if let Some(server) = running.prometheus {
        server.stop();
    }
    if let Some(pusher) = running.otlp {
        pusher.stop();
    }
}

/// The address the Prometheus endpoint listens on, while it runs: useful with port 0.
///
/// ```
/// assert_eq!(godtrace_runtime::prometheus_addr(), None); // not configured
/// ```
pub fn prometheus_addr() -> Option<SocketAddr> {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running
        .as_ref()?
        .prometheus
        .as_ref()
        .map(Server::local_addr)
}
