//! The span of one traced call ([`OpSpan`]): its start (the head decision, the record) and its
//! end (the duration histogram, the hand-off to the sinks); what it records while it runs
//! (`op/record.rs`), running code with it current (`op/run.rs`: the sync path, [`run_sync`]).
use super::clock::{self, Tick};
use super::live::{LiveBox, Name, ParentIds};
use super::sampling::Quick;
use super::{CallSite, Live, carried, current, sampled_out, sampling, sink, switches};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::panic::resume_unwind;

mod record;
mod run;
mod sync_call;
pub use run::run_sync;
pub(super) use run::{Entered, Entry, MadeCurrent};
pub use sync_call::{run_sync_args_at, run_sync_at};

/// What `#[traced(parent = ...)]` accepts: a [`Context`] (owned or borrowed), or an `Option`
/// of one (owned or borrowed), where `None` means "the current context".
#[diagnostic::on_unimplemented(
    message = "`parent = ..` takes an OpenTelemetry context, not `{Self}`",
    label = "not a context",
    note = "accepted: `Context`, `&Context`, `Option<Context>`, `Option<&Context>` or `&Option<Context>` (`None` means the current span); `godtrace::current_context()` gives the current one, a propagator's `extract` a remote one"
)]
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
/// A borrowed context borrowed again: `#[traced(parent = cx)]` reads a parameter named bare
/// by reference, so `cx: &Context`, `&Option<Context>` or `Option<&Context>` come as `&&..`.
impl<'a, P: ?Sized> ParentContext for &&'a P
where
    &'a P: ParentContext,
{
    fn into_parent(self) -> Option<Context> {
        (*self).into_parent()
    }
}

/// `error.type` of a call that panicked: on its span and on its duration histogram's series.
const PANIC_ERROR_TYPE: &str = "panic";

/// The span of one traced call, while it runs.
pub struct OpSpan {
    /// OpenTelemetry's context to make current while the call runs: the span's own (so
    /// other OpenTelemetry code joins it), or the parent a sampled-out call carries (see
    /// `sampling::decide`); `None` leaves the caller's context current.
    cx: Option<Context>,
    /// The span godtrace records; `None` when sampled out. On the heap: the thread's list of
    /// current spans points at it, wherever this `OpSpan` moves.
    live: Option<LiveBox>,
    /// The sampled-out-root mark to hold while the call runs (`sampled_out::hold`): the root's
    /// random bits, or 0 for none.
    scope: u64,
    /// When the call started, for its span's timestamps and duration histogram; `None` for
    /// unmeasured sampled-out calls.
    timing: Option<Timing>,
    /// Set by an `Err` or a panic: the `error.type` label of the duration histogram.
    error_type: Cell<Option<&'static str>>,
}

/// When the call started, for its span's timestamps and its duration histogram.
struct Timing {
    /// The call site whose histogram records the duration; `None` with
    /// `include_duration = false` and for manual spans.
    histogram: Option<&'static CallSite>,
    start: Tick,
}

impl OpSpan {
    /// Starts the span of a call at `site`, under `parent` (`None` means the current span),
    /// with the call's `arg_count` recorded arguments pushed by `record_args` into the span's
    /// attributes, only when it is sampled in (`record_args` is not called when `arg_count` is
    /// 0: it has nothing to push then). When godtrace is not initialised or disabled this is
    /// one relaxed load and a branch, and a given `parent` is only made current for the call
    /// (`OpSpan::passing_through`).
    #[inline(always)]
    pub fn start<P: ParentContext>(
        site: &'static CallSite,
        parent: impl FnOnce() -> P,
        arg_count: usize,
        record_args: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        if !switches::is_enabled() {
            // `None`, not an empty span: the off path then writes one tag and has nothing
            // to drop (a site without `parent = ..` knows at compile time it has none).
            return parent().into_parent().map(OpSpan::passing_through);
        }
        let mut record_args = Some(record_args);
        let mut recording = |attrs: &mut Vec<KeyValue>| {
            if let Some(record) = record_args.take() {
                record(attrs);
            }
        };
        // Without recorded arguments (known at compile time), a closure that holds nothing:
        // the call site builds no state for it.
        let mut nothing = |_: &mut Vec<KeyValue>| {};
        let record_args: &mut dyn FnMut(&mut Vec<KeyValue>) = if arg_count == 0 {
            &mut nothing
        } else {
            &mut recording
        };
        match parent().into_parent() {
            // Known at compile time for a call site without `parent = ..`, and so is whether
            // it records arguments: one without gets the instance that holds nothing of them
            // (two registers fewer to save across the start).
            None if arg_count == 0 => Self::start_current::<false>(site, 0, record_args),
            None => Self::start_current::<true>(site, arg_count, record_args),
            explicit => Self::start_enabled(site, explicit, arg_count, record_args),
        }
    }

    /// [`OpSpan::start`] under the current span: the path of every call without `parent =
    /// ..`. The calls godtrace does not record stop at [`sampling::quick`] and get their span
    /// built here; the others go on out of line. `HAS_ARGS`: whether the site records
    /// arguments (`arg_count` is 0 otherwise).
    #[inline(never)]
    fn start_current<const HAS_ARGS: bool>(
        site: &'static CallSite,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        Self::start_current_in_line::<HAS_ARGS>(site, arg_count, record_args)
    }

    /// [`OpSpan::start`] of a call site without `parent = ..` nor recorded arguments, when
    /// tracing is on: in line, for a caller that is itself out of line (`Instrumented::start`)
    /// and keeps a call sampled out in a form of its own, which `sampled_out` makes from its
    /// root's mark and, when its site records durations, its start; a span started goes to
    /// `started`.
    #[inline(always)]
    pub(super) fn start_unread<T>(
        site: &'static CallSite,
        sampled_out: impl FnOnce(u64, Option<Tick>) -> T,
        started: impl FnOnce(Option<OpSpan>) -> T,
    ) -> T {
        Self::start_current_as::<false, T>(site, 0, &mut |_| {}, sampled_out, started)
    }

    /// The body of [`OpSpan::start_current`].
    #[inline(always)]
    fn start_current_in_line<const HAS_ARGS: bool>(
        site: &'static CallSite,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let sampled_out = |mark, measured| Some(OpSpan::sampled_out(site, mark, measured));
        Self::start_current_as::<HAS_ARGS, _>(site, arg_count, record_args, sampled_out, |span| {
            span
        })
    }

    /// [`OpSpan::start_current_in_line`], a call sampled out made by `sampled_out` and a span
    /// started given to `started`. The decision stays a local here, never an argument: it may
    /// refer to the parent, which recording the arguments may end (see below).
    #[inline(always)]
    fn start_current_as<const HAS_ARGS: bool, T>(
        site: &'static CallSite,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
        sampled_out: impl FnOnce(u64, Option<Tick>) -> T,
        started: impl FnOnce(Option<OpSpan>) -> T,
    ) -> T {
        // Without arguments, constants for the paths that take them: nothing of the caller's
        // is then kept across the start.
        let mut nothing = |_: &mut Vec<KeyValue>| {};
        let record_args: &mut dyn FnMut(&mut Vec<KeyValue>) =
            if HAS_ARGS { record_args } else { &mut nothing };
        let arg_count = if HAS_ARGS { arg_count } else { 0 };
        // `started` in each arm: a span returned through memory goes straight where it is
        // returned (applied once after the arms, it was copied there: 26 instructions more).
        match sampling::quick(site) {
            Quick::SampledOut(mark) => sampled_out(mark, site.include_duration.then(clock::now)),
            Quick::Untraced => started(None),
            Quick::KeptRoot(low) => started(Self::start_new_trace::<HAS_ARGS>(
                site,
                low,
                arg_count,
                record_args,
            )),
            // The parent is read by calls that return before the arguments are recorded: that
            // runs the caller's code (`Debug`, `fields(..)`), which may end the parent (drop
            // its guard), so no reference to it is held, nor passed down, across it.
            Quick::UnderParent(current::ParentAt::Own(parent, otel_seen))
                if sampling::keeps_child_of_own(&parent.span_context) =>
            {
                let (live, start) = Self::own_child_record(site, parent, otel_seen);
                started(Self::kept_started::<HAS_ARGS>(
                    site,
                    live,
                    start,
                    arg_count,
                    record_args,
                ))
            }
            Quick::UnderParent(at) => started(Self::start_under_parent(
                site,
                at.span_context(),
                arg_count,
                record_args,
            )),
            Quick::Unknown => started(Self::start_enabled(site, None, arg_count, record_args)),
        }
    }

    /// The record of a kept child of godtrace's own span, the common case of a call under a
    /// span, and when it started: its ids are written into it straight from the parent's,
    /// read in place (no copy of the parent's ids, no decision to carry around).
    /// OpenTelemetry's context shows what it showed when the parent was entered (that is how
    /// `parent_at` found it innermost).
    #[inline(always)]
    fn own_child_record(
        site: &'static CallSite,
        parent: &Live,
        otel_seen: SpanId,
    ) -> (LiveBox, Tick) {
        let start = clock::now();
        let live = Live::start_child(
            parent,
            otel_seen,
            sampling::write_kept_child_of,
            Name::Site(site),
        );
        (live, start)
    }

    /// The span of a kept child or a new trace kept at its root, once its record holds its
    /// ids: its arguments recorded, the start gate told, and the span written where it is
    /// returned.
    #[inline(always)]
    fn kept_started<const HAS_ARGS: bool>(
        site: &'static CallSite,
        live: LiveBox,
        start: Tick,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        if HAS_ARGS && arg_count != 0 {
            live.record_start_attributes(arg_count, record_args);
        }
        sink::on_start(&live.span_context, &live.parent_span_id);
        if switches::attaches_otel_context() {
            return Self::with_own_context(site, live, start);
        }
        // Written in place, its context `None`'s tag alone (when one arm of the initialiser
        // gave `Some`, the whole `Option<Context>` was copied through the stack; so was the
        // timing, when the two paths shared it).
        Some(Self::kept(None, live, site, start))
    }

    /// A kept span recording into `live` since `start`, with `cx` to attach while it runs.
    #[inline(always)]
    fn kept(cx: Option<Context>, live: LiveBox, site: &'static CallSite, start: Tick) -> OpSpan {
        OpSpan {
            cx,
            live: Some(live),
            scope: 0,
            timing: Some(Timing {
                histogram: site.include_duration.then_some(site),
                start,
            }),
            error_type: Cell::new(None),
        }
    }

    /// A kept span recording into `live`, its timing kept elsewhere (`run_kept`).
    #[inline(always)]
    fn kept_untimed(live: LiveBox) -> OpSpan {
        OpSpan {
            cx: None,
            live: Some(live),
            scope: 0,
            timing: None,
            error_type: Cell::new(None),
        }
    }

    /// Ends this span, whose call panicked with `payload`, as failed, and goes on unwinding.
    #[cold]
    #[inline(never)]
    fn end_panicked(mut self, payload: Box<dyn Any + Send>) -> ! {
        self.record_panic(&*payload);
        self.end_in_place();
        resume_unwind(payload)
    }

    /// The span of a kept child ([`OpSpan::own_child_record`]) or a new trace kept at its root
    /// ([`OpSpan::start_new_trace`]) where godtrace attaches its spans to OpenTelemetry's
    /// context: its own ids over the current context.
    #[cold]
    #[inline(never)]
    fn with_own_context(site: &'static CallSite, live: LiveBox, start: Tick) -> Option<OpSpan> {
        let cx = Self::attaches_own_context(&live, Context::current());
        Some(Self::kept(Some(cx), live, site, start))
    }

    /// `live`'s ids over `base`: the OpenTelemetry context to attach while a span runs, where
    /// godtrace attaches its spans there (`Config::otel_context`). Once attached, that context
    /// shows this span, which a sync call records when it enters the span.
    fn attaches_own_context(live: &Live, base: Context) -> Context {
        live.otel_seen_at_start
            .set(Some(live.span_context.span_id()));
        base.with_remote_span_context(live.span_context.clone())
    }

    /// The span of a call under the current span, whose ids are `parent`, other than a kept
    /// child of godtrace's own ([`OpSpan::own_child_record`]).
    #[inline(never)]
    fn start_under_parent(
        site: &'static CallSite,
        parent: Option<SpanContext>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let measured = site.include_duration.then(clock::now);
        let rule = site_rule(site);
        let decision = sampling::decide_under(rule, None, parent);
        Self::start_as_decided(site, None, decision, measured, arg_count, record_args)
    }

    /// The span of a call that starts a new trace, kept at its root (`HAS_ARGS`: as for
    /// [`OpSpan::start_current`]).
    #[inline(never)]
    fn start_new_trace<const HAS_ARGS: bool>(
        site: &'static CallSite,
        low: u64,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let (live, start) = Self::new_trace_record_in_line(site, low);
        Self::kept_started::<HAS_ARGS>(site, live, start, arg_count, record_args)
    }

    /// The record of a new trace kept at its root, and when it started: out of line, for
    /// `run_sync_dyn`.
    #[inline(never)]
    fn new_trace_record(site: &'static CallSite, low: u64) -> (LiveBox, Tick) {
        Self::new_trace_record_in_line(site, low)
    }

    /// The body of [`OpSpan::new_trace_record`]: `low` is the root's random low half.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    fn new_trace_record_in_line(site: &'static CallSite, low: u64) -> (LiveBox, Tick) {
        let start = clock::now();
        let live = Live::start_with_ids(
            || sampling::new_root(low),
            // `quick` found no span in OpenTelemetry's context either.
            ParentIds::NONE.seen_with(SpanId::INVALID),
            Name::Site(site),
        );
        (live, start)
    }

    /// A span that records nothing and only makes `cx` current while it is (tracing off): a
    /// parent extracted from a request then goes on to the calls made under it, as
    /// OpenTelemetry's API does without an SDK (the specification: `OTEL_SDK_DISABLED` has
    /// no effect on propagators).
    pub(super) fn passing_through(cx: Context) -> OpSpan {
        switches::set_passes_context_on();
        OpSpan::carrying(cx)
    }

    /// A span that records nothing and is not measured, carrying `cx` for the work under it
    /// (sampled out, see `span::carried`; or tracing off, [`OpSpan::passing_through`]).
    fn carrying(cx: Context) -> OpSpan {
        OpSpan {
            cx: Some(cx),
            live: None,
            scope: 0,
            timing: None,
            error_type: Cell::new(None),
        }
    }

    /// A call sampled out under the root marked `mark` (measured from `start` at its site
    /// when `measured`) that takes along `cx`, the context where it was made, which carries
    /// baggage or a whole `tracestate` (a request's): shown with that root's ids when it shows
    /// no span, so that what runs under it stays in the root's trace wherever it runs.
    pub(super) fn under_dropped_root(
        mark: u64,
        measured: Option<(&'static CallSite, Tick)>,
        cx: Context,
    ) -> OpSpan {
        let cx = if mark != 0 && !cx.span().span_context().is_valid() {
            cx.with_remote_span_context(sampled_out::ids_of_sampled_out_root(mark))
        } else {
            cx
        };
        OpSpan {
            cx: Some(cx),
            live: None,
            scope: mark,
            timing: measured.map(|(site, start)| Timing {
                histogram: Some(site),
                start,
            }),
            error_type: Cell::new(None),
        }
    }

    /// Has this span make `cx` current while it runs, unless it already makes one current
    /// (its explicit parent's, or its own with `Config::otel_context(true)`): the context
    /// where it started, which carries baggage or a whole `tracestate` (see `span::carried`).
    pub(super) fn carry(&mut self, cx: Context) {
        if self.cx.is_none() {
            self.cx = Some(cx);
        }
    }

    /// Whether this span makes a context current while it runs (see [`OpSpan::carry`]).
    pub(super) fn makes_context_current(&self) -> bool {
        self.cx.is_some()
    }

    /// A call not recorded, outside any span (or under one godtrace dropped), measured from
    /// `measured` when its site records durations; `mark` is the dropped root's, for the
    /// thread to hold while the call runs.
    #[inline(always)]
    pub(super) fn sampled_out(
        site: &'static CallSite,
        mark: u64,
        measured: Option<Tick>,
    ) -> OpSpan {
        OpSpan {
            cx: None,
            live: None,
            scope: mark,
            timing: measured.map(|start| Timing {
                histogram: Some(site),
                start,
            }),
            error_type: Cell::new(None),
        }
    }

    /// [`OpSpan::start`] under `explicit`, or the current span when `None`.
    #[inline(never)]
    fn start_enabled(
        site: &'static CallSite,
        explicit: Option<Context>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        // A call made while the thread exits runs untraced (see `otel_context_usable`).
        if !current::otel_context_usable() {
            return None;
        }
        let measured = site.include_duration.then(clock::now);
        let rule = site_rule(site);
        let decision = sampling::decide(rule, explicit.as_ref());
        Self::start_as_decided(site, explicit, decision, measured, arg_count, record_args)
    }

    /// The span of a call as `decision` says.
    #[inline(always)]
    fn start_as_decided(
        site: &'static CallSite,
        explicit: Option<Context>,
        decision: sampling::Decision,
        measured: Option<Tick>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        match decision {
            sampling::Decision::Suppressed => None,
            sampling::Decision::NotSampled {
                carry,
                sampled_out_root,
            } => {
                // Nothing to carry, mark or measure: the call runs as if untraced.
                if carry.is_none() && sampled_out_root == 0 && measured.is_none() {
                    return None;
                }
                Some(OpSpan {
                    // Whatever context is carried decides for the children; only a root
                    // dropped here (or under one) sets the thread-local mark.
                    scope: sampled_out_root,
                    cx: carry,
                    live: None,
                    timing: measured.map(|start| Timing {
                        histogram: Some(site),
                        start,
                    }),
                    error_type: Cell::new(None),
                })
            }
            sampling::Decision::Sampled {
                span_context,
                parent,
            } => Some(Self::start_sampled(
                site,
                explicit,
                span_context,
                ParentIds::of(parent.as_ref()),
                measured,
                arg_count,
                record_args,
            )),
        }
    }

    /// The span of a call sampled in, with ids `span_context`, under the span of ids `parent`.
    #[inline(always)]
    fn start_sampled(
        site: &'static CallSite,
        explicit: Option<Context>,
        span_context: SpanContext,
        parent: ParentIds,
        measured: Option<Tick>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> OpSpan {
        let start = measured.unwrap_or_else(clock::now);
        // A call without recorded arguments has nothing to call (its `record_args` pushes
        // nothing) and keeps the emptied record's attribute list.
        let live = Live::start_under(span_context, parent, Name::Site(site), Vec::new());
        if arg_count != 0 {
            live.record_start_attributes(arg_count, record_args);
        }
        OpSpan::recording(live, explicit, site.include_duration.then_some(site), start)
    }

    /// The span of a sampled-in call, with the OpenTelemetry context to attach while it runs.
    #[inline(always)]
    fn recording(
        live: LiveBox,
        explicit: Option<Context>,
        histogram: Option<&'static CallSite>,
        start: Tick,
    ) -> OpSpan {
        sink::on_start(&live.span_context, &live.parent_span_id);
        let cx = if switches::attaches_otel_context() {
            let base = explicit.unwrap_or_else(Context::current);
            Some(Self::attaches_own_context(&live, base))
        } else {
            explicit
        };
        OpSpan {
            cx,
            live: Some(live),
            scope: 0,
            timing: Some(Timing { histogram, start }),
            error_type: Cell::new(None),
        }
    }

    /// Starts a span named `name` of `kind` under `explicit`, or the current span when `None`
    /// (the manual API); `None` when tracing is off or suppressed, or the span is sampled out
    /// with nothing to carry (a new trace dropped at its root marks the thread while the span
    /// is current, so its children follow). `carries_parent`: a span sampled out under a
    /// parent keeps that parent's context, for a detached span's `context()` (what the client
    /// layers send on) wherever the span goes; a span current where it starts has no need.
    pub(crate) fn start_named(
        name: Cow<'static, str>,
        kind: SpanKind,
        explicit: Option<Context>,
        carries_parent: bool,
    ) -> Option<OpSpan> {
        if !current::otel_context_usable() {
            return None;
        }
        if !switches::is_enabled() {
            // The context passes through: the explicit parent, or (for a span that can go
            // elsewhere, such as a layer's) the one it was started under.
            let cx = explicit.or_else(|| carries_parent.then(super::current_context));
            return cx.map(OpSpan::passing_through);
        }
        let rule = sampling::SiteRule {
            sample_rate: None,
            carries_parent,
        };
        let span = match sampling::decide(rule, explicit.as_ref()) {
            sampling::Decision::Suppressed => return None,
            sampling::Decision::NotSampled {
                carry,
                sampled_out_root,
            } => (carry.is_some() || sampled_out_root != 0).then(|| OpSpan {
                cx: carry,
                live: None,
                scope: sampled_out_root,
                timing: None,
                error_type: Cell::new(None),
            }),
            sampling::Decision::Sampled {
                span_context,
                parent,
            } => {
                let start = clock::now();
                let live = Live::start(
                    span_context,
                    parent.as_ref(),
                    Name::Given(crate::value::bounded_name(name), kind),
                    Vec::new(),
                );
                Some(OpSpan::recording(live, explicit, None, start))
            }
        };
        // A span that can go elsewhere takes the baggage and whole `tracestate` of where it
        // starts along, as its parent's ids (unless it makes a context of its own current).
        if !carries_parent || span.as_ref().is_some_and(OpSpan::makes_context_current) {
            return span;
        }
        match (span, carried::carried_context()) {
            (span, None) => span,
            (Some(mut span), Some(cx)) => {
                span.carry(cx);
                Some(span)
            }
            (None, Some(cx)) => Some(OpSpan::carrying(cx)),
        }
    }

    /// Ends the span now.
    #[inline]
    pub fn end(mut self) {
        // A sampled-out call that is not measured has nothing to do here.
        if self.timing.is_some() {
            self.end_in_place();
        }
    }

    /// Ends the span where it is; a second call does nothing (a span ended by a panic in
    /// `run_current` may be ended again by its owner).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(super) fn end_in_place(&mut self) {
        let Some(timing) = self.timing.take() else {
            return;
        };
        let end = clock::now();
        if self.live.is_some() {
            return self.end_recorded(timing, end);
        }
        // Not recorded: its duration alone, without an exemplar.
        if let Some(site) = timing.histogram {
            site.metrics.record(
                || site.name(),
                clock::ticks_between(timing.start, end),
                self.error_type.get(),
                None,
            );
        }
    }

    /// [`OpSpan::end_in_place`] of a span that records ([`end_record`]); what the sinks did
    /// not take stays in the span.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    fn end_recorded(&mut self, timing: Timing, end: Tick) {
        // `end_in_place` calls this for a span with a record: the test is not made again.
        if let Some(live) = self.live.take() {
            self.live = end_record(live, timing, end, self.error_type.get());
        }
    }

    /// What this span is made of when it owns nothing (a sampled-out call with nothing to
    /// carry): the sampled-out-root mark it holds, and its site and start when that site
    /// measures it. A future then keeps these alone: it makes the mark current on each poll
    /// and, for a measured call, ends the span rebuilt from them by [`OpSpan::sampled_out`]
    /// (its error type is not set yet: only the call's end sets it).
    #[inline(always)]
    pub(super) fn unowned_parts(&self) -> Option<(u64, Option<(&'static CallSite, Tick)>)> {
        if self.owns_anything() {
            return None;
        }
        match self.timing {
            None => Some((self.scope, None)),
            Some(Timing {
                histogram: Some(site),
                start,
            }) => Some((self.scope, Some((site, start)))),
            // Timed but not measured: only a span that records is.
            Some(Timing {
                histogram: None, ..
            }) => None,
        }
    }

    /// Whether dropping this span has anything to release (an OpenTelemetry context or a
    /// record): a sampled-out call usually has neither.
    #[inline(always)]
    pub(super) fn owns_anything(&self) -> bool {
        self.cx.is_some() || self.live.is_some()
    }

    /// Drops what this span owns, leaving it nothing to drop.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    fn release(&mut self) {
        if self.owns_anything() {
            self.release_owned();
        }
    }

    #[inline(never)]
    fn release_owned(&mut self) {
        self.cx = None;
        self.live = None;
    }

    /// This span as OpenTelemetry's context, for a child started elsewhere or for headers to
    /// inject: its own ids when recording, else what it carries for its children (a sampled-out
    /// parent's, or the ids of the sampled-out root it is).
    pub(super) fn context(&self) -> Context {
        match (&self.live, &self.cx) {
            // `recording` put the span in `cx` already (spans attached to OpenTelemetry's
            // context): shared, not built again.
            (Some(live), Some(cx))
                if cx.span().span_context().span_id() == live.span_context.span_id() =>
            {
                return cx.clone();
            }
            _ => {}
        }
        // Without a context of its own (godtrace's spans are not attached to OpenTelemetry's
        // by default), the current one: what it carries besides a span, such as baggage, goes
        // on with this span's ids.
        let base = self.cx.clone().unwrap_or_else(|| {
            if current::otel_context_usable() {
                Context::current()
            } else {
                Context::new()
            }
        });
        match &self.live {
            Some(live) => base.with_remote_span_context(live.span_context.clone()),
            None if self.scope != 0 => {
                base.with_remote_span_context(sampled_out::ids_of_sampled_out_root(self.scope))
            }
            None => base,
        }
    }
}

/// The sampling rule of a traced function's call site.
#[inline(always)]
fn site_rule(site: &CallSite) -> sampling::SiteRule {
    sampling::SiteRule {
        sample_rate: site.sample_rate,
        carries_parent: site.carries_parent,
    }
}

/// Ends the record `live` of a span timed by `timing` at `end`: its duration goes to its
/// site's histogram (with the span as the exemplar) and the record to the sinks; gives back
/// the record when no sink took it. In line: the traced call's frame serves it (a call here
/// saved and restored six registers for it alone); what is rare (a series' first use, a
/// failed call, a due exemplar, a long call's bucket, a sink wanting `SpanData`) stays out of
/// line, so that each traced function carries only the common path.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn end_record(
    live: LiveBox,
    timing: Timing,
    end: Tick,
    error_type: Option<&'static str>,
) -> Option<LiveBox> {
    if let Some(site) = timing.histogram {
        let ticks = clock::ticks_between(timing.start, end);
        let exemplar = Some((&live.span_context, end));
        site.metrics
            .record(|| site.name(), ticks, error_type, exemplar);
    }
    // By value: the record sink's common path runs in line (`Pipeline::on_own_box_end`).
    match sink::installed() {
        Some(pipeline) => pipeline.on_own_box_end(live, timing.start, end),
        None => Some(live),
    }
}

#[cfg(test)]
mod tests;
