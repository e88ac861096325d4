//! A discarding OTLP/gRPC trace (and metrics) receiver on loopback, run as a process of its
//! own (this bench binary re-executed with `GODTRACE_BENCH_ROLE=receiver`), so that what it
//! costs never shows in the measured process's memory. It decodes each trace request
//! (tonic/prost), counts the spans and answers success. It exits when its standard input closes, i.e. when the case
//! process that started it exits, however that happens.
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming this process's role.
pub const ROLE_VAR: &str = "GODTRACE_BENCH_ROLE";
/// Set (by the export cases): the receiver runs at normal priority, on two worker threads.
pub const NORMAL_PRIORITY_VAR: &str = "GODTRACE_BENCH_RECEIVER_NORMAL_PRIORITY";

/// A running receiver; dropping it (or exiting) closes its stdin and it exits.
pub struct Receiver {
    pub port: u16,
    child: Child,
}

impl Receiver {
    /// Starts one and waits for its port.
    pub fn spawn() -> Receiver {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(ROLE_VAR, "receiver")
            .env_remove(super::CASE_VAR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the receiver process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("read the receiver's port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("receiver said {line:?}, not its port"));
        Receiver { port, child }
    }

    /// `http://127.0.0.1:PORT`, for `Config::endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        // It exits on its own once its stdin closes; a receiver that does not within 10 s is
        // killed, so that a fault of its own never stalls the bench.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spans decoded, printed when the receiver exits (`export.rs` reads it).
static SPANS: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct Discard;

#[tonic::async_trait]
impl TraceService for Discard {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        SPANS.fetch_add(spans_in(request.get_ref()), Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// The metrics push (on every flush) goes to the same receiver: answered, not counted.
#[tonic::async_trait]
impl MetricsService for Discard {
    async fn export(
        &self,
        _request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The spans an OTLP trace request carries.
pub fn spans_in(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len() as u64)
        .sum()
}

/// Exits the receiver process as soon as the case process is gone (its end of our stdin
/// closes), saying how many spans it decoded.
pub fn exit_when_stdin_closes(spans: &'static AtomicU64, body_bytes: &'static AtomicU64) {
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        // Only the export cases read this line; the others closed their end of our stdout,
        // and a failed write must not keep the receiver alive (`println!` would panic here,
        // ending this thread and leaving the server running).
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "SPANS {}", spans.load(Ordering::Relaxed));
        let _ = writeln!(stdout, "BYTES {}", body_bytes.load(Ordering::Relaxed));
        let _ = stdout.flush();
        std::process::exit(0);
    });
}

// glibc's nice(3); the bench has no libc dependency of its own.
#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn nice(inc: std::ffi::c_int) -> std::ffi::c_int;
}

/// A real collector runs elsewhere. Here it shares the two cores with the measured thread
/// and godtrace's export thread, so it yields to both: the lowest priority. Unless
/// `NORMAL_PRIORITY_VAR` is set: the export cases measure CPU time, not wall time, and need
/// a receiver that keeps up on a machine other processes load.
pub fn lower_priority() {
    if std::env::var_os(NORMAL_PRIORITY_VAR).is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: nice(3) only changes this process's scheduling priority.
    unsafe {
        nice(19);
    }
}

/// The receiver process's body: serves until stdin closes, then exits.
pub fn run() -> ! {
    lower_priority();
    // Bodies are counted by the HTTP receiver only (tonic inflates them before they are seen).
    static NOT_COUNTED: AtomicU64 = AtomicU64::new(0);
    exit_when_stdin_closes(&SPANS, &NOT_COUNTED);
    // The export cases want a receiver like a collector: a worker per core, so that it decodes
    // two requests at once. The others keep the one-thread receiver their figures were taken
    // with.
    let runtime = if std::env::var_os(NORMAL_PRIORITY_VAR).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("receiver runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("bound address").port();
        println!("PORT {port}");
        // Like a real collector (Go sets TCP_NODELAY on every connection): without it, Nagle
        // and delayed ACKs hold each response for milliseconds and cap the export rate.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            // gzip accepted, as a collector accepts it (the gzip export cases send it).
            .add_service(
                TraceServiceServer::new(Discard)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
            )
            .add_service(
                MetricsServiceServer::new(Discard)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
            )
            .serve_with_incoming(incoming)
            .await
            .expect("serve OTLP/gRPC");
    });
    std::process::exit(0)
}
