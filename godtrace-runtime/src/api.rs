//! The manual API beside `#[traced]`: spans by name, attributes and events on the current
//! span, and the current ids.
use crate::span::{self, Current, EnteredSpan, with_current};
use crate::value::{self, EventAttributes};
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

pub(crate) mod builder;
pub(crate) mod detached;

/// Starts a span named `name` as a child of the current span and makes it current until the
/// returned guard is dropped.
///
/// ```
/// let span = godtrace_runtime::span("royalty.distribute");
/// span.set_attribute("royalty.recipients", 3);
/// godtrace_runtime::add_event("payout.sent", [("amount.eth", 0.25.into())]);
/// drop(span); // ends it
/// ```
///
/// [`span_builder`](crate::span_builder) starts one with more settings (its kind).
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanGuard {
    builder::span_builder(name).start()
}

/// A span started with [`span`](fn@span); current on this thread until dropped, which ends it.
///
/// Not `Send` (nor `Sync`): it marks the current span of the thread that created it. For
/// async code, prefer `#[traced]`, which follows the future across threads.
///
/// ```compile_fail
/// fn send_to_another_thread<T: Send>(_: T) {}
/// send_to_another_thread(godtrace_runtime::span("job"));
/// ```
///
/// ```compile_fail
/// fn share_with_another_thread<T: Sync>(_: &T) {}
/// share_with_another_thread(&godtrace_runtime::span("job"));
/// ```
#[must_use = "the span ends when the guard is dropped"]
pub struct SpanGuard {
    span: Option<EnteredSpan>,
    /// Whether the thread was unwinding already when the span started (a guard made in a
    /// `Drop` run by a panic): only a panic that starts after it fails the span.
    started_unwinding: bool,
    /// Its own `!Send` and `!Sync`, whatever the fields are.
    _this_thread: PhantomData<*const ()>,
}

impl Drop for SpanGuard {
    /// A guard dropped by a panic that started inside its span marks the span failed as a
    /// traced function's panic does (`error.type = panic`, an `exception` event), then ends it.
    fn drop(&mut self) {
        if let Some(entered) = &self.span
            && !self.started_unwinding
            && std::thread::panicking()
        {
            // The payload is not ours to read here (the unwind goes on).
            entered
                .span()
                .record_unread_panic("a panic unwound through the span");
        }
    }
}

impl SpanGuard {
    /// Sets an attribute on this span (the key is cut at 256 bytes, strings at the attribute
    /// size limit).
    pub fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        self.on().set_attribute(key.into(), value.into());
    }

    /// Adds an event with attributes to this span (at most 128 kept; the others are counted as
    /// dropped on the event).
    pub fn add_event<K: Into<Cow<'static, str>>>(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, Value)>,
    ) {
        self.on().add_event(name.into(), attributes);
    }

    /// Links this span to `span_context`, a span it follows from (a batch's messages, the
    /// request that queued this job): exported as an OTLP link, which trace views show beside
    /// the parent. At most `OTEL_SPAN_LINK_COUNT_LIMIT` (default 128) are kept, the others
    /// counted as dropped; an invalid context is ignored.
    ///
    /// ```
    /// use godtrace_runtime::otel::trace::TraceContextExt;
    ///
    /// let capture = godtrace_runtime::testing::capture();
    /// let queued = {
    ///     let _enqueue = godtrace_runtime::span("job.enqueue");
    ///     godtrace_runtime::current_context().span().span_context().clone()
    /// };
    /// let job = godtrace_runtime::span("job.run");
    /// job.follows_from(&queued);
    /// drop(job);
    /// assert_eq!(capture.span("job.run").links[0].span_id(), queued.span_id());
    /// ```
    pub fn follows_from(&self, span_context: &SpanContext) {
        self.on().follows_from(span_context);
    }

    /// Marks this span failed: status Error with `description`; `error.type` is `_OTHER` (the
    /// conventions' value for a type not known) unless one was set with `set_attribute`, before
    /// or after.
    pub fn set_error(&self, description: impl Into<Cow<'static, str>>) {
        self.on().set_error(description.into());
    }

    fn on(&self) -> OnSpan<'_> {
        OnSpan(self.span.as_ref().map(EnteredSpan::span))
    }
}

/// What [`SpanGuard`] and [`Span`](crate::Span) record on the span they hold (none with
/// tracing off), bounded as everything recorded is.
struct OnSpan<'a>(Option<&'a span::OpSpan>);

impl OnSpan<'_> {
    fn set_attribute(&self, key: Cow<'static, str>, value: Value) {
        if let Some(span) = self.0 {
            span.record_owned(attribute(key, value));
        }
    }

    fn add_event<K: Into<Cow<'static, str>>>(
        &self,
        name: Cow<'static, str>,
        attributes: impl IntoIterator<Item = (K, Value)>,
    ) {
        if let Some(span) = self.0 {
            span.add_event(name, event_attributes(attributes));
        }
    }

    fn follows_from(&self, span_context: &SpanContext) {
        if let Some(span) = self.0
            && span_context.is_valid()
        {
            span.add_link(span_context.clone());
        }
    }

    /// Status Error with `description`, and `error.type` `_OTHER` (the conventions' value when
    /// the type is not known) unless one was set: the conventions ask a failed operation for
    /// one, and dashboards group failures by it.
    fn set_error(&self, description: Cow<'static, str>) {
        if let Some(span) = self.0 {
            span.record_owned_if_absent(KeyValue::new(
                "error.type",
                crate::record::error_type::OTHER,
            ));
            span.set_status(Status::error(description));
        }
    }
}

/// Sets an attribute on the current span (no-op when there is none). The key is cut at
/// [`MAX_ATTRIBUTE_KEY_LEN`](crate::limits::MAX_ATTRIBUTE_KEY_LEN) bytes, a string value at
/// [`max_attribute_len`](crate::limits::max_attribute_len).
///
/// ```
/// godtrace_runtime::set_attribute("wallet.address", "7xKX…9fQ");
/// ```
pub fn set_attribute(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
    let attribute = attribute(key.into(), value.into());
    with_current(|current| match current {
        Current::Own(live) => live.set_attribute(attribute),
        Current::Other(cx) => {
            // A `tracing` span the bridge entered: its record, not its context, takes it.
            #[cfg(feature = "tracing")]
            let Some(attribute) = crate::bridge::tracing::set_attribute_on_entered(cx, attribute)
            else {
                return;
            };
            cx.span().set_attribute(attribute);
        }
        Current::None | Current::Suppressed => {}
    });
}

/// Adds an event to the current span (no-op when there is none). It keeps its first 128
/// attributes (OpenTelemetry's default event attribute count limit) and counts the others as
/// dropped; keys and values are bounded as in [`set_attribute`].
///
/// ```
/// godtrace_runtime::add_event("payout.sent", [("amount.eth", 0.25.into())]);
/// // No attributes: an empty array names no key type, so name it.
/// godtrace_runtime::add_event::<&str>("cache.flushed", []);
/// ```
pub fn add_event<K: Into<Cow<'static, str>>>(
    name: impl Into<Cow<'static, str>>,
    attributes: impl IntoIterator<Item = (K, Value)>,
) {
    add_event_to_current(name.into(), event_attributes(attributes));
}

/// Adds an event whose attributes are bounded to the innermost current span: a `#[traced]` or
/// manual span, a `tracing` span the bridge entered on this thread, or another OpenTelemetry
/// span. [`add_event`] and the `log` bridge's records go through it.
pub(crate) fn add_event_to_current(name: Cow<'static, str>, attributes: EventAttributes) {
    with_current(|current| match current {
        Current::Own(live) => live.add_event(name, attributes),
        Current::Other(cx) => {
            // A `tracing` span the bridge entered: its record, not its context, takes it.
            #[cfg(feature = "tracing")]
            let Some((name, attributes)) =
                crate::bridge::tracing::add_event_to_entered(cx, name, attributes)
            else {
                return;
            };
            // OpenTelemetry's span API takes no count of dropped attributes; its SDK applies
            // its own limits to what it is given.
            cx.span().add_event(name, attributes.into_parts().0);
        }
        Current::None | Current::Suppressed => {}
    });
}

/// The current trace id as 32 lowercase hex digits, or `None` outside any span.
pub fn trace_id() -> Option<String> {
    span::current_span_context().map(|sc| sc.trace_id().to_string())
}

/// The current span id as 16 lowercase hex digits, or `None` outside any span.
pub fn span_id() -> Option<String> {
    span::current_span_context().map(|sc| sc.span_id().to_string())
}

/// The current span as an OpenTelemetry [`Context`], for code that takes one: a parent for
/// `#[traced(parent = ...)]` on work handed to another task, a propagator of your own, or
/// another OpenTelemetry API. With [`crate::Config::otel_context`] on,
/// `Context::current()` gives the same; off (the default), this is the way.
///
/// ```
/// use godtrace_runtime::otel::trace::TraceContextExt;
///
/// let _capture = godtrace_runtime::testing::capture();
/// let _span = godtrace_runtime::span("batch.schedule");
/// let cx = godtrace_runtime::current_context();
/// assert_eq!(
///     Some(cx.span().span_context().span_id().to_string()),
///     godtrace_runtime::span_id()
/// );
/// ```
pub fn current_context() -> Context {
    span::current_context()
}

/// An attribute with its key cut to [`value::MAX_ATTRIBUTE_KEY_LEN`] bytes and its value to
/// the attribute size limit.
fn attribute(key: Cow<'static, str>, v: Value) -> KeyValue {
    KeyValue::new(
        value::bounded_key(key),
        value::bounded_value(v, value::max_attribute_len()),
    )
}

/// An event's attributes, bounded: one per key, as [`EventAttributes::gather`] keeps them.
fn event_attributes<K: Into<Cow<'static, str>>>(
    attributes: impl IntoIterator<Item = (K, Value)>,
) -> EventAttributes {
    let attributes = attributes.into_iter().map(|(k, v)| attribute(k.into(), v));
    EventAttributes::gather(attributes, 0)
}
