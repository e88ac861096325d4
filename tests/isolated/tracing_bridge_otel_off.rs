//! The `tracing` bridge with `Config::otel_context(false)`: godtrace's own spans are then not
//! made current in OpenTelemetry's context, and the tree still nests both ways.
use godtrace::{Config, testing, traced};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[traced(operation = "bridge.off.leaf")]
async fn leaf() {
    tokio::task::yield_now().await;
}

#[traced(operation = "bridge.off.root")]
async fn root() {
    // `leaf` is called (its span starts) inside the instrumented block.
    async { leaf().await }
        .instrument(tracing::info_span!("bridge.off.tracing"))
        .await;
    let _entered = tracing::info_span!("bridge.off.sync").entered();
    sync_leaf();
}

#[traced(operation = "bridge.off.sync_leaf")]
fn sync_leaf() {}

#[test]
fn the_bridge_nests_both_ways_without_otel_context() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("bridge-otel-off")
            .otel_context(false)
            .local_tree(false),
    )
    .expect("init");
    let c = testing::capture();
    let subscriber = tracing_subscriber::registry().with(godtrace::tracing::layer());
    let _subscriber = tracing::subscriber::set_default(subscriber);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(root());

    let parent_of = |name: &str| c.span(name).parent_span_id;
    let id = |name: &str| Some(c.span(name).span_id);
    assert_eq!(parent_of("bridge.off.tracing"), id("bridge.off.root"));
    assert_eq!(parent_of("bridge.off.leaf"), id("bridge.off.tracing"));
    assert_eq!(parent_of("bridge.off.sync"), id("bridge.off.root"));
    assert_eq!(parent_of("bridge.off.sync_leaf"), id("bridge.off.sync"));
    let trace = c.span("bridge.off.root").trace_id;
    assert!(c.spans().iter().all(|s| s.trace_id == trace));
}
