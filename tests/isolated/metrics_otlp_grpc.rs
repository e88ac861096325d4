//! OTLP metrics over gRPC, received by tonic's generated server for the OTLP metrics service
//! (opentelemetry-proto), which decodes every request. Its own process: it needs its own
//! `init`. (fake-opentelemetry-collector does the same, but as a dev-dependency it changes
//! how rustc prints paths in the trybuild suite's expected errors.)
use godtrace::metrics::{record_counter, record_histogram};
use godtrace::otel::KeyValue;
use godtrace::{Config, MetricsConfig, Protocol, traced};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use std::time::{Duration, Instant};

use crate::support::otlp::metrics::{MetricsLog as Log, MetricsReceiver as Receiver};

/// Starts the receiver on the test's runtime; returns its endpoint.
async fn start_receiver(log: Log) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MetricsServiceServer::new(Receiver(log)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

#[traced(operation = "otlp_grpc.work")]
fn work(fail: bool) -> Result<(), std::fmt::Error> {
    if fail { Err(std::fmt::Error) } else { Ok(()) }
}

fn text(attrs: &[ProtoKeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The metric `name` in the last request that has it.
fn metric(requests: &[ExportMetricsServiceRequest], name: &str) -> Metric {
    requests
        .iter()
        .rev()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {requests:#?}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_reach_an_otlp_grpc_receiver() {
    crate::support::own_process!();
    let log = Log::default();
    let endpoint = start_receiver(log.clone()).await;
    let guard = godtrace::init(
        Config::new("metrics-otlp-grpc")
            .endpoint(endpoint)
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

    let deadline = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no metrics request arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = log.lock().unwrap().clone();
    let resource = requests[0].resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("metrics-otlp-grpc")
    );

    let duration = metric(&requests, "godtrace.operation.duration");
    assert_eq!(duration.unit, "s");
    let Some(Data::Histogram(histogram)) = &duration.data else {
        panic!("{duration:?}")
    };
    assert_eq!(histogram.aggregation_temporality, 2, "cumulative");
    let points: Vec<_> = histogram
        .data_points
        .iter()
        .filter(|p| text(&p.attributes, "operation").as_deref() == Some("otlp_grpc.work"))
        .collect();
    assert_eq!(points.len(), 2, "{points:#?}");
    let ok = points
        .iter()
        .find(|p| text(&p.attributes, "error.type").is_none())
        .unwrap();
    assert_eq!(ok.count, 2);
    assert_eq!(ok.attributes.len(), 1);
    assert_eq!(ok.explicit_bounds.first(), Some(&0.0001));
    assert_eq!(ok.explicit_bounds.len(), 16);
    assert_eq!(ok.bucket_counts.len(), 17);
    assert_eq!(ok.bucket_counts.iter().sum::<u64>(), 2);
    // Sampled calls carry their trace as exemplars, over OTLP too.
    assert!(!ok.exemplars.is_empty());
    assert!(
        ok.exemplars
            .iter()
            .all(|e| e.trace_id.len() == 16 && e.span_id.len() == 8)
    );
    let err = points
        .iter()
        .find(|p| text(&p.attributes, "error.type").as_deref() == Some("core::fmt::Error"))
        .unwrap();
    assert_eq!(err.count, 1);

    let orders = metric(&requests, "otlp.grpc.orders");
    let Some(Data::Sum(sum)) = &orders.data else {
        panic!("{orders:?}")
    };
    assert!(sum.is_monotonic);
    let eu = sum
        .data_points
        .iter()
        .find(|p| text(&p.attributes, "region").as_deref() == Some("eu"))
        .unwrap();
    assert_eq!(eu.value, Some(number_data_point::Value::AsDouble(5.0)));
    let amounts = metric(&requests, "otlp.grpc.amounts");
    let Some(Data::Histogram(amounts)) = &amounts.data else {
        panic!("{amounts:?}")
    };
    assert_eq!(amounts.data_points[0].sum, Some(7.5));

    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
}
