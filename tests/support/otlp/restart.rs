//! No backend at start, then up, then down, then up again: what is recorded while the backend
//! is up arrives, the rest is counted as failed, and nothing ever blocks the application; a
//! batch sent while the backend restarts waits for it.
use super::{Kind, Receiver, free_port};
use godtrace::{Config, Protocol};
use std::time::Duration;

fn record(name: &'static str, n: usize) {
    for i in 0..n {
        let span = godtrace::span(name);
        span.set_attribute("i", i as i64);
    }
}

fn count(receiver: &Receiver, name: &str) -> usize {
    receiver
        .sink
        .span_names()
        .iter()
        .filter(|n| *n == name)
        .count()
}

pub fn run(kind: Kind, protocol: Protocol) {
    let mut receiver = Receiver::stopped(kind, free_port());
    let guard = godtrace::init(
        Config::new("faults-restart")
            .endpoint(receiver.endpoint())
            .protocol(protocol)
            .timeout(Duration::from_secs(2))
            .schedule_delay(Duration::from_millis(50)),
    )
    .expect("init succeeds while the backend is down");

    record("before", 10);
    guard.flush();
    let stats = godtrace::stats();
    assert_eq!(
        (stats.spans_failed, stats.spans_exported),
        (10, 0),
        "{stats:?}"
    );

    receiver.restart();
    record("while_up", 20);
    guard.flush();
    assert_eq!(
        receiver.sink.wait_for_spans(20, Duration::from_secs(30)),
        20
    );

    receiver.stop();
    record("while_down", 5);
    guard.flush();
    let stats = godtrace::stats();
    assert_eq!(stats.spans_failed, 15, "{stats:?}");

    receiver.restart();
    record("after_restart", 30);
    guard.flush();
    receiver.sink.wait_for_spans(50, Duration::from_secs(30));
    assert_eq!(count(&receiver, "after_restart"), 30);
    assert_eq!(count(&receiver, "while_up"), 20);
    assert_eq!(
        count(&receiver, "before") + count(&receiver, "while_down"),
        0
    );
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, 50, "{stats:?}");
    assert_eq!(stats.spans_dropped, 0, "{stats:?}");

    // Down when a batch goes out, up again within the request's timeout: the batch waits for
    // it (connected to again with a backoff) and arrives; nothing is lost to the restart.
    receiver.stop();
    record("across_restart", 10);
    std::thread::sleep(Duration::from_millis(300));
    receiver.restart();
    guard.flush();
    receiver.sink.wait_for_spans(60, Duration::from_secs(30));
    assert_eq!(count(&receiver, "across_restart"), 10);
    let stats = godtrace::stats();
    assert_eq!(
        (stats.spans_exported, stats.spans_failed),
        (60, 15),
        "{stats:?}"
    );
    drop(guard);
}
