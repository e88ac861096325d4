//! The metrics exporters' lifecycle: started by `init`, flushed and stopped by the guard.
use super::config::MetricsSettings;
use super::limits;
use super::prometheus::Server;
use super::worker::JoinableThread;
use crate::InitError;
use crate::config::deadline_after;
use opentelemetry::KeyValue;
use std::net::SocketAddr;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use super::otlp::Pusher;
/// Without a transport `resolve` never configures a push; this stands in for the pusher.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
struct Pusher;
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl Pusher {
    fn flush_begin(&self) -> mpsc::Receiver<()> {
        mpsc::sync_channel(1).1
    }
    fn stop_begin(self) -> Option<JoinableThread> {
        None
    }
}

struct Running {
    prometheus: Option<Server>,
    otlp: Option<Pusher>,
    /// The longest the guard waits for metrics on flush and shutdown.
    bound: Duration,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Metrics work the guard started and may wait for, within the bound it was given; the guard
/// does its own (span) work meanwhile.
#[must_use]
pub(crate) struct MetricsInFlight {
    deadline: Instant,
    acks: Vec<mpsc::Receiver<()>>,
    workers: Vec<JoinableThread>,
}

impl MetricsInFlight {
    fn none() -> MetricsInFlight {
        MetricsInFlight {
            deadline: Instant::now(),
            acks: Vec::new(),
            workers: Vec::new(),
        }
    }

    /// Waits for the work, at most until the deadline.
    pub(crate) fn wait(self) {
        for ack in self.acks {
            let _ = ack.recv_timeout(self.deadline.saturating_duration_since(Instant::now()));
        }
        for worker in self.workers {
            worker.wait_until(self.deadline);
        }
    }
}

/// Exporters `init` has started but not yet put in service: nothing global has changed until
/// [`Started::publish`], so an `init` that fails later stops them and leaves no trace.
#[must_use = "started exporters are either published or stopped"]
pub(crate) struct Started {
    running: Running,
    limits: limits::Limits,
    /// What the Prometheus exposition's `target_info` shows.
    resource: Vec<KeyValue>,
}

/// Starts the configured exporters. `resource` goes with every OTLP push. Fails, leaving
/// nothing running, if the Prometheus address cannot be bound or the push cannot start.
pub(crate) fn start(
    settings: MetricsSettings,
    resource: Vec<KeyValue>,
) -> Result<Started, InitError> {
    let exposed_resource = resource.clone();
    let prometheus = match &settings.prometheus {
        Some(addr) => Some(Server::start(addr.as_str()).map_err(|e| {
            InitError::Exporter(format!("could not serve Prometheus metrics on {addr}: {e}"))
        })?),
        None => None,
    };
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    let otlp = match settings.otlp {
        Some(target) => match Pusher::start(target, resource, settings.interval, settings.bound) {
            Ok(pusher) => Some(pusher),
            Err(e) => {
                stop_begin(Running {
                    prometheus,
                    otlp: None,
                    bound: settings.bound,
                })
                .wait();
                return Err(e);
            }
        },
        None => None,
    };
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    let otlp: Option<Pusher> = {
        // No transport: `resolve` rejects OTLP settings, so there is nothing to push.
        let _ = (resource, settings.otlp, settings.interval);
        None
    };
    Ok(Started {
        running: Running {
            prometheus,
            otlp,
            bound: settings.bound,
        },
        limits: settings.limits,
        resource: exposed_resource,
    })
}

impl Started {
    /// Puts the limits in force and makes these the exporters that flush, shutdown and
    /// [`prometheus_addr`] see.
    pub(crate) fn publish(self) {
        limits::set(self.limits);
        super::prometheus::set_resource(self.resource);
        let previous = RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(self.running);
        if let Some(previous) = previous {
            stop_begin(previous).wait();
        }
    }

    /// Stops the exporters (an `init` that failed after starting them), joining their threads
    /// within the flush bound.
    pub(crate) fn stop(self) {
        stop_begin(self.running).wait();
    }
}

/// Starts an OTLP push now, if configured; wait on the result for it to be sent.
pub(crate) fn flush_begin() -> MetricsInFlight {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(running) = running.as_ref() else {
        return MetricsInFlight::none();
    };
    MetricsInFlight {
        deadline: deadline_after(running.bound),
        acks: running.otlp.iter().map(Pusher::flush_begin).collect(),
        workers: Vec::new(),
    }
}

/// Stops the Prometheus endpoint and starts the last OTLP push; wait on the result for both.
pub(crate) fn shutdown_begin() -> MetricsInFlight {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).take();
    match running {
        Some(running) => stop_begin(running),
        None => MetricsInFlight::none(),
    }
}

fn stop_begin(running: Running) -> MetricsInFlight {
    let mut workers = Vec::new();
    if let Some(mut server) = running.prometheus {
        workers.extend(server.stop_begin());
    }
    if let Some(pusher) = running.otlp {
        workers.extend(pusher.stop_begin());
    }
    MetricsInFlight {
        deadline: deadline_after(running.bound),
        acks: Vec::new(),
        workers,
    }
}

/// The address the Prometheus endpoint listens on, while it runs: useful with port 0.
///
/// ```
/// assert_eq!(godtrace_runtime::metrics::prometheus_addr(), None); // not configured
/// ```
///
/// `None` in a child that `fork` made: it does not hold the endpoint (and a parent's thread may
/// have held this lock at the fork).
pub fn prometheus_addr() -> Option<SocketAddr> {
    if crate::span::switches::in_forked_child() {
        return None;
    }
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running
        .as_ref()?
        .prometheus
        .as_ref()
        .map(Server::local_addr)
}
