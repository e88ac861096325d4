//! Groups spans by trace and writes each trace's tree once it is complete, or once it is the
//! oldest when too many spans are held. Runs on the export thread: a slow or blocked output
//! holds back that thread only.
use super::render::render;
use super::tree_span::TreeSpan;
use super::unprinted::{MAX_HELD_SPANS, UnprintedTraces};
use std::io::Write;

/// The most memory the text buffer keeps between batches.
const TEXT_KEPT: usize = 64 * 1024;

/// Prints the traces of the spans it is given to `out`.
#[derive(Debug)]
pub(crate) struct TreePrinter<W: Write> {
    unprinted: UnprintedTraces,
    verbose: bool,
    out: W,
    /// Reused from batch to batch.
    ready: Vec<Vec<TreeSpan>>,
    /// The text of a batch's trees, reused from batch to batch.
    text: String,
}

impl<W: Write> TreePrinter<W> {
    /// A printer holding at most [`MAX_HELD_SPANS`] spans of unfinished traces.
    pub(crate) fn new(verbose: bool, out: W) -> Self {
        TreePrinter::with_bound(verbose, out, MAX_HELD_SPANS)
    }

    /// A printer holding at most `max_held` spans of unfinished traces.
    pub(crate) fn with_bound(verbose: bool, out: W, max_held: usize) -> Self {
        TreePrinter {
            unprinted: UnprintedTraces::new(max_held),
            verbose,
            out,
            ready: Vec::new(),
            text: String::new(),
        }
    }

    /// Takes one batch of finished spans and prints the traces it completes. Local roots are
    /// taken last: spans of other threads can reach a batch after their root, and a trace
    /// printed at its root's turn would leave them for a tree of their own.
    pub(crate) fn take_batch(&mut self, spans: impl IntoIterator<Item = TreeSpan>) {
        let mut ready = std::mem::take(&mut self.ready);
        let mut roots = Vec::new();
        for span in spans {
            if span.is_local_root {
                roots.push(span);
            } else {
                self.unprinted.add(span, &mut ready);
            }
        }
        for root in roots {
            self.unprinted.add(root, &mut ready);
        }
        self.print(&mut ready);
        self.ready = ready;
    }

    /// Prints each trace held for [`super::unprinted::MAX_HOLD`] or more by `now`, as it
    /// stands.
    pub(crate) fn print_held_since(&mut self, now: std::time::Instant) {
        let mut ready = std::mem::take(&mut self.ready);
        self.unprinted.take_held_since(now, &mut ready);
        self.print(&mut ready);
        self.ready = ready;
    }

    /// Prints every trace held, complete or not (at a flush and at shutdown).
    pub(crate) fn print_all(&mut self) {
        let mut ready = std::mem::take(&mut self.ready);
        self.unprinted.take_all(&mut ready);
        self.print(&mut ready);
        self.ready = ready;
    }

    /// Spans held for traces not printed yet.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.unprinted.held()
    }

    /// The output, for tests.
    #[cfg(test)]
    pub(crate) fn output(&self) -> &W {
        &self.out
    }

    fn print(&mut self, ready: &mut Vec<Vec<TreeSpan>>) {
        if ready.is_empty() {
            return;
        }
        self.text.clear();
        for spans in ready.drain(..) {
            render(spans, self.verbose, &mut self.text);
        }
        // One write per batch: a call per trace would cost a system call per trace, and each
        // tree stays in one piece.
        let _ = self.out.write_all(self.text.as_bytes());
        let _ = self.out.flush();
        // A batch of large trees does not keep its memory for the next.
        self.text.shrink_to(TEXT_KEPT);
    }
}
