//! godtrace's own lines on stderr ([`say`]): one way to say them, which neither panics nor
//! makes any thread wait for stderr.
//!
//! `eprintln!` panics when the write fails (a pipe whose reader exited, a full disk): in the
//! export thread that ended export for good, and in a caller's thread it was a panic out of a
//! metrics call (an abort under `panic = "abort"`). And a stderr nobody reads (a full pipe)
//! blocks its writer: the export thread stopped exporting, a metrics call stopped the
//! application's thread. So every line goes to a thread of its own, which alone writes; a
//! failed write loses the line, and a line that finds the queue full is dropped. The guard's
//! drop waits for what is queued ([`drain`]), within a bound, so that a short program's last
//! warnings are still seen.
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// Lines waiting for the writer thread, at most: what is said past that is dropped.
const QUEUED_LINES: usize = 64;

/// Lines handed to the writer thread and not written yet.
static UNWRITTEN: AtomicUsize = AtomicUsize::new(0);

/// Says `line` on stderr, without waiting: handed to the writer thread, started on the first
/// line; dropped when [`QUEUED_LINES`] wait already, or when no thread could be started.
/// Dropped too in a child that `fork` made: the writer thread is not in it, and the parent's
/// may have held the queue's lock at the fork.
pub(crate) fn say(line: String) {
    if crate::span::switches::in_forked_child() {
        return;
    }
    static WRITER: OnceLock<Option<SyncSender<String>>> = OnceLock::new();
    let writer = WRITER.get_or_init(|| {
        let (lines, waiting) = sync_channel::<String>(QUEUED_LINES);
        std::thread::Builder::new()
            .name("godtrace-stderr".into())
            .spawn(move || {
                for line in waiting {
                    write_line(line);
                    UNWRITTEN.fetch_sub(1, Ordering::Release);
                }
            })
            .ok()
            .map(|_| lines)
    });
    let Some(writer) = writer else { return };
    UNWRITTEN.fetch_add(1, Ordering::Relaxed);
    if writer.try_send(line).is_err() {
        UNWRITTEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits until the lines said so far are written, or `limit` has passed (a stderr nobody
/// reads).
pub(crate) fn drain(limit: Duration) {
    let deadline = Instant::now() + limit;
    while UNWRITTEN.load(Ordering::Acquire) != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Writes `line` and a newline in one write (stderr is unbuffered: two writes let another
/// process's output, or stdout sharing the pipe, in between); a failed write is ignored.
fn write_line(mut line: String) {
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
