//! The scanner guide's pipeline: for each incoming transaction, transaction analysis, wallet
//! analysis, pattern detection, risk scoring and a traversal of the wallet's funding graph,
//! async, as one trace per transaction. The third wallet's analysis fails (its RPC times out).
//!
//! ```text
//! cargo run --example transaction_pipeline
//! ```
//! With no collector configured, each trace prints to stderr as a tree with its attributes.
//! To see the traces in Jaeger instead (`docker compose --profile monitoring up -d`):
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example transaction_pipeline
//! ```
//! and open the link printed after each analysis.
//!
//! With `DATABASE_URL` (PostgreSQL) set, each report is stored in table `scanner_reports`;
//! with `REDIS_URL` set, wallet profiles are cached in Redis for five minutes (a second run
//! skips the RPC for cached wallets). Their queries and commands are client spans of the
//! trace (`docker compose --profile databases up -d` starts both):
//! ```text
//! DATABASE_URL=postgres://godtrace:godtrace@localhost:5432/scanner \
//! REDIS_URL=redis://localhost:6379/ cargo run --example transaction_pipeline
//! ```
use godtrace::db::redis::TracedConnection;
use godtrace::db::sqlx::TracedPool;
use godtrace::otel::KeyValue;
use godtrace::traced;
use redis::aio::ConnectionManager;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// One transaction the monitor picked up: (signature, signer wallet, token).
const TRANSACTIONS: [(&str, &str, &str); 3] = [
    (
        "5VfYmGCdLz8yXkPq3sJ9aT2wR6nE4hK7uM1cB8vD2xQf",
        "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
        "pump4Mx8nQ2rT6wYb3",
    ),
    (
        "4Nd1mBQtrMJ8sWcR5vXk2pL7yG3hF9aE6zU1oC4iT8nV",
        "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
        "pump9Kq2vB7nX4mZc1",
    ),
    (
        "2ZE7R3sKp9XvL4mQ8tY1wN6bC3dF5gH7jA2eU9oI4rTz",
        "Gh7QkzTimeout3yRpcW4LLmN8vB2xC6dF1aE9sJ5uK0",
        "pump2Ls5wD8cV1bN7x",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlertLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl AlertLevel {
    fn from_score(score: f64) -> Self {
        match score {
            s if s >= 80.0 => AlertLevel::Critical,
            s if s >= 60.0 => AlertLevel::High,
            s if s >= 30.0 => AlertLevel::Medium,
            _ => AlertLevel::Low,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Low => "LOW",
            AlertLevel::Medium => "MEDIUM",
            AlertLevel::High => "HIGH",
            AlertLevel::Critical => "CRITICAL",
        }
    }
}

#[derive(Debug)]
enum ScanError {
    RpcTimeout { method: &'static str, attempts: u32 },
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::RpcTimeout { method, attempts } => {
                write!(f, "RPC {method} timed out after {attempts} attempts")
            }
        }
    }
}

impl std::error::Error for ScanError {}

#[derive(Debug)]
struct WalletProfile {
    age_days: u32,
    transactions: u32,
    funded_by: &'static str,
}

#[derive(Debug)]
struct Detection {
    pattern: &'static str,
    confidence: f64,
}

#[derive(Debug)]
struct Report {
    risk_score: f64,
    alert: AlertLevel,
    network_size: usize,
}

/// A stable pseudo-random number in 0..1 for a wallet and a salt (the example's stand-in for
/// real model outputs).
fn score_of(wallet: &str, salt: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in wallet.bytes().chain(salt.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % 1000) as f64 / 1000.0
}

async fn io(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

// --- 1. transaction analysis --------------------------------------------------------------

#[traced(operation = "rpc.get_transaction")]
async fn fetch_transaction(signature: &str) -> u64 {
    io(3).await;
    signature.len() as u64 * 1_000_000
}

#[traced(operation = "transaction.analyze")]
async fn analyze_transaction(signature: &str, wallet: &str, token: &str) -> u64 {
    godtrace::set_attribute("transaction.signature", signature.to_owned());
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    godtrace::set_attribute("token.address", token.to_owned());
    let lamports = fetch_transaction(signature).await;
    godtrace::set_attribute("transaction.lamports", lamports as i64);
    lamports
}

// --- 2. wallet analysis -------------------------------------------------------------------

#[traced(operation = "rpc.get_account_info")]
async fn get_account_info(wallet: &str) -> Result<u32, ScanError> {
    // The third wallet's RPC node never answers in time.
    if wallet.contains("Timeout") {
        for attempt in 1..=3 {
            io(4).await;
            godtrace::add_event("rpc.retry", [("rpc.attempt", i64::from(attempt).into())]);
        }
        return Err(ScanError::RpcTimeout {
            method: "getAccountInfo",
            attempts: 3,
        });
    }
    io(5).await;
    // Account age in days: the first wallet was created just before the token launch.
    Ok(if wallet.starts_with("7xKX") { 12 } else { 900 })
}

#[traced(operation = "db.wallet_history")]
async fn wallet_history(wallet: &str) -> u32 {
    io(2).await;
    (score_of(wallet, "history") * 900.0) as u32
}

#[traced(operation = "wallet.analyze")]
async fn analyze_wallet(wallet: &str) -> Result<WalletProfile, ScanError> {
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    godtrace::set_attribute("analysis.type", "full");
    let (age_days, transactions) = match cached_profile(wallet).await {
        Some(cached) => cached,
        None => {
            let age_days = get_account_info(wallet).await?;
            let transactions = wallet_history(wallet).await;
            cache_profile(wallet, age_days, transactions).await;
            (age_days, transactions)
        }
    };
    godtrace::set_attribute("wallet.age_days", i64::from(age_days));
    godtrace::set_attribute("wallet.transactions", i64::from(transactions));
    Ok(WalletProfile {
        age_days,
        transactions,
        funded_by: "5tzFkiKscXHK5ZXCGbXZxdw7gTjjD1mBwuoFbhUvuAi9",
    })
}

// --- storage (optional: DATABASE_URL, REDIS_URL) ------------------------------------------

/// Where results go when the environment names a database and a cache.
struct Storage {
    reports: Option<TracedPool>,
    profiles: Option<TracedConnection<ConnectionManager>>,
}

static STORAGE: OnceLock<Storage> = OnceLock::new();

/// How long a cached wallet profile is trusted.
const PROFILE_TTL_SECONDS: u64 = 300;

fn profile_key(wallet: &str) -> String {
    format!("scanner:wallet-profile:{wallet}")
}

/// The wallet's cached `(age_days, transactions)`, if Redis is configured and has them.
async fn cached_profile(wallet: &str) -> Option<(u32, u32)> {
    let mut cache = STORAGE.get()?.profiles.clone()?;
    let cached: Option<String> = redis::cmd("GET")
        .arg(profile_key(wallet))
        .query_async(&mut cache)
        .await
        .ok()?;
    let (age, transactions) = cached?
        .split_once(',')
        .map(|(a, t)| (a.parse(), t.parse()))?;
    Some((age.ok()?, transactions.ok()?))
}

/// Caches the wallet's profile (a cache that fails is skipped: the span records why).
async fn cache_profile(wallet: &str, age_days: u32, transactions: u32) {
    let Some(mut cache) = STORAGE.get().and_then(|s| s.profiles.clone()) else {
        return;
    };
    let _ = redis::cmd("SET")
        .arg(profile_key(wallet))
        .arg(format!("{age_days},{transactions}"))
        .arg("EX")
        .arg(PROFILE_TTL_SECONDS)
        .query_async::<()>(&mut cache)
        .await;
}

#[traced(operation = "report.store")]
async fn store_report(
    pool: &TracedPool,
    signature: &str,
    wallet: &str,
    report: &Report,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scanner_reports (signature, wallet, risk_score, alert_level, network_size) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (signature) DO UPDATE SET \
         risk_score = excluded.risk_score, alert_level = excluded.alert_level, \
         network_size = excluded.network_size, analysed_at = now()",
    )
    .bind(signature)
    .bind(wallet)
    .bind(report.risk_score)
    .bind(report.alert.as_str())
    .bind(report.network_size as i64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Connects to what `DATABASE_URL` and `REDIS_URL` name (each optional), saying which.
async fn connect_storage() -> Result<Storage, Box<dyn std::error::Error>> {
    let reports = match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let pool = TracedPool::new(sqlx::PgPool::connect(&url).await?);
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS scanner_reports (signature text PRIMARY KEY, \
                 wallet text NOT NULL, risk_score double precision NOT NULL, \
                 alert_level text NOT NULL, network_size bigint NOT NULL, \
                 analysed_at timestamptz NOT NULL DEFAULT now())",
            )
            .execute(pool.inner())
            .await?;
            println!("storing reports in PostgreSQL (DATABASE_URL), table scanner_reports");
            Some(pool)
        }
        Err(_) => {
            println!("DATABASE_URL not set: reports are not stored");
            None
        }
    };
    let profiles = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let client = redis::Client::open(url)?;
            let manager = client.get_connection_manager().await?;
            println!("caching wallet profiles in Redis (REDIS_URL) for {PROFILE_TTL_SECONDS} s");
            Some(TracedConnection::new(manager, client.get_connection_info()))
        }
        Err(_) => {
            println!("REDIS_URL not set: wallet profiles are not cached");
            None
        }
    };
    Ok(Storage { reports, profiles })
}

// --- 3. pattern detection -----------------------------------------------------------------

#[traced(operation = "pattern.detect")]
async fn detect(pattern: &'static str, wallet: &str, profile: &WalletProfile) -> Detection {
    io(2 + pattern.len() as u64 % 4).await;
    let youth = if profile.age_days < 120 { 0.3 } else { 0.0 };
    let confidence = (score_of(wallet, pattern) * 0.7 + youth).min(0.99);
    godtrace::set_attribute("pattern.type", pattern);
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    godtrace::set_attribute("detection.confidence", (confidence * 100.0).round() / 100.0);
    Detection {
        pattern,
        confidence,
    }
}

/// The three detectors run concurrently; each is its own child span.
async fn detect_patterns(wallet: &str, profile: &WalletProfile) -> Vec<Detection> {
    let (insider, sybil, wash) = tokio::join!(
        detect("dev_insider", wallet, profile),
        detect("sybil_army", wallet, profile),
        detect("wash_trading", wallet, profile),
    );
    vec![insider, sybil, wash]
}

// --- 4. risk scoring ----------------------------------------------------------------------

#[traced(operation = "alert.dispatch")]
async fn dispatch_alert(wallet: &str, level: AlertLevel) {
    io(1).await;
    godtrace::add_event(
        "alert.raised",
        [
            ("alert.level", level.as_str().into()),
            ("wallet.address", wallet.to_owned().into()),
        ],
    );
    godtrace::metrics::record_counter(
        "scanner.alerts.total",
        1,
        &[KeyValue::new("alert.level", level.as_str())],
    );
}

#[traced(operation = "risk.score")]
async fn score_risk(wallet: &str, profile: &WalletProfile, detections: &[Detection]) -> f64 {
    let strongest = detections
        .iter()
        .map(|d| d.confidence)
        .fold(0.0_f64, f64::max);
    let activity = (f64::from(profile.transactions) / 900.0).min(1.0);
    let score = ((strongest * 80.0 + activity * 20.0) * 10.0).round() / 10.0;
    let level = AlertLevel::from_score(score);
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    godtrace::set_attribute("risk.score", score);
    godtrace::set_attribute("alert.level", level.as_str());
    if let Some(top) = detections
        .iter()
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
    {
        godtrace::set_attribute("pattern.type", top.pattern);
    }
    if matches!(level, AlertLevel::High | AlertLevel::Critical) {
        dispatch_alert(wallet, level).await;
    }
    score
}

// --- 5. graph traversal -------------------------------------------------------------------

#[traced(operation = "graph.hop")]
async fn hop(depth: u32, frontier: Vec<String>) -> Vec<String> {
    io(2).await;
    let next: Vec<String> = frontier
        .iter()
        .flat_map(|w| {
            let fan_out = 1 + (score_of(w, "fan") * 3.0) as usize;
            (0..fan_out).map(move |i| format!("{}{i}", &w[..w.len().min(6)]))
        })
        .collect();
    godtrace::set_attribute("graph.depth", i64::from(depth));
    godtrace::set_attribute("nodes.discovered", next.len() as i64);
    next
}

#[traced(operation = "graph.traverse")]
async fn traverse(start: &str, funded_by: &str, max_depth: u32) -> usize {
    godtrace::set_attribute("wallet.address", start.to_owned());
    godtrace::set_attribute("graph.depth", i64::from(max_depth));
    let mut frontier = vec![start.to_owned(), funded_by.to_owned()];
    let mut discovered = 0;
    for depth in 1..=max_depth {
        // Each hop runs as its own task and still nests under this span.
        frontier = tokio::spawn(hop(depth, frontier))
            .await
            .expect("graph hop task");
        discovered += frontier.len();
    }
    godtrace::set_attribute("nodes.discovered", discovered as i64);
    discovered
}

// --- the pipeline -------------------------------------------------------------------------

/// One transaction through every stage; the root span of its trace.
#[traced(operation = "scanner.full_analysis")]
async fn full_analysis(signature: &str, wallet: &str, token: &str) -> Result<Report, ScanError> {
    godtrace::set_attribute("transaction.signature", signature.to_owned());
    godtrace::set_attribute("wallet.address", wallet.to_owned());
    let outcome = pipeline(signature, wallet, token).await;
    if let (Ok(report), Some(pool)) = (&outcome, STORAGE.get().and_then(|s| s.reports.as_ref()))
        && let Err(e) = store_report(pool, signature, wallet, report).await
    {
        println!("storing the report failed: {e}");
    }
    report(wallet, &outcome);
    outcome
}

async fn pipeline(signature: &str, wallet: &str, token: &str) -> Result<Report, ScanError> {
    analyze_transaction(signature, wallet, token).await;
    let profile = analyze_wallet(wallet).await?;
    let detections = detect_patterns(wallet, &profile).await;
    let risk_score = score_risk(wallet, &profile, &detections).await;
    let network_size = traverse(wallet, profile.funded_by, 3).await;
    Ok(Report {
        risk_score,
        alert: AlertLevel::from_score(risk_score),
        network_size,
    })
}

/// Prints the outcome with the trace id, and the Jaeger link when traces are exported.
fn report(wallet: &str, outcome: &Result<Report, ScanError>) {
    let short = format!("{}…{}", &wallet[..4], &wallet[wallet.len() - 4..]);
    match outcome {
        Ok(r) => println!(
            "{short}: risk {:.1} {} ({} wallets in its funding graph)",
            r.risk_score,
            r.alert.as_str(),
            r.network_size
        ),
        Err(e) => println!("{short}: analysis failed: {e}"),
    }
    if let Some(trace_id) = godtrace::trace_id() {
        println!("  trace id: {trace_id}");
    }
    if godtrace::links::is_exporting()
        && let Some(url) = godtrace::links::trace_url()
    {
        println!("  view at:  {url}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = godtrace::Config::new("transaction-pipeline")
        .verbose(true)
        .with_env();
    let _guard = godtrace::init(config)?;
    let storage = connect_storage().await?;
    let _ = STORAGE.set(storage);
    let mut failed = 0;
    for (signature, wallet, token) in TRANSACTIONS {
        if full_analysis(signature, wallet, token).await.is_err() {
            failed += 1;
        }
    }
    println!(
        "{} transactions analysed, {failed} failed",
        TRANSACTIONS.len()
    );
    Ok(())
}
