//! OTLP/gRPC options end to end in process: metadata (code over environment), gzip, resource;
//! an error status.
use crate::support::otlp as otlp_support;
use godtrace::{Compression, Config, Protocol};
use otlp_support::{Kind, Receiver, deliver};

#[test]
fn grpc_exports_carry_headers_gzip_and_the_resource() {
    crate::support::own_process!();
    otlp_support::options::run(otlp_support::Kind::Grpc, "grpc");
}

#[test]
fn spans_a_grpc_receiver_rejects_are_failed_not_exported() {
    crate::support::own_process!();
    otlp_support::options::rejected_spans_count_as_failed(Kind::GrpcPartial, Protocol::Grpc);
}

#[test]
fn a_grpc_error_status_counts_the_spans_failed_not_exported() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::GrpcRefusing);
    let guard = godtrace::init(
        Config::new("grpc-refused")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .compression(Compression::Gzip),
    )
    .expect("init");
    for i in 0..10 {
        deliver::work_sync(i);
    }
    guard.flush();
    let stats = godtrace::stats();
    // The receiver decoded the (gzipped) requests, then refused them.
    let decoded: usize = receiver
        .sink
        .requests()
        .iter()
        .map(|r| r.span_names().len())
        .sum();
    assert_eq!(decoded as u64, stats.spans_queued, "{stats:?}");
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert_eq!(stats.spans_failed, stats.spans_queued, "{stats:?}");
    assert!(stats.failed_exports > 0, "{stats:?}");
    drop(guard);
}

/// The `tracing` bridge as the README installs it (every level, no filter) beside OTLP/gRPC:
/// the exporter's HTTP/2 client logs `tracing` spans of its own on the export thread (its
/// connection span is a root, `parent: None`), which must not be recorded. Before, each
/// export carried about 60 of them into the next, forever.
#[test]
fn the_grpc_exporter_does_not_trace_itself_through_the_tracing_bridge() {
    use tracing_subscriber::layer::SubscriberExt as _;
    crate::support::own_process!();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(godtrace::tracing::layer()),
    )
    .expect("the only subscriber of this process");
    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("grpc-bridge")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .schedule_delay(std::time::Duration::from_millis(100)),
    )
    .expect("init");
    for i in 0..3 {
        deliver::work_sync(i);
    }
    // Several schedule delays: an export that recorded its own spans would export them next.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    guard.flush();
    let stats = godtrace::stats();
    let names = receiver.sink.span_names();
    assert_eq!(
        names.len(),
        3 * deliver::SPANS_PER_CALL,
        "only the calls' spans, got: {:?}…",
        &names[..names.len().min(15)]
    );
    assert_eq!(stats.spans_queued, names.len() as u64, "{stats:?}");
    drop(guard);
}

#[test]
fn the_endpoints_user_info_is_sent_as_basic_credentials() {
    crate::support::own_process!();
    otlp_support::options::user_info_is_sent_as_basic_credentials(
        otlp_support::Kind::Grpc,
        godtrace::Protocol::Grpc,
    );
}
