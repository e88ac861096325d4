//! The manual API beside `#[traced]`: spans by name, attributes and events on the current
//! span, and the current ids.
use crate::span::{self, Current, EnteredSpan, OpSpan, with_current};
use crate::value;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

/// Starts a span named `name` as a child of the current span and makes it current until the
/// returned guard is dropped.
///
/// ```
/// let span = godtrace_runtime::span("royalty.distribute");
/// span.set_attribute("royalty.recipients", 3);
/// godtrace_runtime::add_event("payout.sent", [("amount.eth", 0.25.into())]);
/// drop(span); // ends it
/// ```
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanGuard {
    SpanGuard {
        span: OpSpan::start_named(name.into()).map(EnteredSpan::new),
        _this_thread: PhantomData,
    }
}

/// A span started with [`span`]; current on this thread until dropped, which ends it.
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
    /// Its own `!Send` and `!Sync`, whatever the fields are.
    _this_thread: PhantomData<*const ()>,
}

impl SpanGuard {
    /// Sets an attribute on this span (strings are cut at the attribute size limit).
    pub fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        if let Some(span) = &self.span {
            span.span()
                .record_owned(KeyValue::new(key.into(), bounded(value.into())));
        }
    }

    /// Adds an event with attributes to this span.
    pub fn add_event<K: Into<Cow<'static, str>>>(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, Value)>,
    ) {
        if let Some(span) = &self.span {
            span.span().add_event(name.into(), key_values(attributes));
        }
    }

    /// Ends this span with status Error and `description`.
    pub fn set_error(&self, description: impl Into<Cow<'static, str>>) {
        if let Some(span) = &self.span {
            span.span().set_status(Status::error(description));
        }
    }
}

/// Sets an attribute on the current span (no-op when there is none).
///
/// ```
/// godtrace_runtime::set_attribute("wallet.address", "7xKX…9fQ");
/// ```
pub fn set_attribute(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
    let attribute = KeyValue::new(key.into(), bounded(value.into()));
    with_current(|current| match current {
        Current::Own(live) => live.set_attribute(attribute),
        Current::Other(cx) => cx.span().set_attribute(attribute),
        Current::None | Current::Suppressed => {}
    });
}

/// Adds an event to the current span (no-op when there is none).
pub fn add_event<K: Into<Cow<'static, str>>>(
    name: impl Into<Cow<'static, str>>,
    attributes: impl IntoIterator<Item = (K, Value)>,
) {
    let (name, attributes) = (name.into(), key_values(attributes));
    with_current(|current| match current {
        Current::Own(live) => live.add_event(name, attributes),
        Current::Other(cx) => cx.span().add_event(name, attributes),
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
/// another OpenTelemetry API. With [`crate::Config::otel_context`] on (the default)
/// `Context::current()` gives the same; with it off, this is the way.
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

fn bounded(v: Value) -> Value {
    match v {
        Value::String(s) if s.as_str().len() > value::max_attribute_len() => {
            value::bounded_str(s.as_str())
        }
        other => other,
    }
}

fn key_values<K: Into<Cow<'static, str>>>(
    attributes: impl IntoIterator<Item = (K, Value)>,
) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|(k, v)| KeyValue::new(k.into(), bounded(v)))
        .collect()
}
