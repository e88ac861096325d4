//! A stderr that fails (a full disk, a pipe whose reader exited) or that nobody reads (a full
//! pipe): godtrace's warnings are lost, never a panic, and no thread waits for them (neither
//! the application's nor the export thread); export goes on.
use godtrace::Config;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A deadlock guard for a call that must not wait for stderr, not a timing assertion.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Fails its first batch (a warning on stderr follows), counts the spans of the later ones.
#[derive(Debug, Clone, Default)]
struct FailsFirst {
    calls: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    exported: Arc<AtomicUsize>,
}

impl SpanExporter for FailsFirst {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.lost.store(batch.len(), Ordering::SeqCst);
            return Err(OTelSdkError::InternalFailure("collector said no".into()));
        }
        self.exported.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// Starts godtrace exporting to `exporter`, ten spans a batch.
fn init_exporting_to(exporter: &FailsFirst) -> godtrace::Guard {
    godtrace::init(
        Config::new("faults-stderr")
            .span_exporter(exporter.clone())
            .max_export_batch_size(10),
    )
    .expect("init")
}

fn ten_spans() {
    for _ in 0..10 {
        let _span = godtrace::span("work");
    }
}

/// Points fd 2 at `fd` until the result is dropped, which points it back (so that a failed
/// assertion's message is seen).
pub(crate) fn stderr_to(fd: i32) -> impl Drop {
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: `self.0` is the duplicate of fd 2 made below, still open.
            unsafe { libc::dup2(self.0, 2) };
        }
    }
    // SAFETY: duplicates fd 2, which this process holds open.
    let saved = unsafe { libc::dup(2) };
    assert!(saved >= 0);
    // SAFETY: `fd` is open (its owner outlives this test's use of stderr), and so is fd 2.
    let pointed = unsafe { libc::dup2(fd, 2) };
    assert_eq!(pointed, 2);
    Restore(saved)
}

/// Runs `call` on a thread of its own: whether it returned within [`CALL_LIMIT`].
fn returns(call: impl FnOnce() + Send + 'static) -> bool {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        call();
        let _ = done.send(());
    });
    finished.recv_timeout(CALL_LIMIT).is_ok()
}

#[test]
fn a_failing_stderr_loses_the_warnings_and_nothing_else() {
    crate::support::own_process!();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let restore = stderr_to(full.as_raw_fd());
    let exporter = FailsFirst::default();
    let guard = init_exporting_to(&exporter);
    // The first batch fails: the export thread reports it on stderr, which fails.
    ten_spans();
    guard.flush();
    // A metrics call's warning, said on this thread.
    godtrace::metrics::record_counter("1bad", 1, &[]);
    godtrace::metrics::record_counter("faults.stderr.count", -1, &[]);
    ten_spans();
    guard.flush();
    drop(guard);
    drop(restore);
    let stats = godtrace::stats();
    let lost = exporter.lost.load(Ordering::SeqCst) as u64;
    let exported = exporter.exported.load(Ordering::SeqCst) as u64;
    // The batches after the failure (and its warning) were exported: the thread went on.
    assert!(lost > 0 && lost <= 10, "{lost}: {stats:?}");
    assert_eq!(lost + exported, 20, "{stats:?}");
    assert_eq!(
        (stats.spans_queued, stats.spans_exported, stats.spans_failed),
        (20, exported, lost),
        "{stats:?}"
    );
}

#[test]
fn a_stderr_nobody_reads_stalls_neither_export_nor_a_metrics_call() {
    crate::support::own_process!();
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let restore = stderr_to(fds[1]);
    // Fills the pipe (its read end is never read), then stays blocked in `write`: raw writes,
    // which take no lock of the standard library's stderr.
    // To the pipe's own descriptor: once fd 2 is restored, the thread stays blocked there.
    let pipe = fds[1];
    std::thread::spawn(move || {
        let chunk = [b'x'; 4096];
        loop {
            // SAFETY: writes from a live buffer of that length to the pipe, never closed.
            unsafe { libc::write(pipe, chunk.as_ptr().cast(), chunk.len()) };
        }
    });
    let exporter = FailsFirst::default();
    let guard = init_exporting_to(&exporter);
    std::thread::sleep(Duration::from_millis(200));
    // The first batch fails: the export thread's report must not stop it.
    ten_spans();
    guard.flush();
    ten_spans();
    guard.flush();
    let lost = exporter.lost.load(Ordering::SeqCst);
    let exported = exporter.exported.load(Ordering::SeqCst);
    let returned = [
        returns(|| godtrace::metrics::record_counter("1bad", 1, &[])),
        returns(|| godtrace::metrics::record_counter("faults.stderr.count", -1, &[])),
        returns(|| godtrace::metrics::record_histogram("2bad", 1.0, &[])),
    ];
    // Asserted once stderr is back: a failed assertion's message must not wait on the pipe.
    drop(restore);
    assert!(lost > 0, "the first batch failed");
    assert_eq!(
        lost + exported,
        20,
        "the batches after the report were exported"
    );
    assert_eq!(
        returned, [true; 3],
        "bad name, negative increment, bad histogram name: which returned"
    );
    drop(guard);
}

/// Set in the process [`a_warning_said_just_before_exit_is_seen`] starts.
const EXITING_CHILD: &str = "GODTRACE_TEST_WARNS_THEN_EXITS";

/// Warnings are written by a thread of godtrace's: dropping the guard waits for them, so a
/// program that warns and exits at once still shows them.
#[test]
fn a_warning_said_just_before_exit_is_seen() {
    if std::env::var_os(EXITING_CHILD).is_some() {
        let guard = init_exporting_to(&FailsFirst::default());
        godtrace::metrics::record_counter("1bad", 1, &[]);
        drop(guard);
        return;
    }
    let test = "faults_stderr::a_warning_said_just_before_exit_is_seen";
    let out = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([test, "--exact", "--nocapture"])
        .env(EXITING_CHILD, "1")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("\"1bad\" is not a valid metric name"),
        "{stderr}"
    );
}
