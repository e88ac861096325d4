//! The hot path: starting and ending the span of one traced call.
//!
//! Everything the macro generates goes through [`OpSpan::start`], [`run_sync`] and
//! [`Instrumented`]; nothing else in the crate starts or ends an operation's span, so this
//! file is the one to profile or replace.
mod clock;
mod head;
mod site;

pub(crate) use head::{HandoffIds, already_sampled, sampled_out_context};
pub use site::CallSite;

use crate::provider;
use opentelemetry::trace::{Span as _, SpanBuilder, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use quanta::Instant;
use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::Poll;

/// What `#[traced(parent = ...)]` accepts: a [`Context`] (owned or borrowed), or an `Option`
/// of one, where `None` means "the current context".
pub trait ParentContext {
    /// The parent to start under; `None` for the current context.
    fn into_parent(self) -> Option<Context>;
}

impl ParentContext for Context {
    fn into_parent(self) -> Option<Context> {
        Some(self)
    }
}
impl ParentContext for &Context {
    fn into_parent(self) -> Option<Context> {
        Some(self.clone())
    }
}
impl<P: ParentContext> ParentContext for Option<P> {
    fn into_parent(self) -> Option<Context> {
        self.and_then(ParentContext::into_parent)
    }
}
impl<'a, P> ParentContext for &'a Option<P>
where
    &'a P: ParentContext,
{
    fn into_parent(self) -> Option<Context> {
        self.as_ref().and_then(ParentContext::into_parent)
    }
}

/// The span of one traced call; empty when tracing is off.
pub struct OpSpan {
    /// The context current while the call runs: the span's own when recording; the parent it
    /// carries when sampled out (see `head::decide`); `None` when the caller's context stays.
    cx: Option<Context>,
    /// Whether the span is sampled in (read on every record, so kept here, not looked up).
    recording: bool,
    /// The sampled-out-root mark to hold while the call runs (`head::enter`); `None` leaves
    /// the thread's mark as it is.
    scope: Option<bool>,
    /// When the call started, for its span's timestamps and duration histogram; `None` for
    /// manual spans and unmeasured sampled-out calls.
    timing: Option<Timing>,
    /// Set by an `Err` or a panic: the `error.type` label of the duration histogram.
    error_type: Cell<Option<&'static str>>,
}

/// When the call started, for its span's timestamps and its duration histogram.
struct Timing {
    /// The call site whose histogram records the duration; `None` with
    /// `include_duration = false`.
    histogram: Option<&'static CallSite>,
    start: Instant,
}

impl OpSpan {
    /// Starts the span of a call at `site`, under `parent` (evaluated only when tracing is on;
    /// `None` means the current context), with the call's `arg_count` recorded arguments
    /// pushed by `record_args` into the span's attributes as it is built, and only when it is
    /// sampled in. When godtrace is not initialised or disabled this is one relaxed load and
    /// a branch.
    #[inline(always)]
    pub fn start<P: ParentContext>(
        site: &'static CallSite,
        parent: impl FnOnce() -> P,
        arg_count: usize,
        record_args: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        if !provider::is_enabled() {
            // `None`, not an empty span: the off path then writes one tag and has nothing
            // to drop.
            return None;
        }
        let mut record_args = Some(record_args);
        Self::start_enabled(site, parent().into_parent(), arg_count, &mut |attrs| {
            if let Some(record) = record_args.take() {
                record(attrs);
            }
        })
    }

    #[inline(never)]
    fn start_enabled(
        site: &'static CallSite,
        explicit: Option<Context>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let measured = site.include_duration.then(Instant::now);
        let root_trace_id = match head::decide(site, explicit.as_ref()) {
            head::Head::NotSampled {
                carry,
                sampled_out_root,
            } => {
                // Nothing to carry, mark or measure: the call runs as if untraced.
                if carry.is_none() && !sampled_out_root && measured.is_none() {
                    return None;
                }
                return Some(OpSpan {
                    // Whatever context is carried decides for the children; only a root
                    // dropped here (or under one) sets the thread-local mark.
                    scope: Some(sampled_out_root),
                    cx: carry,
                    recording: false,
                    timing: measured.map(|start| Timing {
                        histogram: Some(site),
                        start,
                    }),
                    error_type: Cell::new(None),
                });
            }
            head::Head::Sampled { root_trace_id } => root_trace_id,
        };
        let tracer = provider::tracer()?;
        let parent = explicit.unwrap_or_else(Context::current);
        let start = measured.unwrap_or_else(Instant::now);
        // One allocation for every attribute known at the start.
        let mut attributes = Vec::with_capacity(3 + arg_count);
        attributes.extend([
            KeyValue::new("code.function.name", site.function()),
            KeyValue::new("code.file.path", site.file),
            KeyValue::new("code.line.number", i64::from(site.line)),
        ]);
        record_args(&mut attributes);
        let builder = SpanBuilder::from_name(site.name())
            .with_start_time(clock::wall(start))
            .with_attributes(attributes);
        let span = {
            let _decided = head::Handoff::set(root_trace_id);
            tracer.build_with_context(builder, &parent)
        };
        Some(OpSpan {
            recording: span.is_recording(),
            scope: Some(false),
            cx: Some(parent.with_span(span)),
            timing: Some(Timing {
                histogram: site.include_duration.then_some(site),
                start,
            }),
            error_type: Cell::new(None),
        })
    }

    /// Starts a span named `name` under the current context (the manual API); `None` when
    /// tracing is off or the call runs under a root godtrace sampled out (its children,
    /// manual ones included, follow that decision).
    pub(crate) fn start_named(name: std::borrow::Cow<'static, str>) -> Option<OpSpan> {
        if !provider::is_enabled() || head::in_sampled_out_root() {
            return None;
        }
        let tracer = provider::tracer()?;
        let parent = Context::current();
        let span = tracer.build_with_context(SpanBuilder::from_name(name), &parent);
        Some(OpSpan {
            recording: span.is_recording(),
            scope: Some(false),
            cx: Some(parent.with_span(span)),
            timing: None,
            error_type: Cell::new(None),
        })
    }

    /// Whether anything recorded on this span will be kept (tracing on and sampled in).
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// This call's own span, when it records one. (When sampled out, `cx` holds a parent's
    /// context, which must never be touched from here.)
    #[inline]
    fn own_span(&self) -> Option<opentelemetry::trace::SpanRef<'_>> {
        match &self.cx {
            Some(cx) if self.recording => Some(cx.span()),
            _ => None,
        }
    }

    /// The context that makes this span current, for `attach`.
    pub(crate) fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }

    /// Sets attribute `key` to `value`.
    #[inline]
    pub fn record(&self, key: &'static str, value: Value) {
        self.record_owned(KeyValue::new(key, value));
    }

    pub(crate) fn record_owned(&self, attribute: KeyValue) {
        if let Some(span) = self.own_span() {
            span.set_attribute(attribute);
        }
    }

    pub(crate) fn add_event(&self, name: std::borrow::Cow<'static, str>, attrs: Vec<KeyValue>) {
        if let Some(span) = self.own_span() {
            span.add_event(name, attrs);
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        if let Some(span) = self.own_span() {
            span.set_status(status);
        }
    }

    /// Ends the span with status Error: `description`, and `error.type` = `error_type`.
    pub fn record_error(&self, error_type: &'static str, description: fmt::Arguments<'_>) {
        self.error_type.set(Some(error_type));
        let Some(span) = self.own_span() else { return };
        let Value::String(text) = crate::value::bounded_fmt(description) else {
            unreachable!("bounded_fmt returns a string")
        };
        span.set_attribute(KeyValue::new("error.type", error_type));
        span.set_status(Status::error(text.to_string()));
    }

    fn record_panic(&self, payload: &(dyn Any + Send)) {
        self.error_type.set(Some("panic"));
        let Some(span) = self.own_span() else { return };
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let message = crate::value::bounded_str(message);
        span.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", "panic"),
                KeyValue::new("exception.message", message.clone()),
            ],
        );
        span.set_status(Status::error(message.as_str().into_owned()));
    }

    /// Ends the span now.
    #[inline]
    pub fn end(self) {
        self.end_in_place();
    }

    fn end_in_place(&self) {
        let Some(timing) = &self.timing else {
            if let Some(span) = self.own_span() {
                span.end();
            }
            return;
        };
        let end = Instant::now();
        if let Some(site) = timing.histogram {
            let exemplar = self
                .own_span()
                .map(|span| span.span_context().clone())
                .filter(|sc| sc.is_sampled());
            site.metrics.record(
                site,
                end.duration_since(timing.start),
                self.error_type.get(),
                exemplar.as_ref(),
            );
        }
        if let Some(span) = self.own_span() {
            span.end_with_timestamp(clock::wall(end));
        }
    }
}

/// Runs a traced sync body: the span is current while `body` runs; a panic marks the span
/// and goes on unwinding; `finish` records the outcome (errors always, for the duration
/// histogram; values only when the span is recording).
#[inline(always)]
pub fn run_sync<R>(
    span: Option<OpSpan>,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R),
) -> R {
    let Some(span) = span else {
        return body();
    };
    let ret = span.run_current(body);
    finish(&span, &ret);
    span.end();
    ret
}

/// For a fn that is not `async` but returns a future (`impl Future`, `Pin<Box<dyn Future>>`,
/// `#[async_trait]` methods): `make` builds the future with the span current, and the span
/// then covers the future until it completes.
#[inline(always)]
pub fn instrument_future<F: Future, Fin: FnOnce(&OpSpan, &F::Output)>(
    span: Option<OpSpan>,
    make: impl FnOnce() -> F,
    finish: Fin,
) -> Instrumented<F, Fin> {
    let Some(span) = span else {
        return Instrumented::new(None, make(), finish);
    };
    let inner = span.run_current(make);
    Instrumented::new(Some(span), inner, finish)
}

impl OpSpan {
    /// Runs `f` with this span current; a panic in `f` ends the span as failed and goes on
    /// unwinding.
    #[inline(always)]
    fn run_current<R>(&self, f: impl FnOnce() -> R) -> R {
        let marked = self.scope.map(head::enter);
        let attached = self.cx.as_ref().map(|cx| cx.clone().attach());
        let outcome = catch_unwind(AssertUnwindSafe(f));
        drop(attached);
        if let Some(previous) = marked {
            head::leave(previous);
        }
        match outcome {
            Ok(ret) => ret,
            Err(payload) => {
                self.record_panic(&*payload);
                self.end_in_place();
                resume_unwind(payload)
            }
        }
    }
}

/// A traced future: its span started when the traced function was called, is current while
/// the future is polled (on any thread), and ends when the future completes, panics, or is
/// dropped unfinished (then marked `godtrace.cancelled = true`).
pub struct Instrumented<F: Future, Fin> {
    inner: F,
    /// Dropped only by `Drop` below (taken when set), so the off path has no drop glue to run.
    span: ManuallyDrop<Option<OpSpan>>,
    finish: Option<Fin>,
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output)> Instrumented<F, Fin> {
    /// Wraps `inner`, which runs under `span`; `finish` records the output.
    #[inline(always)]
    pub fn new(span: Option<OpSpan>, inner: F, finish: Fin) -> Self {
        Instrumented {
            inner,
            span: ManuallyDrop::new(span),
            finish: Some(finish),
        }
    }
}

impl<F: Future, Fin: FnOnce(&OpSpan, &F::Output)> Future for Instrumented<F, Fin> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`, and `Drop`
        // below does not move it. `span` and `finish` are not pinned (plain moves are fine).
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        // Off: a discriminant test, no move of the (empty) span slot.
        if this.span.is_none() {
            return inner.poll(task);
        }
        // Taken out while polling so that a panic, which ends the span in `run_current`,
        // leaves nothing for `Drop` to mark as cancelled.
        let span = this.span.take().expect("checked above");
        let output = match span.run_current(|| inner.poll(task)) {
            Poll::Pending => {
                *this.span = Some(span);
                return Poll::Pending;
            }
            Poll::Ready(output) => output,
        };
        if let Some(finish) = this.finish.take() {
            finish(&span, &output);
        }
        span.end();
        Poll::Ready(output)
    }
}

impl<F: Future, Fin> Drop for Instrumented<F, Fin> {
    #[inline]
    fn drop(&mut self) {
        if self.span.is_some() {
            self.cancel();
        }
    }
}

impl<F: Future, Fin> Instrumented<F, Fin> {
    /// Dropped before completion: ends the span, marked cancelled.
    #[cold]
    fn cancel(&mut self) {
        if let Some(span) = self.span.take() {
            span.record_owned(KeyValue::new("godtrace.cancelled", true));
            span.end();
        }
    }
}
