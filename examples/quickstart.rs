//! The scanner pipeline in miniature: monitor → wallet analysis → pattern detection → risk
//! scoring, async, with one wallet whose analysis fails.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//! With no collector configured, each finished trace prints to stderr as a tree.
use godtrace::traced;
use std::time::Duration;

#[derive(Debug)]
struct Profile {
    transactions: u32,
}

#[derive(Debug)]
enum AnalysisError {
    RpcTimeout { wallet: String },
}

impl std::fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalysisError::RpcTimeout { wallet } => write!(f, "RPC timed out for {wallet}"),
        }
    }
}

#[traced(operation = "wallet.analyze", include_args, include_result)]
async fn analyze_wallet(wallet: &str) -> Result<Profile, AnalysisError> {
    tokio::time::sleep(Duration::from_millis(8)).await;
    if wallet.starts_with("bad") {
        return Err(AnalysisError::RpcTimeout {
            wallet: wallet.to_owned(),
        });
    }
    Ok(Profile {
        transactions: wallet.len() as u32 * 7,
    })
}

#[traced(operation = "pattern.detect", include_args)]
async fn detect_patterns(transactions: u32) -> Vec<&'static str> {
    tokio::time::sleep(Duration::from_millis(4)).await;
    godtrace::set_attribute("pattern.type", "wash_trading");
    godtrace::set_attribute("detection.confidence", 0.87);
    if transactions > 50 {
        vec!["wash_trading"]
    } else {
        vec![]
    }
}

#[traced(operation = "risk.score", include_result)]
fn score_risk(patterns: &[&str]) -> f64 {
    let score = 0.2 + 0.3 * patterns.len() as f64;
    godtrace::set_attribute("risk.score", score);
    score
}

#[traced(operation = "transaction.monitor", include_args, skip(signature))]
async fn monitor(signature: &str, wallet: &str) -> Result<f64, AnalysisError> {
    godtrace::set_attribute("transaction.signature", signature.to_owned());
    let profile = analyze_wallet(wallet).await?;
    let patterns = detect_patterns(profile.transactions).await;
    let score = score_risk(&patterns);
    if score > 0.4 {
        godtrace::add_event("alert.raised", [("alert.level", "high".into())]);
    }
    Ok(score)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // With OTEL_EXPORTER_OTLP_ENDPOINT set, the traces go there instead of the tree.
    let config = godtrace::Config::new("quickstart").verbose(true).with_env();
    let _guard = godtrace::init(config)?;
    for (signature, wallet) in [
        ("5Yx…tx1", "7xKXtg2CW87d97TXJSDpbD5j"),
        ("3Fz…tx2", "bad-wallet"),
    ] {
        match monitor(signature, wallet).await {
            Ok(score) => println!("{wallet}: risk {score:.2}"),
            Err(e) => println!("{wallet}: {e}"),
        }
    }
    Ok(())
}
