//! The scenario both transports run: a three-level tree with async children on other tokio
//! threads, typed attributes, an event, and a failed call; then every part is read back from
//! the backend.
use super::{Phoenix, named, names, unique_project};
use godtrace::{Protocol, traced};
use serde_json::Value as Json;
use std::time::Duration;

#[traced(operation = "e2e.leaf")]
async fn leaf(i: i64) -> i64 {
    // Hop threads: resumed by whichever worker is free.
    tokio::time::sleep(Duration::from_millis(2)).await;
    godtrace::set_attribute("item.index", i);
    godtrace::set_attribute("item.price", 2.5);
    godtrace::set_attribute("item.fresh", i % 2 == 0);
    godtrace::set_attribute("item.label", format!("item-{i}"));
    godtrace::set_attribute("thread.name", thread_name());
    i * 2
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

#[traced(operation = "e2e.middle")]
async fn middle() -> i64 {
    godtrace::add_event(
        "cache.miss",
        [
            ("cache.key", "wallet:7xKX".into()),
            ("cache.shard", 3_i64.into()),
        ],
    );
    // Each leaf starts here (so its parent is this span) and runs as its own task.
    let tasks: Vec<_> = (0..3).map(|i| tokio::spawn(leaf(i))).collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("leaf task");
    }
    total
}

#[traced(operation = "e2e.root")]
async fn root() -> (i64, String) {
    let trace_id = godtrace::trace_id().expect("inside the root span");
    godtrace::set_attribute("thread.name", thread_name());
    (middle().await, trace_id)
}

#[traced(operation = "e2e.pay")]
fn pay() -> Result<(), String> {
    Err("card declined: insufficient funds".to_owned())
}

/// Exports the scenario over `protocol` and checks what the backend stored.
pub fn run(phoenix: &Phoenix, protocol: Protocol, suite: &str) {
    let project = unique_project(suite);
    let guard = godtrace::init(phoenix.config("godtrace-e2e", protocol, &project)).expect("init");
    let runtime = crate::support::two_worker_runtime();
    // The root and middle spans run on this thread (block_on); each leaf is a task on one of
    // the runtime's worker threads.
    let (total, trace_id) = runtime.block_on(root());
    assert_eq!(total, 6);
    assert!(pay().is_err());
    guard.flush();
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, 6, "{stats:?}");
    assert_eq!(stats.spans_failed + stats.spans_dropped, 0, "{stats:?}");

    let spans = phoenix.wait_for(&project, Some(&trace_id), |s| s.len() >= 5);
    assert_eq!(
        spans.len(),
        5,
        "trace {trace_id} in project {project}: {:?}",
        names(&spans)
    );
    check_tree(&spans, &trace_id);
    check_leaf_attributes(&spans);
    check_event(named(&spans, "e2e.middle"));

    let all = phoenix.wait_for(&project, None, |s| s.len() >= 6);
    let pay = named(&all, "e2e.pay");
    assert_eq!(pay["status_code"], "ERROR", "{pay:#}");
    assert_eq!(pay["status_message"], "card declined: insufficient funds");
    assert_ne!(pay["context"]["trace_id"], trace_id.as_str());
    drop(guard);
}

fn check_tree(spans: &[Json], trace_id: &str) {
    let root = named(spans, "e2e.root");
    let middle = named(spans, "e2e.middle");
    for s in spans {
        assert_eq!(s["context"]["trace_id"], trace_id, "{s:#}");
    }
    assert!(root["parent_id"].is_null(), "root has a parent: {root:#}");
    assert_eq!(middle["parent_id"], root["context"]["span_id"]);
    let leaves: Vec<&Json> = spans.iter().filter(|s| s["name"] == "e2e.leaf").collect();
    assert_eq!(leaves.len(), 3);
    for leaf in leaves {
        assert_eq!(leaf["parent_id"], middle["context"]["span_id"], "{leaf:#}");
        assert_ne!(
            leaf["attributes"]["thread.name"], root["attributes"]["thread.name"],
            "the leaf ran on another thread"
        );
    }
}

fn check_leaf_attributes(spans: &[Json]) {
    let leaf = spans
        .iter()
        .find(|s| s["name"] == "e2e.leaf" && s["attributes"]["item.index"] == 1)
        .unwrap_or_else(|| panic!("no leaf with integer item.index = 1: {spans:#?}"));
    let attrs = &leaf["attributes"];
    assert!(attrs["item.index"].is_i64(), "int stays int: {attrs:#}");
    assert_eq!(attrs["item.price"].as_f64(), Some(2.5), "{attrs:#}");
    assert_eq!(attrs["item.fresh"], false, "{attrs:#}");
    assert_eq!(attrs["item.label"], "item-1", "{attrs:#}");
}

fn check_event(middle: &Json) {
    let events = middle["events"].as_array().expect("events array");
    let miss = events
        .iter()
        .find(|e| e["name"] == "cache.miss")
        .unwrap_or_else(|| panic!("no cache.miss event: {middle:#}"));
    assert_eq!(miss["attributes"]["cache.key"], "wallet:7xKX", "{miss:#}");
    assert_eq!(miss["attributes"]["cache.shard"], 3, "{miss:#}");
}
