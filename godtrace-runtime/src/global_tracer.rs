//! The tracer provider `init` installs as OpenTelemetry's global one: the SDK's, with tracers
//! that start a span under godtrace's innermost span.
//!
//! By default godtrace does not attach its spans to OpenTelemetry's context (that costs an
//! allocation per span; see `Config::otel_context`), so a third-party library that starts a
//! span through `opentelemetry::global::tracer(..)` is handed a current context without
//! godtrace's span in it. Its tracer is ours: it looks up godtrace's span there, so the
//! library's span still joins the trace, as godtrace's W3C propagator does for injected
//! headers.
use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

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
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        match crate::span::own_span_under(parent_cx) {
            Some(own) => self
                .0
                .build_with_context(builder, &parent_cx.with_remote_span_context(own)),
            None => self.0.build_with_context(builder, parent_cx),
        }
    }
}
