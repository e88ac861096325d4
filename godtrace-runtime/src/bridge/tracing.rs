//! `tracing` spans and events in godtrace's traces, and godtrace's ids on fmt lines (cargo
//! feature `tracing`).
//!
//! [`layer()`] is a [`tracing_subscriber::Layer`] that records each `tracing` span as a
//! godtrace span, through godtrace's own recorder (not the OpenTelemetry SDK), in the same
//! trace as the `#[traced]` calls around and inside it:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let capture = godtrace_runtime::testing::capture(); // or `godtrace::init(..)`
//! let subscriber = tracing_subscriber::registry().with(godtrace_runtime::tracing::layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     let _request = godtrace_runtime::span("request");
//!     let _query = tracing::info_span!("db.query", rows = 3).entered(); // a child of `request`
//! });
//! let query = capture.span("db.query");
//! assert_eq!(query.parent_span_id, Some(capture.span("request").span_id));
//! ```
//!
//! - **Parents, both ways.** A `tracing` span started inside a `#[traced]` call is its child;
//!   a `#[traced]` call made while a `tracing` span is entered is that span's child; across
//!   `.await` (`Instrument`ed futures and `#[traced]` ones) and threads alike. An explicit
//!   `parent:` is followed (`parent: None` starts a new trace, and so does a parent a
//!   per-layer filter keeps from this layer).
//! - **Sampling** is decided once per trace: a `tracing` span under a sampled-out root is
//!   sampled out, and so is everything under it.
//! - **Fields** become typed attributes (integers, floats, `bool`, strings; `Debug` and
//!   `Display` values as text), bounded as every value (`Config::max_attribute_len`);
//!   `Span::record` lands on the span later. `otel.name`, `otel.kind`, `otel.status_code` and
//!   `otel.status_description` (or `otel.status_message`) set the span's name, kind and status
//!   as tracing-opentelemetry reads them; an error value (`field = &err as &dyn Error`) is
//!   recorded as its text, with `exception.message`.
//! - **Events** inside a span become span events (named after their message; `level`,
//!   `target` and their fields as attributes) from [`GodtraceLayer::min_event_level`] up
//!   (INFO by default); an event with an `error` field and no message is named `exception`.
//!   An ERROR event marks its span failed, as tracing-opentelemetry's layer does by default
//!   (`#[instrument(err)]` fails its span); [`GodtraceLayer::error_events_fail_span`] turns
//!   that off.
//! - **Code location**: `code.file.path` and `code.line.number`.
//! - **Levels**: spans from [`GodtraceLayer::min_span_level`] up are recorded (DEBUG by
//!   default); a span below it is transparent: not recorded, what runs in it is recorded
//!   under its parent, wherever it is entered (a task moved to another worker included; but
//!   events there are lost when that parent is a `#[traced]` call running elsewhere).
//!
//! Which spans and events reach godtrace is also decided by the subscriber's filters: a
//! global `EnvFilter`, or one on this layer alone (`layer().with_filter(..)`).
//!
//! [`TraceIds`] puts the current span's `trace_id` and `span_id` on every line of
//! tracing-subscriber's fmt layer:
//! `tracing_subscriber::fmt::layer().map_event_format(godtrace::tracing::TraceIds::new)`.
mod fields;
mod fmt;
mod record;

pub use fmt::TraceIds;

use self::fields::{EventVisitor, SpanUpdates, SpanVisitor};
use self::record::{Parent, Record};
use crate::span::{Current, otel_context_usable, switches, with_current};
use crate::value::{EventAttributes, bounded_static};
use ::tracing::span::{Attributes, Id, Record as Values};
use ::tracing::{Event, Level, Metadata, Subscriber};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer recording `tracing` spans and events as godtrace spans; see the
/// [module docs](self).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(
///     godtrace_runtime::tracing::layer()
///         .min_event_level(tracing::Level::DEBUG)
///         .error_events_fail_span(false),
/// );
/// # drop(subscriber);
/// ```
pub fn layer() -> GodtraceLayer {
    GodtraceLayer {
        min_span_level: Level::DEBUG,
        min_event_level: Level::INFO,
        error_events_fail_span: true,
    }
}

/// A [`tracing_subscriber::Layer`] that records `tracing` spans as godtrace spans: made by
/// [`layer()`].
#[derive(Debug, Clone)]
pub struct GodtraceLayer {
    min_span_level: Level,
    min_event_level: Level,
    error_events_fail_span: bool,
}

impl GodtraceLayer {
    /// Spans at `level` or more severe are recorded (DEBUG by default: the TRACE spans h2 and
    /// hyper make for every frame and poll are not). A span below it is transparent: what runs
    /// in it (events, `#[traced]` calls, spans) is recorded under the span's parent, on
    /// whatever thread the span is entered (events excepted when that parent is a `#[traced]`
    /// call running on another thread); a transparent span with no parent is invisible (what
    /// runs in it goes where it would without it).
    pub fn min_span_level(mut self, level: Level) -> GodtraceLayer {
        self.min_span_level = level;
        self
    }

    /// Events at `level` or more severe become span events (INFO by default: DEBUG and TRACE
    /// events are left out).
    pub fn min_event_level(mut self, level: Level) -> GodtraceLayer {
        self.min_event_level = level;
        self
    }

    /// Whether an ERROR event marks the span it is in as failed, described by the event's
    /// error (an `error = &e as &dyn Error` field's text) when it has one, else by its message
    /// (on by default, as tracing-opentelemetry's `error_events_to_status`: the ERROR event
    /// `#[instrument(err)]` emits for an `Err` fails its span). Off, a span is failed only
    /// by `otel.status_code` or godtrace's own API.
    pub fn error_events_fail_span(mut self, on: bool) -> GodtraceLayer {
        self.error_events_fail_span = on;
        self
    }

    /// Whether `event` marks its span failed.
    fn fails_span(&self, event: &Event<'_>) -> bool {
        self.error_events_fail_span && *event.metadata().level() == Level::ERROR
    }

    /// What tells this layer's entries on a thread from another's: its address. `tracing`
    /// ids are unique within one registry only, and two subscribers (a scoped `with_default`
    /// beside the global one) give out the same ones. A layer does not move while spans are
    /// entered through it: a subscriber is entered through a `Dispatch`, which holds it in an
    /// `Arc` (or a `&'static`), and two layers alive at once have two addresses (the layer
    /// is not zero-sized).
    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

const _: () = assert!(std::mem::size_of::<GodtraceLayer>() > 0);

/// What the bridge keeps in a `tracing` span's extensions: the span's context, made current
/// (for godtrace's parent lookup and for other OpenTelemetry code) on each thread that enters
/// it, and its record, written only by the layer, behind a lock (a `tracing` span may be
/// entered on several threads at once). The record is shared with each thread's entry of the
/// span (`Entry`): what is added to the entered span from inside other code (godtrace's API, a
/// `log` record) reaches it without the registry, whose lock on the span's extensions another
/// layer may hold at that moment (a fmt layer formatting a field whose `Debug` logs).
struct Bridged {
    context: Context,
    /// `None` when the span is not recorded (sampled out): its context still carries that
    /// decision to its children.
    record: Option<Arc<Record>>,
    /// Below the layer's level: its context is its nearest recorded ancestor's.
    transparent: bool,
}

impl Bridged {
    fn span_context(&self) -> SpanContext {
        self.context.span().span_context().clone()
    }

    /// Its godtrace span's id (for a transparent span, the ancestor's whose context it
    /// carries).
    fn span_id(&self) -> SpanId {
        self.context.span().span_context().span_id()
    }
}

impl<S> Layer<S> for GodtraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !switches::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = parent_of(attrs, &ctx);
        let bridged = if *attrs.metadata().level() > self.min_span_level {
            passed_through(parent)
        } else {
            start(attrs, parent)
        };
        if let Some(bridged) = bridged {
            // `replace`, not `insert` (which panics on a second value): the layer added twice
            // to one subscriber records the span twice rather than panicking.
            span.extensions_mut().replace(bridged);
        }
    }

    fn on_record(&self, id: &Id, values: &Values<'_>, ctx: LayerContext<'_, S>) {
        // Off (a forked child, above all), nothing is recorded and the record's lock, which a
        // parent's thread may have held at the fork, is not taken.
        if !switches::is_enabled() || with_record(id, &ctx, |_| ()).is_none() {
            return;
        }
        // The user's `Debug` runs before any lock is taken.
        let (attributes, updates) = record::fields_of(values);
        with_record(id, &ctx, |record| record.apply(attributes, updates));
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        // Off, no link is recorded, nor the record's lock taken (see `on_record`). A span
        // that follows from itself gains no link: a link to itself says nothing.
        if !switches::is_enabled() || id == follows {
            return;
        }
        let Some(other) = ctx.span(follows) else {
            return;
        };
        // A transparent span is no span to link to (its context is its ancestor's).
        let Some(followed) = other
            .extensions()
            .get::<Bridged>()
            .filter(|bridged| !bridged.transparent)
            .map(Bridged::span_context)
        else {
            return;
        };
        with_record(id, &ctx, |record| record.follows_from(followed));
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > self.min_event_level
            || !switches::is_enabled()
            || super::may_be_inside_otel_context(meta.target())
        {
            return;
        }
        let fails = self.fails_span(event);
        if let Some(parent) = event.parent() {
            // The event is built (the user's `Debug` run) with no extension borrowed.
            let recorded = ctx
                .span(parent)
                .and_then(|span| with_record_through(span, |_| ()));
            if recorded.is_some()
                && let Some(span) = ctx.span(parent)
            {
                let (name, attributes) = event_of(event);
                with_record_through(span, |record| record.add_event(name, attributes, fails));
                return;
            }
            // A transparent span whose nearest recorded ancestor is a godtrace span (a
            // `#[traced]` call, a manual span): that span takes the event where it is the
            // current one, as it takes the events inside the transparent span.
            let carried = ctx.span(parent).and_then(|span| {
                let extensions = span.extensions();
                let bridged = extensions.get::<Bridged>()?;
                bridged.transparent.then(|| bridged.span_id())
            });
            if let Some(carried) = carried {
                let (name, attributes) = event_of(event);
                add_event_to_own_current(carried, name, attributes, fails);
            }
            return;
        }
        if event.is_contextual() && has_current_span() {
            let (name, attributes) = event_of(event);
            add_event_to_innermost(name, attributes, fails);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let (context, record, transparent) = {
            let extensions = span.extensions();
            let Some(bridged) = extensions.get::<Bridged>() else {
                return;
            };
            (
                bridged.context.clone(),
                bridged.record.clone(),
                bridged.transparent,
            )
        };
        // What is added inside a transparent span goes to the span whose context it carries.
        let record = match record {
            None if transparent => with_record_through(span, Arc::clone),
            record => record,
        };
        enter(id, self.key(), context, record);
    }

    fn on_exit(&self, id: &Id, _: LayerContext<'_, S>) {
        // No registry lookup: the thread's entries say which span this layer entered.
        exit(id, self.key());
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // The record is taken; the context stays with the span until the registry frees it,
        // after every layer's `on_close`: a `fmt` layer after this one prints the span's close
        // line then, with its ids (`TraceIds`).
        let record = {
            let mut extensions = span.extensions_mut();
            let Some(bridged) = extensions.get_mut::<Bridged>() else {
                return;
            };
            bridged.record.take()
        };
        // A span closed while still entered on this thread (its guard forgotten): its context
        // must not stay current here for the rest of the thread (nor be taken for a later
        // span given the same id).
        exit_closed(&id, self.key());
        // Ended once the span's extensions are no longer borrowed: ending hands it to the sinks.
        drop(span);
        if let Some(record) = record {
            Record::end(record);
        }
    }
}

/// Where a new `tracing` span goes: under its explicit parent (a bridged span's context), at
/// the root for `parent: None` or an explicit parent this layer does not see, else under the
/// innermost current span (a `#[traced]` call, or the `tracing` span entered here, whose
/// context is current).
fn parent_of<S>(attrs: &Attributes<'_>, ctx: &LayerContext<'_, S>) -> Parent
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if attrs.is_root() {
        return Parent::Root;
    }
    let Some(id) = attrs.parent() else {
        return Parent::Current;
    };
    match ctx.span(id) {
        Some(parent) => match parent.extensions().get::<Bridged>() {
            Some(bridged) => Parent::Explicit(bridged.context.clone()),
            // A parent with nothing to carry is a root nothing records (below the layer's
            // level, or made while tracing was off): its children are roots too.
            None => Parent::Root,
        },
        // A parent a per-layer filter keeps from this layer: the span's place is under it,
        // whose trace the layer cannot tell, not under whatever is current here (another
        // request's span, maybe). A root, as tracing-opentelemetry makes it.
        None => Parent::Root,
    }
}

/// What a span below the layer's level keeps: not a record, but its parent's context, made
/// current wherever the span is entered, so that what runs in it nests under the nearest
/// span recorded (on another thread too). `None` at a root.
fn passed_through(parent: Parent) -> Option<Bridged> {
    let context = match parent {
        Parent::Root => return None,
        Parent::Explicit(cx) => cx,
        Parent::Current => crate::span::current_context(),
    };
    record::has_span(&context).then_some(Bridged {
        context,
        record: None,
        transparent: true,
    })
}

/// Starts the godtrace span of a new `tracing` span; `None` when there is nothing to keep
/// (tracing suppressed here).
#[inline]
fn start(attrs: &Attributes<'_>, parent: Parent) -> Option<Bridged> {
    let meta = attrs.metadata();
    let site = record::site_facts(meta);
    let mut updates = SpanUpdates::default();
    // The name and kind are needed before the span starts; the other fields only once it is
    // known to be recorded.
    if site.has_span_updates {
        attrs.record(&mut SpanVisitor::new(None, &mut updates));
    }
    let name = updates.name.take().unwrap_or(Cow::Borrowed(meta.name()));
    let mut bridged = Record::start(name, updates.kind.take(), parent)?;
    // Fresh, so not shared yet.
    if let Some(record) = bridged.record.as_mut().and_then(Arc::get_mut) {
        record.init(meta.fields().len() + 3, |attributes| {
            code_attributes(meta, attributes);
            let mut visitor = SpanVisitor::new(Some(attributes), &mut updates);
            attrs.record(&mut visitor);
            // Each error value adds an `exception.message`: two of them repeat it.
            site.distinct_keys && visitor.errors <= 1
        });
        record.ask_status(updates);
    }
    Some(bridged)
}

/// `code.*` attributes from a span's metadata: its file and line. Not `code.function.name`:
/// a span's name says which function made it only when `#[instrument]` named it, and
/// nothing tells that span from an `info_span!("request")`.
fn code_attributes(meta: &'static Metadata<'static>, attributes: &mut Vec<KeyValue>) {
    // Bounded like every value a span keeps (`Live::set_attributes` takes them as they are).
    if let Some(file) = meta.file() {
        attributes.push(KeyValue::new("code.file.path", bounded_static(file)));
    }
    if let Some(line) = meta.line() {
        attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
}

/// Runs `f` on the record of the bridged span `id`, if it is recorded (with the span's
/// extensions borrowed: `f` runs none of the user's code).
fn with_record<S, R>(id: &Id, ctx: &LayerContext<'_, S>, f: impl FnOnce(&Record) -> R) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    let extensions = span.extensions();
    extensions.get::<Bridged>()?.record.as_deref().map(f)
}

/// A span event of `event`: its name (message, `exception`, or its metadata's name), then
/// `level`, `target` and its fields.
fn event_of(event: &Event<'_>) -> (Cow<'static, str>, EventAttributes) {
    let meta = event.metadata();
    let mut visitor = EventVisitor::new(meta.fields().len() + 2);
    visitor
        .attributes
        .push(super::level_attribute(meta.level().as_str()));
    visitor
        .attributes
        .push(KeyValue::new("target", Value::from(meta.target())));
    event.record(&mut visitor);
    let (name, attributes) = visitor.finish(meta.name());
    (name, super::bounded_event_attributes(attributes))
}

/// Whether a span is current on this thread (cheap: ids only), before an event is built.
fn has_current_span() -> bool {
    with_current(|current| matches!(current, Current::Own(_) | Current::Other(_)))
}

/// Adds an event to the innermost current span, marking it failed when `fails`: a
/// `#[traced]` or manual span, the current `tracing` span when its context is the current
/// one, or another OpenTelemetry span (a library's, through OpenTelemetry's global tracer).
fn add_event_to_innermost(name: Cow<'static, str>, attributes: EventAttributes, fails: bool) {
    let mut event = Some((name, attributes));
    let entered = with_current(|current| match current {
        Current::Own(live) => {
            if let Some((name, attributes)) = event.take() {
                if fails {
                    live.set_status(record::failed_status(|| name.clone(), &attributes));
                }
                live.add_event(name, attributes);
            }
            None
        }
        Current::Other(cx) => {
            let current = cx.span().span_context().span_id();
            // The `tracing` span entered last on this thread whose context is the current one
            // (an invisible span entered since, which makes nothing current, is passed over):
            // its record, if it is recorded.
            if let Some(record) = entered_record(current) {
                return record;
            }
            // Another OpenTelemetry span (one started through OpenTelemetry's API, by
            // godtrace's global tracer): it takes the event through its own API, as
            // `godtrace::add_event` gives it one, and fails as a bridged span does.
            if let Some((name, attributes)) = event.take() {
                let span = cx.span();
                if fails {
                    span.set_status(record::failed_status(|| name.clone(), &attributes));
                }
                // OpenTelemetry's span API takes no count of dropped attributes; its SDK
                // applies its own limits to what it is given.
                span.add_event(name, attributes.into_parts().0);
            }
            None
        }
        Current::None | Current::Suppressed => None,
    });
    // Outside OpenTelemetry's context.
    if let (Some(record), Some((name, attributes))) = (entered, event) {
        record.add_event(name, attributes, fails);
    }
}

/// Adds an event to the innermost current span when it is godtrace's own span `span_id`,
/// marking it failed when `fails`; drops it otherwise.
fn add_event_to_own_current(
    span_id: SpanId,
    name: Cow<'static, str>,
    attributes: EventAttributes,
    fails: bool,
) {
    with_current(|current| {
        if let Current::Own(live) = current
            && live.span_context.span_id() == span_id
        {
            if fails {
                live.set_status(record::failed_status(|| name.clone(), &attributes));
            }
            live.add_event(name, attributes);
        }
    });
}

/// Runs `f` on the record of `span`, or, for a transparent span, of the nearest recorded
/// ancestor whose context it carries; `None` when there is none (a sampled-out span, or an
/// ancestor that is not a `tracing` span: a `#[traced]` call running elsewhere).
fn with_record_through<S, R>(
    span: tracing_subscriber::registry::SpanRef<'_, S>,
    f: impl FnOnce(&Arc<Record>) -> R,
) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let carried = span.extensions().get::<Bridged>()?.span_id();
    for span in span.scope() {
        let extensions = span.extensions();
        let bridged = extensions.get::<Bridged>()?;
        if bridged.span_id() != carried {
            return None;
        }
        if let Some(record) = &bridged.record {
            return Some(f(record));
        }
    }
    None
}

/// Adds an event to the `tracing` span entered last on this thread when `cx` (the current
/// OpenTelemetry context) is that span's; gives the event back otherwise.
pub(crate) fn add_event_to_entered(
    cx: &Context,
    name: Cow<'static, str>,
    attributes: EventAttributes,
) -> Option<(Cow<'static, str>, EventAttributes)> {
    to_entered(cx, (name, attributes), |record, (name, attributes)| {
        record.add_event(name, attributes, false)
    })
}

/// Sets `attribute` on the `tracing` span entered last on this thread when `cx` (the current
/// OpenTelemetry context) is that span's; gives the attribute back otherwise.
pub(crate) fn set_attribute_on_entered(cx: &Context, attribute: KeyValue) -> Option<KeyValue> {
    to_entered(cx, attribute, |record, attribute| {
        record.set_attribute(attribute)
    })
}

/// Hands `value` to `apply` with the record of the `tracing` span entered last on this thread
/// when `cx` (the current OpenTelemetry context) is that span's: a bridged span's context
/// holds no recording span of OpenTelemetry's, its record is in the span's entry. Gives
/// `value` back when there is no such record (another OpenTelemetry span, or a `tracing` span
/// sampled out). With recording off, a bridged span's `value` is dropped unrecorded.
fn to_entered<T>(cx: &Context, value: T, apply: impl FnOnce(&Record, T)) -> Option<T> {
    let current = cx.span().span_context().span_id();
    let Some(record) = entered_record(current) else {
        return Some(value);
    };
    // Off (a forked child, above all), the span records nothing: its record's lock, which a
    // parent's thread may have held at the fork, is not taken.
    if !switches::is_enabled() {
        return None;
    }
    match record {
        Some(record) => {
            apply(&record, value);
            None
        }
        None => Some(value),
    }
}

/// A `tracing` span entered on this thread: its context stays attached until it is exited.
struct Entry {
    id: u64,
    /// The layer that entered it ([`GodtraceLayer::key`]).
    layer: usize,
    /// Its godtrace span, for what is added to it inside it (`log` records, attributes and
    /// events through godtrace's API).
    span_id: SpanId,
    /// The record that takes what is added inside it: its own, or for a transparent span
    /// the nearest recorded ancestor's whose context it carries (`None`: not recorded).
    record: Option<Arc<Record>>,
    /// Its context made current: undone when the entry is dropped, by `exit` or with the
    /// thread's other state (a thread exiting with the span entered, maybe after
    /// OpenTelemetry's context is gone: `Attached` sees to that).
    _attached: Option<crate::span::Reattached>,
}

thread_local! {
    /// The `tracing` spans entered on this thread and not exited, innermost last.
    static ENTERED: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Makes `context` (the span `id`'s, entered through the layer `layer`) current on this
/// thread until [`exit`] of `id`; what is added inside it goes to `record`.
fn enter(id: &Id, layer: usize, context: Context, record: Option<Arc<Record>>) {
    if !otel_context_usable() {
        return;
    }
    let entry = Entry {
        id: id.into_u64(),
        layer,
        span_id: context.span().span_context().span_id(),
        record,
        _attached: crate::span::attach_again(context),
    };
    // Refused while the thread exits: the entry is dropped (its context detached) at once.
    let _ = ENTERED.try_with(|entered| entered.borrow_mut().push(entry));
}

/// Undoes the latest [`enter`] of `id` through the layer `layer` on this thread, if any
/// (tracing exits spans in any order).
fn exit(id: &Id, layer: usize) {
    let id = id.into_u64();
    let this = |entry: &Entry| entry.id == id && entry.layer == layer;
    let entry = ENTERED
        .try_with(|entered| {
            let mut entered = entered.borrow_mut();
            // Innermost first: spans are nearly always exited in the order they were entered.
            if entered.last().is_some_and(this) {
                return entered.pop();
            }
            let at = entered.iter().rposition(this)?;
            Some(entered.remove(at))
        })
        .ok()
        .flatten();
    // Dropped outside the borrow of `ENTERED`: detaching runs OpenTelemetry's code.
    drop(entry);
}

/// Undoes every [`enter`] of the closed span `id` through the layer `layer` left on this
/// thread.
fn exit_closed(id: &Id, layer: usize) {
    let id = id.into_u64();
    let this = |entry: &Entry| entry.id == id && entry.layer == layer;
    let left = ENTERED
        .try_with(|entered| {
            let mut entered = entered.borrow_mut();
            if !entered.iter().any(this) {
                return Vec::new();
            }
            let (left, kept): (Vec<Entry>, Vec<Entry>) = entered.drain(..).partition(this);
            *entered = kept;
            left
        })
        .unwrap_or_default();
    // Dropped outside the borrow of `ENTERED`, innermost first.
    for entry in left.into_iter().rev() {
        drop(entry);
    }
}

/// The `tracing` span entered last on this thread, when it is the span `cx` (the innermost
/// current span's context) shows: entered again on another thread (`in_current_span`), it
/// takes the events and attributes recorded there, as it does here.
pub(crate) fn entered_span_of(cx: &Context) -> Option<CarriedSpan> {
    let id = entered_id(cx.span().span_context().span_id())?;
    let span = ::tracing::Span::current();
    (span.id() == Some(id)).then(|| CarriedSpan(Some(span)))
}

/// A bridged `tracing` span carried to another thread by `in_current_span`. Its handle is
/// dropped under the span's own subscriber, whether the closure runs or not: the registry
/// closes a span's parent through the thread's default subscriber when the last handle of
/// the child goes, and a thread of its own has no default but the global one (the parent
/// would then never close, nor be exported).
pub(crate) struct CarriedSpan(Option<::tracing::Span>);

impl CarriedSpan {
    /// Runs `work` in the span on this thread, with the span's subscriber as the thread's
    /// default meanwhile, as it was where the span was current: the events in `work` go to
    /// it, and it holds the span's record. The handle goes before the default is put back.
    pub(crate) fn run<R>(mut self, work: impl FnOnce() -> R) -> R {
        match self.0.take() {
            Some(span) => under_its_subscriber(span, |span| span.in_scope(work)),
            None => work(),
        }
    }
}

impl Drop for CarriedSpan {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            under_its_subscriber(span, |_| ());
        }
    }
}

/// Calls `f` with `span`, then drops it, both with the span's subscriber as this thread's
/// default. A span of the global subscriber needs none where the thread's default is the
/// global one already (no scoped default set, or the thread's storage is being destroyed,
/// where `tracing` reads it so): setting one while the thread's storage is being destroyed (a
/// closure dropped by a thread-local's destructor) would take the global one away (`tracing`
/// then counts a scoped default in the process, and reads this thread's, which is gone, as
/// none). Under another scoped default it is set, so that the span's events go to its own.
fn under_its_subscriber<R>(span: ::tracing::Span, f: impl FnOnce(&::tracing::Span) -> R) -> R {
    let scoped = span.with_subscriber(|(_, dispatch)| {
        let needed = !is_global(dispatch) || !::tracing::dispatcher::get_default(is_global);
        needed.then(|| dispatch.clone())
    });
    match scoped.flatten() {
        Some(dispatch) => ::tracing::dispatcher::with_default(&dispatch, move || {
            let output = f(&span);
            drop(span);
            output
        }),
        None => f(&span),
    }
}

/// Whether `dispatch` is the global subscriber's (`set_global_default`, `init()`): `tracing`
/// says so only in its `Debug` text (`Dispatch::Global(..)`, against `Dispatch::Scoped(..)`).
/// Any other text reads as scoped, which sets it as the default as before.
fn is_global(dispatch: &::tracing::Dispatch) -> bool {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = write!(text, "{dispatch:?}");
    text.starts_with("Dispatch::Global")
}

/// The record of the `tracing` span entered last on this thread (see `Entry::record`), when
/// its godtrace span is `current`.
fn entered_record(current: SpanId) -> Option<Option<Arc<Record>>> {
    last_entered(current, |last| last.record.clone())
}

/// The id of the `tracing` span entered last on this thread, when its godtrace span is
/// `current`.
fn entered_id(current: SpanId) -> Option<Id> {
    last_entered(current, |last| Id::from_u64(last.id))
}

/// `read` of the `tracing` span entered last on this thread, when its godtrace span is
/// `current`.
fn last_entered<R>(current: SpanId, read: impl FnOnce(&Entry) -> R) -> Option<R> {
    ENTERED
        .try_with(|entered| {
            let entered = entered.borrow();
            let last = entered.last()?;
            (last.span_id == current).then(|| read(last))
        })
        .ok()
        .flatten()
}
