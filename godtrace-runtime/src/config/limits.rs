//! The span count limits the hot path reads (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
//! `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`,
//! `OTEL_SPAN_LINK_COUNT_LIMIT`), set once by `init`.
//! Relaxed atomics: a thread that reads an old limit keeps a few more or fewer items.
use std::sync::atomic::{AtomicUsize, Ordering};

/// The OpenTelemetry SDK's default for each count limit.
pub(crate) const DEFAULT_COUNT_LIMIT: usize = 128;

/// The most any count limit may be set to: every kept attribute or event is memory held
/// until the span is exported.
pub(crate) const MAX_COUNT_LIMIT: usize = 1 << 16;

static SPAN_ATTRIBUTES: AtomicUsize = AtomicUsize::new(DEFAULT_COUNT_LIMIT);
static SPAN_EVENTS: AtomicUsize = AtomicUsize::new(DEFAULT_COUNT_LIMIT);
static EVENT_ATTRIBUTES: AtomicUsize = AtomicUsize::new(DEFAULT_COUNT_LIMIT);
static SPAN_LINKS: AtomicUsize = AtomicUsize::new(DEFAULT_COUNT_LIMIT);

/// The span count limits `init` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanLimits {
    pub(crate) attributes: usize,
    pub(crate) events: usize,
    pub(crate) event_attributes: usize,
    pub(crate) links: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            attributes: DEFAULT_COUNT_LIMIT,
            events: DEFAULT_COUNT_LIMIT,
            event_attributes: DEFAULT_COUNT_LIMIT,
            links: DEFAULT_COUNT_LIMIT,
        }
    }
}

/// Installs `limits` for every span recorded from now on.
pub(crate) fn set(limits: SpanLimits) {
    SPAN_ATTRIBUTES.store(limits.attributes, Ordering::Relaxed);
    SPAN_EVENTS.store(limits.events, Ordering::Relaxed);
    EVENT_ATTRIBUTES.store(limits.event_attributes, Ordering::Relaxed);
    SPAN_LINKS.store(limits.links, Ordering::Relaxed);
}

/// Attributes one span keeps at most; more are counted as dropped.
#[inline]
pub(crate) fn span_attributes() -> usize {
    SPAN_ATTRIBUTES.load(Ordering::Relaxed)
}

/// Events one span keeps at most; more are counted as dropped.
#[inline]
pub(crate) fn span_events() -> usize {
    SPAN_EVENTS.load(Ordering::Relaxed)
}

/// Attributes one event keeps at most.
#[inline]
pub(crate) fn event_attributes() -> usize {
    EVENT_ATTRIBUTES.load(Ordering::Relaxed)
}

/// Links one span keeps at most; more are counted as dropped.
#[inline]
pub(crate) fn span_links() -> usize {
    SPAN_LINKS.load(Ordering::Relaxed)
}
