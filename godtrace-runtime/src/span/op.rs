//! The span of one traced call ([`OpSpan`]): its start (the head decision, the record), its
//! end (the duration histogram, the hand-off to the sinks), and the sync path ([`run_sync`]).
use super::clock::{self, Tick};
use super::live::{LiveBox, Name, ParentIds};
use super::sampling::Quick;
use super::{CallSite, Live, current, sampled_out, sampling, sink, switches};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue, Value};
use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

mod sync_call;
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
    /// ([`OpSpan::passing_through`]).
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
    /// tracing is on: in line, for a caller that is itself out of line
    /// (`Instrumented::start`).
    #[inline(always)]
    pub(super) fn start_unread(site: &'static CallSite) -> Option<OpSpan> {
        Self::start_current_in_line::<false>(site, 0, &mut |_| {})
    }

    /// The body of [`OpSpan::start_current`].
    #[inline(always)]
    fn start_current_in_line<const HAS_ARGS: bool>(
        site: &'static CallSite,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        // Without arguments, constants for the paths that take them: nothing of the caller's
        // is then kept across the start.
        let mut nothing = |_: &mut Vec<KeyValue>| {};
        let record_args: &mut dyn FnMut(&mut Vec<KeyValue>) =
            if HAS_ARGS { record_args } else { &mut nothing };
        let arg_count = if HAS_ARGS { arg_count } else { 0 };
        match sampling::quick(site) {
            Quick::SampledOut(mark) => Some(OpSpan::sampled_out(
                site,
                mark,
                site.include_duration.then(clock::now),
            )),
            Quick::Untraced => None,
            Quick::KeptRoot(low) => {
                Self::start_new_trace::<HAS_ARGS>(site, low, arg_count, record_args)
            }
            Quick::UnderParent(current::ParentAt::Own(parent))
                if sampling::keeps_child_of_own(&site.sample_rate, &parent.span_context) =>
            {
                Self::start_own_child::<HAS_ARGS>(site, parent, arg_count, record_args)
            }
            Quick::UnderParent(at) => Self::start_under_current(site, at, arg_count, record_args),
            Quick::Unknown => Self::start_enabled(site, None, arg_count, record_args),
        }
    }

    /// A kept child of godtrace's own span, the common case of a call under a span: its ids
    /// are written into its record straight from the parent's, read in place (no copy of the
    /// parent's ids, no decision to carry around). OpenTelemetry's context shows what it
    /// showed when the parent was entered (that is how `parent_at` found it innermost).
    #[inline(always)]
    fn start_own_child<const HAS_ARGS: bool>(
        site: &'static CallSite,
        parent: &Live,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let start = clock::now();
        // The parent is read first, before the arguments are recorded: that runs the caller's
        // code (`Debug` and the like), after which `parent` may no longer be current.
        let live = Live::start_child(parent, sampling::write_kept_child_of, Name::Site(site));
        Self::kept_started::<HAS_ARGS>(site, live, start, arg_count, record_args)
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
        sink::on_start(&live.span_context);
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

    /// The span of a kept child ([`OpSpan::start_own_child`]) or a new trace kept at its root
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

    /// The span of a call under the current span (a parent is current), other than a kept
    /// child of godtrace's own ([`OpSpan::start_own_child`]).
    #[inline(never)]
    fn start_under_current(
        site: &'static CallSite,
        at: current::ParentAt<'_>,
        arg_count: usize,
        record_args: &mut dyn FnMut(&mut Vec<KeyValue>),
    ) -> Option<OpSpan> {
        let measured = site.include_duration.then(clock::now);
        let parent = at.span_context();
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
        OpSpan {
            cx: Some(cx),
            live: None,
            scope: 0,
            timing: None,
            error_type: Cell::new(None),
        }
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
        sink::on_start(&live.span_context);
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
        match sampling::decide(rule, explicit.as_ref()) {
            sampling::Decision::Suppressed => None,
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
        }
    }

    /// Whether anything recorded on this span will be kept (tracing on and sampled in).
    #[inline(always)]
    pub fn is_recording(&self) -> bool {
        self.live.is_some()
    }

    /// The span's ids while it records (a metric's exemplar): `None` when sampled out.
    #[cfg(any(feature = "tower", feature = "reqwest"))]
    pub(crate) fn recording_span_context(&self) -> Option<&SpanContext> {
        self.live.as_ref().map(|live| &live.span_context)
    }

    /// Sets attribute `key` to `value`.
    #[inline]
    pub fn record(&self, key: &'static str, value: Value) {
        self.record_owned(KeyValue::new(key, value));
    }

    pub(crate) fn record_owned(&self, attribute: KeyValue) {
        if let Some(live) = &self.live {
            live.set_attribute(attribute);
        }
    }

    pub(crate) fn add_event(&self, name: Cow<'static, str>, attrs: crate::value::EventAttributes) {
        if let Some(live) = &self.live {
            live.add_event(name, attrs);
        }
    }

    /// Links this span to `span_context` (see `Live::add_link`).
    pub(crate) fn add_link(&self, span_context: SpanContext) {
        if let Some(live) = &self.live {
            live.add_link(span_context);
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        if let Some(live) = &self.live {
            live.set_status(status);
        }
    }

    /// See `Live::set_attributes`.
    #[cfg(any(feature = "tracing", feature = "tower", feature = "reqwest"))]
    pub(crate) fn record_all(&self, attributes: Vec<KeyValue>) {
        if let Some(live) = &self.live {
            live.set_attributes(attributes);
        }
    }

    /// See `Live::rename`.
    #[cfg(any(feature = "tracing", feature = "tonic"))]
    pub(crate) fn rename(&self, name: Option<Cow<'static, str>>, kind: Option<SpanKind>) {
        if let Some(live) = &self.live {
            live.rename(name, kind);
        }
    }

    /// Ends the span with status Error: `description()` (called only when the span is
    /// recording), and `error.type` = `error_type`.
    pub fn record_error(&self, error_type: &'static str, description: impl FnOnce() -> String) {
        self.error_type.set(Some(error_type));
        let Some(live) = &self.live else { return };
        live.set_attribute(KeyValue::new("error.type", error_type));
        live.set_status(Status::error(description()));
    }

    fn record_panic(&self, payload: &(dyn Any + Send)) {
        self.error_type.set(Some(PANIC_ERROR_TYPE));
        let Some(live) = &self.live else { return };
        // The same value as the duration histogram's label, so that a dashboard joins them.
        live.set_attribute(KeyValue::new("error.type", PANIC_ERROR_TYPE));
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let message = crate::value::bounded_str(message);
        live.add_event(
            "exception".into(),
            vec![
                KeyValue::new("exception.type", PANIC_ERROR_TYPE),
                KeyValue::new("exception.message", message.clone()),
            ],
        );
        live.set_status(Status::error(message.as_str().into_owned()));
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

    /// Makes this span current on this thread until [`MadeCurrent::undo`]; `self` may move in
    /// between (the thread's list points at the record, which does not).
    ///
    /// # Safety
    /// `self` stays on this thread until then (`current::push`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(super) unsafe fn make_current(&self) -> MadeCurrent {
        let marked = sampled_out::hold(self.scope);
        // OpenTelemetry's context first: the entry below records what it shows.
        let attached = self.cx.clone().map(Context::attach);
        // SAFETY: forwarded to our caller.
        unsafe { self.push_current() };
        MadeCurrent { marked, attached }
    }

    /// [`OpSpan::make_current`]'s entry on the thread's list, once its context is attached.
    ///
    /// # Safety
    /// As for [`OpSpan::make_current`].
    #[inline(always)]
    unsafe fn push_current(&self) {
        if let Some(live) = &self.live {
            // What OpenTelemetry's context shows now: this span, when it was just attached
            // (`recording` attaches a span's own context exactly when this setting is on).
            let otel_seen = switches::attaches_otel_context().then(|| live.span_context.span_id());
            // SAFETY: forwarded to our caller.
            unsafe { current::push(live, otel_seen) };
        }
    }
}

/// Drops the guard of an OpenTelemetry context a traced call attached, if any. By value, out of
/// line: dropping it in place took its address, which had it stored to the stack on every
/// call, attached or not.
#[inline(always)]
fn detach(attached: Option<ContextGuard>) {
    if let Some(guard) = attached {
        drop_guard(guard);
    }
}

#[cold]
#[inline(never)]
fn drop_guard(guard: ContextGuard) {
    drop(guard);
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

/// What [`OpSpan::make_current`] changed on this thread, to undo.
pub(super) struct MadeCurrent {
    marked: sampled_out::Held,
    pub(super) attached: Option<ContextGuard>,
}

impl MadeCurrent {
    /// Undoes [`OpSpan::make_current`] of `span`, wherever it is on the thread's list.
    #[inline(always)]
    pub(super) fn undo(self, span: &OpSpan) {
        if let Some(live) = &span.live {
            current::remove(live);
        }
        drop(self.attached);
        sampled_out::release_out_of_order(self.marked, span.scope);
    }
}

/// Runs a traced sync body: the span is current while `body` runs; a panic marks the span
/// and goes on unwinding; `finish` records the outcome (errors always, for the duration
/// histogram; values only when the span is recording).
#[inline(always)]
pub fn run_sync<R>(
    mut span: Option<OpSpan>,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R),
) -> R {
    // By reference: `run_sync_traced` works on the span where `OpSpan::start` wrote it.
    let Some(traced) = &mut span else {
        return body();
    };
    let ret = run_sync_traced(traced, body, finish);
    // Released by `run_sync_traced`: nothing is left to drop (an unwind drops it as usual).
    std::mem::forget(span);
    ret
}

/// `run_sync` with a span, out of line: the traced function's own frame then stays as small
/// as the untraced body needs, which is what the off path pays for. Ends the span and
/// releases what it owns, leaving it nothing to drop.
#[inline(never)]
fn run_sync_traced<R>(
    span: &mut OpSpan,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R),
) -> R {
    let ret = span.run_current_once(body);
    finish(span, &ret);
    span.end_in_place();
    span.release();
    ret
}

impl OpSpan {
    /// Runs `f` with this span current; a panic in `f` ends the span as failed and goes on
    /// unwinding.
    #[inline(always)]
    pub(super) fn run_current<R>(&mut self, f: impl FnOnce() -> R) -> R {
        // `make_current` and `MadeCurrent::undo`, with the guard held as in
        // `run_current_once` (dropped by hand, never by an unwind).
        let marked = sampled_out::hold(self.scope);
        let attached = ManuallyDrop::new(self.cx.clone().map(Context::attach));
        // SAFETY: `self` is borrowed by this frame, on this thread, until `remove` below.
        unsafe { self.push_current() };
        self.run_entered(marked, attached, f)
    }

    /// [`OpSpan::run_current`] for a span current only this once, right after its start (a
    /// sync call): its OpenTelemetry context is attached as it is, not cloned (and the clone
    /// dropped), and OpenTelemetry's context shows what the start saw, when it looked (nothing
    /// ran since but the recording of the call's arguments), or else this span when it is
    /// attached there (see `OpSpan::attaches_own_context`).
    #[inline(always)]
    fn run_current_once<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let marked = sampled_out::hold(self.scope);
        // OpenTelemetry's context first: the entry below records what it shows. Dropped by
        // hand below, never by an unwind (none passes in between: the call's panic is
        // caught), which spares it a slot in memory for the unwind path.
        let attached = ManuallyDrop::new(self.cx.take().map(Context::attach));
        if let Some(live) = &self.live {
            // SAFETY: a span just started was never entered; `self` is borrowed by this
            // frame, on this thread, until `remove` below.
            unsafe { current::push_started(live, live.otel_seen_at_start.get()) };
        }
        self.run_entered(marked, attached, f)
    }

    /// Runs `f` in this span, entered (on the thread's list, `attached` attached and `marked`
    /// the mark it replaced), then leaves it: off the list, the guard dropped, the mark back.
    #[inline(always)]
    fn run_entered<R>(
        &mut self,
        marked: sampled_out::Held,
        attached: ManuallyDrop<Option<ContextGuard>>,
        f: impl FnOnce() -> R,
    ) -> R {
        let outcome = catch_unwind(AssertUnwindSafe(f));
        if let Some(live) = &self.live {
            current::remove(live);
        }
        detach(ManuallyDrop::into_inner(attached));
        sampled_out::release(marked);
        self.returned(outcome)
    }

    /// What the call that ran in this span returned, or its panic resumed, with the span
    /// ended as failed.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub(super) fn returned<R>(&mut self, outcome: std::thread::Result<R>) -> R {
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

#[cfg(test)]
mod tests {
    //! The decisions `sampling::quick` takes without the general path, checked against what
    //! the general path decides: a span of other code in OpenTelemetry's context is a parent,
    //! a dropped root's mark holds through children that build no span, and a call that is
    //! not recorded is still measured, panics included.
    use super::super::{
        CallSite, Instrumented, OpSpan, SiteOptions, current_span_context, run_sync,
        run_sync_args_at, run_sync_at,
    };
    use crate::testing;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, KeyValue};
    use std::future::Future;
    use std::task::Waker;

    const fn site(
        operation: &'static str,
        sample_rate: f64,
        include_duration: bool,
        carries_parent: bool,
    ) -> CallSite {
        CallSite::new(
            || "span::op::tests::f",
            file!(),
            1,
            SiteOptions {
                operation: Some(operation),
                include_duration,
                sample_rate: Some(sample_rate),
                carries_parent,
                kind: opentelemetry::trace::SpanKind::Internal,
            },
        )
    }

    fn start(site: &'static CallSite) -> Option<OpSpan> {
        OpSpan::start(site, || None::<Context>, 0, |_: &mut Vec<KeyValue>| {})
    }

    fn traced<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
        run_sync(start(site), body, |_, _| {})
    }

    /// A span of other code, made current in OpenTelemetry's context.
    fn other_codes_span(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let span = SpanContext::new(
            TraceId::from(0x5eed_u128 << 64 | 0xabc),
            SpanId::from(0x77),
            flags,
            false,
            TraceState::NONE,
        );
        Context::new().with_remote_span_context(span)
    }

    static NEVER_AT_ROOT: CallSite = site("op.tests.never_at_root", 0.0, false, false);
    static ALWAYS_AT_ROOT: CallSite = site("op.tests.always_at_root", 1.0, false, false);

    #[test]
    fn a_span_of_other_code_decides_for_a_call_under_it() {
        let capture = testing::capture();
        // Dropped at its root, kept under a sampled span of other code.
        traced(&NEVER_AT_ROOT, || {});
        assert!(capture.spans_named("op.tests.never_at_root").is_empty());
        {
            let _attached = other_codes_span(true).attach();
            traced(&NEVER_AT_ROOT, || {});
        }
        let kept = capture.span("op.tests.never_at_root");
        assert_eq!(kept.parent_span_id, Some(SpanId::from(0x77)));

        // Kept at its root, dropped under a span of other code that is not sampled.
        {
            let _attached = other_codes_span(false).attach();
            traced(&ALWAYS_AT_ROOT, || {});
        }
        assert!(capture.spans_named("op.tests.always_at_root").is_empty());
        traced(&ALWAYS_AT_ROOT, || {});
        assert_eq!(capture.spans_named("op.tests.always_at_root").len(), 1);
    }

    static KEPT_PARENT: CallSite = site("op.tests.kept_parent", 0.0, true, false);
    static KEPT_CHILD: CallSite = site("op.tests.kept_child", 0.0, true, false);

    /// A kept child of godtrace's own span (its ids written from the parent's record) is in
    /// its parent's trace, with its trace state and random flag, set or not (W3C Trace
    /// Context Level 2), and a span id of its own: valid, never its parent's or a sibling's.
    #[test]
    fn a_kept_childs_ids_are_its_own_in_its_parents_trace() {
        use super::super::RANDOM;
        let capture = testing::capture();
        for flags in [TraceFlags::SAMPLED, TraceFlags::SAMPLED | RANDOM] {
            let state = TraceState::from_key_value([("vendor", "v1")]).unwrap();
            let remote = SpanContext::new(
                TraceId::from(0x5eed_u128 << 64 | 0xabc),
                SpanId::from(0x77),
                flags,
                true,
                state.clone(),
            );
            let attached = Context::new().with_remote_span_context(remote).attach();
            let (parent, children) = traced(&KEPT_PARENT, || {
                let children: Vec<SpanContext> = (0..3)
                    .map(|_| traced(&KEPT_CHILD, || current_span_context().unwrap()))
                    .collect();
                (current_span_context().unwrap(), children)
            });
            drop(attached);
            assert!(parent.is_valid() && parent.is_sampled() && !parent.is_remote());
            let mut span_ids = vec![parent.span_id()];
            for child in &children {
                assert!(child.is_valid(), "{child:?}");
                assert_eq!(child.trace_id(), parent.trace_id());
                assert_eq!(
                    child.trace_flags(),
                    flags,
                    "sampled, the parent's random flag"
                );
                assert_eq!(child.trace_state(), &state);
                assert!(!child.is_remote());
                assert!(!span_ids.contains(&child.span_id()), "{child:?}");
                span_ids.push(child.span_id());
            }
            let recorded = capture.spans_named("op.tests.kept_child");
            let recorded: Vec<_> = recorded[recorded.len() - 3..].to_vec();
            for (span, child) in recorded.iter().zip(&children) {
                assert_eq!(span.span_id, child.span_id());
                assert_eq!(span.trace_id, parent.trace_id());
                assert_eq!(span.parent_span_id, Some(parent.span_id()));
            }
        }
    }

    static ARGS_PARENT: CallSite = site("op.tests.args_parent", 1.0, true, false);
    static ARGS_CHILD: CallSite = site("op.tests.args_child", 1.0, true, false);

    /// A kept child's recorded arguments are its attributes, however the recording runs: here
    /// it starts and ends a span of its own while the child starts.
    #[test]
    fn a_kept_childs_recorded_arguments_are_its_attributes() {
        let capture = testing::capture();
        traced(&ARGS_PARENT, || {
            let span = OpSpan::start(
                &ARGS_CHILD,
                || None::<Context>,
                2,
                |attrs: &mut Vec<KeyValue>| {
                    traced(&KEPT_CHILD, || {});
                    attrs.push(KeyValue::new("wallet", "7xKX"));
                    attrs.push(KeyValue::new("n", 3));
                },
            );
            run_sync(span, || {}, |_, _| {});
        });
        let parent = capture.span("op.tests.args_parent");
        let child = capture.span("op.tests.args_child");
        assert_eq!(child.parent_span_id, Some(parent.span_id));
        assert_eq!(child.attr("wallet"), Some(&"7xKX".into()));
        assert_eq!(child.attr("n"), Some(&3.into()));
    }

    static ARGS_PANIC: CallSite = site("op.tests.args_panic", 1.0, true, false);

    /// A panic while a call's arguments are recorded (a `fields(..)` expression's, say) goes
    /// on unwinding from the start, before the body, as the call would have without godtrace:
    /// what was pushed is dropped once, nothing is exported, and the thread's next span shows
    /// only its own attributes.
    #[test]
    fn a_panic_while_arguments_are_recorded_drops_what_was_pushed() {
        let capture = testing::capture();
        let held: std::sync::Arc<str> = std::sync::Arc::from("a value held elsewhere too");
        let mut body_ran = false;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let span = OpSpan::start(
                &ARGS_PANIC,
                || None::<Context>,
                2,
                |attrs: &mut Vec<KeyValue>| {
                    let value = opentelemetry::StringValue::from(held.clone());
                    attrs.push(KeyValue::new("held", value));
                    panic!("a fields expression panics");
                },
            );
            run_sync(span, || body_ran = true, |_, _| {});
        }));
        assert!(outcome.is_err(), "the panic reaches the caller");
        assert!(!body_ran);
        assert_eq!(
            std::sync::Arc::strong_count(&held),
            1,
            "the pushed value dropped"
        );
        assert!(capture.spans_named("op.tests.args_panic").is_empty());

        let span = OpSpan::start(
            &ARGS_PANIC,
            || None::<Context>,
            1,
            |attrs: &mut Vec<KeyValue>| attrs.push(KeyValue::new("n", 1)),
        );
        assert_eq!(run_sync(span, || 5, |_, _| {}), 5);
        let span = capture.span("op.tests.args_panic");
        assert_eq!(span.attr("n"), Some(&1.into()));
        assert_eq!(span.attr("held"), None);
    }

    static DROPPED_ROOT: CallSite = site("op.tests.dropped_root", 0.0, false, false);
    static UNMEASURED_CHILD: CallSite = site("op.tests.unmeasured_child", 1.0, false, false);
    static GRANDCHILD: CallSite = site("op.tests.grandchild", 1.0, true, false);

    #[test]
    fn a_dropped_roots_mark_holds_through_children_that_build_no_span() {
        let capture = testing::capture();
        let (at_root, in_grandchild) = traced(&DROPPED_ROOT, || {
            let at_root = current_span_context().expect("the dropped root's ids");
            // A sync child with nothing to measure builds no span; its own child still runs
            // under the root's mark, dropped although its site keeps every root.
            let in_grandchild = traced(&UNMEASURED_CHILD, || {
                assert!(start(&UNMEASURED_CHILD).is_none(), "nothing to build");
                traced(&GRANDCHILD, current_span_context)
            });
            (at_root, in_grandchild)
        });
        assert!(!at_root.is_sampled());
        assert_eq!(in_grandchild, Some(at_root));
        assert_eq!(
            current_span_context(),
            None,
            "the mark is cleared after the root"
        );
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    }

    /// A thread's first traced calls (before its generator is seeded, before OpenTelemetry's
    /// context was checked) take the general path, and decide as later calls do.
    #[test]
    fn a_threads_first_calls_decide_as_later_ones() {
        std::thread::spawn(|| {
            let capture = testing::capture();
            for _ in 0..2 {
                traced(&DROPPED_ROOT, || traced(&UNMEASURED_CHILD, || {}));
            }
            assert!(capture.spans().is_empty(), "{:?}", capture.spans());
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            let capture = testing::capture();
            traced(&ALWAYS_AT_ROOT, || traced(&UNMEASURED_CHILD, || {}));
            let root = capture.span("op.tests.always_at_root");
            let child = capture.span("op.tests.unmeasured_child");
            assert_eq!(child.parent_span_id, Some(root.span_id));
        })
        .join()
        .unwrap();
    }

    static PANICS_SYNC: CallSite = site("op.tests.panics.sync", 0.0, true, false);
    static PANICS_ASYNC: CallSite = site("op.tests.panics.async", 0.0, true, true);

    fn panic_count(operation: &str) -> u64 {
        crate::metrics::metrics_snapshot()
            .operation_errors(operation, "panic")
            .map_or(0, |point| point.count)
    }

    #[test]
    fn a_call_not_recorded_that_panics_is_measured_as_a_panic() {
        let _capture = testing::capture();
        let sync = std::panic::catch_unwind(|| traced(&PANICS_SYNC, || panic!("sync")));
        assert!(sync.is_err());
        assert_eq!(panic_count("op.tests.panics.sync"), 1);
        assert_eq!(
            current_span_context(),
            None,
            "the mark is cleared by the unwind"
        );

        let mut future = Box::pin(Instrumented::new(
            start(&PANICS_ASYNC),
            async { panic!("async") },
            |_: &OpSpan, _: &()| {},
        ));
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future
                .as_mut()
                .poll(&mut std::task::Context::from_waker(Waker::noop()))
        }));
        assert!(polled.is_err());
        drop(future);
        assert_eq!(panic_count("op.tests.panics.async"), 1, "measured once");
        assert_eq!(current_span_context(), None);
    }

    /// Pending on its first poll, then (after `pause`) what `outcome` gives, or its panic;
    /// each poll notes the current span.
    struct ThenReady<T, O: FnOnce() -> T> {
        outcome: Option<O>,
        pause: std::time::Duration,
        polls: usize,
        seen: std::rc::Rc<std::cell::RefCell<Vec<Option<SpanContext>>>>,
    }

    impl<T, O: FnOnce() -> T + Unpin> Future for ThenReady<T, O> {
        type Output = T;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<T> {
            self.seen.borrow_mut().push(current_span_context());
            self.polls += 1;
            if self.polls < 2 {
                return std::task::Poll::Pending;
            }
            std::thread::sleep(self.pause);
            std::task::Poll::Ready((self.outcome.take().expect("polled once more"))())
        }
    }

    /// The duration histogram's series of `operation`: each one's `error.type` (`None` for
    /// the successful calls) with its count and its sum in seconds.
    fn duration_series(operation: &str) -> Vec<(Option<String>, u64, f64)> {
        let snapshot = crate::metrics::metrics_snapshot();
        let mut series: Vec<_> = snapshot
            .operation_points(operation)
            .into_iter()
            .map(|point| {
                let error_type = point.attr("error.type").map(|v| v.as_str().into_owned());
                (error_type, point.count, point.sum)
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    #[derive(Debug)]
    struct Refused;

    static MEASURED_OK: CallSite = site("op.tests.measured.ok", 0.0, true, true);
    static MEASURED_ERR: CallSite = site("op.tests.measured.err", 0.0, true, true);
    static MEASURED_PANIC: CallSite = site("op.tests.measured.panic", 0.0, true, true);
    static MEASURED_DROPPED: CallSite = site("op.tests.measured.dropped", 0.0, true, true);
    static MEASURED_UNPOLLED: CallSite = site("op.tests.measured.unpolled", 0.0, true, true);

    /// An async call sampled out at its root and measured (the default) holds its root's mark
    /// on every poll, records nothing, and has its duration, from the call to its completion,
    /// measured once: under its `Err`'s type, as a panic, or (dropped unfinished) with the
    /// successful calls, as a call that returned then.
    #[test]
    fn an_async_call_not_recorded_is_measured_once_with_its_error_type() {
        let capture = testing::capture();
        let pause = std::time::Duration::from_millis(2);
        let finish = |span: &OpSpan, ret: &Result<u8, Refused>| {
            if ret.is_err() {
                span.record_error(std::any::type_name::<Refused>(), || "refused".into());
            }
        };
        let seen = std::rc::Rc::default();
        let call = |site: &'static CallSite, outcome: fn() -> Result<u8, Refused>| {
            let inner = ThenReady {
                outcome: Some(outcome),
                pause,
                polls: 0,
                seen: std::rc::Rc::clone(&seen),
            };
            Box::pin(Instrumented::new(start(site), inner, finish))
        };
        let mut task = std::task::Context::from_waker(Waker::noop());
        // Under Miri the clock's conversion to seconds gives 0: only the counts are checked.
        let at_least = if cfg!(miri) { 0.0 } else { pause.as_secs_f64() };

        let mut future = call(&MEASURED_OK, || Ok(3));
        assert!(future.as_mut().poll(&mut task).is_pending());
        assert_eq!(current_span_context(), None, "not held between polls");
        assert!(matches!(
            future.as_mut().poll(&mut task),
            std::task::Poll::Ready(Ok(3))
        ));
        drop(future);
        let seen: Vec<_> = seen.take();
        assert!(seen[0].as_ref().is_some_and(|root| !root.is_sampled()));
        assert_eq!(seen[0], seen[1], "the root's mark on every poll");
        let ok = duration_series("op.tests.measured.ok");
        assert!(
            matches!(ok[..], [(None, 1, sum)] if sum >= at_least),
            "{ok:?}"
        );

        let mut future = call(&MEASURED_ERR, || Err(Refused));
        assert!(future.as_mut().poll(&mut task).is_pending());
        assert!(future.as_mut().poll(&mut task).is_ready());
        drop(future);
        let err = duration_series("op.tests.measured.err");
        let refused = std::any::type_name::<Refused>().to_owned();
        assert!(
            matches!(&err[..], [(Some(ty), 1, sum)] if *ty == refused && *sum >= at_least),
            "{err:?}"
        );

        let mut future = call(&MEASURED_PANIC, || panic!("the call panics"));
        assert!(future.as_mut().poll(&mut task).is_pending());
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(&mut task)
        }));
        assert!(polled.is_err());
        assert_eq!(current_span_context(), None, "cleared by the unwind");
        drop(future);
        let panicked = duration_series("op.tests.measured.panic");
        assert!(
            matches!(&panicked[..], [(Some(ty), 1, sum)] if ty == "panic" && *sum >= at_least),
            "{panicked:?}"
        );

        let mut future = call(&MEASURED_DROPPED, || Err(Refused));
        assert!(future.as_mut().poll(&mut task).is_pending());
        std::thread::sleep(pause);
        drop(future);
        let dropped = duration_series("op.tests.measured.dropped");
        assert!(
            matches!(dropped[..], [(None, 1, sum)] if sum >= at_least),
            "{dropped:?}"
        );

        let future = call(&MEASURED_UNPOLLED, || Ok(1));
        drop(future);
        let unpolled = duration_series("op.tests.measured.unpolled");
        assert!(matches!(unpolled[..], [(None, 1, _)]), "{unpolled:?}");
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    }

    static MARKED_ASYNC: CallSite = site("op.tests.marked_async", 0.0, false, true);
    static UNDER_MARK: CallSite = site("op.tests.under_mark", 1.0, true, false);

    /// Pending on its first poll, ready on its second; each poll reads the current span and
    /// makes a traced call, and panics if asked to.
    struct ObservedTwice {
        seen: Vec<Option<SpanContext>>,
        panics: bool,
    }

    impl Future for ObservedTwice {
        type Output = Vec<Option<SpanContext>>;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            assert!(!self.panics, "polled");
            let seen = traced(&UNDER_MARK, current_span_context);
            self.seen.push(seen);
            if self.seen.len() < 2 {
                return std::task::Poll::Pending;
            }
            std::task::Poll::Ready(std::mem::take(&mut self.seen))
        }
    }

    fn observed(
        panics: bool,
    ) -> std::pin::Pin<Box<impl Future<Output = Vec<Option<SpanContext>>>>> {
        let span = start(&MARKED_ASYNC);
        assert!(
            matches!(
                span.as_ref().and_then(OpSpan::unowned_parts),
                Some((_, None))
            ),
            "only a mark"
        );
        let inner = ObservedTwice {
            seen: Vec::new(),
            panics,
        };
        Box::pin(Instrumented::new(span, inner, |_: &OpSpan, _: &_| {}))
    }

    /// An async root sampled out with nothing to measure keeps its mark alone: the same
    /// sampled-out ids on every poll, its children dropped with it, and the mark gone
    /// between polls, after the last one, and after a panic.
    #[test]
    fn an_async_root_holding_only_a_mark_holds_it_on_every_poll() {
        let capture = testing::capture();
        let mut task = std::task::Context::from_waker(Waker::noop());
        let mut future = observed(false);
        assert!(future.as_mut().poll(&mut task).is_pending());
        assert_eq!(current_span_context(), None, "not held between polls");
        let std::task::Poll::Ready(seen) = future.as_mut().poll(&mut task) else {
            panic!("ready on the second poll");
        };
        let root = seen[0].clone().expect("the root's ids on the first poll");
        assert!(!root.is_sampled());
        assert_eq!(
            seen,
            vec![Some(root.clone()); 2],
            "the same ids on every poll"
        );
        assert_eq!(current_span_context(), None, "cleared after the last poll");
        drop(future);

        let mut future = observed(true);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(&mut task)
        }));
        assert!(polled.is_err());
        assert_eq!(current_span_context(), None, "cleared by the unwind");
        drop(future);
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    }

    /// A call through [`run_sync_at`] (what `#[traced]` expands to for a sync fn whose span
    /// reads no argument), recording nothing of its outcome.
    fn fused<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
        run_sync_at(site, body, |_: &OpSpan, _: &R| {})
    }

    static FUSED_WARM_UP: CallSite = site("op.tests.fused.warm_up", 0.0, false, false);

    /// A first call on this thread (it takes the general path, see
    /// `a_threads_first_calls_decide_as_later_ones`), so that the calls after it take the
    /// arms `run_sync_at` has for kept and sampled-out calls.
    fn warm_up() {
        fused(&FUSED_WARM_UP, || {});
    }

    static FUSED_PARENT: CallSite = site("op.tests.fused.parent", 1.0, true, false);
    static FUSED_CHILD: CallSite = site("op.tests.fused.child", 1.0, true, false);

    /// `run_sync_at` makes a kept span current exactly while its body runs: a child's ids
    /// are its own in its parent's trace, the parent is current again after it, nothing is
    /// after the root, and each call's duration is measured.
    #[test]
    fn run_sync_at_runs_a_kept_child_in_its_kept_parent() {
        let capture = testing::capture();
        warm_up();
        let (parent, child, after_child) = fused(&FUSED_PARENT, || {
            let parent = current_span_context().expect("the parent is current");
            let child = fused(&FUSED_CHILD, || current_span_context().expect("the child"));
            (parent, child, current_span_context())
        });
        assert_eq!(
            after_child,
            Some(parent.clone()),
            "the parent current again"
        );
        assert_eq!(
            current_span_context(),
            None,
            "nothing current after the root"
        );
        assert!(parent.is_sampled() && child.is_sampled());
        assert_ne!(child.span_id(), parent.span_id());
        let recorded_parent = capture.span("op.tests.fused.parent");
        let recorded_child = capture.span("op.tests.fused.child");
        assert_eq!(recorded_parent.span_id, parent.span_id());
        assert_eq!(recorded_parent.parent_span_id, None);
        assert_eq!(recorded_child.span_id, child.span_id());
        assert_eq!(recorded_child.trace_id, parent.trace_id());
        assert_eq!(recorded_child.parent_span_id, Some(parent.span_id()));
        for operation in ["op.tests.fused.parent", "op.tests.fused.child"] {
            let series = duration_series(operation);
            assert!(
                matches!(series[..], [(None, 1, _)]),
                "{operation}: {series:?}"
            );
        }
    }

    static FUSED_PANICS_PARENT: CallSite = site("op.tests.fused.panics_parent", 1.0, true, false);
    static FUSED_PANICS: CallSite = site("op.tests.fused.panics", 1.0, true, false);
    static FUSED_PANICS_DROPPED: CallSite = site("op.tests.fused.panics_dropped", 0.0, true, false);

    /// A panic in a `run_sync_at` body marks its span failed (an `exception` event, `error.type`
    /// = panic, on the span and its duration) and goes on unwinding, with the span no longer
    /// current; a sampled-out call is measured as a panic and its root's mark is cleared.
    #[test]
    fn a_panic_in_a_run_sync_at_body_marks_its_span_and_unwinds() {
        let capture = testing::capture();
        warm_up();
        let (parent, after_panic) = fused(&FUSED_PANICS_PARENT, || {
            let unwound =
                std::panic::catch_unwind(|| fused(&FUSED_PANICS, || -> u8 { panic!("it broke") }));
            assert!(unwound.is_err(), "the panic goes on");
            (current_span_context(), current_span_context())
        });
        assert_eq!(after_panic, parent, "the parent current again");
        let span = capture.span("op.tests.fused.panics");
        assert_eq!(span.parent_span_id, parent.map(|parent| parent.span_id()));
        assert_eq!(span.attr("error.type"), Some(&"panic".into()));
        assert_eq!(span.error_message(), Some("it broke"));
        let exception = span.event("exception").expect("an exception event");
        assert_eq!(
            exception.attr("exception.message"),
            Some(&"it broke".into())
        );
        assert_eq!(panic_count("op.tests.fused.panics"), 1);

        let unwound = std::panic::catch_unwind(|| fused(&FUSED_PANICS_DROPPED, || panic!("no")));
        assert!(unwound.is_err());
        assert_eq!(
            current_span_context(),
            None,
            "the mark is cleared by the unwind"
        );
        assert_eq!(panic_count("op.tests.fused.panics_dropped"), 1);
        assert!(
            capture
                .spans_named("op.tests.fused.panics_dropped")
                .is_empty()
        );
    }

    static FUSED_ERR: CallSite = site("op.tests.fused.err", 1.0, true, false);
    static FUSED_ERR_DROPPED: CallSite = site("op.tests.fused.err_dropped", 0.0, true, false);

    /// A `run_sync_at` call's `finish` sees what the body returned, after the span stopped
    /// being current: an `Err` fails a kept span and labels the duration of a kept or a
    /// sampled-out call; the value is returned to the caller as it was.
    #[test]
    fn run_sync_at_records_an_err_through_finish() {
        let capture = testing::capture();
        warm_up();
        let finish = |span: &OpSpan, ret: &Result<u8, Refused>| {
            assert_eq!(current_span_context(), None, "finish runs outside the span");
            if ret.is_err() {
                span.record_error(std::any::type_name::<Refused>(), || "refused".into());
            }
        };
        let refused = std::any::type_name::<Refused>().to_owned();
        assert!(run_sync_at(&FUSED_ERR, || Err(Refused), finish).is_err());
        assert!(matches!(run_sync_at(&FUSED_ERR, || Ok(4), finish), Ok(4)));
        let spans = capture.spans_named("op.tests.fused.err");
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].error_message(), Some("refused"));
        assert_eq!(spans[0].attr("error.type"), Some(&refused.clone().into()));
        assert!(!spans[1].is_error());
        let series = duration_series("op.tests.fused.err");
        assert!(
            matches!(&series[..], [(None, 1, _), (Some(ty), 1, _)] if *ty == refused),
            "{series:?}"
        );

        assert!(run_sync_at(&FUSED_ERR_DROPPED, || Err(Refused), finish).is_err());
        let series = duration_series("op.tests.fused.err_dropped");
        assert!(
            matches!(&series[..], [(Some(ty), 1, _)] if *ty == refused),
            "{series:?}"
        );
        assert!(capture.spans_named("op.tests.fused.err_dropped").is_empty());
    }

    /// A value `run_sync_at`'s body returned is dropped once when `finish` panics (it is not
    /// returned then).
    #[test]
    fn a_panic_in_finish_drops_the_value_once() {
        let _capture = testing::capture();
        warm_up();
        let value = std::rc::Rc::new(7);
        let held = std::rc::Rc::clone(&value);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_sync_at(
                &FUSED_ERR,
                move || held,
                |_: &OpSpan, _: &_| panic!("finish"),
            )
        }));
        assert!(unwound.is_err());
        assert_eq!(std::rc::Rc::strong_count(&value), 1, "dropped once");
        assert_eq!(current_span_context(), None);
    }

    static FUSED_DROPPED_ROOT: CallSite = site("op.tests.fused.dropped_root", 0.0, true, false);
    static FUSED_UNDER_MARK: CallSite = site("op.tests.fused.under_mark", 1.0, true, false);
    static FUSED_UNMEASURED: CallSite = site("op.tests.fused.unmeasured", 1.0, false, false);

    /// A root `run_sync_at` samples out marks the thread while its body runs: its children
    /// (measured or not) see its ids and are dropped with it, the mark is gone after it, and
    /// the measured calls' durations are recorded.
    #[test]
    fn a_sampled_out_run_sync_at_root_marks_its_children() {
        let capture = testing::capture();
        warm_up();
        let (root, in_child, in_grandchild) = fused(&FUSED_DROPPED_ROOT, || {
            let root = current_span_context().expect("the dropped root's ids");
            let in_child = fused(&FUSED_UNDER_MARK, current_span_context);
            let in_grandchild = fused(&FUSED_UNMEASURED, || {
                fused(&FUSED_UNDER_MARK, current_span_context)
            });
            (root, in_child, in_grandchild)
        });
        assert!(!root.is_sampled());
        assert_eq!(in_child, Some(root.clone()));
        assert_eq!(in_grandchild, Some(root));
        assert_eq!(
            current_span_context(),
            None,
            "the mark is cleared after the root"
        );
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
        let root_series = duration_series("op.tests.fused.dropped_root");
        assert!(matches!(root_series[..], [(None, 1, _)]), "{root_series:?}");
        let child_series = duration_series("op.tests.fused.under_mark");
        assert!(
            matches!(child_series[..], [(None, 2, _)]),
            "{child_series:?}"
        );
        assert!(duration_series("op.tests.fused.unmeasured").is_empty());
    }

    static BY_VALUE_ROOT: CallSite = site("op.tests.args.root", 1.0, true, false);
    static BY_VALUE_CHILD: CallSite = site("op.tests.args.child", 1.0, true, false);
    static BY_VALUE_DROPPED: CallSite = site("op.tests.args.dropped", 0.0, true, false);

    /// A call through [`run_sync_args_at`] (what `#[traced(include_args)]` expands to for a
    /// sync fn): `n` and `label` recorded; how many times the recording ran is added to
    /// `recorded`.
    fn with_args<R>(
        site: &'static CallSite,
        n: u32,
        label: std::rc::Rc<str>,
        recorded: &std::cell::Cell<u32>,
        body: impl FnOnce(u32, std::rc::Rc<str>) -> R,
    ) -> R {
        run_sync_args_at(
            site,
            2,
            (n, label),
            |(n, label): &(u32, std::rc::Rc<str>), attributes: &mut Vec<KeyValue>| {
                recorded.set(recorded.get() + 1);
                attributes.push(KeyValue::new("n", i64::from(*n)));
                attributes.push(KeyValue::new("label", label.to_string()));
            },
            |(n, label)| body(n, label),
            |_: &OpSpan, _: &R| {},
        )
    }

    /// `run_sync_args_at` records the arguments of a kept call (a root, its child, and a call
    /// under a span of other code, which takes the general path) before its body runs, once,
    /// and not those of a call sampled out; the body gets them as given, and each is dropped
    /// once, a panicking body's too.
    #[test]
    fn run_sync_args_at_records_the_arguments_of_kept_calls_only() {
        let capture = testing::capture();
        warm_up();
        let recorded = std::cell::Cell::new(0);
        let label: std::rc::Rc<str> = "wallet".into();
        let got = with_args(
            &BY_VALUE_ROOT,
            7,
            label.clone(),
            &recorded,
            |n, root_label| {
                assert_eq!(recorded.get(), 1, "recorded before the body runs");
                let child = with_args(
                    &BY_VALUE_CHILD,
                    n + 1,
                    root_label.clone(),
                    &recorded,
                    |n, _| n,
                );
                (n, child, root_label.to_string())
            },
        );
        assert_eq!(got, (7, 8, "wallet".to_owned()));
        assert_eq!(recorded.get(), 2);
        let root = capture.span("op.tests.args.root");
        let child = capture.span("op.tests.args.child");
        assert_eq!(child.parent_span_id, Some(root.span_id));
        for (span, n) in [(&root, 7), (&child, 8)] {
            assert_eq!(span.attr("n"), Some(&n.into()));
            assert_eq!(span.attr("label"), Some(&"wallet".into()));
        }

        let dropped = with_args(&BY_VALUE_DROPPED, 3, label.clone(), &recorded, |n, _| n);
        assert_eq!(dropped, 3);
        assert_eq!(recorded.get(), 2, "nothing recorded for a call sampled out");
        assert!(capture.spans_named("op.tests.args.dropped").is_empty());

        {
            let _attached = other_codes_span(true).attach();
            assert_eq!(
                with_args(&BY_VALUE_DROPPED, 4, label.clone(), &recorded, |n, _| n),
                4
            );
        }
        assert_eq!(recorded.get(), 3);
        let under_other = capture.span("op.tests.args.dropped");
        assert_eq!(under_other.parent_span_id, Some(SpanId::from(0x77)));
        assert_eq!(under_other.attr("n"), Some(&4.into()));

        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_args(&BY_VALUE_ROOT, 9, label.clone(), &recorded, |_, _| -> u8 {
                panic!("no")
            })
        }));
        assert!(unwound.is_err());
        assert_eq!(current_span_context(), None);
        assert_eq!(
            std::rc::Rc::strong_count(&label),
            1,
            "every copy dropped once"
        );
    }
}
