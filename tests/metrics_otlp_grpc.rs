//! OTLP metrics over gRPC, received and decoded by `fake-opentelemetry-collector` (tonic's
//! generated server for the OTLP metrics service). Its own binary: it needs its own `init`.
use godtrace::otel::KeyValue;
use godtrace::{Config, MetricsConfig, Protocol, record_counter, record_histogram, traced};
use serde_json::Value;
use std::time::Duration;

#[traced(operation = "otlp_grpc.work")]
fn work(fail: bool) -> Result<(), std::fmt::Error> {
    if fail { Err(std::fmt::Error) } else { Ok(()) }
}

/// The metric named `name` in the last request that has it.
fn metric(requests: &[Value], name: &str) -> Value {
    requests
        .iter()
        .rev()
        .flat_map(|r| r["metrics"].as_array().cloned().unwrap_or_default())
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {requests:#?}"))
}

/// The data point whose attributes mention every one of `needles`, and no more attributes.
fn point(points: &Value, needles: &[&str]) -> Value {
    points
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            let attrs = p["attributes"].as_object().unwrap();
            attrs.len() == needles.len()
                && needles
                    .iter()
                    .all(|n| attrs.values().any(|v| v.as_str().unwrap().contains(n)))
        })
        .unwrap_or_else(|| panic!("no point with {needles:?} in {points:#}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_reach_an_otlp_grpc_receiver() {
    let mut collector = fake_opentelemetry_collector::FakeCollectorServer::start()
        .await
        .unwrap();
    let guard = godtrace::init(
        Config::new("metrics-otlp-grpc")
            .endpoint(collector.endpoint())
            .protocol(Protocol::Grpc)
            .local_tree(false)
            // Pushed on flush and at shutdown only, so the test decides when.
            .metrics(MetricsConfig::new().export_interval(Duration::from_secs(3600))),
    )
    .unwrap();
    work(false).unwrap();
    work(false).unwrap();
    work(true).unwrap_err();
    record_counter("otlp.grpc.orders", 2, &[KeyValue::new("region", "eu")]);
    record_counter("otlp.grpc.orders", 3, &[KeyValue::new("region", "eu")]);
    record_histogram("otlp.grpc.amounts", 7.5, &[]);
    // `flush` waits for the push: off the async worker.
    let guard = tokio::task::spawn_blocking(move || {
        guard.flush();
        guard
    })
    .await
    .unwrap();

    let received = collector.exported_metrics(1, Duration::from_secs(30)).await;
    let requests: Vec<Value> = received
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    assert!(!requests.is_empty(), "nothing received");

    let duration = metric(&requests, "godtrace.operation.duration");
    assert_eq!(duration["unit"], "s");
    let histogram = &duration["data"]["Histogram"];
    assert_eq!(histogram["aggregation_temporality"], 2, "cumulative");
    let ok = point(&histogram["data_points"], &["otlp_grpc.work"]);
    assert_eq!(ok["count"], 2);
    assert_eq!(ok["explicit_bounds"][0], 0.0001);
    assert_eq!(ok["explicit_bounds"].as_array().unwrap().len(), 16);
    assert_eq!(ok["bucket_counts"].as_array().unwrap().len(), 17);
    // Sampled calls carry their trace as exemplars, over OTLP too.
    let exemplar = &ok["exemplars"][0];
    assert_eq!(exemplar["trace_id"].as_str().unwrap().len(), 32, "{ok:#}");
    let err = point(
        &histogram["data_points"],
        &["otlp_grpc.work", "core::fmt::Error"],
    );
    assert_eq!(err["count"], 1);

    let orders = metric(&requests, "otlp.grpc.orders");
    let sum = &orders["data"]["Sum"];
    assert_eq!(sum["is_monotonic"], true);
    assert_eq!(
        point(&sum["data_points"], &["eu"])["value"]["AsDouble"],
        5.0
    );
    let amounts = metric(&requests, "otlp.grpc.amounts");
    assert_eq!(
        point(&amounts["data"]["Histogram"]["data_points"], &[])["sum"],
        7.5
    );

    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
}
