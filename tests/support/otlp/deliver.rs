//! Shutdown and flush deliver every recorded span, whatever runtime (or none) the guard is
//! dropped on: the same small workload for each of the runtime shapes.
use super::{Kind, Receiver};
use godtrace::{Config, Guard, Protocol, traced};
use std::time::Duration;

/// Spans recorded by [`work_sync`] or [`work_async`] per call.
pub const SPANS_PER_CALL: usize = 3;

/// Starts a receiver of `kind` and `init`s godtrace to export to it. Only flush and shutdown
/// send (the schedule delay is long), so what arrives is what they delivered.
pub fn start(kind: Kind, protocol: Protocol) -> (Receiver, Guard) {
    let receiver = Receiver::start(kind);
    let guard = godtrace::init(
        Config::new("faults-deliver")
            .endpoint(receiver.endpoint())
            .protocol(protocol)
            .max_queue_size(20_000)
            .schedule_delay(Duration::from_secs(600))
            .export_timeout(Duration::from_secs(30)),
    )
    .expect("init");
    (receiver, guard)
}

#[traced(operation = "deliver.child")]
fn child(i: u64) -> u64 {
    i + 1
}

#[traced(operation = "deliver.sync")]
pub fn work_sync(i: u64) -> u64 {
    child(i) + child(i)
}

#[traced(operation = "deliver.leaf")]
async fn leaf(i: u64) -> u64 {
    tokio::task::yield_now().await;
    i + 1
}

#[traced(operation = "deliver.async")]
pub async fn work_async(i: u64) -> u64 {
    let spawned = tokio::spawn(leaf(i));
    leaf(i).await + spawned.await.unwrap()
}

/// Fails unless exactly `expected` spans arrived, all counted as exported.
pub fn check(receiver: &Receiver, expected: usize, shape: &str) {
    let arrived = receiver
        .sink
        .wait_for_spans(expected, Duration::from_secs(10));
    assert_eq!(arrived, expected, "{shape}: spans that arrived");
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, expected as u64, "{shape}: {stats:?}");
    assert_eq!(
        stats.spans_dropped + stats.spans_failed,
        0,
        "{shape}: {stats:?}"
    );
    println!("ok: {shape}: shutdown delivered {arrived} of {expected} spans");
}

/// Ends the process with a failure if the test is still running after `limit` (a deadlock
/// guard for the tests that run as their own `main`).
pub fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("still running after {limit:?}: deadlock");
        std::process::exit(101);
    });
}
