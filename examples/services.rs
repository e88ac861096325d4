//! Two services in two processes, one trace: `wallet-gateway` (a reqwest client) asks
//! `risk-service` (an axum server) to score wallets over HTTP on 127.0.0.1. Nothing in either
//! handles trace context by hand: godtrace's reqwest middleware opens a CLIENT span per
//! request and injects its context (W3C `traceparent`, plus `baggage`) into the headers; its
//! server layer extracts it and opens a SERVER span under it, current while the handler runs,
//! so the handler's `#[traced]` functions nest under it.
//!
//! ```text
//! cargo run --example services                      # both: the server as a child process, then the client
//! cargo run --example services -- server [ADDR]     # only the server (default 127.0.0.1:8787); Enter stops it
//! cargo run --example services -- client [ADDR]     # only the client, against a running server
//! ```
//! With no collector configured each process prints its part of the trace to stderr as a
//! tree (the same trace id in both). With `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g.
//! `http://localhost:4318` for the docker-compose stack) both processes export, and the
//! client prints the Jaeger link of each call, where the two services show as one trace:
//!
//! ```text
//! gateway.screen_wallet                         wallet-gateway
//! └─ risk_service.call                          wallet-gateway
//!    └─ POST                                    wallet-gateway  (client)
//!       └─ POST /risk/score/{wallet}            risk-service    (server)
//!          └─ risk_service.score_request        risk-service
//!             ├─ pattern.detect                 risk-service
//!             └─ risk.score                     risk-service
//! ```
//!
//! Finally the client sends one request with a forged `traceparent` (all-zero ids): the
//! server rejects it, starts a new trace, and counts it in `godtrace::stats()`.
//!
//! The layers need godtrace's cargo features `axum` (the server layer, naming spans by the
//! matched route) and `reqwest` (the client middleware).
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use godtrace::layers::{HttpServerLayer, TracingMiddleware};
use godtrace::otel::baggage::BaggageExt;
use godtrace::otel::{Context, KeyValue};
use godtrace::{propagation, traced};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use std::error::Error;
use std::fmt;
use std::io::{BufRead, BufReader};
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
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => demo(),
        Some("server") => server(args.get(1).map_or(DEFAULT_ADDR, String::as_str)),
        Some("client") => client(args.get(1).map_or(DEFAULT_ADDR, String::as_str), false),
        Some(other) => Err(format!("unknown role {other:?}: use `server` or `client`").into()),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
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

/// The client's configuration: the environment's, less the Prometheus endpoint, which
/// belongs to the long-running server (both processes cannot listen on the same port): the
/// `prometheus` exporter is taken out of `OTEL_METRICS_EXPORTER` (the others, `none`
/// included, stay; left with none, the default applies).
fn init_client() -> Result<godtrace::Guard, godtrace::InitError> {
    let vars = std::env::vars().filter_map(|(key, value)| match key.as_str() {
        "GODTRACE_PROMETHEUS_LISTEN" => None,
        "OTEL_METRICS_EXPORTER" => {
            let others: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|exporter| !exporter.eq_ignore_ascii_case("prometheus"))
                .collect();
            (!others.is_empty()).then(|| (key, others.join(",")))
        }
        _ => Some((key, value)),
    });
    godtrace::init(
        godtrace::Config::new("wallet-gateway")
            .verbose(true)
            .with_env_vars(vars),
    )
}

#[derive(Debug)]
enum GatewayError {
    Http(reqwest_middleware::Error),
    Status(u16, String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Http(e) => write!(f, "risk-service unreachable: {e}"),
            GatewayError::Status(code, body) => write!(f, "risk-service answered {code}: {body}"),
        }
    }
}

impl Error for GatewayError {}

impl From<reqwest_middleware::Error> for GatewayError {
    fn from(e: reqwest_middleware::Error) -> Self {
        GatewayError::Http(e)
    }
}

impl From<reqwest::Error> for GatewayError {
    fn from(e: reqwest::Error) -> Self {
        GatewayError::Http(e.into())
    }
}

/// A plain reqwest client. (reqwest's default features bring a TLS crypto provider; this
/// repository builds reqwest without one, so the example installs rustls' ring provider.)
fn reqwest_client() -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(TIMEOUT).build()
}

fn client(addr: &str, probe: bool) -> Result<(), Box<dyn Error>> {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let guard = init_client()?;
    // godtrace's middleware: a CLIENT span per request, its context in the headers. The
    // second one only prints the `traceparent` it sent, to show what crosses the wire.
    let http = ClientBuilder::new(reqwest_client()?)
        .with(TracingMiddleware::new())
        .with(ShowTraceparent)
        .build();
    let runtime = runtime()?;
    let mut failures = 0;
    for wallet in WALLETS {
        match runtime.block_on(screen_wallet(&http, addr, wallet)) {
            Ok(verdict) => println!("wallet-gateway: {wallet} → {verdict}"),
            Err(e) => {
                failures += 1;
                println!("wallet-gateway: {wallet} → failed: {e}");
            }
        }
    }
    if probe {
        runtime.block_on(forged_request(addr))?;
    }
    drop(runtime);
    drop(guard); // flush before the demo stops the server
    if failures > 0 {
        return Err(format!("{failures} calls failed").into());
    }
    Ok(())
}

/// One screening: the root span of a trace that continues in the risk service.
#[traced(operation = "gateway.screen_wallet")]
async fn screen_wallet(
    http: &ClientWithMiddleware,
    addr: &str,
    wallet: &str,
) -> Result<String, GatewayError> {
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    // Baggage rides along with the trace context to every service downstream. `with_baggage`
    // replaces the context's baggage: added to what came in (none here, at the edge).
    let cx = godtrace::current_context();
    let mut entries = propagation::baggage(&cx);
    entries.push(KeyValue::new("scan.batch", BATCH));
    let batch = cx.with_baggage(entries);
    let verdict = score(batch, http, addr, wallet).await?;
    godtrace::set_attribute("risk.verdict", verdict.clone());
    if godtrace::links::is_exporting()
        && let Some(url) = godtrace::links::trace_url()
    {
        println!("wallet-gateway: view at {url}");
    }
    Ok(verdict)
}

/// The outgoing call, made under `cx` (the screening's span, with baggage): the middleware's
/// CLIENT span starts under it and sends both on.
#[traced(operation = "risk_service.call", parent = &cx)]
async fn score(
    cx: Context,
    http: &ClientWithMiddleware,
    addr: &str,
    wallet: &str,
) -> Result<String, GatewayError> {
    let response = http
        .post(format!("http://{addr}/risk/score/{wallet}"))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.text().await?;
    if status != 200 {
        return Err(GatewayError::Status(status, body));
    }
    Ok(body)
}

/// Prints each request's URL and the `traceparent` godtrace's middleware put on it.
struct ShowTraceparent;

#[async_trait::async_trait]
impl Middleware for ShowTraceparent {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let traceparent = request
            .headers()
            .get(propagation::TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        println!(
            "wallet-gateway: call url={} traceparent={traceparent}",
            request.url()
        );
        next.run(request, extensions).await
    }
}

/// A request whose `traceparent` was forged (all-zero ids), sent without the middleware.
async fn forged_request(addr: &str) -> Result<(), Box<dyn Error>> {
    let wallet = WALLETS[0];
    println!("wallet-gateway: probe wallet={wallet} with a forged traceparent");
    let response = reqwest_client()?
        .post(format!("http://{addr}/risk/score/{wallet}"))
        .header(
            propagation::TRACEPARENT,
            "00-00000000000000000000000000000000-0000000000000000-01",
        )
        .send()
        .await?;
    // Still served: a bad trace context never fails the request, it only starts a new trace.
    let status = response.status().as_u16();
    println!(
        "wallet-gateway: probe → {status} {}",
        response.text().await?
    );
    Ok(())
}

// --- the server: risk-service -------------------------------------------------------------

fn server(addr: &str) -> Result<(), Box<dyn Error>> {
    let _guard = godtrace::init(
        godtrace::Config::new("risk-service")
            .verbose(true)
            .with_env(),
    )?;
    let app = axum::Router::new()
        .route("/risk/score/{wallet}", axum::routing::post(score_handler))
        // One line: a SERVER span per request, under the caller's context.
        .layer(HttpServerLayer::new());
    let runtime = runtime()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    println!(
        "risk-service: listening on http://{} (Enter or end of input stops it)",
        listener.local_addr()?
    );
    // Runs until stdin ends or a line is entered; dropping the guard then flushes the spans.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = stop.send(());
    });
    runtime.block_on(async {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    })?;
    println!("risk-service: stopping");
    Ok(())
}

/// The axum handler: runs under the server layer's span.
async fn score_handler(
    Path(wallet): Path<String>,
    headers: HeaderMap,
) -> Result<String, (StatusCode, String)> {
    print_request(&wallet, &headers);
    score_request(wallet).map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// Prints the trace this request joined: the caller's span id (from its `traceparent`) when
/// the server span continues the caller's trace, `none` when it had to start a new one.
fn print_request(wallet: &str, headers: &HeaderMap) {
    let trace_id = godtrace::trace_id().unwrap_or_default();
    let caller = headers
        .get(propagation::TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|tp| {
            let mut fields = tp.split('-').skip(1);
            let (caller_trace, caller_span) = (fields.next()?, fields.next()?);
            (caller_trace == trace_id).then(|| caller_span.to_owned())
        });
    println!(
        "risk-service: request wallet={wallet} trace_id={trace_id} parent_span_id={} contexts_rejected={}",
        caller.as_deref().unwrap_or("none"),
        godtrace::stats().contexts_rejected
    );
}

#[derive(Debug)]
struct InvalidWallet(String);

impl fmt::Display for InvalidWallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a wallet address", self.0)
    }
}

/// The request's work, a child of the server layer's span.
#[traced(operation = "risk_service.score_request")]
fn score_request(wallet: String) -> Result<String, InvalidWallet> {
    godtrace::set_attribute("wallet.address", wallet.clone());
    // Baggage set by the caller arrives with the context.
    for entry in propagation::baggage(&godtrace::current_context()) {
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
