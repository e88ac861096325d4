//! godtrace's own lines on stderr: one way to say them, which neither panics nor makes an
//! application's thread wait.
//!
//! `eprintln!` panics when the write fails (a pipe whose reader exited, a full disk): in the
//! export thread that ended export for good, and in a caller's thread it was a panic out of a
//! metrics call (an abort under `panic = "abort"`). A failed write here loses the line only.
//! And a stderr nobody reads (a full pipe) blocks its writer: godtrace's own threads may wait
//! ([`write_line`]), but a line said on an application's thread ([`say`]) goes to a thread
//! of its own and is dropped if that thread is that far behind.
use std::io::Write;
use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, sync_channel};

/// Lines waiting for the writer thread, at most: what is said past that is dropped.
const QUEUED_LINES: usize = 64;

/// Writes `line` on stderr from the calling thread, which may wait for stderr: for
/// godtrace's own threads (the export thread's reports), whose lines then keep their order and
/// are written before a shutdown returns. A failed write is ignored.
pub(crate) fn write_line(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(line.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

/// Says `line` on stderr without waiting: from an application's thread (a metrics call's
/// warning, `init`). Handed to the writer thread, started on the first line; dropped when
/// [`QUEUED_LINES`] wait already, or when no thread could be started. Dropped too in a child
/// that `fork` made: the writer thread is not in it, and the parent's may have held the
/// queue's lock at the fork.
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
                    write_line(&line);
                }
            })
            .ok()
            .map(|_| lines)
    });
    if let Some(writer) = writer {
        let _ = writer.try_send(line);
    }
}
