//! The Prometheus endpoint's rendering thread.
use super::super::render::Format;
use std::io;
use std::panic::catch_unwind;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

/// The one thread that renders: every rendering, and what it allocates on the way (the
/// snapshot of every series), is made there. Made on each connection's own thread, they
/// went into as many allocator arenas (glibc gives threads arenas of their own, up to eight
/// per core, and each keeps its peak): clients scraping without reading, each answered with a
/// fresh rendering, held about twenty times the renderings' size after they were let go.
#[derive(Clone)]
pub(super) struct Renderer {
    jobs: mpsc::Sender<(Format, mpsc::SyncSender<Option<String>>)>,
    /// What renders (`render_registry_unless`): `None` once the flag is set.
    render: fn(Format, &AtomicBool) -> Option<String>,
    /// Set when the server stops: a rendering under way is given up.
    stop: Arc<AtomicBool>,
}

impl Renderer {
    /// Starts the thread, rendering with `render` until `stop` is set; it ends once every
    /// `Renderer` is dropped (and a rendering under way is done or given up).
    pub(super) fn start(
        render: fn(Format, &AtomicBool) -> Option<String>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<(Renderer, JoinHandle<()>)> {
        let (jobs, incoming) = mpsc::channel::<(Format, mpsc::SyncSender<Option<String>>)>();
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("godtrace-prometheus-render".to_owned())
            .spawn(move || {
                let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
                for (format, reply) in incoming {
                    // A rendering that panicked is none (the panic is reported as any is): the
                    // scrape is answered 503 rather than with an empty exposition, which
                    // Prometheus would take for metrics that are all gone.
                    let _ = reply.send(catch_unwind(|| render(format, &stopping)).ok().flatten());
                }
            })?;
        Ok((Renderer { jobs, render, stop }, thread))
    }

    /// The metrics in `format`, rendered on the rendering thread (here should it be gone);
    /// `None` when the rendering panicked or the server stopped.
    pub(super) fn render(&self, format: Format) -> Option<String> {
        let (reply, body) = mpsc::sync_channel(1);
        if self.jobs.send((format, reply)).is_err() {
            return (self.render)(format, &self.stop);
        }
        body.recv()
            .unwrap_or_else(|_| (self.render)(format, &self.stop))
    }
}
