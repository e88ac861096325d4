//! Which godtrace span is current on this thread: a list of the spans entered and not yet
//! left, linked through the spans themselves, beside OpenTelemetry's own context stack.
//!
//! Each span remembers which span OpenTelemetry's context showed when it was entered (the
//! span itself when godtrace attaches it there). While the two agree, godtrace's span is the
//! innermost one; once other code makes another OpenTelemetry context current (a third-party
//! span, a remote parent the user attached), that one is.
//!
//! Thread-local state here never fails to be reached: the list, the mark of `sampled_out` and
//! what this thread knows of OpenTelemetry's context are in `live::ThisThread`, which needs no
//! destructor (a `const` thread-local of a type without `Drop` stays readable while the thread
//! exits). OpenTelemetry's context is another matter: see [`otel_context_usable`].
use super::live::{self, Live, LiveBox};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry::{Context, ContextGuard};
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::panic::catch_unwind;

thread_local! {
    /// Dropped while the thread exits, no later than OpenTelemetry's context, which it marks
    /// gone; see [`otel_context_usable`].
    static SENTINEL: Sentinel = const { Sentinel };
    /// The guards [`restore`] could not drop when their [`Attached`] was dropped, to drop at
    /// its next call on this thread. No destructor (`ManuallyDrop`): those left when the
    /// thread exits go with OpenTelemetry's context on it, not dropped after it is gone.
    static UNRESTORED: RefCell<ManuallyDrop<Vec<ContextGuard>>> =
        const { RefCell::new(ManuallyDrop::new(Vec::new())) };
}

/// Makes `live` the current span of this thread until [`remove`] takes it off (its owner does,
/// at the latest, when it ends or is dropped). `otel_seen` is the span id OpenTelemetry's
/// current context shows, when the caller knows it (it is read otherwise). A span already on
/// the list stays where it is.
///
/// # Safety
/// Until the span is taken off, its owner `live` stays on this thread: the list is this
/// thread's, and the record is not `Sync`.
#[inline]
pub(super) unsafe fn push(live: &LiveBox, otel_seen: Option<SpanId>) {
    // SAFETY: forwarded to our caller.
    unsafe { live::push_current(live, || otel_seen.unwrap_or_else(otel_span_id)) };
}

/// [`push`] of a span just started, so on no list yet (its owner's first entry, that of a
/// sync call).
///
/// # Safety
/// As for [`push`], and `live` was never entered.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(super) unsafe fn push_started(live: &LiveBox, otel_seen: Option<SpanId>) {
    let otel_seen = otel_seen.unwrap_or_else(otel_span_id);
    // SAFETY: never entered, so on no list; the rest is forwarded to our caller.
    unsafe { live::push_unlinked(live, otel_seen) };
}

/// Takes `live` off this thread's list, wherever it is: normally on top, but a manual span's
/// guard may be dropped out of order, or outlive the traced call it was made in.
#[inline]
pub(super) fn remove(live: &Live) {
    live::remove_current(live);
}

/// The top of this thread's list, for [`leave_above_top`].
#[inline(always)]
pub(super) fn list_position() -> live::ListPosition {
    live::list_position()
}

/// Takes off this thread's list the spans entered above `floor` and left there: see
/// `live::leave_above_top`.
#[inline]
pub(super) fn leave_above_top(at: live::ListPosition) {
    live::leave_above_top(at);
}

/// Drops `guard`, the OpenTelemetry context `live`'s guard attached, while spans entered
/// after `live` are still current (the guard dropped out of order). OpenTelemetry then shows
/// the context before `live`'s, older than theirs, which [`innermost`] would read as one
/// other code attached inside them: each that noted the context `live`'s showed notes this
/// one instead, and stays the innermost span.
#[cold]
pub(super) fn detach_below(live: &Live, guard: Attached) {
    if !otel_context_usable() {
        drop(guard);
        return;
    }
    let before = otel_span_id();
    drop(guard);
    let after = otel_span_id();
    if before != after {
        live::reseat_otel_seen_above(live, before, after);
    }
}

/// Whether `live` is on this thread's list of current spans.
#[inline]
pub(super) fn is_listed(live: &Live) -> bool {
    live.linked.get()
}

/// Whether a span entered after `live` is still on this thread's list (`live` is not the
/// innermost current span).
#[inline]
pub(super) fn has_spans_above(live: &Live) -> bool {
    live::has_spans_above(live)
}

/// Takes off this thread's list the spans entered above `live` and left there: see
/// `live::leave_above`.
#[inline]
pub(super) fn leave_above(live: &Live) {
    live::leave_above(live);
}

/// Whether a span is current on this thread, godtrace's or in OpenTelemetry's context: a
/// future made under a sampled-out root is polled there only if it was handed elsewhere (see
/// [`hide_under_mark`]). The caller has checked [`otel_context_usable`].
#[inline(always)]
pub(super) fn shows_a_span() -> bool {
    // Whether OpenTelemetry's context holds a span at all, valid or not (cheaper than reading
    // its id): one that holds an invalid one is hidden too, which changes nothing.
    live::list_top().is_some() || Context::map_current(TraceContextExt::has_active_span)
}

/// Hides every current span for the poll of a future made under a sampled-out root, whose
/// mark the caller holds, and that is polled under another span: a job sent from the request
/// that made it to a worker's recorded span. What runs in it then follows the root it was made
/// under, as it would where it was made (the same trace, not sampled) rather than the worker's.
///
/// OpenTelemetry's context shows the root's ids until the guard is dropped (baggage and the
/// rest of the context left as they are): a context newer than godtrace's spans, it is the
/// innermost (see [`innermost`]), and the sampling shortcut reads it as the mark's own (see
/// [`otel_shows_a_span_besides`]). godtrace's list is left as it is.
#[cold]
#[inline(never)]
pub(super) fn hide_under_mark() -> Option<Attached> {
    let root = super::sampled_out::sampled_out_span_context()?;
    attach(Context::current().with_remote_span_context(root))
}

/// Makes `cx` OpenTelemetry's current context, as `Context::attach` does, or nothing where
/// OpenTelemetry cannot: inside its `Context::map_current`, whose borrow of the context makes
/// `attach` panic. What godtrace makes current there is then current in godtrace's own list
/// alone, and the caller's code runs on, as it would untraced; the panic is still seen by the
/// panic hook. Reached only with a context to attach (an explicit parent,
/// `otel_context(true)`, a bridged `tracing` span, a sampled-out root hidden under); in line,
/// where the catch costs nothing on the path that does not panic (out of line it cost a kept
/// span with `otel_context(true)` about 20 instructions).
#[inline]
pub(crate) fn attach(cx: Context) -> Option<Attached> {
    let carrying = super::carried::is_worth_carrying(&cx);
    let guard = catch_unwind(std::panic::AssertUnwindSafe(|| cx.attach())).ok()?;
    if carrying {
        let count = &live::this_thread().carrying_attached;
        count.set(count.get().saturating_add(1));
    }
    Some(Attached {
        guard: Some(guard),
        carrying,
    })
}

/// [`attach`] of a context made current before, maybe under spans made since (a `tracing`
/// span entered anew, `in_current_span` run in place inside a span made in its caller): when
/// godtrace's innermost span noted OpenTelemetry's context showing `cx`'s span, it reads `cx`
/// as attached inside it until this is dropped (see `live::unnote_shown`); else the attach
/// would look like no change, and the innermost span would stay current where `cx`'s is.
pub(crate) fn attach_again(cx: Context) -> Option<Reattached> {
    let shown = cx.span().span_context().span_id();
    let attached = attach(cx)?;
    Some(Reattached {
        _attached: attached,
        _unnoted: live::unnote_shown(shown),
    })
}

/// What [`attach_again`] did, undone when dropped: the context detached, then the note put
/// back.
pub(crate) struct Reattached {
    _attached: Attached,
    _unnoted: Option<live::Unnoted>,
}

/// A context [`attach`] made current in OpenTelemetry's: current no more once this is dropped
/// (in any order: OpenTelemetry restores the context below a guard dropped out of order when
/// the ones above it go), wherever the drop happens ([`restore`]).
pub(crate) struct Attached {
    guard: Option<ContextGuard>,
    /// Whether the context is worth taking along (`carried::is_worth_carrying`; counted in
    /// `carrying_attached` while attached).
    carrying: bool,
}

impl Drop for Attached {
    #[inline]
    fn drop(&mut self) {
        if self.carrying {
            let count = &live::this_thread().carrying_attached;
            count.set(count.get().saturating_sub(1));
        }
        if let Some(guard) = self.guard.take() {
            restore(guard);
        }
    }
}

/// Drops `guard`, and those an earlier call could not. Where OpenTelemetry cannot drop it:
/// - while the thread exits, once OpenTelemetry's context on it is gone (its guard's drop
///   would panic in a thread-local destructor: an abort), the guard is forgotten;
/// - inside OpenTelemetry's `Context::map_current`, whose borrow of the context makes the
///   guard's drop panic: while a panic unwinds (out of the closure, through an `Attached`
///   there), that second panic would abort the process, so the guard is kept and dropped at
///   the next call here on this thread (OpenTelemetry's context shows the attached one until
///   then). Otherwise the panic is OpenTelemetry's, as its own guard's drop there raises it:
///   telling the two cases apart costs an attach of its own (about 170 instructions), which
///   every context godtrace detaches would pay.
#[cold]
#[inline(never)]
fn restore(guard: ContextGuard) {
    if !otel_context_usable() {
        std::mem::forget(guard);
        return;
    }
    if std::thread::panicking() && !otel_context_changeable() {
        UNRESTORED.with(|kept| kept.borrow_mut().push(guard));
        live::this_thread().guards_kept.set(true);
        return;
    }
    drop(guard);
    if live::this_thread().guards_kept.get() {
        drop_unrestored();
    }
}

/// Drops the guards [`restore`] kept, one at a time, the list not borrowed while a guard drops:
/// the context it leaves may hold values whose `Drop` runs code that detaches a context of its
/// own.
#[cold]
fn drop_unrestored() {
    live::this_thread().guards_kept.set(false);
    while let Some(kept) = take_unrestored() {
        drop(kept);
    }
}

/// The last guard [`restore`] kept, if any; the list's memory goes with its last guard, so
/// that none is left for the thread's exit to leak.
fn take_unrestored() -> Option<ContextGuard> {
    UNRESTORED.with(|kept| {
        let mut kept = kept.borrow_mut();
        let last = kept.pop();
        if kept.is_empty() && kept.capacity() != 0 {
            drop(std::mem::take(&mut **kept));
        }
        last
    })
}

/// Whether OpenTelemetry's context can be changed on this thread now: not inside its
/// `Context::map_current`. OpenTelemetry has no way to ask but trying: an empty context is
/// attached and detached at once (a refused attach panics, caught here; the panic hook still
/// sees it).
fn otel_context_changeable() -> bool {
    catch_unwind(|| drop(Context::new().attach())).is_ok()
}

/// Whether OpenTelemetry's current context can be read on this thread: false once the thread
/// has started dropping its thread-locals, where reading it would abort the process.
///
/// OpenTelemetry keeps the current context in a lazily initialised `thread_local!` and reaches
/// it with `LocalKey::with` (`Context::current`, `map_current`, `attach` and the guard's drop),
/// which panics once the thread's destructors have dropped it; a panic in a thread-local
/// destructor (where a traced call made from another thread-local's `Drop` runs) aborts. It
/// has no `try_with`, so a sentinel of ours tells instead, dropped no later than OpenTelemetry's
/// context: a thread runs its thread-local destructors in the reverse order of their
/// registration (glibc's `__cxa_thread_atexit_impl` and the standard library's own list both
/// do), a thread-local registers its destructor on first use, and the sentinel is first used
/// just after OpenTelemetry's context ([`check_otel_context`]). Its destructor marks the
/// context gone; the mark itself needs no destructor, so it stays readable to the end.
#[inline]
pub(crate) fn otel_context_usable() -> bool {
    match live::this_thread().otel_context_usable.get() {
        Some(usable) => usable,
        None => check_otel_context(),
    }
}

/// Registers the sentinel after OpenTelemetry's context, once per thread.
#[cold]
#[inline(never)]
fn check_otel_context() -> bool {
    // Reading the context registers its destructor. It panics when the context was already
    // dropped (this thread's first traced call is made while it exits): caught here, once, and
    // the thread then records nothing. Meanwhile the thread reads as exiting: the panic hook
    // runs before the panic is caught, and a hook that logs through `tracing` or calls
    // godtrace would otherwise check again, panicking inside the panic (an abort).
    let usable = &live::this_thread().otel_context_usable;
    usable.set(Some(false));
    let alive =
        catch_unwind(|| Context::map_current(|_| ())).is_ok() && SENTINEL.try_with(|_| {}).is_ok();
    usable.set(Some(alive));
    alive
}

/// See [`otel_context_usable`].
struct Sentinel;

impl Drop for Sentinel {
    fn drop(&mut self) {
        live::this_thread().otel_context_usable.set(Some(false));
    }
}

#[inline]
fn otel_span_id() -> SpanId {
    Context::map_current(|cx| cx.span().span_context().span_id())
}

/// The innermost current span: godtrace's own, or OpenTelemetry's when other code made a
/// newer context current.
pub(crate) enum Current<'a> {
    Own(&'a Live),
    Other(&'a Context),
    None,
    /// Telemetry is suppressed here (the export thread, or code that asked for it): nothing
    /// is recorded, so that exporting never produces spans of its own. Also while the thread
    /// exits (see [`otel_context_usable`]).
    Suppressed,
}

/// Runs `f` with the innermost current span of this thread.
pub(crate) fn with_current<R>(f: impl FnOnce(Current<'_>) -> R) -> R {
    if !otel_context_usable() {
        return f(Current::Suppressed);
    }
    let top = top();
    Context::map_current(|cx| match innermost(cx, top) {
        InnermostKind::Own(_) => f(Current::Own(
            top.expect("`Own` is only found with a span on the list"),
        )),
        // A godtrace span of this thread's whose context was attached again (its
        // `current_context()` handed to a child that attaches it): that span, recording.
        InnermostKind::Other => match listed(cx.span().span_context().span_id()) {
            Some(live) => f(Current::Own(live)),
            None => f(Current::Other(cx)),
        },
        InnermostKind::Nothing => f(Current::None),
        InnermostKind::Suppressed => f(Current::Suppressed),
    })
}

/// The span of id `span_id` if it is on this thread's list (near its top).
fn listed<'a>(span_id: SpanId) -> Option<&'a Live> {
    let found = live::find_listed(span_id)?;
    // SAFETY: `found` is on this thread's list; as with [`top`], the reference is used before
    // any code that could end or drop a span runs.
    Some(unsafe { found.get() })
}

/// The innermost span this thread entered and has not left.
#[inline]
fn top<'a>() -> Option<&'a Live> {
    let top = live::list_top()?;
    // SAFETY: `top` is on this thread's list; the callers use the reference before any code
    // that could end or drop a span runs (the caller's `Debug`, `fields(..)`, its body), and
    // hold it in no function's argument across such code (see `ParentAt`).
    Some(unsafe { top.get() })
}

/// The one rule for which span is innermost: godtrace's own while OpenTelemetry's context
/// still shows what it showed when that span was entered, or the span itself, or what it
/// showed when the span below was entered, or no span at all (a context attached before that
/// span was entered was detached inside it: a `tracing` guard or a `ContextGuard` dropped in
/// a traced call; nothing newer is current then); else OpenTelemetry's span. Other code
/// attaching again a context showing one of those is read as no change (godtrace's own
/// attaches say so: [`attach_again`]). Only compares ids, so the hot path's closure over
/// OpenTelemetry's context stays small.
#[inline]
fn innermost(cx: &Context, top: Option<&Live>) -> InnermostKind {
    if cx.is_telemetry_suppressed() {
        return InnermostKind::Suppressed;
    }
    let current = cx.span().span_context().span_id();
    // OpenTelemetry's context may also show godtrace's own span itself: `current_context()`
    // attached, or handed to `with_context`.
    if top.is_some_and(|entered| {
        entered.otel_seen.get() == current
            || current == SpanId::INVALID
            || current == entered.span_context.span_id()
            || current == entered.otel_seen_below.get()
    }) {
        InnermostKind::Own(current)
    } else if current != SpanId::INVALID {
        InnermostKind::Other
    } else {
        InnermostKind::Nothing
    }
}

/// Whether telemetry is suppressed in OpenTelemetry's current context (the export thread,
/// or code that asked for it). The caller has checked [`otel_context_usable`].
#[inline]
pub(super) fn telemetry_suppressed() -> bool {
    Context::map_current(Context::is_telemetry_suppressed)
}

/// Whether OpenTelemetry's current context shows a span other than the sampled-out root
/// marked `mark` (whose ids it shows in a poll [`hide_under_mark`] hid): under a root godtrace
/// sampled out (which starts when none is shown, and attaches nothing), one attached inside
/// it, such as a message's extracted context, is the parent of what runs there. The caller
/// has checked [`otel_context_usable`].
#[inline(always)]
pub(super) fn otel_shows_a_span_besides(mark: u64) -> bool {
    Context::map_current(|cx| {
        let shown = cx.span().span_context().span_id();
        shown != SpanId::INVALID
            && shown != super::sampled_out::ids_of_sampled_out_root(mark).span_id()
    })
}

/// The span other OpenTelemetry code handed `cx` as the current context should start under
/// or inject: godtrace's innermost span, if `cx` still shows what OpenTelemetry's context
/// showed when that span was entered (when godtrace's spans are not attached to
/// OpenTelemetry's context, `Config::otel_context(false)`, the default), or the ids of a
/// sampled-out root (in either mode). `None`: use `cx` as it is (with the attach on, `cx`
/// already has godtrace's span).
///
/// A context built apart from the current one that happens to show the same span (or none,
/// like `Context::new()` when nothing else is current) reads as the current one here: ids are
/// all a context can be compared by.
pub(crate) fn own_span_under(cx: &Context) -> Option<SpanContext> {
    if !otel_context_usable() {
        return None;
    }
    let top = top();
    // With the attach on, `cx` already has godtrace's span.
    if top.is_some() && super::switches::attaches_otel_context() {
        return None;
    }
    match innermost(cx, top) {
        InnermostKind::Own(_) => top.map(|own| own.span_context.clone()),
        // No span anywhere: under a root godtrace sampled out (which attaches nothing, in
        // either mode), that root's ids, not sampled, so that other code's spans are dropped
        // with it and downstream services follow the decision.
        InnermostKind::Nothing => super::sampled_out::sampled_out_span_context(),
        InnermostKind::Other | InnermostKind::Suppressed => None,
    }
}

/// The span context of the innermost current span, if any; under a root godtrace sampled
/// out (nothing current), the ids that root propagates.
pub(crate) fn span_context() -> Option<SpanContext> {
    if !otel_context_usable() {
        return None;
    }
    parent()
        .ok()
        .flatten()
        .or_else(super::sampled_out::sampled_out_span_context)
}

/// The parent of a span starting here: the innermost current span (`None` for a new trace),
/// or `Err` where telemetry is suppressed.
///
/// Every traced call reads this, sampled out or not, so OpenTelemetry's context is looked at
/// through a closure that only compares ids; a parent is cloned outside it. The caller has
/// checked [`otel_context_usable`].
#[inline(always)]
pub(super) fn parent() -> Result<Option<SpanContext>, Suppressed> {
    let top = top();
    match Context::map_current(|cx| innermost(cx, top)) {
        InnermostKind::Own(_) => Ok(top.map(|entered| entered.span_context.clone())),
        InnermostKind::Other => Ok(other_parent()),
        InnermostKind::Nothing => Ok(None),
        InnermostKind::Suppressed => Err(Suppressed),
    }
}

/// [`otel_context_usable`] as far as this thread already knows: `false` until its first check
/// has run (the hot path then takes the general one, which runs it).
#[inline(always)]
pub(super) fn otel_context_known_usable() -> bool {
    live::this_thread().otel_context_usable.get() == Some(true)
}

/// Which span a span starting here has as its parent ([`parent`] reads it), without reading
/// its ids: `None` for a new trace, the test a call sampled out at its root stops at. `Err`
/// where telemetry is suppressed.
#[inline]
pub(super) fn parent_at<'a>() -> Result<Option<ParentAt<'a>>, Suppressed> {
    let top = top();
    match Context::map_current(|cx| innermost(cx, top)) {
        // `Own` is only found with a span on the list.
        InnermostKind::Own(otel_seen) => Ok(top.map(|parent| ParentAt::Own(parent, otel_seen))),
        InnermostKind::Other => Ok(Some(ParentAt::Other)),
        InnermostKind::Nothing => Ok(None),
        InnermostKind::Suppressed => Err(Suppressed),
    }
}

/// Where [`parent_at`] found the parent: godtrace's innermost span, or OpenTelemetry's context.
/// The span is read within the start that found it, by calls that return before the call's
/// arguments are recorded (the caller's code, which could end it): the reference is neither
/// used nor held (as a function's argument) past that point, as [`top`] requires.
#[derive(Clone, Copy)]
pub(super) enum ParentAt<'a> {
    /// godtrace's span, and the span id OpenTelemetry's context shows (what a child started
    /// now notes: not always what the parent noted, as the context may show the parent itself).
    Own(&'a Live, SpanId),
    Other,
}

impl ParentAt<'_> {
    /// The parent's ids, as [`parent`] reads them, while nothing changed since [`parent_at`].
    pub(super) fn span_context(self) -> Option<SpanContext> {
        match self {
            ParentAt::Own(parent, _) => Some(parent.span_context.clone()),
            ParentAt::Other => other_parent(),
        }
    }
}

/// Which [`Current`] the innermost span is, without borrowing it: what a closure over
/// OpenTelemetry's context returns, so that it stays small (the span is read outside it).
enum InnermostKind {
    /// godtrace's innermost span, and the span id OpenTelemetry's context shows.
    Own(SpanId),
    Other,
    Nothing,
    Suppressed,
}

/// The span context of OpenTelemetry's current context (set by other code), if valid.
#[cold]
fn other_parent() -> Option<SpanContext> {
    Context::map_current(|cx| Some(cx.span().span_context().clone()).filter(SpanContext::is_valid))
}

/// Telemetry is suppressed on this thread.
pub(super) struct Suppressed;

/// OpenTelemetry's form of the innermost current span, for code that takes a [`Context`]: the
/// current context, with godtrace's span in it when that is the innermost one, or the ids of
/// the sampled-out root this thread runs under when no span is current.
pub(crate) fn context() -> Context {
    if !otel_context_usable() {
        return Context::new();
    }
    let own = with_current(|current| match current {
        Current::Own(live) => Some(live.span_context.clone()),
        Current::Other(_) | Current::None | Current::Suppressed => None,
    });
    let cx = Context::current();
    match own {
        Some(sc) if cx.span().span_context().span_id() != sc.span_id() => {
            cx.with_remote_span_context(sc)
        }
        Some(_) => cx,
        None if cx.has_active_span() => cx,
        None => match super::sampled_out::sampled_out_span_context() {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx,
        },
    }
}
