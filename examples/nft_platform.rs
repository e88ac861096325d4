//! The platform guide's workflows: artist onboarding, NFT minting with watermark and
//! zero-knowledge proof checks, and royalty distribution on a secondary-market sale — one
//! trace each, with counters and histograms recorded along the way. The second track's
//! watermark has been tampered with, so its minting fails.
//!
//! ```text
//! cargo run --example nft_platform
//! ```
//! With no collector configured, each trace prints to stderr as a tree with its attributes,
//! and the metrics recorded are listed at the end. With `OTEL_EXPORTER_OTLP_ENDPOINT` set
//! (e.g. `http://localhost:4318` for the docker-compose stack), the Jaeger link of each
//! workflow is printed instead.
use godtrace::metrics::{MetricPoints, record_counter, record_histogram};
use godtrace::otel::KeyValue;
use godtrace::traced;
use std::fmt;
use std::time::{Duration, Instant};

struct Artist {
    id: &'static str,
    wallet: &'static str,
    kyc_level: i64,
}

struct Track {
    id: &'static str,
    title: &'static str,
    /// The watermark the audio actually carries, and whether it was re-encoded since.
    watermark: &'static str,
    tampered: bool,
    proof_chain_id: &'static str,
}

struct Sale {
    token_id: String,
    marketplace_contract: &'static str,
    price_eth: f64,
}

#[derive(Debug)]
enum PlatformError {
    WatermarkTampered {
        track: &'static str,
        confidence: f64,
    },
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::WatermarkTampered { track, confidence } => write!(
                f,
                "watermark of {track} does not verify (confidence {confidence:.2})"
            ),
        }
    }
}

impl std::error::Error for PlatformError {}

const CHAIN: &str = "polygon";

async fn io(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A fake transaction hash derived from its inputs.
fn tx_hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("0x{h:016x}{:016x}", h.rotate_left(29))
}

// --- artist onboarding --------------------------------------------------------------------

#[traced(operation = "verify_identity")]
async fn verify_identity(artist: &Artist) -> bool {
    io(6).await;
    godtrace::set_attribute("artist.id", artist.id);
    godtrace::set_attribute("artist.kyc_level", artist.kyc_level);
    godtrace::set_attribute("verification.status", "verified");
    record_counter("artist.verifications", 1, &[]);
    true
}

#[traced(operation = "connect_wallet")]
async fn connect_wallet(artist: &Artist) {
    io(3).await;
    godtrace::set_attribute("wallet.address", artist.wallet);
    godtrace::set_attribute("wallet.type", "metamask");
    godtrace::set_attribute("wallet.verified", true);
    record_counter(
        "wallet.connections",
        1,
        &[KeyValue::new("wallet.type", "metamask")],
    );
}

#[traced(operation = "award_badge")]
async fn award_badge(artist: &Artist) -> String {
    io(2).await;
    let badge = format!("badge_dcmx_{}", artist.id);
    godtrace::set_attribute("badge.id", badge.clone());
    record_counter("badges.awarded", 1, &[]);
    badge
}

#[traced(operation = "artist_onboarding")]
async fn onboard_artist(artist: &Artist) -> String {
    godtrace::set_attribute("artist.id", artist.id);
    let verified = verify_identity(artist).await;
    godtrace::set_attribute("artist.verified", verified);
    connect_wallet(artist).await;
    let badge = award_badge(artist).await;
    print_trace_link(&format!("onboarded {} ({badge})", artist.id));
    badge
}

// --- NFT minting --------------------------------------------------------------------------

#[traced(operation = "verify_watermark")]
async fn verify_watermark(track: &Track) -> Result<f64, PlatformError> {
    io(8).await;
    let confidence = if track.tampered { 0.41 } else { 0.98 };
    let valid = !track.tampered;
    godtrace::set_attribute("watermark.id", track.watermark);
    godtrace::set_attribute("watermark.valid", valid);
    godtrace::set_attribute("watermark.confidence", confidence);
    godtrace::set_attribute("watermark.tampered", track.tampered);
    record_histogram("watermark.confidence_score", confidence, &[]);
    if valid {
        Ok(confidence)
    } else {
        Err(PlatformError::WatermarkTampered {
            track: track.id,
            confidence,
        })
    }
}

#[traced(operation = "verify_zk_proof")]
async fn verify_zk_proof(track: &Track) -> bool {
    io(5).await;
    godtrace::set_attribute("proof.chain_id", track.proof_chain_id);
    godtrace::set_attribute("proof.valid", true);
    record_counter("zk_proofs.verified.total", 1, &[]);
    true
}

#[traced(operation = "blockchain_mint")]
async fn blockchain_mint(artist_id: &str, track: &Track, edition: i64) -> (String, String) {
    io(12).await;
    let tx = tx_hash(&[artist_id, track.id]);
    let token_id = format!("0x{}", &tx[2..10]);
    let gas_used = 180_000 + track.title.len() as i64 * 1_000;
    godtrace::set_attribute("blockchain.network", CHAIN);
    godtrace::set_attribute("blockchain.chain_id", 137);
    godtrace::set_attribute("tx.hash", tx.clone());
    godtrace::set_attribute("tx.gas_used", gas_used);
    godtrace::set_attribute("nft.token_id", token_id.clone());
    godtrace::set_attribute("nft.edition", edition);
    godtrace::set_attribute("nft.status", "minted");
    record_histogram(
        "nft.mint.gas_used",
        gas_used,
        &[KeyValue::new("chain", CHAIN)],
    );
    (tx, token_id)
}

#[traced(operation = "nft_minting_workflow")]
async fn mint_nft(artist_id: &str, track: &Track) -> Result<String, PlatformError> {
    let started = Instant::now();
    godtrace::set_attribute("artist.id", artist_id.to_owned());
    godtrace::set_attribute("track.id", track.id);
    godtrace::set_attribute("track.title", track.title);
    let outcome = async {
        verify_watermark(track).await?;
        verify_zk_proof(track).await;
        let (_tx, token_id) = blockchain_mint(artist_id, track, 1).await;
        record_counter("nft.mints.total", 1, &[KeyValue::new("chain", CHAIN)]);
        Ok(token_id)
    }
    .await;
    record_histogram(
        "nft.mint.duration_ms",
        started.elapsed().as_secs_f64() * 1e3,
        &[KeyValue::new(
            "outcome",
            if outcome.is_ok() {
                "minted"
            } else {
                "rejected"
            },
        )],
    );
    match &outcome {
        Ok(token) => print_trace_link(&format!("minted {} as {token}", track.id)),
        Err(e) => print_trace_link(&format!("minting {} failed: {e}", track.id)),
    }
    outcome
}

// --- secondary-market royalty -------------------------------------------------------------

#[traced(operation = "detect_marketplace")]
async fn detect_marketplace(sale: &Sale) -> &'static str {
    io(4).await;
    let name = match sale.marketplace_contract {
        "0x00000000000000ADc04C56Bf30aC9d3c0aAF14dC" => "opensea",
        _ => "unknown",
    };
    godtrace::set_attribute("marketplace.name", name);
    record_counter(
        "marketplace.sales.detected",
        1,
        &[KeyValue::new("marketplace", name)],
    );
    name
}

/// Pure arithmetic, no awaiting: a manual span is enough here.
fn calculate_royalty(sale: &Sale, percentage: f64) -> f64 {
    let span = godtrace::span("calculate_royalty");
    let amount = sale.price_eth * percentage / 100.0;
    span.set_attribute("royalty.amount", amount);
    span.set_attribute("royalty.percentage", percentage);
    record_histogram("royalty.amounts", amount, &[]);
    amount
}

#[traced(operation = "distribute_royalty")]
async fn distribute_royalty(token_id: &str, amount: f64) -> String {
    io(10).await;
    let tx = tx_hash(&[token_id, "royalty"]);
    godtrace::set_attribute("tx.hash", tx.clone());
    godtrace::set_attribute("royalty.amount", amount);
    godtrace::set_attribute("distribution.status", "completed");
    godtrace::add_event("payout.sent", [("royalty.amount_eth", amount.into())]);
    record_counter("royalties.distributed.total", 1, &[]);
    tx
}

#[traced(operation = "secondary_market_royalty")]
async fn handle_secondary_sale(sale: &Sale) -> f64 {
    godtrace::set_attribute("nft.token_id", sale.token_id.clone());
    godtrace::set_attribute("sale.price_eth", sale.price_eth);
    let marketplace = detect_marketplace(sale).await;
    let royalty = calculate_royalty(sale, 5.0);
    distribute_royalty(&sale.token_id, royalty).await;
    print_trace_link(&format!(
        "royalty of {royalty:.3} ETH paid for the {marketplace} sale of {}",
        sale.token_id
    ));
    royalty
}

// --- output -------------------------------------------------------------------------------

/// Prints what happened with the current trace's id, and its Jaeger link when traces are
/// exported (the guides print both after each workflow).
fn print_trace_link(what: &str) {
    println!("{what}");
    if let Some(id) = godtrace::trace_id() {
        println!("  trace id: {id}");
    }
    if godtrace::links::is_exporting()
        && let Some(url) = godtrace::links::trace_url()
    {
        println!("  view at:  {url}");
    }
}

/// Lists the counters and histograms the workflows recorded (`name{attributes} value`).
fn print_metrics() {
    let snapshot = godtrace::metrics::metrics_snapshot();
    println!("metrics:");
    for metric in snapshot.metrics() {
        if metric.name.starts_with("godtrace.") {
            continue; // the per-operation duration histogram every traced call feeds
        }
        match &metric.points {
            MetricPoints::Counter(points) => {
                for p in points {
                    println!(
                        "  counter   {}{} = {}",
                        metric.name,
                        labels(&p.attributes),
                        p.value
                    );
                }
            }
            MetricPoints::Histogram(points) => {
                for p in points {
                    println!(
                        "  histogram {}{} count={} sum={}",
                        metric.name,
                        labels(&p.attributes),
                        p.count,
                        p.sum
                    );
                }
            }
            _ => {}
        }
    }
}

fn labels(attributes: &[KeyValue]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = godtrace::Config::new("dcmx").verbose(true).with_env();
    let _guard = godtrace::init(config)?;

    let artist = Artist {
        id: "artist_123",
        wallet: "0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
        kyc_level: 2,
    };
    onboard_artist(&artist).await;

    let tracks = [
        Track {
            id: "track_001",
            title: "Midnight Frequencies",
            watermark: "wm_7f3a",
            tampered: false,
            proof_chain_id: "zkp_chain_51",
        },
        Track {
            id: "track_002",
            title: "Bootleg Echoes",
            watermark: "wm_0c19",
            tampered: true,
            proof_chain_id: "zkp_chain_52",
        },
    ];
    let mut minted = Vec::new();
    for track in &tracks {
        if let Ok(token_id) = mint_nft(artist.id, track).await {
            minted.push(token_id);
        }
    }

    for token_id in minted {
        let sale = Sale {
            token_id,
            marketplace_contract: "0x00000000000000ADc04C56Bf30aC9d3c0aAF14dC",
            price_eth: 2.5,
        };
        handle_secondary_sale(&sale).await;
    }

    print_metrics();
    Ok(())
}
