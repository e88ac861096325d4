//! Two services in two processes, one trace: `wallet-gateway` (the client) asks
//! `risk-service` (the server) to score wallets over HTTP on 127.0.0.1. The client injects its
//! trace context (W3C `traceparent`, plus `baggage`) into the request headers; the server
//! extracts it and runs its handler with `#[traced(parent = ...)]`, so the server's spans are
//! children of the client's.
//!
//! ```text
//! cargo run --example services                      # both: the server as a child process, then the client
//! cargo run --example services -- server [ADDR]     # only the server (default 127.0.0.1:8787); Enter stops it
//! cargo run --example services -- client [ADDR]     # only the client, against a running server
//! ```
//! With no collector configured each process prints its part of the trace to stderr as a
//! tree (the same trace id in both). With `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g.
//! `http://localhost:4318` for the docker-compose stack) both processes export, and the
//! client prints the Jaeger link of each call, where the two services show as one trace.
//!
//! Finally the client sends one request with a forged `traceparent` (all-zero ids): the
//! server rejects it, starts a new trace, and counts it in `godtrace::stats()`.
//!
//! The HTTP here is a deliberately minimal HTTP/1.1 over `std::net` (one request per
//! connection) so the example has no web framework; with one, the same two calls —
//! `propagation::inject_headers` on the request and `propagation::extract_headers` on the
//! server — go in a client middleware and a server middleware. `extract_headers` and
//! `HeaderInjector` need godtrace's `http` cargo feature.
use godtrace::otel::baggage::BaggageExt;
use godtrace::otel::{Context, KeyValue};
use godtrace::propagation::{self, HeaderInjector};
use godtrace::traced;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::error::Error;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_ADDR: &str = "127.0.0.1:8787";
/// Baggage the gateway attaches to every call: the batch this screening belongs to.
const BATCH: &str = "screening-2026-11-25T13";
const WALLETS: [&str; 3] = [
    "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
    "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    "DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy",
];
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => demo(),
        Some("server") => server(args.get(1).map_or(DEFAULT_ADDR, String::as_str)),
        Some("client") => client(args.get(1).map_or(DEFAULT_ADDR, String::as_str), false),
        Some(other) => Err(format!("unknown role {other:?}: use `server` or `client`").into()),
    }
}

fn init(service: &str) -> Result<godtrace::Guard, godtrace::InitError> {
    godtrace::init(godtrace::Config::new(service).verbose(true).with_env())
}

/// The client's configuration: the environment's, less the Prometheus endpoint, which
/// belongs to the long-running server (both processes cannot listen on the same port).
fn init_client() -> Result<godtrace::Guard, godtrace::InitError> {
    let vars = std::env::vars()
        .filter(|(key, _)| key != "GODTRACE_PROMETHEUS_LISTEN" && key != "OTEL_METRICS_EXPORTER");
    godtrace::init(
        godtrace::Config::new("wallet-gateway")
            .verbose(true)
            .with_env_vars(vars),
    )
}

// --- both processes -----------------------------------------------------------------------

/// Starts the server as a child process on a free port, runs the client against it, then
/// stops the server (closing its stdin) and waits for it to flush its spans.
fn demo() -> Result<(), Box<dyn Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["server", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    // The server's first line says where it listens.
    let first = lines.next().transpose()?.unwrap_or_default();
    println!("{first}");
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .ok_or_else(|| format!("the server did not say where it listens: {first:?}"))?
        .to_owned();
    // Pass the server's output on, line by line, as it comes.
    let relay = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("{line}");
        }
    });

    let result = client(&addr, true);

    drop(child.stdin.take()); // end of input: the server shuts down and flushes
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            child.kill()?;
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    relay.join().ok();
    result?;
    if !status.success() {
        return Err(format!("risk-service exited with {status}").into());
    }
    Ok(())
}

// --- the client: wallet-gateway -----------------------------------------------------------

#[derive(Debug)]
enum GatewayError {
    Io(std::io::Error),
    Status(u16, String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Io(e) => write!(f, "risk-service unreachable: {e}"),
            GatewayError::Status(code, body) => write!(f, "risk-service answered {code}: {body}"),
        }
    }
}

impl Error for GatewayError {}

impl From<std::io::Error> for GatewayError {
    fn from(e: std::io::Error) -> Self {
        GatewayError::Io(e)
    }
}

fn client(addr: &str, probe: bool) -> Result<(), Box<dyn Error>> {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let guard = init_client()?;
    let mut failures = 0;
    for wallet in WALLETS {
        match screen_wallet(addr, wallet) {
            Ok(verdict) => println!("wallet-gateway: {wallet} → {verdict}"),
            Err(e) => {
                failures += 1;
                println!("wallet-gateway: {wallet} → failed: {e}");
            }
        }
    }
    if probe {
        forged_request(addr)?;
    }
    drop(guard); // flush before the demo stops the server
    if failures > 0 {
        return Err(format!("{failures} calls failed").into());
    }
    Ok(())
}

/// One screening: the root span of a trace that continues in the risk service.
#[traced(operation = "gateway.screen_wallet")]
fn screen_wallet(addr: &str, wallet: &str) -> Result<String, GatewayError> {
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    let verdict = call_risk_service(addr, wallet)?;
    godtrace::set_attribute("risk.verdict", verdict.clone());
    if godtrace::links::is_exporting()
        && let Some(url) = godtrace::links::trace_url()
    {
        println!("wallet-gateway: view at {url}");
    }
    Ok(verdict)
}

/// The outgoing HTTP call. Its span is the one the server's spans hang under.
#[traced(operation = "risk_service.call")]
fn call_risk_service(addr: &str, wallet: &str) -> Result<String, GatewayError> {
    let cx = Context::current().with_baggage([KeyValue::new("scan.batch", BATCH)]);
    let mut headers = HeaderMap::new();
    propagation::inject_context(&cx, &mut HeaderInjector(&mut headers));
    godtrace::set_attribute("http.request.method", "POST");
    godtrace::set_attribute("server.address", addr.to_owned());
    godtrace::set_attribute("url.path", "/risk/score");
    println!(
        "wallet-gateway: call wallet={wallet} trace_id={} span_id={}",
        godtrace::trace_id().unwrap_or_default(),
        godtrace::span_id().unwrap_or_default()
    );
    let (status, body) = post(addr, "/risk/score", &headers, wallet)?;
    godtrace::set_attribute("http.response.status_code", i64::from(status));
    if status != 200 {
        return Err(GatewayError::Status(status, body));
    }
    Ok(body)
}

/// A request whose `traceparent` was forged (all-zero ids), sent outside any span.
fn forged_request(addr: &str) -> Result<(), Box<dyn Error>> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-00000000000000000000000000000000-0000000000000000-01"),
    );
    let wallet = WALLETS[0];
    println!("wallet-gateway: probe wallet={wallet} with a forged traceparent");
    let (status, body) = post(addr, "/risk/score", &headers, wallet)?;
    // Still served: a bad trace context never fails the request, it only starts a new trace.
    println!("wallet-gateway: probe → {status} {body}");
    Ok(())
}

/// POSTs `body` with `headers`; returns the status code and the response body.
fn post(
    addr: &str,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<(u16, String), std::io::Error> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(name.as_str().as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(
        format!(
            "Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    stream.write_all(&request)?;
    let mut reader = BufReader::new(stream);
    let (status_line, _, body) = read_message(&mut reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    Ok((status, body))
}

// --- the server: risk-service -------------------------------------------------------------

fn server(addr: &str) -> Result<(), Box<dyn Error>> {
    let _guard = init("risk-service")?;
    let listener = TcpListener::bind(addr)?;
    println!(
        "risk-service: listening on http://{} (Enter or end of input stops it)",
        listener.local_addr()?
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Err(e) = serve_connection(stream) {
                    eprintln!("risk-service: connection error: {e}");
                }
            });
        }
    });
    // Runs until stdin ends or a line is entered; dropping the guard then flushes the spans.
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    println!("risk-service: stopping");
    Ok(())
}

/// Reads one request, handles it under the caller's trace context, writes the response.
fn serve_connection(stream: TcpStream) -> Result<(), Box<dyn Error>> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let (request_line, headers, body) = read_message(&mut reader)?;
    let (status, reply) = if request_line.starts_with("POST /risk/score ") {
        // The caller's context: its span becomes the parent of ours. A missing or malformed
        // traceparent gives a fresh context instead, and the handler starts a new trace.
        let parent = propagation::extract_headers(&headers);
        match score_request(parent, body.trim().to_owned()) {
            Ok(verdict) => (200, verdict),
            Err(e) => (422, e.to_string()),
        }
    } else {
        (404, "not found".to_owned())
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Unprocessable Content",
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()?;
    Ok(())
}

#[derive(Debug)]
struct InvalidWallet(String);

impl fmt::Display for InvalidWallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a wallet address", self.0)
    }
}

/// The request handler, started under the context extracted from the request headers.
#[traced(operation = "risk_service.score_request", parent = &parent)]
fn score_request(parent: Context, wallet: String) -> Result<String, InvalidWallet> {
    let remote = propagation::is_remote_parent(&parent).then(|| {
        use godtrace::otel::trace::TraceContextExt;
        parent.span().span_context().span_id().to_string()
    });
    println!(
        "risk-service: request wallet={wallet} trace_id={} parent_span_id={} contexts_rejected={}",
        godtrace::trace_id().unwrap_or_default(),
        remote.as_deref().unwrap_or("none"),
        godtrace::stats().contexts_rejected
    );
    godtrace::set_attribute("wallet.address", wallet.clone());
    // Baggage set by the caller arrives with the context.
    for entry in propagation::baggage(&parent) {
        godtrace::set_attribute(entry.key.to_string(), entry.value);
    }
    if wallet.len() < 32 {
        return Err(InvalidWallet(wallet));
    }
    let confidence = detect_patterns(&wallet);
    let score = score_risk(confidence);
    let level = match score {
        s if s >= 80.0 => "CRITICAL",
        s if s >= 60.0 => "HIGH",
        s if s >= 30.0 => "MEDIUM",
        _ => "LOW",
    };
    godtrace::set_attribute("alert.level", level);
    Ok(format!("risk {score:.1} {level}"))
}

#[traced(operation = "pattern.detect")]
fn detect_patterns(wallet: &str) -> f64 {
    std::thread::sleep(Duration::from_millis(3));
    let confidence = f64::from(wallet.bytes().map(u32::from).sum::<u32>() % 100) / 100.0;
    godtrace::set_attribute("pattern.type", "sybil_army");
    godtrace::set_attribute("detection.confidence", confidence);
    confidence
}

#[traced(operation = "risk.score")]
fn score_risk(confidence: f64) -> f64 {
    let score = (confidence * 1000.0).round() / 10.0;
    godtrace::set_attribute("risk.score", score);
    score
}

// --- minimal HTTP/1.1 ---------------------------------------------------------------------

fn bad(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads a request or response: its first line, its headers and its body (by
/// Content-Length), with bounded sizes.
fn read_message(reader: &mut impl BufRead) -> std::io::Result<(String, HeaderMap, String)> {
    let mut head_len = 0;
    let mut next_line = |reader: &mut dyn BufRead| -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        reader.take(MAX_HEAD as u64).read_until(b'\n', &mut line)?;
        head_len += line.len();
        if head_len > MAX_HEAD || !line.ends_with(b"\n") {
            return Err(bad("header section too long or cut short".into()));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Ok(line)
    };
    let first = String::from_utf8_lossy(&next_line(reader)?).into_owned();
    let mut headers = HeaderMap::new();
    loop {
        let line = next_line(reader)?;
        if line.is_empty() {
            break;
        }
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(|| bad("header line without a colon".into()))?;
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|e| bad(e.to_string()))?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
            .map_err(|e| bad(e.to_string()))?;
        headers.append(name, value);
    }
    let length: usize = match headers.get(http::header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n| *n <= MAX_BODY)
            .ok_or_else(|| bad("bad Content-Length".into()))?,
        None => 0,
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((first, headers, String::from_utf8_lossy(&body).into_owned()))
}
