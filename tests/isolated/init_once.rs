//! `init` installs one provider per process; a second call is an error, never a panic. The
//! cases that need a process of their own (a failed first `init`, racing first calls) re-run
//! this test binary with `INIT_ONCE_CASE` naming the case.
use godtrace::{Config, InitError, MetricsConfig, testing, traced};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[traced]
fn work() -> u8 {
    7
}

/// Where a capture started godtrace, `init` fails naming it: the user never called `init`,
/// and whether a suite's `init` works depends on which test ran first.
#[test]
fn init_after_a_capture_says_the_capture_started_godtrace() {
    crate::support::own_process!();
    let c = testing::capture();
    let refused = godtrace::init(Config::new("init-after-capture").local_tree(false));
    assert_eq!(refused.as_ref().err(), Some(&InitError::AlreadyInitialized));
    let message = refused.err().unwrap().to_string();
    assert!(
        message.contains("by `testing::capture()`") && message.contains("call `init` before"),
        "{message}"
    );
    assert_eq!(work(), 7);
    c.span("isolated::init_once::work");
}

#[test]
fn a_second_init_is_an_error_and_the_first_keeps_working() {
    crate::support::own_process!();
    let guard = godtrace::init(Config::new("init-once").local_tree(false)).expect("first init");
    assert!(godtrace::is_enabled());
    let again = godtrace::init(Config::new("init-twice"));
    assert_eq!(again.as_ref().err(), Some(&InitError::AlreadyInitialized));
    let message = again.err().unwrap().to_string();
    assert!(!message.contains("capture"), "{message}");
    let c = testing::capture();
    assert_eq!(work(), 7);
    c.span("isolated::init_once::work");
    drop(guard);
    assert!(
        !godtrace::is_enabled(),
        "the guard turns tracing off when dropped"
    );
    assert_eq!(work(), 7, "traced calls keep working after shutdown");
    // A capture made after the shutdown records nothing, and says why.
    let late = testing::capture();
    assert_eq!(work(), 7);
    let lookup = std::panic::catch_unwind(|| late.span("isolated::init_once::work"));
    let message = *lookup
        .expect_err("nothing recorded")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("godtrace was shut down"), "{message}");
}

const CASE: &str = "INIT_ONCE_CASE";
/// Spans are sent nowhere that answers: `init` never waits for the collector.
const COLLECTOR: &str = "http://127.0.0.1:9";

/// Whether this process is the child that runs `test`'s case.
fn is_child(test: &str) -> bool {
    std::env::var_os(CASE).is_some_and(|case| case == test)
}

/// Runs `test` (this file's test of that name) in a fresh process with `CASE` set, fails if
/// the child fails, and returns what it wrote to stderr.
fn run_child(test: &str) -> String {
    let path = format!("init_once::{test}");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([path.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, test)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child");
    let mut pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    // A deadlock guard, not a timing assertion.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{test}: the child did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{test}: the child failed:\n{stderr}");
    stderr
}

/// In the parent, runs `test` in a child and returns false; in that child, returns true.
fn in_child_process(test: &str) -> bool {
    if is_child(test) {
        return true;
    }
    run_child(test);
    false
}

/// The threads of this process, as the kernel lists them.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |tasks| tasks.count())
}

/// Waits (up to a deadlock guard) for the process to be back to `threads` threads: a joined
/// thread leaves the kernel's list a moment after `join` returns.
fn settles_at(threads: usize) -> usize {
    let started = Instant::now();
    loop {
        let now = thread_count();
        if now == threads || started.elapsed() > Duration::from_secs(10) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `GET /metrics` on `port`: the status line, or `None` when nothing listens there.
fn scrape_status(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Some(response.lines().next().unwrap_or("").to_owned())
}

#[test]
fn a_failed_init_leaves_no_thread_behind_and_a_later_one_succeeds() {
    crate::support::own_process!();
    if !in_child_process("a_failed_init_leaves_no_thread_behind_and_a_later_one_succeeds") {
        return;
    }
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let before = thread_count();
    // Spans are exported (an export thread starts first), then the port is found taken.
    let err = godtrace::init(
        Config::new("init-fails")
            .endpoint(COLLECTOR)
            .metrics(MetricsConfig::new().prometheus_listen(busy_addr.as_str())),
    )
    .expect_err("a busy Prometheus port fails init");
    assert!(
        matches!(&err, InitError::Exporter(m) if m.contains(&busy_addr)),
        "{err:?}"
    );
    if cfg!(target_os = "linux") {
        assert_eq!(settles_at(before), before, "threads left behind by {err}");
    }
    assert!(!godtrace::links::is_exporting());
    assert_eq!(godtrace::metrics::prometheus_addr(), None);
    // Nothing was installed: the next `init` is the first.
    let guard = godtrace::init(
        Config::new("init-after-failure")
            .endpoint(COLLECTOR)
            .metrics(MetricsConfig::new().prometheus_listen("127.0.0.1:0")),
    )
    .expect("init after a failed one");
    let port = godtrace::metrics::prometheus_addr()
        .expect("serving")
        .port();
    assert!(scrape_status(port).is_some_and(|s| s.contains(" 200 ")));
    drop(guard);
}

/// Eight threads call `init` at once, each with its own Prometheus port.
fn eight_racing_inits() {
    const RACERS: usize = 8;
    let ports: Vec<u16> = {
        let listeners: Vec<TcpListener> = (0..RACERS)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect()
    };
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = ports
        .iter()
        .map(|&port| {
            let start = start.clone();
            std::thread::spawn(move || {
                let config = Config::new(format!("racer-{port}"))
                    .endpoint(COLLECTOR)
                    .metrics(MetricsConfig::new().prometheus_listen(format!("127.0.0.1:{port}")));
                start.wait();
                godtrace::init(config)
            })
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let winners: Vec<usize> = (0..RACERS).filter(|&i| results[i].is_ok()).collect();
    let outcomes: Vec<_> = results.iter().map(|r| r.as_ref().map(|_| ())).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (i, result) in results.iter().enumerate() {
        if let Err(e) = result {
            assert_eq!(*e, InitError::AlreadyInitialized, "racer {i}");
        }
    }
    let winner = ports[winners[0]];
    assert_eq!(
        godtrace::metrics::prometheus_addr().map(|a| a.port()),
        Some(winner)
    );
    let status = scrape_status(winner).expect("the winner's port serves");
    assert!(status.contains(" 200 "), "{status}");
    for &port in ports.iter().filter(|&&p| p != winner) {
        assert_eq!(scrape_status(port), None, "a loser's port {port} serves");
    }
    drop(results);
}

#[test]
fn concurrent_inits_install_exactly_one_configuration() {
    crate::support::own_process!();
    const TEST: &str = "concurrent_inits_install_exactly_one_configuration";
    if is_child(TEST) {
        eight_racing_inits();
        return;
    }
    // Three fresh processes: which racer gets there first differs from run to run.
    for _ in 0..3 {
        run_child(TEST);
    }
}

#[test]
fn export_failures_never_show_the_endpoint_credentials() {
    crate::support::own_process!();
    const TEST: &str = "export_failures_never_show_the_endpoint_credentials";
    if is_child(TEST) {
        // Nothing listens on port 9: every span and metrics export fails, and says so.
        let guard = godtrace::init(
            Config::new("secrets")
                .endpoint("http://user:s3cr3t@127.0.0.1:9")
                .protocol(godtrace::Protocol::HttpProtobuf)
                .timeout(Duration::from_secs(2)),
        )
        .expect("init");
        assert_eq!(work(), 7);
        guard.flush();
        drop(guard);
        assert!(
            godtrace::stats().spans_failed > 0,
            "{:?}",
            godtrace::stats()
        );
        return;
    }
    let stderr = run_child(TEST);
    assert!(stderr.contains("could not export"), "{stderr}");
    assert!(stderr.contains("metrics export"), "{stderr}");
    assert!(stderr.contains("<redacted>@127.0.0.1:9"), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}
