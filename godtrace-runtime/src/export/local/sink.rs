//! The local tree in a build without the export thread (no OTLP feature): the spans reach it
//! as `SpanData` on the thread that ends them, which hands what the tree needs to a printing
//! thread of its own through a bounded channel. A full channel drops the span (counted in
//! `godtrace::stats()`), so a blocked stderr never stops the application's threads.
use super::printer::TreePrinter;
use super::tree_span::TreeSpan;
use crate::span::sink::Sink;
use crate::stats::Counters;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the printing thread is told.
enum Message {
    Span(TreeSpan),
    /// Print what came before, then answer.
    Flush(SyncSender<()>),
    /// Print everything held, answer, and end.
    Stop(SyncSender<()>),
}

/// Hands finished spans to the printing thread.
#[derive(Debug)]
pub(crate) struct TreeSink {
    verbose: bool,
    to_printer: SyncSender<Message>,
    /// Bounds a flush.
    flush_timeout: Duration,
    /// Where a span the channel has no room for is counted.
    counters: &'static Counters,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl TreeSink {
    /// Starts the thread printing to `out`, with a channel of `capacity` spans; attributes and
    /// events are printed when `verbose`. A flush waits `flush_timeout` at most; dropped spans
    /// are counted in `counters`.
    pub(crate) fn start(
        out: impl Write + Send + 'static,
        verbose: bool,
        capacity: usize,
        flush_timeout: Duration,
        counters: &'static Counters,
    ) -> std::io::Result<Self> {
        let (to_printer, from_sinks) = std::sync::mpsc::sync_channel(capacity);
        let printer = TreePrinter::new(verbose, out);
        let thread = std::thread::Builder::new()
            .name("godtrace-tree".into())
            .spawn(move || print_until_stopped(printer, &from_sinks))?;
        Ok(TreeSink {
            verbose,
            to_printer,
            flush_timeout,
            counters,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Sends `message` and waits for the printing thread's answer, until `deadline`.
    fn ask(&self, message: impl FnOnce(SyncSender<()>) -> Message, deadline: Instant) -> bool {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let mut message = message(answer);
        // A full channel: retried until the deadline, never waited on without one.
        loop {
            match self.to_printer.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return false,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        answered.recv_timeout(left).is_ok()
    }
}

/// The printing thread's body.
fn print_until_stopped(mut printer: TreePrinter<impl Write>, from_sinks: &Receiver<Message>) {
    let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
    let mut batch = Vec::new();
    loop {
        // Woken at least this often: traces held for their root past `MAX_HOLD` print then.
        let first = match from_sinks.recv_timeout(HELD_CHECK) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                printer.print_held_since(Instant::now());
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // What has come in meanwhile goes in the same batch: one write for all of it.
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Span(span) => batch.push(span),
                // A flush shows what ended before it: what is held for a root still running
                // too, as it stands (its later spans make a continued tree).
                Message::Flush(answer) => {
                    printer.take_batch(batch.drain(..));
                    printer.print_all();
                    let _ = answer.send(());
                }
                Message::Stop(answer) => {
                    printer.take_batch(batch.drain(..));
                    printer.print_all();
                    let _ = answer.send(());
                    return;
                }
            }
            next = from_sinks.try_recv().ok();
        }
        printer.take_batch(batch.drain(..));
        printer.print_held_since(Instant::now());
    }
}

/// How often the printing thread looks for traces held too long when no span comes in.
const HELD_CHECK: Duration = Duration::from_millis(250);

impl Sink for TreeSink {
    fn on_end(&self, span: SpanData) {
        let span = TreeSpan::of_span_data(&span, self.verbose);
        if self.to_printer.try_send(Message::Span(span)).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prints the traces completed so far; returns within the flush timeout.
    fn flush(&self) -> OTelSdkResult {
        let deadline = Instant::now() + self.flush_timeout;
        if self.ask(Message::Flush, deadline) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(self.flush_timeout))
        }
    }

    /// Prints every trace held, complete or not, and stops the thread, within `timeout`.
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if !self.ask(Message::Stop, Instant::now() + timeout) {
            // Blocked on stderr, say: left behind, never waited for longer.
            return Err(OTelSdkError::Timeout(timeout));
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            // It has answered its last message: joining only collects it.
            let _ = thread.join();
        }
        Ok(())
    }
}
