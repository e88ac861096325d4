//! End to end: a tree of `#[traced]` calls and `tracing` spans (through the bridge, feature
//! `tracing`) arrives in Phoenix as one trace, fields as attributes, events as events.
use crate::support::e2e as e2e_support;
use e2e_support::{named, names, unique_project};
use godtrace::{Protocol, traced};
use tracing_subscriber::layer::SubscriberExt as _;

#[traced(operation = "e2e.bridge.leaf")]
fn leaf() {}

#[traced(operation = "e2e.bridge.root")]
fn root() -> String {
    let query = tracing::info_span!("e2e.bridge.query", db.rows = 3u64, db.table = "wallets");
    query.in_scope(|| {
        tracing::info!(cache.hit = false, "cache looked up");
        leaf();
    });
    godtrace::trace_id().expect("inside the root")
}

#[test]
fn a_bridged_tree_arrives_with_fields_as_attributes_and_events() {
    crate::support::own_process!();
    let Some(phoenix) = e2e_support::phoenix() else {
        return;
    };
    let project = unique_project("tracing-bridge");
    let guard =
        godtrace::init(phoenix.config("godtrace-e2e-bridge", Protocol::HttpProtobuf, &project))
            .expect("init");
    let subscriber = tracing_subscriber::registry().with(godtrace::tracing::layer());
    let trace_id = tracing::subscriber::with_default(subscriber, root);
    guard.flush();

    let spans = phoenix.wait_for(&project, Some(&trace_id), |s| s.len() >= 3);
    assert_eq!(
        spans.len(),
        3,
        "trace {trace_id}: {:?} {:?}",
        names(&spans),
        godtrace::stats()
    );
    let (root, query, leaf) = (
        named(&spans, "e2e.bridge.root"),
        named(&spans, "e2e.bridge.query"),
        named(&spans, "e2e.bridge.leaf"),
    );
    assert_eq!(query["parent_id"], root["context"]["span_id"], "{query:#}");
    assert_eq!(leaf["parent_id"], query["context"]["span_id"], "{leaf:#}");
    let attrs = &query["attributes"];
    assert_eq!(attrs["db.rows"], 3, "{attrs:#}");
    assert_eq!(attrs["db.table"], "wallets", "{attrs:#}");
    let events = query["events"].as_array().expect("events array");
    let lookup = events
        .iter()
        .find(|e| e["name"] == "cache looked up")
        .unwrap_or_else(|| panic!("no event: {query:#}"));
    assert_eq!(lookup["attributes"]["cache.hit"], false, "{lookup:#}");
    assert_eq!(lookup["attributes"]["level"], "INFO", "{lookup:#}");
    drop(guard);
}
