//! More spans than the queue holds: the excess is dropped and counted in `godtrace::stats()`,
//! and stderr says so once per interval, not once per span. Spans that end after shutdown has
//! begun are dropped too, and said to be for that reason.
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol};
use otlp_support::{Kind, Receiver, deliver};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "GODTRACE_FAULTS_OVERFLOW_CHILD";
const QUEUE: usize = 100;
const BATCH: usize = 10;
const CALLS: u64 = 2000;

/// Runs in a child process, whose stderr the parent reads.
fn overflow() {
    let receiver = Receiver::start(Kind::BlackHole);
    let guard = godtrace::init(
        Config::new("faults-overflow")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .timeout(Duration::from_secs(600))
            .max_queue_size(QUEUE)
            .max_export_batch_size(BATCH)
            .export_timeout(Duration::from_secs(1)),
    )
    .expect("init");
    for i in 0..CALLS {
        deliver::work_sync(i);
    }
    let spans = CALLS * deliver::SPANS_PER_CALL as u64;
    let stats = godtrace::stats();
    assert_eq!(stats.spans_queued + stats.spans_dropped, spans, "{stats:?}");
    // The queue holds QUEUE spans; at most two batches are in the exports that never end (the
    // OTLP exporter keeps two requests in flight), and at most QUEUE more wait encoded behind
    // them (taken while both requests are out, so that a slow answer does not fill the queue).
    assert!(
        stats.spans_dropped >= spans - (2 * QUEUE + 2 * BATCH) as u64,
        "{stats:?}"
    );
    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    assert!(
        shutdown <= Duration::from_secs(3),
        "shutdown took {shutdown:?}"
    );
    let stats = godtrace::stats();
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert_eq!(
        stats.spans_failed, stats.spans_queued,
        "what was queued is counted lost: {stats:?}"
    );
}

#[test]
fn a_full_queue_drops_counts_and_logs_once_per_interval() {
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        overflow();
        return;
    }
    let started = Instant::now();
    let (_, stderr) = run_child(
        "faults_overflow::a_full_queue_drops_counts_and_logs_once_per_interval",
        CHILD,
    );
    let elapsed = started.elapsed();
    let reports = stderr
        .lines()
        .filter(|l| l.contains("export queue full"))
        .count();
    // Reports come at most every 10 s (plus one at shutdown), whatever the number of drops.
    let allowed = 2 + (elapsed.as_secs() / 10) as usize;
    assert!(
        (1..=allowed).contains(&reports),
        "{reports} drop reports in {elapsed:?}:\n{stderr}"
    );
}

/// Runs `test` alone in a child process with `marker` set, and returns its stdout and stderr
/// once it has succeeded.
pub(crate) fn run_child(test: &str, marker: &str) -> (String, String) {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture"])
        .env(marker, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    // A deadlock guard: the child's work and its bounded shutdown take seconds.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the child did not finish within 120 s: shutdown is not bounded");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

const LATE_CHILD: &str = "GODTRACE_FAULTS_LATE_CHILD";

/// Runs in a child process: a span ends on another thread while the guard's drop waits for an
/// export that is never answered.
fn late_span() {
    let receiver = Receiver::start(Kind::BlackHole);
    let guard = godtrace::init(
        Config::new("faults-late")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .timeout(Duration::from_secs(600))
            .export_timeout(Duration::from_secs(1)),
    )
    .expect("init");
    deliver::work_sync(0);
    let (started, span_started) = std::sync::mpsc::channel();
    let late = std::thread::spawn(move || {
        let span = godtrace::span("ends.late");
        started.send(()).unwrap();
        // Ends while the guard's drop (from the span's start on) waits.
        std::thread::sleep(Duration::from_millis(300));
        drop(span);
    });
    span_started.recv().unwrap();
    // Waits for the export in flight (never answered) up to its timeout; the span ends then.
    drop(guard);
    late.join().unwrap();
    assert!(
        godtrace::stats().spans_dropped >= 1,
        "{:?}",
        godtrace::stats()
    );
}

#[test]
fn spans_ending_after_shutdown_began_are_said_to_be_dropped_for_it() {
    crate::support::own_process!();
    if std::env::var_os(LATE_CHILD).is_some() {
        late_span();
        return;
    }
    let (_, stderr) = run_child(
        "faults_overflow::spans_ending_after_shutdown_began_are_said_to_be_dropped_for_it",
        LATE_CHILD,
    );
    assert!(
        stderr.contains("dropped 1 span that ended after shutdown had begun (1 in all)"),
        "{stderr}"
    );
    // The queue held the one call's spans with room to spare: nothing says it was full.
    assert!(!stderr.contains("export queue full"), "{stderr}");
}
