//! The test capture as a sink: which capture each trace belongs to, and the hand-off of its
//! finished spans. Every godtrace provider has it (`init` too), so a capture works after `init`.
use super::FinishedSpan;
use crate::span::sink::{Interest, Sink};
use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// Number of live captures; the router does nothing while it is zero.
static LIVE_CAPTURES: AtomicUsize = AtomicUsize::new(0);
/// Which captures each routed span, and each routed trace, belongs to. Every lock here
/// recovers from poisoning: a test that panicked must not break the captures of the tests
/// running beside it.
static ROUTES: LazyLock<Mutex<Routes>> = LazyLock::new(Default::default);

/// The captures a span goes to, innermost last.
type Owners = Arc<[Weak<CapturedSpans>]>;

/// Where spans go. A span started under a span of this process goes where that span went
/// (a child run on another test's thread, a shared runtime's, is still its test's); any
/// other goes to the captures current on the thread it starts on; failing both (a thread
/// with no capture, a parent never routed), to its trace's, unless captures of several
/// tests have routed that trace (they continue one remote `traceparent`): then nowhere.
#[derive(Default)]
struct Routes {
    /// By span, every span routed, until its captures close: a child started after its
    /// parent ended (a detached one) still finds it. (A capture keeps every span it is
    /// given, so this grows with what the captures hold.) A span whose captures all closed
    /// stays, with none, among the last [`CLOSED_SPANS_KEPT`]: its later children go nowhere,
    /// not to whatever capture is on the thread they start on.
    spans: HashMap<SpanId, Owners>,
    /// The spans whose captures all closed, oldest first.
    closed_spans: VecDeque<SpanId>,
    /// By trace: the captures of its first routed span, and whether spans of another test
    /// (another outermost capture) were routed in it too.
    traces: HashMap<TraceId, (Owners, bool)>,
}

/// How many spans of closed captures are remembered (see [`Routes::spans`]).
const CLOSED_SPANS_KEPT: usize = 1 << 16;

thread_local! {
    /// The captures made on this thread, innermost last (by weak reference: a capture may
    /// be dropped on another thread).
    static CURRENT: RefCell<Vec<Weak<CapturedSpans>>> = const { RefCell::new(Vec::new()) };
}

/// The spans one capture collected.
#[derive(Default)]
pub(super) struct CapturedSpans {
    pub(super) spans: Mutex<Vec<FinishedSpan>>,
    /// Set when the capture is dropped, on whatever thread.
    closed: AtomicBool,
    /// The spans and traces routed to it: what its closing updates, and nothing else (the
    /// routes of other captures, a million spans' worth, are not walked).
    routed: Mutex<(Vec<SpanId>, Vec<TraceId>)>,
}

/// Whether `capture` still collects.
fn is_open(capture: &Weak<CapturedSpans>) -> bool {
    capture
        .upgrade()
        .is_some_and(|c| !c.closed.load(Ordering::SeqCst))
}

/// A new capture, current on this thread: the traces rooted here from now on go to it.
pub(super) fn open() -> Arc<CapturedSpans> {
    let sink = Arc::new(CapturedSpans::default());
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        current.retain(is_open);
        current.push(Arc::downgrade(&sink));
    });
    LIVE_CAPTURES.fetch_add(1, Ordering::SeqCst);
    sink
}

/// Ends `sink`'s capture, on whatever thread: nothing is routed to it any more.
pub(super) fn close(sink: &Arc<CapturedSpans>) {
    sink.closed.store(true, Ordering::SeqCst);
    // `try_with`: a capture in a thread-local may be dropped after this one.
    let _ = CURRENT.try_with(|c| c.borrow_mut().retain(is_open));
    LIVE_CAPTURES.fetch_sub(1, Ordering::SeqCst);
    let (spans, traces) =
        std::mem::take(&mut *sink.routed.lock().unwrap_or_else(PoisonError::into_inner));
    let mut routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
    let Routes {
        spans: span_routes,
        closed_spans,
        traces: trace_routes,
    } = &mut *routes;
    let still_open =
        |owners: &Owners| -> Owners { owners.iter().filter(|o| is_open(o)).cloned().collect() };
    for id in spans {
        if let Some(owners) = span_routes.get_mut(&id) {
            *owners = still_open(owners);
            if owners.is_empty() {
                closed_spans.push_back(id);
            }
        }
    }
    while closed_spans.len() > CLOSED_SPANS_KEPT {
        if let Some(old) = closed_spans.pop_front()
            && span_routes.get(&old).is_some_and(|o| o.is_empty())
        {
            span_routes.remove(&old);
        }
    }
    for id in traces {
        if let Some((owners, _)) = trace_routes.get_mut(&id) {
            *owners = still_open(owners);
            if owners.is_empty() {
                trace_routes.remove(&id);
            }
        }
    }
}

/// The test capture as a sink, in every godtrace provider: hands finished spans to the
/// captures they belong to ([`Routes`]). One atomic load per span while no capture is alive.
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
            let routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
            let own = routes.spans.get(&span.span_context.span_id()).cloned();
            own.or_else(|| unshared(&routes, span.span_context.trace_id()))
        };
        let open = owners
            .iter()
            .flat_map(|o| o.iter())
            .filter_map(Weak::upgrade);
        for sink in open.filter(|c| !c.closed.load(Ordering::SeqCst)) {
            sink.spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(FinishedSpan::from(span));
        }
    }
}

/// The captures of trace `trace_id`, when the spans of one set of captures only were routed
/// in it.
fn unshared(routes: &Routes, trace_id: TraceId) -> Option<Owners> {
    match routes.traces.get(&trace_id) {
        Some((owners, false)) => Some(owners.clone()),
        _ => None,
    }
}

/// A span of ids `ids`, child of `parent`, starts on this thread: see [`Routes`].
#[cold]
fn route(ids: &SpanContext, parent: SpanId) {
    // `try_with`: a traced call can run while the thread exits, after this is dropped.
    let here = || -> Option<Owners> {
        CURRENT
            .try_with(|c| {
                let open: Vec<_> = c.borrow().iter().filter(|w| is_open(w)).cloned().collect();
                (!open.is_empty()).then(|| open.into())
            })
            .ok()
            .flatten()
    };
    let mut routes = ROUTES.lock().unwrap_or_else(PoisonError::into_inner);
    let owners = routes
        .spans
        .get(&parent)
        .cloned()
        .or_else(here)
        .or_else(|| unshared(&routes, ids.trace_id()));
    let Some(owners) = owners else {
        return;
    };
    if owners.is_empty() {
        // Under a span of a closed capture: nowhere, and so are its own children.
        routes.spans.insert(ids.span_id(), owners);
        routes.closed_spans.push_back(ids.span_id());
        if routes.closed_spans.len() > CLOSED_SPANS_KEPT
            && let Some(old) = routes.closed_spans.pop_front()
        {
            routes.spans.remove(&old);
        }
        return;
    }
    // One test's spans: those of one outermost capture (a helper's nested capture is the
    // same test's).
    let same_test = |a: &Owners| {
        a.first()
            .zip(owners.first())
            .is_some_and(|(a, b)| a.ptr_eq(b))
    };
    let mut new_trace = false;
    routes
        .traces
        .entry(ids.trace_id())
        .and_modify(|(first, shared)| *shared |= !same_test(first))
        .or_insert_with(|| {
            new_trace = true;
            (owners.clone(), false)
        });
    for owner in owners.iter().filter_map(Weak::upgrade) {
        let mut routed = owner.routed.lock().unwrap_or_else(PoisonError::into_inner);
        routed.0.push(ids.span_id());
        if new_trace {
            routed.1.push(ids.trace_id());
        }
    }
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
