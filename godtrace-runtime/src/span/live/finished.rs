//! A span that has ended: its record on the way to the exporter or the test capture, read in
//! place by the OTLP encoder or turned into the SDK's `SpanData`.
use super::{Fields, Live, Name, SCOPE, clock};
use crate::span::clock::Tick;
use crate::value::{CALL_SITE_KEYS, bounded_static};
use opentelemetry::KeyValue;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use opentelemetry::trace::{Event, SpanId, Status};
use opentelemetry::trace::{SpanContext, SpanKind};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;

/// A span that has ended, on its way to the exporter or the test capture: its box itself
/// (moving it is moving a pointer; no list points into it any more), and when it started and
/// ended.
pub(crate) struct Finished {
    pub(super) live: Box<Live>,
    pub(super) start: Tick,
    pub(super) end: Tick,
}

/// A finished span's record as it stands, borrowed: what the OTLP encoder
/// (`export::encode`) reads in place, with no `SpanData` built.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) struct Recorded<'a> {
    pub(crate) span_context: &'a SpanContext,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) name: &'a Name,
    /// What was recorded; a traced function's `code.*` attributes are not among them.
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) dropped_attributes: u32,
    pub(crate) events: &'a [Event],
    pub(crate) dropped_events: u32,
    pub(crate) links: &'a [opentelemetry::trace::Link],
    pub(crate) dropped_links: u32,
    pub(crate) status: &'a Status,
    pub(crate) start: Tick,
    pub(crate) end: Tick,
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl Finished {
    /// The record, borrowed for encoding.
    pub(crate) fn recorded(&mut self) -> Recorded<'_> {
        let live = &mut *self.live;
        #[cfg(any(feature = "tracing", feature = "tonic"))]
        live.apply_rename();
        let fields = live.fields.get_mut();
        Recorded {
            span_context: &live.span_context,
            parent_span_id: live.parent_span_id,
            parent_is_remote: live.parent_is_remote,
            name: &live.name,
            attributes: &fields.attributes,
            dropped_attributes: fields.dropped_attributes,
            events: &fields.events,
            dropped_events: fields.dropped_events,
            links: &fields.links,
            dropped_links: fields.dropped_links,
            status: &fields.status,
            start: self.start,
            end: self.end,
        }
    }
}

impl Finished {
    /// Whether its record holds nothing `Live::empty` would reset: a span with nothing
    /// recorded on it, whose box can go back as it is ([`return_empty_spares`](super::return_empty_spares)).
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    #[inline(always)]
    pub(crate) fn holds_nothing(&mut self) -> bool {
        !self.live.holds_anything()
    }

    /// Where its record is and how many bytes it spans: for the encoder to ask the CPU for
    /// it ahead of reading it (a prefetch, which reads nothing through the address).
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    #[inline(always)]
    pub(crate) fn record_bytes(&self) -> (*const u8, usize) {
        (
            std::ptr::from_ref::<Live>(&self.live).cast::<u8>(),
            std::mem::size_of::<Live>(),
        )
    }

    /// Its box, for reuse, when it is not exported after all.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code, reason = "only the export queue refuses spans")
    )]
    pub(crate) fn into_live(self) -> Box<Live> {
        self.live
    }

    /// The exporters' form: a traced function's `code.*` attributes come first, then what was
    /// recorded. The emptied box is handed back, for reuse.
    pub(crate) fn into_span_data(self) -> (SpanData, Box<Live>) {
        let Finished {
            mut live,
            start,
            end,
        } = self;
        #[cfg(any(feature = "tracing", feature = "tonic"))]
        live.apply_rename();
        let Fields {
            attributes: mut recorded,
            dropped_attributes,
            events,
            dropped_events,
            links,
            dropped_links,
            status,
            // Applied to the name just above.
            #[cfg(any(feature = "tracing", feature = "tonic"))]
                renamed: _,
        } = std::mem::take(live.fields.get_mut());
        let span_context = std::mem::replace(&mut live.span_context, SpanContext::NONE);
        let name = std::mem::replace(
            &mut live.name,
            Name::Given(Cow::Borrowed(""), SpanKind::Internal),
        );
        // The attributes are moved into a list of the exporters' own: the record's list keeps
        // its capacity, for the next span's attributes, so that the recording thread does not
        // allocate one for each span (`Live::empty` drops it if it is over the bound).
        let (name, span_kind, code) = match name {
            Name::Site(site) => (Cow::Borrowed(site.name()), site.kind.clone(), Some(site)),
            Name::Given(name, kind) => (name, kind, None),
        };
        let mut attributes =
            Vec::with_capacity(code.map_or(0, |_| CALL_SITE_KEYS.len()) + recorded.len());
        if let Some(site) = code {
            attributes.extend([
                KeyValue::new("code.function.name", bounded_static(site.function())),
                KeyValue::new("code.file.path", bounded_static(site.file)),
                KeyValue::new("code.line.number", i64::from(site.line)),
            ]);
        }
        attributes.append(&mut recorded);
        live.fields.get_mut().attributes = recorded;
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        span_events.dropped_count = dropped_events;
        let mut span_links = SpanLinks::default();
        span_links.links = links;
        span_links.dropped_count = dropped_links;
        let (start_time, end_time) = clock::wall_span(start, end);
        let data = SpanData {
            span_context,
            parent_span_id: live.parent_span_id,
            parent_span_is_remote: live.parent_is_remote,
            span_kind,
            name,
            start_time,
            end_time,
            attributes,
            dropped_attributes_count: dropped_attributes,
            events: span_events,
            links: span_links,
            status,
            instrumentation_scope: SCOPE.clone(),
        };
        (data, live)
    }
}

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
impl Finished {
    /// A copy of the span, its record in a box of its own (for tests that hand one to the
    /// encoder, which takes it, and the other to the SDK path).
    pub(crate) fn duplicate(&mut self) -> Finished {
        let live = &mut *self.live;
        let fields = live.fields.get_mut();
        use std::cell::{Cell, RefCell};
        let copy = Live {
            span_context: live.span_context.clone(),
            parent_span_id: live.parent_span_id,
            parent_is_remote: live.parent_is_remote,
            name: live.name.clone(),
            fields: RefCell::new(Fields {
                attributes: fields.attributes.clone(),
                dropped_attributes: fields.dropped_attributes,
                events: fields.events.clone(),
                dropped_events: fields.dropped_events,
                links: fields.links.clone(),
                dropped_links: fields.dropped_links,
                status: fields.status.clone(),
                #[cfg(any(feature = "tracing", feature = "tonic"))]
                renamed: fields.renamed.clone(),
            }),
            prev: Cell::new(None),
            next: Cell::new(None),
            linked: Cell::new(false),
            otel_seen: Cell::new(live.otel_seen.get()),
            otel_seen_below: Cell::new(live.otel_seen_below.get()),
            otel_seen_at_start: Cell::new(live.otel_seen_at_start.get()),
            handed_mark: Cell::new(None),
        };
        Finished {
            live: Box::new(copy),
            start: self.start,
            end: self.end,
        }
    }
}
