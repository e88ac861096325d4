//! A child that `fork` makes of a process recording on several threads: it records nothing,
//! never waits on a lock a thread of the parent held at the fork (those threads are not in the
//! child), and its flush and shutdown return at once (the export thread is not there either).
use crate::attribute_limit::Discard;
use crate::support::otlp::deliver;
use godtrace::otel::trace::Tracer;
use godtrace::{Config, Protocol};
use std::io::{Read as _, Write as _};
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a child may take, at most, on a loaded machine: recording 2,000 calls, a flush and a
/// shutdown. Without fork handling, the flush alone waits for the 30 s export timeout.
const CHILD_BOUND: Duration = Duration::from_secs(20);

#[test]
fn a_forked_child_records_nothing_and_waits_for_nothing() {
    crate::support::own_process!();
    let port = crate::support::otlp::free_port();
    let guard = godtrace::init(
        Config::new("fork")
            .endpoint(format!("http://127.0.0.1:{port}"))
            .protocol(Protocol::HttpProtobuf)
            .max_queue_size(64)
            .max_export_batch_size(8)
            .schedule_delay(Duration::from_millis(1))
            // An endpoint the parent runs and the child does not hold.
            .metrics(godtrace::MetricsConfig::new().prometheus_listen("127.0.0.1:0")),
    )
    .expect("init");
    assert!(godtrace::metrics::prometheus_addr().is_some());
    let mut guard = ManuallyDrop::new(guard);
    // Two threads record all along: at a fork, they may hold the queue's lock.
    let stop = Arc::new(AtomicBool::new(false));
    let recorders: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    deliver::work_sync(i);
                    // New series all along: the registry's locks are taken for writing.
                    let attribute = godtrace::otel::KeyValue::new("n", (i % 4096) as i64);
                    godtrace::metrics::record_counter("fork.calls", 1, &[attribute]);
                    // A library's span through OpenTelemetry's global tracer, and a read
                    // that takes the metrics' lifecycle lock.
                    godtrace::otel::global::tracer("library").in_span("library.op", |_| ());
                    let _ = godtrace::metrics::prometheus_addr();
                    i += 1;
                }
            })
        })
        .collect();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(5));
        // SAFETY: the child runs only what follows, which takes no lock a parent's thread
        // may hold but through godtrace (what this test is about) and the allocator (which
        // glibc makes usable after fork), then ends with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let sum: u64 = (0..2000).map(deliver::work_sync).sum();
                assert_eq!(sum, (0..2000).map(|i| 2 * (i + 1)).sum::<u64>());
                guard.flush();
                // What reads the parent's buffers and registry takes none of their locks.
                let stats = godtrace::stats();
                assert_eq!(stats.spans_queued, godtrace::stats().spans_queued);
                assert!(godtrace::metrics::metrics_snapshot().metrics().is_empty());
                assert!(
                    godtrace::metrics::prometheus_exposition(None)
                        .body
                        .is_empty()
                );
                assert_eq!(godtrace::metrics::prometheus_addr(), None);
                godtrace::otel::global::tracer("library").in_span("library.op", |_| ());
                // SAFETY: the child's copy of the guard, taken once; the parent's is its own.
                drop(unsafe { ManuallyDrop::take(&mut guard) });
            }));
            // SAFETY: ends the child at once, running nothing of the parent's (no atexit
            // handlers, no thread-local destructors, no test harness).
            unsafe { libc::_exit(i32::from(outcome.is_err())) };
        }
        wait_for_child(pid);
    }
    stop.store(true, Ordering::Relaxed);
    for recorder in recorders {
        recorder.join().unwrap();
    }
    drop(ManuallyDrop::into_inner(guard));
}

/// A child that `fork` makes does not keep the Prometheus endpoint's port: once the parent's
/// guard is dropped, the port is free, as the README says, whatever the child does.
#[test]
fn a_forked_child_does_not_keep_the_prometheus_port() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("fork-prometheus")
            .local_tree(false)
            .metrics(godtrace::MetricsConfig::new().prometheus_listen("127.0.0.1:0")),
    )
    .expect("init");
    let addr = godtrace::metrics::prometheus_addr().expect("the endpoint runs");
    // SAFETY: the child only sleeps, then ends with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        std::thread::sleep(Duration::from_secs(5));
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(0) };
    }
    drop(guard);
    // Within 3 s (on a loaded machine the parent's accepting thread may close its socket a
    // moment after the guard's drop gave up waiting for it); the child holds on for 5 s.
    let started = std::time::Instant::now();
    let rebound = loop {
        let rebound = std::net::TcpListener::bind(addr);
        if rebound.is_ok() || started.elapsed() > Duration::from_secs(3) {
            break rebound;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: `pid` is this process's child, not reaped yet: killed, then reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: as above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(rebound.is_ok(), "{addr}: {rebound:?}");
}

/// Logs `message` at INFO through `logger`.
fn log_info(logger: &dyn log::Log, message: &str) {
    logger.log(
        &log::Record::builder()
            .level(log::Level::Info)
            .target("fork")
            .args(format_args!("{message}"))
            .build(),
    );
}

/// A child forked while a parent's thread writes a bridged `tracing` span (its record's lock
/// held at the fork, as often as not) records on that span through every way in (a field
/// recorded, a link, godtrace's attribute and event API inside it, a `log` record as a span
/// event): it records nothing and takes no such lock, so it ends at once.
#[test]
fn a_forked_child_takes_no_lock_of_a_bridged_span() {
    use tracing_subscriber::layer::SubscriberExt as _;
    crate::support::own_process!();
    let port = crate::support::otlp::free_port();
    let guard = godtrace::init(
        Config::new("fork-bridge")
            .endpoint(format!("http://127.0.0.1:{port}"))
            .protocol(Protocol::HttpProtobuf),
    )
    .expect("init");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(godtrace::tracing::layer()),
    )
    .expect("the only subscriber of this process");
    let logger = Arc::new(godtrace::log::TraceIdLogger::new(Discard).span_events(log::Level::Info));
    let shared = Arc::new(tracing::info_span!(
        "fork.shared",
        n = tracing::field::Empty
    ));
    let followed = tracing::info_span!("fork.followed");
    // A thread writes the span all along, through each way that takes its record's lock.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (shared, logger, stop) = (shared.clone(), logger.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0_i64;
            while !stop.load(Ordering::Relaxed) {
                shared.record("n", i);
                shared.in_scope(|| {
                    godtrace::set_attribute("fork.i", i);
                    godtrace::add_event::<&str>("fork.tick", []);
                    log_info(&*logger, "fork.logged");
                });
                i += 1;
            }
        })
    };
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(5));
        // SAFETY: the child runs only what follows, which takes no lock a parent's thread
        // may hold but through godtrace and the `tracing` registry's span lookups (what this
        // test is about) and the allocator (which glibc makes usable after fork), then ends
        // with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            shared.record("n", -1);
            shared.follows_from(&followed);
            shared.in_scope(|| {
                godtrace::set_attribute("fork.child", true);
                godtrace::add_event::<&str>("fork.child", []);
                log_info(&*logger, "fork.child");
            });
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(0) };
        }
        wait_for_child(pid);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop((shared, followed));
    drop(guard);
}

/// Waits for the forked child `pid` to exit with status 0, for at most [`CHILD_BOUND`] (then
/// it is killed and the test fails: a child that hangs).
fn wait_for_child(pid: libc::pid_t) {
    let started = Instant::now();
    let status = loop {
        let mut status = 0;
        // SAFETY: `pid` is this process's child, waited for here only.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break status;
        }
        if started.elapsed() > CHILD_BOUND {
            // SAFETY: `pid` is this process's child, not reaped yet: killed, then reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as above.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!("a forked child did not finish within {CHILD_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed: status {status}"
    );
}

/// The workers of a pre-forking server, each calling `init` after the fork as the README says,
/// draw trace and span ids of their own: the forking thread's random state (the standard
/// library's keys, its thread id) is the same in every child.
#[test]
fn workers_initialised_after_a_fork_draw_ids_of_their_own() {
    crate::support::own_process!();
    // The forking thread's hash keys are drawn before the fork, as in nearly every program.
    let _ = std::collections::HashMap::<u8, u8>::new();
    let (mut reader, mut writer) = std::io::pipe().expect("pipe");
    let mut children = Vec::new();
    for _ in 0..3 {
        // SAFETY: the child runs only what follows (godtrace's `init`, one span, a write to
        // the pipe), then ends with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _guard = godtrace::init(Config::new("worker").local_tree(false));
                let _span = godtrace::span("worker.request");
                let trace = godtrace::trace_id().unwrap();
                let span = godtrace::span_id().unwrap();
                writer.write_all(format!("{trace}/{span}\n").as_bytes())
            }));
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(i32::from(!matches!(outcome, Ok(Ok(()))))) };
        }
        children.push(pid);
    }
    for pid in children {
        wait_for_child(pid);
    }
    // The last write end: reading then ends with the children's lines.
    drop(writer);
    let mut read = String::new();
    reader.read_to_string(&mut read).expect("read");
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let traces: std::collections::HashSet<&str> =
        lines.iter().map(|l| l.split('/').next().unwrap()).collect();
    let spans: std::collections::HashSet<&str> =
        lines.iter().map(|l| l.split('/').nth(1).unwrap()).collect();
    assert_eq!(
        spans.len(),
        3,
        "the workers drew the same span ids: {lines:?}"
    );
    assert_eq!(
        traces.len(),
        3,
        "the workers drew the same trace ids: {lines:?}"
    );
}
