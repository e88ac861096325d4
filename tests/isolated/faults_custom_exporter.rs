//! An exporter of the user's own (`Config::span_exporter`) that panics or blocks: the export
//! thread goes on, and every queued span is counted exported, failed or dropped once
//! shutdown has returned.
use godtrace::Config;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Panics on its first call (counting the spans it then held); counts the spans of the later
/// ones.
#[derive(Debug, Clone, Default)]
struct PanicsFirst {
    calls: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    exported: Arc<AtomicUsize>,
}

impl SpanExporter for PanicsFirst {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.lost.store(batch.len(), Ordering::SeqCst);
            panic!("exporter bug on its first batch");
        }
        self.exported.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

fn ten_spans() {
    for _ in 0..10 {
        let _span = godtrace::span("work");
    }
}

#[test]
fn a_panicking_exporter_fails_its_batch_and_exports_the_next() {
    crate::support::own_process!();
    let exporter = PanicsFirst::default();
    let guard = godtrace::init(
        Config::new("faults-custom-exporter")
            .span_exporter(exporter.clone())
            .max_export_batch_size(10),
    )
    .expect("init");
    ten_spans();
    guard.flush();
    ten_spans();
    guard.flush();
    drop(guard);
    let stats = godtrace::stats();
    let lost = exporter.lost.load(Ordering::SeqCst) as u64;
    let exported = exporter.exported.load(Ordering::SeqCst) as u64;
    // The first batch failed; the thread went on, and the later ones were exported.
    assert!(lost > 0 && lost < 20, "{lost}: {stats:?}");
    assert_eq!(lost + exported, 20, "{stats:?}");
    assert!(exporter.calls.load(Ordering::SeqCst) >= 2, "{stats:?}");
    assert_eq!(
        (
            stats.spans_queued,
            stats.spans_exported,
            stats.spans_failed,
            stats.spans_dropped
        ),
        (20, exported, lost, 0),
        "{stats:?}"
    );
    assert_eq!(stats.failed_exports, 1, "{stats:?}");
}

/// Blocks the export thread itself (a synchronous wait inside `export`), far past shutdown.
#[derive(Debug, Clone)]
struct Blocks;

impl SpanExporter for Blocks {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        std::thread::sleep(Duration::from_secs(5));
        Ok(())
    }
}

#[test]
fn spans_a_blocking_exporter_holds_at_shutdown_count_as_failed() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("faults-custom-exporter")
            .span_exporter(Blocks)
            .max_export_batch_size(10)
            .export_timeout(Duration::from_millis(300)),
    )
    .expect("init");
    ten_spans();
    ten_spans();
    drop(guard);
    let stats = godtrace::stats();
    assert_eq!(stats.spans_queued, 20, "{stats:?}");
    assert_eq!(
        stats.spans_exported + stats.spans_failed + stats.spans_dropped,
        20,
        "{stats:?}"
    );
    assert_eq!(stats.spans_failed, 20, "{stats:?}");
}
