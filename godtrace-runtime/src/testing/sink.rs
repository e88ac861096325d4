//! The test capture as a sink: which capture each trace belongs to, and the hand-off of its
//! finished spans. Every godtrace provider has it (`init` too), so a capture works after `init`.
use super::FinishedSpan;
use crate::span::sink::{Interest, Sink};
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::SpanData;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// Number of live captures; the router does nothing while it is zero.
static LIVE_CAPTURES: AtomicUsize = AtomicUsize::new(0);
/// Which capture each captured trace belongs to. Every lock here recovers from poisoning: a
/// test that panicked must not break the captures of the tests running beside it.
static ROUTES: LazyLock<Mutex<HashMap<TraceId, Weak<CapturedSpans>>>> =
    LazyLock::new(Default::default);

thread_local! {
    static CURRENT: RefCell<Vec<Arc<CapturedSpans>>> = const { RefCell::new(Vec::new()) };
}

/// The spans one capture collected.
#[derive(Default)]
pub(super) struct CapturedSpans {
    pub(super) spans: Mutex<Vec<FinishedSpan>>,
}

/// A new capture, current on this thread: the traces rooted here from now on go to it.
pub(super) fn open() -> Arc<CapturedSpans> {
    let sink = Arc::new(CapturedSpans::default());
    CURRENT.with(|c| c.borrow_mut().push(sink.clone()));
    LIVE_CAPTURES.fetch_add(1, Ordering::SeqCst);
    sink
}

/// Ends `sink`'s capture: no trace is routed to it any more.
pub(super) fn close(sink: &Arc<CapturedSpans>) {
    CURRENT.with(|c| c.borrow_mut().retain(|s| !Arc::ptr_eq(s, sink)));
    LIVE_CAPTURES.fetch_sub(1, Ordering::SeqCst);
    ROUTES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|_, routed| routed.strong_count() > 0 && !std::ptr::eq(routed.as_ptr(), &**sink));
}

/// The test capture as a sink, in every godtrace provider: hands finished spans to the capture
/// that owns their trace. One atomic load per span while no capture is alive.
#[derive(Debug)]
pub(crate) struct CaptureSink;

impl CaptureSink {
    /// Whether any capture is alive (one relaxed load).
    #[inline]
    fn is_active() -> bool {
        LIVE_CAPTURES.load(Ordering::Relaxed) != 0
    }

    /// Copies `span` into the capture that owns its trace, if any.
    fn offer(span: &SpanData) {
        let trace_id = span.span_context.trace_id();
        let sink = ROUTES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&trace_id)
            .and_then(Weak::upgrade);
        if let Some(sink) = sink {
            sink.spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(FinishedSpan::from(span));
        }
    }
}

/// A span of trace `trace_id` starts on this thread: the trace goes to this thread's capture,
/// unless it already has one.
#[cold]
fn route(trace_id: TraceId) {
    // `try_with`: a traced call can run while the thread exits, after this is dropped.
    let Some(sink) = CURRENT
        .try_with(|c| c.borrow().last().cloned())
        .ok()
        .flatten()
    else {
        return;
    };
    ROUTES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(trace_id)
        .or_insert_with(|| Arc::downgrade(&sink));
}

impl Sink for CaptureSink {
    fn watches_starts(&self) -> Option<Interest> {
        Some(Interest::WhileNonZero(&LIVE_CAPTURES))
    }

    #[inline]
    fn on_start(&self, trace_id: TraceId) {
        if CaptureSink::is_active() {
            route(trace_id);
        }
    }

    fn wants_span_data(&self) -> Interest {
        Interest::WhileNonZero(&LIVE_CAPTURES)
    }

    fn on_end(&self, span: SpanData) {
        CaptureSink::offer(&span);
    }
}
