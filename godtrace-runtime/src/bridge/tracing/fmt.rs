//! The trace ids on tracing-subscriber's fmt lines.
use super::Bridged;
use opentelemetry::trace::SpanContext;
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// A fmt event format that starts each line with `trace_id=<32 hex> span_id=<16 hex> `: the
/// ids of the span the event is in (its explicit `parent:`, else the innermost current span:
/// a `#[traced]` call, a manual span, or a `tracing` span the godtrace layer bridged), so a
/// line can be pasted into a trace search. A line outside any span (`parent: None` included,
/// or an explicit parent the layer did not bridge) is written as it was.
///
/// Wraps any text event format (the prefix is text: a JSON format's lines would no longer be
/// JSON; there, write `godtrace::trace_id()` and `godtrace::span_id()` as fields of your own);
/// with the stock fmt layer it is one call:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(godtrace_runtime::tracing::layer())
///     .with(tracing_subscriber::fmt::layer().map_event_format(godtrace_runtime::tracing::TraceIds::new));
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TraceIds<F> {
    inner: F,
}

impl<F> TraceIds<F> {
    /// Prefixes the lines `inner` formats with the trace ids.
    pub fn new(inner: F) -> TraceIds<F> {
        TraceIds { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The span godtrace's layer puts the event in: its explicit parent when that span was
        // bridged (none when it was not), none for `parent: None`, else the current span.
        let ids = match event.parent() {
            _ if crate::bridge::may_be_inside_otel_context(event.metadata().target()) => None,
            Some(id) => ctx.span(id).and_then(|span| {
                let extensions = span.extensions();
                Some(extensions.get::<Bridged>()?.span_context())
            }),
            None if event.is_root() => None,
            None => crate::bridge::current_ids(),
        };
        if let Some(ids) = ids.filter(SpanContext::is_valid) {
            write!(
                writer,
                "trace_id={} span_id={} ",
                ids.trace_id(),
                ids.span_id()
            )?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
