//! Carrying the current span into work that runs on another thread: `spawn_blocking`,
//! `std::thread::spawn`, rayon, a pool of your own.
//!
//! The current span is a property of the thread (and of the future, for async code), so a
//! closure handed to another thread starts with none there: a traced call in it begins a new,
//! unrelated trace. [`in_current_span`] wraps the closure so that it runs under the span that
//! was current where it was wrapped; [`spawn`] is `std::thread::spawn` with that done.

/// Wraps `work` so that it runs, wherever and whenever it is called, under the span current
/// here and now: traced calls inside become children of it, in the same trace (sampled out
/// with it when it is sampled out). Works whether or not `Config::otel_context` is on: godtrace's
/// own current span is carried, not only OpenTelemetry's context. Wrapped where no span is
/// current, it carries nothing: `work` runs under whatever is current where it runs.
///
/// Of a `#[traced]` call or a manual span, the ids are carried, not the record (it may have
/// ended by the time `work` runs): [`set_attribute`](crate::set_attribute),
/// [`add_event`](crate::add_event), and `tracing` or `log` events in `work` outside a span of
/// its own are not recorded. Start a span in `work` to record them, or hand the thread a
/// detached span ([`SpanBuilder::start_detached`](crate::SpanBuilder::start_detached)) and
/// enter it there. A `tracing` span (bridged by `godtrace::tracing::layer()`) innermost where
/// `work` is wrapped is entered there, its subscriber the thread's default meanwhile, and
/// takes them: the closure holds a handle to it, so, as `tracing` spans do, it stays open
/// until the closure has run or is dropped.
///
/// ```
/// let capture = godtrace_runtime::testing::capture();
/// let parent = godtrace_runtime::span("import");
/// let work = godtrace_runtime::in_current_span(|| {
///     let _child = godtrace_runtime::span("import.parse");
/// });
/// std::thread::spawn(work).join().unwrap();
/// drop(parent);
/// let parent = capture.span("import");
/// assert_eq!(capture.span("import.parse").parent_span_id, Some(parent.span_id));
/// ```
pub fn in_current_span<R>(work: impl FnOnce() -> R) -> impl FnOnce() -> R {
    let context = crate::span::current_context();
    // A bridged `tracing` span, innermost here, is entered there: its record is shared, so
    // what is recorded in `work` reaches it, as `tracing`'s own `in_scope` would.
    #[cfg(feature = "tracing")]
    let tracing_span = crate::bridge::tracing::entered_span_of(&context);
    move || {
        // A closure run while its thread exits cannot reach OpenTelemetry's context (reading it
        // then would abort): it runs as if untraced.
        if !crate::span::otel_context_usable() {
            return work();
        }
        #[cfg(feature = "tracing")]
        if let Some(span) = tracing_span {
            return span.run(work);
        }
        // Called inside OpenTelemetry's `Context::map_current`, where it cannot attach, the
        // closure runs as untraced. Run in place under a span made since (rayon runs a job
        // inside another it waits on), the captured span is the current one again.
        let _entered = crate::span::attach_again(context);
        work()
    }
}

/// [`std::thread::spawn`], with the new thread running `work` under the current span (see
/// [`in_current_span`]).
///
/// ```
/// let capture = godtrace_runtime::testing::capture();
/// let parent = godtrace_runtime::span("report");
/// godtrace_runtime::thread::spawn(|| drop(godtrace_runtime::span("report.render")))
///     .join()
///     .unwrap();
/// drop(parent);
/// assert_eq!(
///     capture.span("report.render").trace_id,
///     capture.span("report").trace_id
/// );
/// ```
pub fn spawn<T, F>(work: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(in_current_span(work))
}
