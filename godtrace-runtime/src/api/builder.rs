//! [`span_builder`]: a manual span with more than a name. Each setting is one method on
//! [`SpanBuilder`]; [`SpanBuilder::start`] starts the span as [`span`](fn@crate::span) does.
use super::SpanGuard;
use super::detached::Span;
use crate::span::{DetachedSpan, EnteredSpan, OpSpan, ParentContext};
use opentelemetry::Context;
use opentelemetry::trace::SpanKind;
use std::borrow::Cow;
use std::marker::PhantomData;

/// Describes a span named `name` to start with [`SpanBuilder::start`]; `span_builder(name)
/// .start()` is [`span(name)`](fn@crate::span).
///
/// ```
/// use godtrace_runtime::SpanKind;
///
/// let capture = godtrace_runtime::testing::capture();
/// let call = godtrace_runtime::span_builder("ledger.fetch").kind(SpanKind::Client).start();
/// drop(call);
/// assert_eq!(capture.span("ledger.fetch").kind, SpanKind::Client);
/// ```
pub fn span_builder(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        kind: SpanKind::Internal,
        parent: None,
    }
}

/// A manual span not started yet: see [`span_builder`].
#[must_use = "nothing is recorded until `start` is called"]
#[derive(Debug, Clone)]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Option<Context>,
}

impl SpanBuilder {
    /// The OpenTelemetry span kind exported (`Internal` unless set): `Server` for a request
    /// received, `Client` for one sent, `Producer`/`Consumer` for messages.
    pub fn kind(mut self, kind: SpanKind) -> SpanBuilder {
        self.kind = kind;
        self
    }

    /// The span's parent: a context extracted from a request's headers, or one taken with
    /// [`current_context`](crate::current_context) elsewhere. Anything `#[traced(parent = ..)]`
    /// takes; `None` (the default) means the current span.
    pub fn parent(mut self, parent: impl ParentContext) -> SpanBuilder {
        self.parent = parent.into_parent();
        self
    }

    /// Starts the span as a child of its parent (the current span unless [`parent`] set one)
    /// and makes it current until the returned guard is dropped.
    ///
    /// [`parent`]: SpanBuilder::parent
    pub fn start(self) -> SpanGuard {
        SpanGuard {
            span: OpSpan::start_named(self.name, self.kind, self.parent, false)
                .map(EnteredSpan::new),
            started_unwinding: std::thread::panicking(),
            _this_thread: PhantomData,
        }
    }

    /// Starts the span without making it current: a [`Span`] that can move to another thread
    /// or be held by a future, current only inside [`Span::in_scope`].
    pub fn start_detached(self) -> Span {
        // Sampled out, it still names its parent's trace and decision (`Span::context`).
        let span = OpSpan::start_named(self.name, self.kind, self.parent, true);
        Span::new(span.map(DetachedSpan::new))
    }
}
