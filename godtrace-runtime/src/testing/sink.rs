//! The test capture as a sink: which capture each trace belongs to, and the hand-off of its
//! finished spans. Every godtrace provider has it (`init` too), so a capture works after `init`.
use super::FinishedSpan;
use crate::span::sink::{Interest, Sink};
use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// Number of live captures; the router does nothing while it is zero.
static LIVE_CAPTURES: AtomicUsize = AtomicUsize::new(0);
/// Which captures each captured trace, and each open span, belongs to. Every lock here
/// recovers from poisoning: a test that panicked must not break the captures of the tests
/// running beside it.
static ROUTES: LazyLock<Mutex<Routes>> = LazyLock::new(Default::default);

/// The captures a span goes to: those current on the thread where it (or the first span of
/// its trace or branch here) started, innermost last.
type Owners = Arc<[Weak<CapturedSpans>]>;

#[derive(Default)]
struct Routes {
    /// By trace, for what no open span says (a span whose parent ended first).
    traces: HashMap<TraceId, Owners>,
    /// By open span: a span goes where the thread it starts on says, else where its parent
    /// went. Two tests continuing one remote trace (the same `traceparent`) each keep
    /// their own spans. An entry goes when its span ends.
    spans: HashMap<SpanId, Owners>,
}

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
    let mut routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
    let still_owned = |owners: &mut Owners| {
        if owners.iter().any(|o| std::ptr::eq(o.as_ptr(), &**sink)) {
            *owners = owners
                .iter()
                .filter(|o| o.strong_count() > 0 && !std::ptr::eq(o.as_ptr(), &**sink))
                .cloned()
                .collect();
        }
        owners.iter().any(|o| o.strong_count() > 0)
    };
    routes.traces.retain(|_, owners| still_owned(owners));
    routes.spans.retain(|_, owners| still_owned(owners));
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

    /// Copies `span` into the captures it belongs to, if any.
    fn offer(span: &SpanData) {
        let owners = {
            let mut routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
            let own = routes.spans.remove(&span.span_context.span_id());
            own.or_else(|| routes.traces.get(&span.span_context.trace_id()).cloned())
        };
        for sink in owners
            .iter()
            .flat_map(|o| o.iter())
            .filter_map(Weak::upgrade)
        {
            sink.spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(FinishedSpan::from(span));
        }
    }
}

/// A span of ids `ids`, child of `parent`, starts on this thread: it goes to the captures
/// current here, else to its parent's, else to its trace's. A trace goes to the captures of
/// the first of its spans routed.
#[cold]
fn route(ids: &SpanContext, parent: SpanId) {
    // `try_with`: a traced call can run while the thread exits, after this is dropped.
    let here: Option<Owners> = CURRENT
        .try_with(|c| {
            let current = c.borrow();
            (!current.is_empty()).then(|| current.iter().map(Arc::downgrade).collect())
        })
        .ok()
        .flatten();
    let mut routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
    let owners = here
        .or_else(|| routes.spans.get(&parent).cloned())
        .or_else(|| routes.traces.get(&ids.trace_id()).cloned());
    let Some(owners) = owners else {
        return;
    };
    routes
        .traces
        .entry(ids.trace_id())
        .or_insert_with(|| owners.clone());
    routes.spans.insert(ids.span_id(), owners);
}

impl Sink for CaptureSink {
    fn watches_starts(&self) -> Option<Interest> {
        Some(Interest::WhileNonZero(&LIVE_CAPTURES))
    }

    #[inline]
    fn on_start(&self, ids: &SpanContext, parent: SpanId) {
        if CaptureSink::is_active() {
            route(ids, parent);
        }
    }

    fn wants_span_data(&self) -> Interest {
        Interest::WhileNonZero(&LIVE_CAPTURES)
    }

    fn on_end(&self, span: SpanData) {
        CaptureSink::offer(&span);
    }
}
