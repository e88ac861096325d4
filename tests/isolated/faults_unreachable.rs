//! A backend that accepts connections and never answers: traced calls never wait for it, and
//! flush and shutdown return within the configured export timeout.
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol};
use otlp_support::{Kind, Receiver, deliver, returns_within};
use std::time::{Duration, Instant};

/// The configured bound, and the slack allowed over it for scheduling on a loaded machine.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_secs(2);

#[test]
fn a_silent_backend_blocks_no_call_and_shutdown_keeps_its_bound() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::BlackHole);
    let guard = godtrace::init(
        Config::new("faults-unreachable")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            // One request may hang far longer than flush and shutdown may take.
            .timeout(Duration::from_secs(600))
            .max_export_batch_size(10)
            .schedule_delay(Duration::from_millis(10))
            .export_timeout(EXPORT_TIMEOUT),
    )
    .expect("init");

    // The export thread is soon stuck in a request that never ends; the calls go on.
    let guard = returns_within(Duration::from_secs(60), move || {
        for i in 0..2000 {
            deliver::work_sync(i);
        }
        guard
    });
    let stats = godtrace::stats();
    assert_eq!(stats.exports + stats.failed_exports, 0, "{stats:?}");
    assert_eq!(stats.spans_queued + stats.spans_dropped, 6000, "{stats:?}");

    let started = Instant::now();
    guard.flush();
    let flush = started.elapsed();
    assert!(flush <= EXPORT_TIMEOUT + SLACK, "flush took {flush:?}");

    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    assert!(
        shutdown <= EXPORT_TIMEOUT + SLACK,
        "shutdown took {shutdown:?}"
    );
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert_eq!(receiver.sink.span_count(), 0);
}

/// No collector at all (nothing listens on the port): the export is tried again with a backoff
/// while the process runs (a collector restarting), but shutdown does not wait for it, nor does
/// the metrics thread's last push: a process without its collector still exits at once.
#[test]
fn without_a_collector_shutdown_does_not_wait_for_one() {
    crate::support::own_process!();
    let port = crate::support::otlp::free_port();
    let guard = godtrace::init(
        Config::new("faults-no-collector")
            .endpoint(format!("http://127.0.0.1:{port}"))
            .protocol(Protocol::HttpProtobuf)
            // Retries could go on for most of this.
            .timeout(Duration::from_secs(60))
            .schedule_delay(Duration::from_millis(10))
            .export_timeout(Duration::from_secs(60)),
    )
    .expect("init");
    for i in 0..100 {
        deliver::work_sync(i);
    }
    // The batch went out, was refused, and is being tried again.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(godtrace::stats().spans_failed, 0, "{:?}", godtrace::stats());

    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    assert!(shutdown <= SLACK, "shutdown took {shutdown:?}");
    let stats = godtrace::stats();
    assert_eq!(stats.spans_failed, 300, "{stats:?}");
}

/// A backend that accepts and never answers, at shutdown: the first requests run out their
/// request timeout, and the batches behind them are counted failed at once (each batch waited
/// a request timeout of its own, two at a time, up to the export timeout).
fn silent_backend_at_shutdown(protocol: Protocol) {
    let request_timeout = Duration::from_millis(1500);
    let receiver = Receiver::start(Kind::BlackHole);
    let guard = godtrace::init(
        Config::new("faults-unreachable-shutdown")
            .endpoint(receiver.endpoint())
            .protocol(protocol)
            .timeout(request_timeout)
            .max_export_batch_size(10)
            .schedule_delay(Duration::from_secs(600))
            .export_timeout(Duration::from_secs(60)),
    )
    .expect("init");
    // 120 spans: 12 batches.
    for i in 0..40 {
        deliver::work_sync(i);
    }
    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    assert!(
        shutdown < request_timeout * 3,
        "{protocol:?}: shutdown took {shutdown:?}"
    );
    let stats = godtrace::stats();
    assert_eq!(stats.spans_failed, 120, "{protocol:?}: {stats:?}");
}

#[test]
fn a_silent_backend_holds_shutdown_for_one_request_timeout_over_http() {
    crate::support::own_process!();
    silent_backend_at_shutdown(Protocol::HttpProtobuf);
}

#[test]
fn a_silent_backend_holds_shutdown_for_one_request_timeout_over_grpc() {
    crate::support::own_process!();
    silent_backend_at_shutdown(Protocol::Grpc);
}

/// Set in the child process of the test below.
const SILENT_CHILD: &str = "GODTRACE_TEST_SILENT_BACKEND_CHILD";

/// The report of a shutdown that gave up says so after the failure it followed (the second
/// request in flight, failing later, left only its own "no answer" in the report, which read
/// as if every batch had waited its timeout).
#[test]
fn a_shutdown_that_gave_up_says_the_rest_were_not_sent() {
    crate::support::own_process!();
    if std::env::var_os(SILENT_CHILD).is_some() {
        silent_backend_at_shutdown(Protocol::HttpProtobuf);
        return;
    }
    let (_, stderr) = crate::faults_overflow::run_child(
        "faults_unreachable::a_shutdown_that_gave_up_says_the_rest_were_not_sent",
        SILENT_CHILD,
    );
    let last = stderr
        .lines()
        .rfind(|line| line.starts_with("godtrace: could not export"))
        .unwrap_or_else(|| panic!("no failure reported: {stderr}"));
    assert!(last.contains("no answer within"), "{stderr}");
    assert!(
        last.ends_with(
            "; then the rest were not sent: the receiver did not answer during shutdown"
        ),
        "{stderr}"
    );
}
