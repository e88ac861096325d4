//! [`Span`]: a manual span that is not current anywhere until [`Span::in_scope`], and may
//! move between threads: a request's span in a server layer, a query's in a database wrapper.
use super::OnSpan;
use crate::span::DetachedSpan;
use opentelemetry::trace::SpanContext;
use opentelemetry::{Context, Value};
use std::borrow::Cow;

/// A span started with [`SpanBuilder::start_detached`](crate::SpanBuilder::start_detached):
/// current only inside [`Span::in_scope`], ended by [`Span::end`] or when dropped. It is
/// `Send`, so it can follow a request's future across threads, and not `Sync`.
///
/// ```
/// use godtrace_runtime::SpanKind;
///
/// let capture = godtrace_runtime::testing::capture();
/// let mut request = godtrace_runtime::span_builder("GET /wallets/{id}")
///     .kind(SpanKind::Server)
///     .start_detached();
/// request.in_scope(|| {
///     let _lookup = godtrace_runtime::span("wallet.lookup"); // a child of the request
/// });
/// request.set_attribute("http.response.status_code", 200);
/// request.end();
/// assert_eq!(
///     capture.span("wallet.lookup").parent_span_id,
///     Some(capture.span("GET /wallets/{id}").span_id)
/// );
/// ```
///
/// Not `Sync`: one thread at a time records on it.
///
/// ```compile_fail
/// fn share_with_another_thread<T: Sync>(_: &T) {}
/// share_with_another_thread(&godtrace_runtime::Span::none());
/// ```
#[must_use = "the span ends when dropped"]
pub struct Span {
    span: Option<DetachedSpan>,
}

impl Span {
    pub(crate) fn new(span: Option<DetachedSpan>) -> Span {
        Span { span }
    }

    /// A span that records nothing: what a layer holds when tracing is off.
    pub fn none() -> Span {
        Span { span: None }
    }

    /// Whether anything recorded on this span is kept (tracing on and the span sampled in).
    pub fn is_recording(&self) -> bool {
        self.span.as_ref().is_some_and(|s| s.span().is_recording())
    }

    /// Sets an attribute on this span (the key is cut at 256 bytes, strings at the attribute
    /// size limit).
    pub fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        self.on().set_attribute(key.into(), value.into());
    }

    /// Adds an event with attributes to this span (at most 128 attributes kept; the others
    /// are counted as dropped on the event).
    pub fn add_event<K: Into<Cow<'static, str>>>(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, Value)>,
    ) {
        self.on().add_event(name.into(), attributes);
    }

    /// Marks this span failed: status Error with `description`; `error.type` is `_OTHER` (the
    /// conventions' value for a type not known) unless one was set with `set_attribute`, before
    /// or after.
    pub fn set_error(&self, description: impl Into<Cow<'static, str>>) {
        self.on().set_error(description.into());
    }

    /// Links this span to `span_context`, a span it follows from (see
    /// [`SpanGuard::follows_from`](crate::SpanGuard::follows_from)).
    pub fn follows_from(&self, span_context: &SpanContext) {
        self.on().follows_from(span_context);
    }

    /// This span as an OpenTelemetry [`Context`]: the parent to inject into an outgoing
    /// request's headers, or to start work elsewhere under (`parent = ..`). A span sampled out
    /// gives the ids it propagates (not sampled), so downstream services follow the decision;
    /// with tracing off, the context it was started under (its parent's), passed on unchanged.
    pub fn context(&self) -> Context {
        self.span
            .as_ref()
            .map_or_else(Context::new, DetachedSpan::context)
    }

    /// Runs `f` with this span current on this thread: spans started inside are its children.
    /// A panic in `f` marks the span failed (status Error, `error.type = "panic"`, an
    /// `exception` event) and goes on unwinding; the span goes on until it is dropped, so a
    /// caller that catches the panic can run the next step in it.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match &mut self.span {
            Some(span) => span.in_scope(f),
            None => f(),
        }
    }

    /// Sets the span's first attributes at once, for the layers, which know a request's
    /// attributes up front: `fill` pushes them (each key once) into the record's own list, with
    /// room for `capacity` (a reused record's list has it already: nothing is allocated for the
    /// list in the steady state). Each value ends bounded by the attribute limit: those the
    /// layers do not cut to it where they make them are at most 256 bytes (fixed words such as
    /// `url.scheme`, the `server.address` a histogram shares), so they are cut here under a
    /// shorter limit (under the default one, nothing is read). A span that does not record
    /// runs nothing of `fill`.
    #[cfg(any(feature = "tower", feature = "reqwest"))]
    pub(crate) fn fill_bounded_attributes(
        &self,
        capacity: usize,
        fill: impl FnOnce(&mut Vec<opentelemetry::KeyValue>),
    ) {
        if let Some(span) = &self.span {
            span.span().record_first_attributes(capacity, |attributes| {
                fill(attributes);
                if crate::value::max_attribute_len() < crate::layers::MAX_UNCUT_VALUE_LEN {
                    attributes.iter_mut().for_each(crate::value::bound_in_place);
                }
                0
            });
        }
    }

    /// Renames the span, applied when it is exported: a name known only at its end (a gRPC
    /// server call to a method the server does not implement).
    #[cfg(feature = "tonic")]
    pub(crate) fn rename(&self, name: impl Into<Cow<'static, str>>) {
        if let Some(span) = &self.span {
            span.span().rename(Some(name.into()), None);
        }
    }

    /// The span's ids while it records (for a metric's exemplar).
    #[cfg(any(
        feature = "tower",
        feature = "reqwest",
        feature = "sqlx",
        feature = "redis"
    ))]
    pub(crate) fn recording_span_context(&self) -> Option<&SpanContext> {
        self.span
            .as_ref()
            .and_then(|span| span.span().recording_span_context())
    }

    /// Ends the span now (dropping it does the same).
    pub fn end(self) {
        drop(self);
    }

    fn on(&self) -> OnSpan<'_> {
        OnSpan(self.span.as_ref().map(DetachedSpan::span))
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span")
            .field("recording", &self.is_recording())
            .finish()
    }
}
