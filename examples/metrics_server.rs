//! A small service whose traced operations are scraped by Prometheus.
//!
//! ```text
//! cargo run --example metrics_server                    # serves http://127.0.0.1:9464/metrics
//! GODTRACE_PROMETHEUS_LISTEN=0.0.0.0:9464 cargo run --example metrics_server -- --seconds 60
//! ```
//!
//! Three operations run in a loop: `shop.inventory` and `shop.checkout` always succeed,
//! `shop.payment` fails one call in four (`checkout` retries it, so it still succeeds). Every
//! call lands in `godtrace_operation_duration_seconds`; failures carry `error_type`, and each
//! bucket in the OpenMetrics exposition links to the trace of a recent call.
//! The end-to-end test (`tests/e2e/metrics_prometheus_e2e.rs`) runs this against a real Prometheus.
use godtrace::metrics::{prometheus_addr, record_counter};
use godtrace::otel::KeyValue;
use godtrace::{Config, MetricsConfig, traced};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct PaymentDeclined;

impl std::fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payment declined")
    }
}

impl std::error::Error for PaymentDeclined {}

#[traced(operation = "shop.inventory")]
fn inventory(item: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    item % 7
}

#[traced(operation = "shop.payment")]
fn payment(attempt: u64) -> Result<(), PaymentDeclined> {
    std::thread::sleep(Duration::from_millis(1));
    if attempt.is_multiple_of(4) {
        Err(PaymentDeclined)
    } else {
        Ok(())
    }
}

#[traced(operation = "shop.checkout")]
fn checkout(order: u64, attempts: &mut u64) -> Result<u64, PaymentDeclined> {
    let stock = inventory(order);
    loop {
        *attempts += 1;
        if payment(*attempts).is_ok() {
            break;
        }
    }
    record_counter("shop.orders", 1, &[KeyValue::new("in_stock", stock > 0)]);
    Ok(stock)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map(|s| s.parse::<u64>())
        .transpose()?;
    let mut metrics = MetricsConfig::new();
    if std::env::var_os("GODTRACE_PROMETHEUS_LISTEN").is_none() {
        metrics = metrics.prometheus_listen("127.0.0.1:9464");
    }
    let _guard = godtrace::init(
        Config::from_env()
            .service_name("metrics-server")
            .local_tree(false)
            .metrics(metrics),
    )?;
    let addr = prometheus_addr().ok_or("no Prometheus endpoint configured")?;
    println!("serving http://{addr}/metrics");
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let (mut order, mut attempts) = (0, 0);
    while deadline.is_none_or(|d| Instant::now() < d) {
        order += 1;
        checkout(order, &mut attempts)?;
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
