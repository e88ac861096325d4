//! The tracer provider `init` installs as OpenTelemetry's global one: the SDK's, with tracers
//! that start a span under godtrace's innermost span.
//!
//! By default godtrace does not attach its spans to OpenTelemetry's context (that costs an
//! allocation per span; see `Config::otel_context`), so a third-party library that starts a
//! span through `opentelemetry::global::tracer(..)` is handed a current context without
//! godtrace's span in it. Its tracer is ours: it looks up godtrace's span there, so the
//! library's span still joins the trace, as godtrace's W3C propagator does for injected
//! headers.
use opentelemetry::trace::{
    Span, SpanBuilder, SpanContext, Status, TraceContextExt, Tracer, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::borrow::Cow;
use std::time::SystemTime;

/// OpenTelemetry's global tracer provider while godtrace is installed.
pub(crate) struct GlobalProvider(pub(crate) SdkTracerProvider);

impl TracerProvider for GlobalProvider {
    type Tracer = GlobalTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> GlobalTracer {
        GlobalTracer(self.0.tracer_with_scope(scope))
    }
}

/// A tracer of [`GlobalProvider`]: the SDK's, under godtrace's innermost span.
pub(crate) struct GlobalTracer(SdkTracer);

impl Tracer for GlobalTracer {
    type Span = GlobalSpan;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> GlobalSpan {
        // Off (`enabled(false)`, `OTEL_SDK_DISABLED`, a forked child), as OpenTelemetry's no-op
        // tracer: nothing recorded, and the parent's context passed on unchanged (a new id
        // marked sampled would name a span that is never exported).
        if !crate::span::switches::is_enabled() {
            return GlobalSpan::Dropped(parent_cx.span().span_context().clone());
        }
        let under_own;
        let parent_cx = match crate::span::own_span_under(parent_cx) {
            Some(own) => {
                under_own = parent_cx.with_remote_span_context(own);
                &under_own
            }
            None => parent_cx,
        };
        let span = self.0.build_with_context(builder, parent_cx);
        GlobalSpan::keeping_random_flag(span, parent_cx.span().span_context())
    }
}

/// A span of [`GlobalTracer`]: the SDK's, or, for one the sampler dropped under a parent whose
/// trace id is random (the W3C Level 2 flag), that span's ids with the parent's flag kept: the
/// SDK gives a dropped span no flag at all, so what is injected under it would say, within one
/// trace, that its id is not random.
#[allow(
    clippy::large_enum_variant,
    reason = "as large as the SDK's span it stands for; boxing it would allocate for every span"
)]
pub(crate) enum GlobalSpan {
    Sdk(opentelemetry_sdk::trace::Span),
    Dropped(SpanContext),
}

impl GlobalSpan {
    fn keeping_random_flag(span: opentelemetry_sdk::trace::Span, parent: &SpanContext) -> Self {
        let ids = span.span_context();
        let random = crate::span::RANDOM;
        if span.is_recording() || !parent.is_valid() || parent.trace_flags() & random != random {
            return GlobalSpan::Sdk(span);
        }
        GlobalSpan::Dropped(SpanContext::new(
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags() | random,
            false,
            ids.trace_state().clone(),
        ))
    }
}

impl Span for GlobalSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if let GlobalSpan::Sdk(span) = self {
            span.add_event_with_timestamp(name, timestamp, attributes);
        }
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            GlobalSpan::Sdk(span) => span.span_context(),
            GlobalSpan::Dropped(ids) => ids,
        }
    }

    fn is_recording(&self) -> bool {
        matches!(self, GlobalSpan::Sdk(span) if span.is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if let GlobalSpan::Sdk(span) = self {
            span.set_attribute(attribute);
        }
    }

    fn set_status(&mut self, status: Status) {
        if let GlobalSpan::Sdk(span) = self {
            span.set_status(status);
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let GlobalSpan::Sdk(span) = self {
            span.update_name(new_name);
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let GlobalSpan::Sdk(span) = self {
            span.add_link(span_context, attributes);
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let GlobalSpan::Sdk(span) = self {
            span.end_with_timestamp(timestamp);
        }
    }
}
