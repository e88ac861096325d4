//! In-process OTLP receivers for the fault and option tests: gRPC (tonic) and HTTP/protobuf
//! servers that count what they receive and can be stopped and restarted on the same port,
//! and a "black hole" that accepts connections and never answers.
//!
//! Each runs on threads of its own (the gRPC one with its own tokio runtime), so it never
//! shares a runtime with the code under test. Telemetry is suppressed on those threads.
#![allow(dead_code)]

mod grpc;
mod http;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a receiver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Grpc,
    /// gRPC that decodes each request, then answers an error status (PERMISSION_DENIED).
    GrpcRefusing,
    /// gRPC that answers each request with a partial success rejecting one span.
    GrpcPartial,
    Http,
    /// HTTP that answers each request with a partial success rejecting one span.
    HttpPartial,
    /// HTTP that answers each request with a warning: a partial success rejecting nothing,
    /// with a message.
    HttpWarning,
    /// HTTP that answers each request with a `200` whose body never ends (HTTP/1.0, delimited
    /// by a close that never comes), as a stalled receiver or proxy does.
    HttpStalledSuccess,
    /// Accepts TCP connections and never reads or answers.
    BlackHole,
}

/// What the partial-success receivers answer: one span of each request rejected, and why.
pub fn one_rejected() -> opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess
{
    opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
        rejected_spans: 1,
        error_message: "one span too old".into(),
    }
}

/// What the warning receiver answers: nothing rejected, and a warning.
pub fn a_warning() -> opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
    opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
        rejected_spans: 0,
        error_message: "attribute values cut to 64 bytes".into(),
    }
}

/// One export request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Lowercase header (metadata) names.
    pub headers: Vec<(String, String)>,
    pub request: ExportTraceServiceRequest,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The resource attributes of the first resource, as text.
    pub fn resource(&self) -> Vec<(String, String)> {
        let Some(rs) = self.request.resource_spans.first() else {
            return Vec::new();
        };
        rs.resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .map(|kv| {
                (
                    kv.key.clone(),
                    text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                )
            })
            .collect()
    }

    pub fn span_names(&self) -> Vec<String> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter())
            .map(|s| s.name.clone())
            .collect()
    }
}

fn text(v: Option<&AnyValue>) -> String {
    match v {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Everything received, across restarts.
#[derive(Debug, Default)]
pub struct Sink {
    requests: Mutex<Vec<Received>>,
    changed: Condvar,
}

impl Sink {
    pub(crate) fn record(&self, received: Received) {
        self.requests.lock().unwrap().push(received);
        self.changed.notify_all();
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    pub fn span_names(&self) -> Vec<String> {
        self.requests()
            .iter()
            .flat_map(Received::span_names)
            .collect()
    }

    pub fn span_count(&self) -> usize {
        self.span_names().len()
    }

    /// The spans received, decoded, once exactly `n` have arrived (within 30 s).
    pub fn wait_spans(&self, n: usize) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        assert_eq!(self.wait_for_spans(n, Duration::from_secs(30)), n);
        self.spans()
    }

    /// Every span received so far, decoded, in the order they arrived.
    pub fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.requests()
            .into_iter()
            .flat_map(|r| r.request.resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .collect()
    }

    /// Waits until at least `n` spans arrived, at most `within`; returns the count.
    pub fn wait_for_spans(&self, n: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut requests = self.requests.lock().unwrap();
        loop {
            let count: usize = requests.iter().map(|r| r.span_names().len()).sum();
            let now = Instant::now();
            if count >= n || now >= deadline {
                return count;
            }
            requests = self
                .changed
                .wait_timeout(requests, deadline - now)
                .unwrap()
                .0;
        }
    }
}

enum Running {
    Grpc(grpc::Server),
    Std {
        stop: Arc<AtomicBool>,
        thread: JoinHandle<()>,
    },
}

/// A receiver on 127.0.0.1 that can be stopped and started again on the same port.
pub struct Receiver {
    kind: Kind,
    port: u16,
    pub sink: Arc<Sink>,
    running: Option<Running>,
}

impl Receiver {
    /// Starts a receiver of `kind` on a free port.
    pub fn start(kind: Kind) -> Receiver {
        let mut r = Receiver::stopped(kind, free_port());
        r.restart();
        r
    }

    /// A receiver on `port` that is not listening yet (for "no backend at start").
    pub fn stopped(kind: Kind, port: u16) -> Receiver {
        Receiver {
            kind,
            port,
            sink: Arc::default(),
            running: None,
        }
    }

    /// The base endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts listening again on the same port (after [`Receiver::stop`]).
    pub fn restart(&mut self) {
        assert!(self.running.is_none(), "already running");
        let listener = bind(self.port);
        self.running = Some(match self.kind {
            Kind::Grpc | Kind::GrpcRefusing | Kind::GrpcPartial => {
                Running::Grpc(grpc::Server::start(listener, self.sink.clone(), self.kind))
            }
            Kind::Http
            | Kind::HttpPartial
            | Kind::HttpWarning
            | Kind::HttpStalledSuccess
            | Kind::BlackHole => {
                let stop = Arc::new(AtomicBool::new(false));
                let thread = http::start(listener, self.sink.clone(), stop.clone(), self.kind);
                Running::Std { stop, thread }
            }
        });
    }

    /// Stops listening and closes every connection, like a crashed backend.
    pub fn stop(&mut self) {
        match self.running.take() {
            Some(Running::Grpc(server)) => server.stop(),
            Some(Running::Std { stop, thread }) => {
                stop.store(true, Ordering::SeqCst);
                thread.join().unwrap();
            }
            None => {}
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bind(port: u16) -> TcpListener {
    // The port was ours a moment ago; give the kernel a little time to release it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("rebinding port {port}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot listen on port {port}: {e}"),
        }
    }
}

/// Runs `f` on another thread; panics if it has not returned within `within` (a guard
/// against deadlocks, not a timing assertion).
pub fn returns_within<T: Send + 'static>(
    within: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(within)
        .unwrap_or_else(|_| panic!("did not return within {within:?}: deadlock?"))
}
pub mod deliver;
pub mod metrics;
pub mod options;
pub mod restart;
