//! Assert on the spans your own code produced, from ordinary `#[test]`s.
//!
//! [`capture`] returns a [`Capture`] that collects every span of the traces whose root starts
//! on the calling thread while it is alive (children on other threads included), so tests
//! running in parallel each see only their own traces.
//!
//! ```
//! use godtrace_runtime::testing;
//!
//! let capture = testing::capture();
//! {
//!     let _span = godtrace_runtime::span("checkout");
//! }
//! let span = capture.span("checkout");
//! assert!(span.parent_span_id.is_none());
//! ```
//!
//! If `init` was not called, `capture` installs a recording-only provider (every span
//! sampled, nothing printed or exported). After that, `init` in the same process returns
//! `AlreadyInitialized`: call `init` first where a test needs both.
use crate::span::sink::{Interest, Sink};
use opentelemetry::Value;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

/// Number of live captures; the router does nothing while it is zero.
static LIVE_CAPTURES: AtomicUsize = AtomicUsize::new(0);
/// Which capture each captured trace belongs to. Every lock here recovers from poisoning: a
/// test that panicked must not break the captures of the tests running beside it.
static ROUTES: LazyLock<Mutex<HashMap<TraceId, Weak<CapturedSpans>>>> =
    LazyLock::new(Default::default);

thread_local! {
    static CURRENT: RefCell<Vec<Arc<CapturedSpans>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct CapturedSpans {
    spans: Mutex<Vec<FinishedSpan>>,
}

/// Collects finished spans; see the [module docs](self).
#[must_use = "spans are captured only while the Capture is alive"]
pub struct Capture {
    sink: Arc<CapturedSpans>,
}

/// Starts capturing the traces rooted on this thread.
pub fn capture() -> Capture {
    if !crate::provider::is_installed() {
        // Losing the race to another thread's `capture` or `init` is fine: theirs has the router too.
        let _ = crate::provider::install_capture_only(&crate::Config::default().local_tree(false));
    }
    let sink = Arc::new(CapturedSpans::default());
    CURRENT.with(|c| c.borrow_mut().push(sink.clone()));
    LIVE_CAPTURES.fetch_add(1, Ordering::SeqCst);
    Capture { sink }
}

impl Capture {
    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<FinishedSpan> {
        self.sink
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    /// When there is none or more than one (this is an assertion helper), listing the names
    /// that were captured.
    pub fn span(&self, name: &str) -> FinishedSpan {
        let spans = self.spans();
        let mut found = spans.iter().filter(|s| s.name == name);
        match (found.next(), found.next()) {
            (Some(s), None) => s.clone(),
            (None, _) => panic!("no span named {name:?}; captured: {:?}", names(&spans)),
            (Some(_), Some(_)) => panic!("more than one span named {name:?}"),
        }
    }

    /// Every finished span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<FinishedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The finished children of `parent`, in the order they ended.
    pub fn children(&self, parent: &FinishedSpan) -> Vec<FinishedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.parent_span_id == Some(parent.span_id) && s.trace_id == parent.trace_id)
            .collect()
    }
}

fn names(spans: &[FinishedSpan]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

impl Drop for Capture {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().retain(|s| !Arc::ptr_eq(s, &self.sink)));
        LIVE_CAPTURES.fetch_sub(1, Ordering::SeqCst);
        ROUTES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, sink| sink.strong_count() > 0 && !std::ptr::eq(sink.as_ptr(), &*self.sink));
    }
}

/// One finished span, as a test sees it.
#[derive(Clone, Debug)]
pub struct FinishedSpan {
    /// The span name.
    pub name: String,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent's id; `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// Its kind (`Internal` unless `kind = ..` or [`SpanBuilder::kind`](crate::SpanBuilder::kind) said otherwise).
    pub kind: SpanKind,
    /// Attributes, in the order they were set.
    pub attributes: Vec<(String, Value)>,
    /// Unset, Ok, or Error with a description.
    pub status: Status,
    /// Events, in the order they were added.
    pub events: Vec<FinishedEvent>,
    /// The span contexts it links to (`SpanGuard::follows_from`), in the order they were added.
    pub links: Vec<SpanContext>,
    /// How many links were dropped over the span link count limit.
    pub dropped_links: u32,
    /// How long the span lasted.
    pub duration: Duration,
}

/// One event of a [`FinishedSpan`].
#[derive(Clone, Debug)]
pub struct FinishedEvent {
    /// The event name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<(String, Value)>,
}

impl FinishedSpan {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// Whether the span ended with status Error.
    pub fn is_error(&self) -> bool {
        matches!(self.status, Status::Error { .. })
    }

    /// The Error status description, if the span failed.
    pub fn error_message(&self) -> Option<&str> {
        match &self.status {
            Status::Error { description } => Some(description),
            _ => None,
        }
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&FinishedEvent> {
        self.events.iter().find(|e| e.name == name)
    }
}

impl FinishedEvent {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }
}

fn find<'a>(attrs: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl From<&SpanData> for FinishedSpan {
    fn from(data: &SpanData) -> Self {
        let kv = |attrs: &[opentelemetry::KeyValue]| {
            attrs
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.clone()))
                .collect()
        };
        FinishedSpan {
            name: data.name.to_string(),
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent_span_id: (data.parent_span_id != SpanId::INVALID).then_some(data.parent_span_id),
            kind: data.span_kind.clone(),
            attributes: kv(&data.attributes),
            status: data.status.clone(),
            events: data
                .events
                .iter()
                .map(|e| FinishedEvent {
                    name: e.name.to_string(),
                    attributes: kv(&e.attributes),
                })
                .collect(),
            links: data.links.iter().map(|l| l.span_context.clone()).collect(),
            dropped_links: data.links.dropped_count,
            duration: data
                .end_time
                .duration_since(data.start_time)
                .unwrap_or_default(),
        }
    }
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

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field(
                "spans",
                &self
                    .sink
                    .spans
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len(),
            )
            .finish()
    }
}
