//! The sync path of a traced call whose span reads no argument but those it records
//! ([`run_sync_at`], [`run_sync_args_at`]): the span starts, the body runs in it and the span
//! ends in one call out of line per site, the common cases each in an arm of their own with
//! the span's state in registers; the others go through the general path ([`OpSpan::start`],
//! shared).
use super::{OpSpan, Timing, end_record};
use crate::span::clock::{self, Tick};
use crate::span::live::{LiveBox, Name};
use crate::span::sampling::Quick;
use crate::span::{CallSite, Live, current, sampled_out, sampling, sink, switches};
use opentelemetry::trace::{SpanContext, SpanId};
use opentelemetry::{Context, KeyValue};
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// Runs a traced sync body whose span reads none of the call's arguments (no `include_args`,
/// `fields` or `parent = ..`), as [`run_sync`](super::run_sync) does: when tracing is off, `body` alone after
/// one flag test; else the span starts, runs and ends in one call out of line
/// (`run_sync_on`), so that nothing of it is returned through memory nor copied into the
/// traced function.
///
/// `site` gives the call site: `#[traced]` passes a function of the traced function's own,
/// a value of no size whose type names the site, so that the copy of `run_sync_on` for this
/// function has its site as a constant. (Passed as an address, the compiler propagated it in
/// some builds and not in others, which moved every call's cost by 5 to 15 instructions.)
#[inline(always)]
pub fn run_sync_at<R>(
    site: impl FnOnce() -> &'static CallSite,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&OpSpan, &R) + Copy,
) -> R {
    if !switches::is_enabled() {
        return body();
    }
    run_sync_on(site, NoArgs(body), finish)
}

/// [`run_sync_at`] for a call that records `count` of its arguments (`include_args`, without
/// `fields` or `parent = ..`): the recorded arguments are handed over as `args`, which
/// `record` reads into the span's attributes (only when it is sampled in, before the body
/// runs) and `body` then takes. Passed by value, they need no borrow that outlives the
/// start, so the start, the body and the end stay in one call as in [`run_sync_at`].
#[inline(always)]
pub fn run_sync_args_at<A, R>(
    site: impl FnOnce() -> &'static CallSite,
    count: usize,
    args: A,
    record: impl Fn(&A, &mut Vec<KeyValue>),
    body: impl FnOnce(A) -> R,
    finish: impl FnOnce(&OpSpan, &R) + Copy,
) -> R {
    if !switches::is_enabled() {
        return body(args);
    }
    let call = WithArgs {
        count,
        args,
        record,
        body,
    };
    run_sync_on(site, call, finish)
}

/// What a traced sync call runs: its body, and the arguments its span records.
trait CallBody<R> {
    /// How many attributes [`CallBody::record`] pushes (0: it is not called).
    fn count(&self) -> usize;
    /// Pushes the recorded arguments onto `attributes`.
    fn record(&self, attributes: &mut Vec<KeyValue>);
    /// Runs the body.
    fn call(self) -> R;
}

/// The body of a call that records no argument ([`run_sync_at`]).
struct NoArgs<B>(B);

impl<R, B: FnOnce() -> R> CallBody<R> for NoArgs<B> {
    #[inline(always)]
    fn count(&self) -> usize {
        0
    }
    #[inline(always)]
    fn record(&self, _: &mut Vec<KeyValue>) {}
    #[inline(always)]
    fn call(self) -> R {
        (self.0)()
    }
}

/// The body of a call that records `count` of its arguments, held in `args` until the body
/// takes them ([`run_sync_args_at`]).
struct WithArgs<A, Rec, B> {
    count: usize,
    args: A,
    record: Rec,
    body: B,
}

impl<A, R, Rec: Fn(&A, &mut Vec<KeyValue>), B: FnOnce(A) -> R> CallBody<R> for WithArgs<A, Rec, B> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.count
    }
    #[inline(always)]
    fn record(&self, attributes: &mut Vec<KeyValue>) {
        (self.record)(&self.args, attributes);
    }
    #[inline(always)]
    fn call(self) -> R {
        (self.body)(self.args)
    }
}

/// [`run_sync_at`] when tracing is on: the call's body and `finish` handed to
/// [`run_sync_dyn`] behind one `dyn`, which the compiler resolves here (`run_sync_dyn` is in
/// line) to this site's body and `finish`, themselves in line. Out of line, so that the
/// traced function keeps no frame for it when tracing is off. One per site: measured against
/// one copy shared by every site (the body and `finish` then called through the `dyn`), it
/// spares a kept child about 45 instructions and a sampled-out call about 35, for 3 to 4 KiB
/// of code per site instead of 0.2 (`scripts/instructions`, `nm --size-sort`).
#[inline(never)]
fn run_sync_on<R, S, B, F>(site: S, body: B, finish: F) -> R
where
    S: FnOnce() -> &'static CallSite,
    B: CallBody<R>,
    F: FnOnce(&OpSpan, &R) + Copy,
{
    let site = site();
    let mut call = SyncCall {
        stage: SyncCall::<B, R, F>::BODY,
        body: ManuallyDrop::new(body),
        ret: MaybeUninit::uninit(),
        finish,
    };
    // SAFETY: `call` is new: its body has not run.
    let _returned: Returned<'_> = run_sync_dyn(site, unsafe { BodyOnce::new(&mut call) });
    // SAFETY: a `Returned` is only given by `BodyOnce::run` once the body returned, which
    // wrote the value: it is read out once, and `call` forgotten (its body was taken).
    let ret = unsafe { call.ret.assume_init_read() };
    std::mem::forget(call);
    ret
}

/// A traced sync call as [`run_sync_dyn`] sees it: its body, then the record of its outcome.
/// Called through [`BodyOnce`] and [`Returned`], which keep the order.
trait SyncBody {
    /// How many arguments [`SyncBody::record_args`] records (0: nothing to record).
    fn arg_count(&self) -> usize;

    /// Pushes the recorded arguments onto `attributes`.
    ///
    /// # Safety
    /// Called before [`SyncBody::run`] (the arguments are still there).
    unsafe fn record_args(&mut self, attributes: &mut Vec<KeyValue>);

    /// Runs the body, keeping what it returned.
    ///
    /// # Safety
    /// Called once.
    unsafe fn run(&mut self);

    /// Records the outcome the body returned on `span` (the site's `finish`).
    ///
    /// # Safety
    /// Called after [`SyncBody::run`] returned.
    unsafe fn finish(&mut self, span: &OpSpan);
}

/// A traced sync call whose body has not run: [`BodyOnce::run`] takes it, so the body runs
/// once.
struct BodyOnce<'a>(&'a mut dyn SyncBody);

/// A traced sync call whose body returned (only [`BodyOnce::run`] gives one): its outcome
/// can be recorded.
struct Returned<'a>(&'a mut dyn SyncBody);

impl<'a> BodyOnce<'a> {
    /// # Safety
    /// `call`'s body has not run.
    unsafe fn new(call: &'a mut dyn SyncBody) -> Self {
        BodyOnce(call)
    }

    /// How many arguments the call records.
    #[inline(always)]
    fn arg_count(&self) -> usize {
        self.0.arg_count()
    }

    /// What pushes the call's recorded arguments onto a span's attributes. It holds a copy of the call's pointer, not a borrow of `self`: `self` (and
    /// the pointer's vtable) then stays in registers, where the compiler resolves the calls
    /// through it.
    #[inline(always)]
    fn recorder(&mut self) -> impl FnMut(&mut Vec<KeyValue>) + '_ {
        let call: &mut dyn SyncBody = &mut *self.0;
        // SAFETY: the body has not run (`run` takes `self`, which the closure borrows).
        move |attributes| unsafe { call.record_args(attributes) }
    }

    /// Records the call's arguments into a span just started in `live`, if it records any.
    /// Out of line in debug builds (see `end_kept`): its temporaries are then not in the
    /// frame that stays on the stack while the body runs.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    fn record_args_into(&mut self, live: &Live) {
        let count = self.arg_count();
        if count != 0 {
            live.record_start_attributes(count, &mut self.recorder());
        }
    }

    /// Runs the body.
    #[inline(always)]
    fn run(self) -> Returned<'a> {
        // SAFETY: `new`'s caller guarantees the body has not run, and `self` is taken.
        unsafe { self.0.run() };
        Returned(self.0)
    }
}

impl Returned<'_> {
    /// Records the outcome on `span`.
    #[inline(always)]
    fn finish(&mut self, span: &OpSpan) {
        // SAFETY: a `Returned` is made by `BodyOnce::run` after `run` returned.
        unsafe { self.0.finish(span) }
    }
}

/// The state of a traced sync call behind [`SyncBody`]: the body to run, then its value;
/// `stage` says which of the two it holds, for a drop on unwind.
struct SyncCall<B, R, F> {
    stage: u8,
    body: ManuallyDrop<B>,
    ret: MaybeUninit<R>,
    finish: F,
}

impl<B, R, F> SyncCall<B, R, F> {
    /// `body` is there.
    const BODY: u8 = 0;
    /// The body was taken (it runs, or it panicked): nothing to drop.
    const TAKEN: u8 = 1;
    /// `ret` holds what the body returned.
    const RETURNED: u8 = 2;
}

impl<R, B: CallBody<R>, F: FnOnce(&OpSpan, &R) + Copy> SyncBody for SyncCall<B, R, F> {
    #[inline]
    fn arg_count(&self) -> usize {
        // Read before the body runs only (its callers hold a `BodyOnce`): `body` is there.
        debug_assert_eq!(self.stage, Self::BODY);
        self.body.count()
    }

    #[inline]
    unsafe fn record_args(&mut self, attributes: &mut Vec<KeyValue>) {
        // Called before `run` (our caller's guarantee): `body` is still there.
        debug_assert_eq!(self.stage, Self::BODY);
        self.body.record(attributes);
    }

    #[inline]
    unsafe fn run(&mut self) {
        self.stage = Self::TAKEN;
        // SAFETY: called once (our caller's guarantee), so `body` is still there.
        let body = unsafe { ManuallyDrop::take(&mut self.body) };
        self.ret.write(body.call());
        self.stage = Self::RETURNED;
    }

    #[inline]
    unsafe fn finish(&mut self, span: &OpSpan) {
        // SAFETY: `run` returned (our caller's guarantee), which wrote `ret`.
        (self.finish)(span, unsafe { self.ret.assume_init_ref() });
    }
}

impl<B, R, F> Drop for SyncCall<B, R, F> {
    /// Dropped on unwind only (`run_sync_on` forgets it after reading its value): the body
    /// if it never ran (a sink panicked in the start), the value if `finish` panicked.
    fn drop(&mut self) {
        match self.stage {
            // SAFETY: `body` is there until `run` takes it (and marks the stage first).
            Self::BODY => unsafe { ManuallyDrop::drop(&mut self.body) },
            // SAFETY: `run` marks the stage once it wrote `ret`; nothing moves it out but
            // `run_sync_on`, which then forgets `self`.
            Self::RETURNED => unsafe { self.ret.assume_init_drop() },
            _ => {}
        }
    }
}

/// The traced part of [`run_sync_at`], in line in each site's [`run_sync_on`]: decides (the
/// path of `OpSpan::start` under the current span), runs `call`'s body in the span, records
/// the outcome, ends the span and hands it to the sinks. The common cases (a kept child of
/// godtrace's own span, a new trace kept at its root, a call sampled out) each run in their
/// own arm, their state in registers while the body runs and no `Option<OpSpan>` built to
/// be taken apart; the others start out of line and run in [`run_sync_started`], one copy
/// for every site (there `call`'s methods are called through the `dyn`).
#[inline(always)]
fn run_sync_dyn<'a>(site: &'static CallSite, mut call: BodyOnce<'a>) -> Returned<'a> {
    // What OpenTelemetry's context showed at the start (as the record notes it): the
    // parent's view for a child, nothing for a new trace (`quick` found no span there).
    let (live, start, otel_seen) = match sampling::quick(site) {
        Quick::SampledOut(mark) => return run_sampled_out(site, mark, call),
        Quick::Untraced => return call.run(),
        Quick::UnderParent(current::ParentAt::Own(parent, otel_seen))
            if sampling::keeps_child_of_own(&parent.span_context) =>
        {
            let start = clock::now();
            let live = Live::start_child(
                parent,
                otel_seen,
                sampling::write_kept_child_of,
                Name::Site(site),
            );
            (live, start, otel_seen)
        }
        Quick::KeptRoot(low) => {
            let (live, start) = OpSpan::new_trace_record(site, low);
            (live, start, SpanId::INVALID)
        }
        Quick::UnderParent(at) => {
            // The parent's ids, read before the arguments are recorded (see above): no
            // reference to it is passed down across that.
            let span = start_under_parent(site, at.span_context(), &mut call);
            return run_sync_started(span, call);
        }
        Quick::Unknown => {
            let span = start_enabled(site, &mut call);
            return run_sync_started(span, call);
        }
    };
    // After the parent was read: recording runs the caller's code (`Debug` and the like).
    call.record_args_into(&live);
    sink::on_start(&live.span_context, &live.parent_span_id);
    if switches::attaches_otel_context() {
        return run_attached(site, live, start, call);
    }
    run_kept(site, live, start, otel_seen, call)
}

/// The general path's start under the current span, whose ids are `parent`
/// ([`OpSpan::start_under_parent`]), recording `call`'s arguments. Out of line in debug builds
/// (see `end_kept`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn start_under_parent(
    site: &'static CallSite,
    parent: Option<SpanContext>,
    call: &mut BodyOnce<'_>,
) -> Option<OpSpan> {
    let count = call.arg_count();
    OpSpan::start_under_parent(site, parent, count, &mut call.recorder())
}

/// The general path's start when `quick` could not decide ([`OpSpan::start_enabled`]),
/// recording `call`'s arguments. Out of line in debug builds (see `end_kept`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn start_enabled(site: &'static CallSite, call: &mut BodyOnce<'_>) -> Option<OpSpan> {
    let count = call.arg_count();
    OpSpan::start_enabled(site, None, count, &mut call.recorder())
}

/// Runs `call`'s body in a kept span recording into `live` since `start`, not attached to
/// OpenTelemetry's context, then ends it (see [`run_sync_dyn`]); `otel_seen` is what its
/// record noted OpenTelemetry's context showed at its start (`Live::otel_seen_at_start`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn run_kept<'a>(
    site: &'static CallSite,
    live: LiveBox,
    start: Tick,
    otel_seen: SpanId,
    call: BodyOnce<'a>,
) -> Returned<'a> {
    debug_assert_eq!(live.otel_seen_at_start.get(), Some(otel_seen));
    // SAFETY: a span just started was never entered; `live` is owned by this frame, on this
    // thread, until `remove` below.
    unsafe { current::push_started(&live, Some(otel_seen)) };
    let outcome = catch_unwind(AssertUnwindSafe(|| call.run()));
    end_kept(site, live, start, outcome)
}

/// The end of [`run_kept`] once the body returned or panicked with `outcome`. In line in
/// release builds; out of line in debug builds, so that its temporaries are not in the frame
/// that stays on the stack while the body runs (a traced call nested in another then costs
/// about 2 KiB of stack there, not 6).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn end_kept<'a>(
    site: &'static CallSite,
    live: LiveBox,
    start: Tick,
    outcome: std::thread::Result<Returned<'a>>,
) -> Returned<'a> {
    current::remove(&live);
    // `quick` keeps nothing under a sampled-out root's mark: there was none to replace, and
    // none is left after the body, as `OpSpan::run_current_once` would restore it.
    sampled_out::clear_unheld(&live);
    let timing = Timing {
        histogram: site.include_duration.then_some(site),
        start,
    };
    // `finish` reads no timing: kept in registers, not written to be read back.
    let mut span = OpSpan::kept_untimed(live);
    let mut returned = match outcome {
        Ok(returned) => returned,
        Err(payload) => {
            span.timing = Some(timing);
            span.end_panicked(payload)
        }
    };
    returned.finish(&span);
    // The record leaves the span, held by value from here: the sinks take it or give it
    // back, and the span, not passed anywhere then, is not even written when `finish` reads
    // nothing.
    let error_type = span.error_type.get();
    let live = span.live.take();
    // Nothing else to drop: no context (`finish` cannot set one).
    std::mem::forget(span);
    let end = clock::now();
    // Always there (nothing but `OpSpan::end_*` takes it, and `finish` cannot): tested, not
    // assumed.
    let Some(live) = live else {
        return returned;
    };
    if let Some(left) = end_record(live, timing, end, error_type) {
        drop_record(left);
    }
    returned
}

/// Drops a record the sinks did not take, out of line.
#[inline(never)]
fn drop_record(live: LiveBox) {
    drop(live);
}

/// Runs `call`'s body under the mark `mark` of a sampled-out root (the span records
/// nothing), measured when its site records durations (see [`run_sync_dyn`]).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn run_sampled_out<'a>(site: &'static CallSite, mark: u64, call: BodyOnce<'a>) -> Returned<'a> {
    let measured = site.include_duration.then(clock::now);
    let held = sampled_out::hold(mark);
    let outcome = catch_unwind(AssertUnwindSafe(|| call.run()));
    sampled_out::release_call(held);
    end_sampled_out(site, mark, measured, outcome)
}

/// The end of [`run_sampled_out`] once the body returned or panicked with `outcome`: in line
/// in release builds, out of line in debug builds (see [`end_kept`]).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn end_sampled_out<'a>(
    site: &'static CallSite,
    mark: u64,
    measured: Option<Tick>,
    outcome: std::thread::Result<Returned<'a>>,
) -> Returned<'a> {
    let returned = match outcome {
        Ok(returned) => returned,
        Err(payload) => match measured {
            Some(_) => OpSpan::sampled_out(site, mark, measured).end_panicked(payload),
            None => resume_unwind(payload),
        },
    };
    // Nothing recorded nor measured: the outcome has nowhere to go.
    let Some(start) = measured else {
        return returned;
    };
    let mut returned = returned;
    // `finish` reads no timing, nor the mark.
    let span = OpSpan::sampled_out(site, 0, None);
    returned.finish(&span);
    let error_type = span.error_type.get();
    // Owns nothing: nothing to drop.
    std::mem::forget(span);
    let end = clock::now();
    let ticks = clock::ticks_between(start, end);
    site.metrics.record(|| site.name(), ticks, error_type, None);
    returned
}

/// Runs `call`'s body in a kept span recording into `live` since `start`, attached to
/// OpenTelemetry's context (`Config::otel_context(true)`), then ends it: out of line, one copy
/// for every site, its context built here rather than returned through memory.
#[inline(never)]
fn run_attached<'a>(
    site: &'static CallSite,
    live: LiveBox,
    start: Tick,
    call: BodyOnce<'a>,
) -> Returned<'a> {
    let cx = OpSpan::attaches_own_context(&live, Context::current());
    run_started_in_line(Some(OpSpan::kept(Some(cx), live, site, start)), call)
}

/// Runs `call`'s body in `span` as started by the general path (`None`: untraced), then
/// ends it (see [`run_sync_dyn`]).
#[inline(never)]
fn run_sync_started(span: Option<OpSpan>, call: BodyOnce<'_>) -> Returned<'_> {
    run_started_in_line(span, call)
}

/// The body of [`run_sync_started`].
#[inline(always)]
fn run_started_in_line(span: Option<OpSpan>, call: BodyOnce<'_>) -> Returned<'_> {
    let Some(mut span) = span else {
        return call.run();
    };
    let mut returned = span.run_current_once(|| call.run());
    returned.finish(&span);
    span.end_in_place();
    span.release();
    std::mem::forget(span);
    returned
}
