//! OTLP trace requests (`ExportTraceServiceRequest`, protobuf) written straight from the
//! recorded spans into one reused buffer: no `SpanData`, no `opentelemetry-proto` structs, no
//! allocation per span. What never changes is encoded once: the resource and the
//! instrumentation scope per exporter, each traced function's name, kind and `code.*`
//! attributes per call site.
//!
//! The bytes decode into exactly what the SDK path (`SpanData` turned into
//! `opentelemetry-proto` messages by `opentelemetry-proto`'s conversions) produced for the same
//! spans (see the tests). Spans of other OpenTelemetry code, which arrive as `SpanData`, go
//! through those conversions, each under its own scope.
mod wire;

use super::lanes::Queued;
use crate::otlp::gzip::Record;
use crate::span::clock::UnixClock;
use crate::span::{Finished, Live, Name, Recorded};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};
use wire::{
    put_attributes, put_fixed32, put_fixed64, put_key_value, put_len_field, put_message,
    put_string, put_uint,
};

/// Call sites whose constant parts are kept, at most: a program has as many as it has traced
/// functions; past this bound the rest are encoded on each span.
const MAX_SITES: usize = 4096;

/// A request buffer larger than this after an export is given back, so that one batch of
/// huge spans does not hold its memory for the life of the process.
const KEEP_CAPACITY: usize = 8 << 20;

/// Writes the requests of one exporter.
pub(crate) struct RequestEncoder {
    /// The request, behind `head_room` bytes left for the transport (a gRPC frame's head).
    buf: Vec<u8>,
    head_room: usize,
    /// `ResourceSpans.resource` (field 1), tag included.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url` (field 3), tag included; empty when there is none.
    resource_schema_url: Vec<u8>,
    /// `ScopeSpans.scope` and `ScopeSpans.schema_url` of godtrace's own spans.
    scope: ScopeParts,
    sites: Sites,
    /// Spans of other OpenTelemetry code in the current batch (rare), kept for reuse.
    sdk: Vec<SpanData>,
    /// The boxes of the batch's spans that held nothing, between the batch's pass and their
    /// return (kept for its memory).
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    bare: Vec<Box<Live>>,
    /// Where each of godtrace's own spans is in `buf`, and its call site, when kept (for
    /// the compressor).
    span_ranges: Option<Vec<Record>>,
    /// Whether each of the request's own spans, in order, held nothing (its box goes to
    /// `bare`), between the pass that encodes them and the one that takes them out.
    held_nothing: Vec<bool>,
    /// The size a request keeps within, but for a span larger than it alone (see
    /// [`crate::otlp::MAX_REQUEST_BYTES`]).
    max_bytes: usize,
}

/// An instrumentation scope's fields of `ScopeSpans`, tags included.
struct ScopeParts {
    scope: Vec<u8>,
    schema_url: Vec<u8>,
}

/// The fields of a traced function's spans that are the same on every span, tags included,
/// around the times, which differ: `Span.name`, `Span.kind`, the tags of
/// `Span.start_time_unix_nano` and `Span.end_time_unix_nano` each followed by eight bytes for
/// its value, and the three `code.*` attributes (`Span.attributes`), which come first. A span
/// copies them in one piece and writes its times in place.
struct SiteParts {
    bytes: Box<[u8]>,
    /// Where the start time's tag is in `bytes`.
    times_at: usize,
    /// The site's whole span when nothing was recorded on it, without a parent and with one.
    bare: [BareSpan; 2],
}

/// A span of a call site with nothing recorded on it (no attributes, counts, events, links,
/// trace state, status): `ScopeSpans.spans` tag and length included, with zeros where its
/// ids, times and flags go. Such a span is one copy and a few writes.
struct BareSpan {
    bytes: Box<[u8]>,
    /// Where the trace id's tag is.
    ids_at: usize,
    /// Where the start time's tag is.
    times_at: usize,
}

/// The start and end times' fields: a tag and eight bytes each.
const TIMES_LEN: usize = 18;

impl RequestEncoder {
    /// An encoder for spans of `resource`.
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut encoded = Vec::new();
        put_message(&mut encoded, 1, 2, |buf| {
            for (key, value) in resource.iter() {
                put_key_value(buf, 1, key.as_str(), value);
            }
        });
        let mut resource_schema_url = Vec::new();
        put_string(
            &mut resource_schema_url,
            3,
            resource.schema_url().unwrap_or_default(),
        );
        RequestEncoder {
            buf: Vec::new(),
            head_room: 0,
            resource: encoded,
            resource_schema_url,
            scope: ScopeParts::of(&crate::span::SCOPE),
            sites: Sites::default(),
            sdk: Vec::new(),
            bare: Vec::new(),
            span_ranges: None,
            held_nothing: Vec::new(),
            max_bytes: crate::otlp::MAX_REQUEST_BYTES,
        }
    }

    /// Keeps requests within `bytes` instead (tests: a small bound).
    #[cfg(test)]
    pub(crate) fn set_max_bytes(&mut self, bytes: usize) {
        self.max_bytes = bytes;
    }

    /// Keeps where each span of a request is, from now on ([`RequestEncoder::request_mut`]).
    pub(crate) fn keep_span_ranges(&mut self) {
        self.span_ranges.get_or_insert_with(Vec::new);
    }

    /// Leaves `bytes` free in front of every request from now on, for the transport to fill
    /// (see [`RequestEncoder::request_mut`]).
    pub(crate) fn set_head_room(&mut self, bytes: usize) {
        self.head_room = bytes;
    }

    /// The request for the first spans of `batch`, taken out of it: all of them, or as many as
    /// keep the request within [`crate::otlp::MAX_REQUEST_BYTES`] (one at least); the boxes of
    /// godtrace's own spans go into `emptied`, for reuse.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    pub(crate) fn encode(
        &mut self,
        batch: &mut Vec<Queued>,
        emptied: &mut Vec<Box<Live>>,
    ) -> &[u8] {
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
        self.write_request(batch, emptied);
        // Back to the recording threads: nothing to empty in them (see `put_bare_span`).
        crate::span::return_empty_spares(&mut self.bare);
        &self.buf[self.head_room..]
    }

    /// The buffer of the request `encode` just wrote, head room included: the transport
    /// fills the head room, and takes the buffer (no copy) or compresses it and leaves it
    /// for the next request. With it, where each of godtrace's own spans is in that buffer,
    /// when kept ([`RequestEncoder::keep_span_ranges`]; none otherwise).
    pub(crate) fn request_mut(&mut self) -> (&mut Vec<u8>, &[Record]) {
        (
            &mut self.buf,
            self.span_ranges.as_deref().unwrap_or_default(),
        )
    }

    /// Writes the request for the first spans of `batch` into `buf` and takes them out of it:
    /// godtrace's own spans are read in place, then their boxes kept (those holding nothing in
    /// `bare`, the others in `emptied`), the `SpanData` of other code's taken into `sdk`. Spans
    /// are taken while the request stays within `max_bytes` with them, the first whatever its
    /// size.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn write_request(&mut self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) {
        let RequestEncoder {
            buf,
            head_room,
            resource,
            resource_schema_url,
            scope,
            sites,
            sdk,
            bare,
            span_ranges,
            held_nothing,
            max_bytes,
        } = self;
        sdk.clear();
        held_nothing.clear();
        if let Some(ranges) = span_ranges.as_mut() {
            ranges.clear();
        }
        buf.clear();
        buf.resize(*head_room, 0);
        // `buf` holds the head room too; other code's spans are encoded after the pass, their
        // size told by `sdk_span_len` meanwhile.
        let full = head_room.saturating_add(*max_bytes);
        let mut sdk_bytes = 0;
        let mut taken = 0;
        let moved = put_message(buf, 1, 3, |buf| {
            buf.extend_from_slice(resource);
            if batch.iter().any(|queued| matches!(queued, Queued::Own(_))) {
                // One anchor for the batch: every span in it ended before now.
                let clock = UnixClock::now();
                let moved = put_message(buf, 2, 3, |buf| {
                    buf.extend_from_slice(&scope.scope);
                    while taken < batch.len() {
                        if let Some(Queued::Own(ahead)) = batch.get(taken + PREFETCH_AHEAD) {
                            prefetch(ahead);
                        }
                        match &mut batch[taken] {
                            Queued::Own(span) => {
                                let at = buf.len();
                                let bare = put_bare_span(buf, sites, span, clock);
                                if bare.is_none() {
                                    put_own_span(buf, sites, span, clock);
                                }
                                // Past the bound with it: unwritten, it starts the next request
                                // (encoding only reads the record, so it is written again
                                // there), unless it is this one's first.
                                if taken > 0 && buf.len() + sdk_bytes > full {
                                    buf.truncate(at);
                                    break;
                                }
                                held_nothing.push(bare.is_some());
                                // The kind of span it is, for the compressor: a call site's
                                // spans with nothing recorded are laid out alike; others are
                                // of no known kind (what they recorded moves their fields, and
                                // the compressor's search finds more in them).
                                if let Some(ranges) = span_ranges.as_mut() {
                                    let kind = bare.map_or(0, |site| {
                                        std::ptr::from_ref::<crate::span::CallSite>(site) as usize
                                    });
                                    ranges.push(Record {
                                        range: at..buf.len(),
                                        kind,
                                    });
                                }
                            }
                            Queued::Sdk(span) => {
                                let len = sdk_span_len(span);
                                if taken > 0 && buf.len() + sdk_bytes + len > full {
                                    break;
                                }
                                sdk_bytes += len;
                            }
                        }
                        taken += 1;
                    }
                    buf.extend_from_slice(&scope.schema_url);
                });
                move_ranges(span_ranges, moved);
            } else {
                // Spans of other code only (rare).
                while let Some(Queued::Sdk(span)) = batch.get(taken) {
                    let len = sdk_span_len(span);
                    if taken > 0 && buf.len() + sdk_bytes + len > full {
                        break;
                    }
                    sdk_bytes += len;
                    taken += 1;
                }
            }
            let mut held_nothing = held_nothing.iter();
            for queued in batch.drain(..taken) {
                match queued {
                    Queued::Own(span) if held_nothing.next() == Some(&true) => {
                        bare.push(span.into_live());
                    }
                    Queued::Own(span) => emptied.push(span.into_live()),
                    Queued::Sdk(span) => sdk.push(*span),
                }
            }
            put_sdk_spans(buf, sdk);
            buf.extend_from_slice(resource_schema_url);
        });
        move_ranges(span_ranges, moved);
    }
}

/// Moves the kept span ranges by `by` bytes, as their message was moved.
fn move_ranges(ranges: &mut Option<Vec<Record>>, by: isize) {
    if let Some(ranges) = ranges.as_mut()
        && by != 0
    {
        for Record { range, .. } in ranges {
            *range = range.start.saturating_add_signed(by)..range.end.saturating_add_signed(by);
        }
    }
}

/// How many spans ahead of the one being encoded the encoder asks for its record.
const PREFETCH_AHEAD: usize = 4;

/// Asks the CPU to start loading `span`'s record, every cache line of it (the encoder reads
/// fields all over it, and the lines are as many as its size says, plus one when the box
/// straddles them): it was written on the recording thread's core, and each of its cache
/// lines comes from there, a wait of hundreds of cycles when it is met unannounced. The
/// record's address alone is read, nothing in it.
#[inline(always)]
fn prefetch(span: &Finished) {
    let (record, size) = span.record_bytes();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let line = |offset: usize| {
            // SAFETY: SSE is part of every x86_64 CPU; a prefetch is a hint that reads
            // nothing the program sees and never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(record.wrapping_add(offset).cast::<i8>()) };
        };
        // A loop of a constant count (the record's size is one), unrolled: a few
        // instructions, no iterator.
        let mut offset = 0;
        while offset < size {
            line(offset);
            offset += 64;
        }
        line(size - 1);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (record, size);
}

/// The call sites' constant parts, found by the site's address.
#[derive(Default)]
struct Sites {
    /// Where each site's parts are in `parts`.
    index: HashMap<usize, usize, BuildHasherDefault<AddressHasher>>,
    parts: Vec<SiteParts>,
    /// The last site looked up and where its parts are: a batch's spans mostly come from a
    /// few sites in runs, found without hashing.
    last: Option<(usize, usize)>,
}

impl Sites {
    /// The parts of `site`, encoded on its first span; `None` past [`MAX_SITES`] sites.
    #[inline(always)]
    fn parts_of(&mut self, site: &crate::span::CallSite) -> Option<&SiteParts> {
        let key = std::ptr::from_ref::<crate::span::CallSite>(site) as usize;
        if let Some((last, at)) = self.last
            && last == key
        {
            return self.parts.get(at);
        }
        self.parts_looked_up(site, key)
    }

    /// [`Sites::parts_of`] a site other than the last one: out of line, to keep the common
    /// case a compare in the batch's loop.
    #[inline(never)]
    fn parts_looked_up(&mut self, site: &crate::span::CallSite, key: usize) -> Option<&SiteParts> {
        let at = match self.index.get(&key) {
            Some(&at) => at,
            None if self.parts.len() < MAX_SITES => {
                self.parts.push(SiteParts::of(site));
                self.index.insert(key, self.parts.len() - 1);
                self.parts.len() - 1
            }
            None => return None,
        };
        self.last = Some((key, at));
        self.parts.get(at)
    }
}

/// The most common span, a call site's with nothing recorded on it (see [`BareSpan`]): its
/// call site, or `None`, and nothing written, for any other. Its record's fields are read one by one,
/// each needed only if the one before let the span through, so that the batch's loop keeps
/// its values in registers; every other span goes out of line ([`put_own_span`]).
#[inline(always)]
fn put_bare_span(
    buf: &mut Vec<u8>,
    sites: &mut Sites,
    span: &mut Finished,
    clock: UnixClock,
) -> Option<&'static crate::span::CallSite> {
    // Nothing held: no attributes, events, links or dropped counts, status unset, no trace
    // state or rename. What `Some` below tells the caller: its box needs no emptying.
    if !span.holds_nothing() {
        return None;
    }
    let span = span.recorded();
    let Name::Site(site) = *span.name else {
        return None;
    };
    let (start, end) = (clock.nanos(span.start), clock.nanos(span.end));
    if start == 0 || end == 0 {
        return None;
    }
    let parts = sites.parts_of(site)?;
    let [.., f2, f3, f4, f5] = flags_field(&span);
    parts.put_bare(
        buf,
        span.span_context,
        span.parent_span_id,
        (start, end),
        [f2, f3, f4, f5],
    );
    Some(site)
}

/// One of godtrace's own spans (`ScopeSpans.spans`, field 2), but for those
/// [`put_bare_span`] writes: out of line, to keep the common case's loop small.
#[inline(never)]
fn put_own_span(buf: &mut Vec<u8>, sites: &mut Sites, span: &mut Finished, clock: UnixClock) {
    let span = span.recorded();
    let site = match span.name {
        Name::Site(site) => sites.parts_of(site),
        Name::Given(..) => None,
    };
    if let Some(site) = site
        && put_plain_span(buf, &span, site, clock)
    {
        return;
    }
    // Two bytes of length: most spans are 128 bytes to 16 KiB.
    put_message(buf, 2, 2, |buf| put_span(buf, &span, site, clock));
}

/// The common span, `ScopeSpans.spans` (field 2) tag and length included: a call site's,
/// with no trace state, events, links or error status (its fields are few and their sizes
/// known). Its length is summed first, so that the span is written once, in place, with no
/// room guessed for the length and no move when the guess is wrong. `false`, and nothing
/// written, for any other span.
#[inline]
fn put_plain_span(
    buf: &mut Vec<u8>,
    span: &Recorded<'_>,
    site: &SiteParts,
    clock: UnixClock,
) -> bool {
    let ids = span.span_context;
    // `Span.status` then `Span.flags`: the first `tail_len` bytes of `tail`.
    let [f0, f1, f2, f3, f4, f5] = flags_field(span);
    let (tail, tail_len) = match span.status {
        Status::Unset => ([15 << 3 | 2, 0, f0, f1, f2, f3, f4, f5, 0, 0], 8),
        Status::Ok => ([15 << 3 | 2, 2, 3 << 3, 1, f0, f1, f2, f3, f4, f5], 10),
        Status::Error { .. } => return false,
    };
    if !span.events.is_empty()
        || !span.links.is_empty()
        || *ids.trace_state() != opentelemetry::trace::TraceState::NONE
    {
        return false;
    }
    let (start, end) = (clock.nanos(span.start), clock.nanos(span.end));
    if start == 0 || end == 0 {
        return false;
    }
    if span.attributes.is_empty()
        && matches!(span.status, Status::Unset)
        && (span.dropped_attributes | span.dropped_events | span.dropped_links) == 0
    {
        let [.., f2, f3, f4, f5] = flags_field(span);
        site.put_bare(
            buf,
            ids,
            span.parent_span_id,
            (start, end),
            [f2, f3, f4, f5],
        );
        return true;
    }
    let mut head = [0u8; IDS_LEN];
    head[0] = 1 << 3 | 2;
    head[1] = 16;
    head[2..18].copy_from_slice(&ids.trace_id().to_bytes());
    head[18] = 2 << 3 | 2;
    head[19] = 8;
    head[20..28].copy_from_slice(&ids.span_id().to_bytes());
    let head_len = if span.parent_span_id == SpanId::INVALID {
        IDS_LEN - 10
    } else {
        head[28] = 4 << 3 | 2;
        head[29] = 8;
        head[30..38].copy_from_slice(&span.parent_span_id.to_bytes());
        IDS_LEN
    };
    let counts = [
        (10, span.dropped_attributes),
        (12, span.dropped_events),
        (14, span.dropped_links),
    ];
    let len = head_len
        + site.bytes.len()
        + span
            .attributes
            .iter()
            .map(key_value_field_len)
            .sum::<usize>()
        + counts
            .iter()
            .map(|&(_, n)| uint_field_len(n))
            .sum::<usize>()
        + tail_len;
    // Room for the whole arrays below: copies of a fixed size are a few moves, not a call;
    // what is past their used part is cut off after each.
    buf.reserve(1 + wire::varint_len(len as u64) + len + IDS_LEN + tail.len());
    buf.push(2 << 3 | 2);
    wire::put_varint(buf, len as u64);
    put_front(buf, &head, head_len);
    site.put(buf, start, end);
    put_attributes(buf, 9, span.attributes);
    put_uint(buf, 10, u64::from(span.dropped_attributes));
    put_uint(buf, 12, u64::from(span.dropped_events));
    put_uint(buf, 14, u64::from(span.dropped_links));
    put_front(buf, &tail, tail_len);
    true
}

/// The first `len` bytes of `bytes`: all of them copied (a fixed size), the rest cut off.
#[inline(always)]
fn put_front<const N: usize>(buf: &mut Vec<u8>, bytes: &[u8; N], len: usize) {
    buf.extend_from_slice(bytes);
    buf.truncate(buf.len() - (N - len.min(N)));
}

/// The trace, span and parent ids' fields: a tag, a length and the id each.
const IDS_LEN: usize = 2 * (2 + 8) + 2 + 16;

/// `Span.flags` (field 16, fixed32): a two-byte tag and four bytes.
const FLAGS_LEN: usize = 6;

/// `Span.flags`, tag included.
#[inline]
fn flags_field(span: &Recorded<'_>) -> [u8; FLAGS_LEN] {
    let flags = span_flags(
        span.span_context.trace_flags().to_u8(),
        span.parent_is_remote,
    );
    let [a, b, c, d] = flags.to_le_bytes();
    [16 << 3 | 5 | 0x80, 1, a, b, c, d]
}

/// The length of a uint32 field numbered below 16 (a one-byte tag), 0 when it is left out.
#[inline]
fn uint_field_len(value: u32) -> usize {
    if value == 0 {
        0
    } else {
        1 + wire::varint_len(u64::from(value))
    }
}

/// The length of `Span.attributes` field (number 9) holding `kv`, tag included.
#[inline]
fn key_value_field_len(kv: &opentelemetry::KeyValue) -> usize {
    let len = wire::key_value_len(kv.key.as_str(), &kv.value);
    1 + wire::varint_len(len as u64) + len
}

/// About how many bytes `span`, another OpenTelemetry code's, takes encoded: its attributes
/// (its events' and links' too) exactly, as [`key_value_field_len`] gives them, its text, and a
/// bound on each part's other fields; enough to keep a request within its bound.
fn sdk_span_len(span: &SpanData) -> usize {
    let attributes =
        |kvs: &[opentelemetry::KeyValue]| -> usize { kvs.iter().map(key_value_field_len).sum() };
    let events: usize = (span.events.events.iter())
        .map(|e| e.name.len() + attributes(&e.attributes) + 24)
        .sum();
    let links: usize = (span.links.links.iter())
        .map(|l| attributes(&l.attributes) + l.span_context.trace_state().header().len() + 40)
        .sum();
    let status = match &span.status {
        Status::Error { description } => description.len(),
        _ => 0,
    };
    span.name.len() + attributes(&span.attributes) + events + links + status + 80
}

/// The spans of other OpenTelemetry code taken out of the batch (`sdk`, left empty), grouped
/// by scope as the SDK path groups them, through `opentelemetry-proto`'s conversions:
/// `ScopeSpans` fields of a `ResourceSpans`.
fn put_sdk_spans(buf: &mut Vec<u8>, sdk: &mut Vec<SpanData>) {
    if sdk.is_empty() {
        return;
    }
    let grouped = opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
        std::mem::take(sdk),
        &Default::default(),
    );
    for scope_spans in grouped.into_iter().flat_map(|r| r.scope_spans) {
        prost::encoding::message::encode(2, &scope_spans, buf);
    }
}

impl ScopeParts {
    fn of(scope: &InstrumentationScope) -> Self {
        let mut encoded = Vec::new();
        put_message(&mut encoded, 1, 1, |buf| {
            put_string(buf, 1, scope.name());
            put_string(buf, 2, scope.version().unwrap_or_default());
            for kv in scope.attributes() {
                put_key_value(buf, 3, kv.key.as_str(), &kv.value);
            }
        });
        let mut schema_url = Vec::new();
        put_string(&mut schema_url, 3, scope.schema_url().unwrap_or_default());
        ScopeParts {
            scope: encoded,
            schema_url,
        }
    }
}

impl SiteParts {
    fn of(site: &crate::span::CallSite) -> Self {
        let mut bytes = Vec::new();
        put_name_and_kind(&mut bytes, site.name(), &site.kind);
        let times_at = bytes.len();
        for field in [7, 8] {
            bytes.push(field << 3 | 1);
            bytes.extend_from_slice(&[0; 8]);
        }
        put_code_attributes(&mut bytes, site);
        let bare = [false, true].map(|parent| BareSpan::of(&bytes, times_at, parent));
        SiteParts {
            bytes: bytes.into(),
            times_at,
            bare,
        }
    }

    /// The span of this site with nothing recorded on it: `ids`, under `parent` (or none),
    /// from `start` to `end` (ns since the Unix epoch, neither 0), with span flags `flags`.
    #[inline]
    fn put_bare(
        &self,
        buf: &mut Vec<u8>,
        ids: &SpanContext,
        parent: SpanId,
        (start, end): (u64, u64),
        flags: [u8; 4],
    ) {
        let has_parent = parent != SpanId::INVALID;
        let bare = &self.bare[usize::from(has_parent)];
        let at = buf.len();
        buf.extend_from_slice(&bare.bytes);
        let span = &mut buf[at..];
        // Each field's place as an array: one bounds check for it, then writes at fixed offsets.
        let i = bare.ids_at;
        if let Some(head) = fixed::<28>(span, i) {
            head[2..18].copy_from_slice(&ids.trace_id().to_bytes());
            head[20..28].copy_from_slice(&ids.span_id().to_bytes());
        }
        if has_parent && let Some(parent_id) = fixed::<8>(span, i + 30) {
            *parent_id = parent.to_bytes();
        }
        if let Some(times) = fixed::<TIMES_LEN>(span, bare.times_at) {
            times[1..9].copy_from_slice(&start.to_le_bytes());
            times[10..18].copy_from_slice(&end.to_le_bytes());
        }
        if let Some(tail) = fixed::<4>(span, span.len().wrapping_sub(4)) {
            *tail = flags;
        }
    }
}

/// The `N` bytes of `bytes` from `at`, if there are that many.
#[inline(always)]
fn fixed<const N: usize>(bytes: &mut [u8], at: usize) -> Option<&mut [u8; N]> {
    bytes.get_mut(at..at.checked_add(N)?)?.try_into().ok()
}

impl BareSpan {
    /// The bare span of a site whose parts are `parts` (the start time's tag at `times_at`),
    /// with a parent id or without.
    fn of(parts: &[u8], times_at: usize, parent: bool) -> BareSpan {
        let ids_len = if parent { IDS_LEN } else { IDS_LEN - 10 };
        let mut head = [0u8; IDS_LEN];
        head[0] = 1 << 3 | 2;
        head[1] = 16;
        head[18] = 2 << 3 | 2;
        head[19] = 8;
        head[28] = 4 << 3 | 2;
        head[29] = 8;
        // Status unset (an empty message), then the flags.
        let tail = [15 << 3 | 2, 0, 16 << 3 | 5 | 0x80, 1, 0, 0, 0, 0];
        let len = ids_len + parts.len() + tail.len();
        let mut bytes = vec![2 << 3 | 2];
        wire::put_varint(&mut bytes, len as u64);
        let ids_at = bytes.len();
        bytes.extend_from_slice(&head[..ids_len]);
        let times_at = bytes.len() + times_at;
        bytes.extend_from_slice(parts);
        bytes.extend_from_slice(&tail);
        BareSpan {
            bytes: bytes.into(),
            ids_at,
            times_at,
        }
    }
}

impl SiteParts {
    /// Its parts, with the times `start` and `end` (ns since the Unix epoch, neither 0).
    #[inline]
    fn put(&self, buf: &mut Vec<u8>, start: u64, end: u64) {
        let at = buf.len() + self.times_at;
        buf.extend_from_slice(&self.bytes);
        let times = &mut buf[at..at + TIMES_LEN];
        times[1..9].copy_from_slice(&start.to_le_bytes());
        times[10..18].copy_from_slice(&end.to_le_bytes());
    }
}

/// `code.function.name`, `code.file.path`, `code.line.number`: what the SDK path puts first.
fn put_code_attributes(buf: &mut Vec<u8>, site: &crate::span::CallSite) {
    use crate::value::bounded_static;
    use opentelemetry::Value;
    put_key_value(
        buf,
        9,
        "code.function.name",
        &bounded_static(site.function()),
    );
    put_key_value(buf, 9, "code.file.path", &bounded_static(site.file));
    put_key_value(
        buf,
        9,
        "code.line.number",
        &Value::I64(i64::from(site.line)),
    );
}

fn put_name_and_kind(buf: &mut Vec<u8>, name: &str, kind: &SpanKind) {
    put_string(buf, 5, name);
    put_uint(buf, 6, kind_number(kind));
}

/// `Span.SpanKind`'s number.
fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// Nanoseconds since the Unix epoch, 0 before it (as the SDK path has it).
fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `Span.flags`: the trace flags, and whether the parent is remote (OTLP's span flags).
fn span_flags(trace_flags: u8, parent_is_remote: bool) -> u32 {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    u32::from(trace_flags) | HAS_IS_REMOTE | if parent_is_remote { IS_REMOTE } else { 0 }
}

/// A `Span` message's body, fields in tag order. The small fixed-size fields are gathered
/// on the stack and copied in a few writes.
fn put_span(buf: &mut Vec<u8>, span: &Recorded<'_>, site: Option<&SiteParts>, clock: UnixClock) {
    let ids = span.span_context;
    let has_state = *ids.trace_state() != opentelemetry::trace::TraceState::NONE;
    let mut head = Small::new();
    head.bytes_field(1, &ids.trace_id().to_bytes());
    head.bytes_field(2, &ids.span_id().to_bytes());
    if has_state {
        buf.extend_from_slice(head.as_slice());
        head = Small::new();
        put_string(buf, 3, &ids.trace_state().header());
    }
    if span.parent_span_id != SpanId::INVALID {
        head.bytes_field(4, &span.parent_span_id.to_bytes());
    }
    buf.extend_from_slice(head.as_slice());
    let (start, end) = (clock.nanos(span.start), clock.nanos(span.end));
    match (span.name, site) {
        // The common case: the call site's parts and the times in one piece. A time of 0 (a
        // clock before 1970) is left out, as prost leaves it out.
        (_, Some(site)) if start != 0 && end != 0 => site.put(buf, start, end),
        (Name::Site(site), _) => {
            put_name_and_kind(buf, site.name(), &site.kind);
            put_times(buf, start, end);
            put_code_attributes(buf, site);
        }
        (Name::Given(name, kind), _) => {
            put_name_and_kind(buf, name, kind);
            put_times(buf, start, end);
        }
    }
    put_attributes(buf, 9, span.attributes);
    put_uint(buf, 10, u64::from(span.dropped_attributes));
    for event in span.events {
        put_message(buf, 11, 1, |buf| {
            put_fixed64(buf, 1, unix_nanos(event.timestamp));
            put_string(buf, 2, &event.name);
            put_attributes(buf, 3, &event.attributes);
            put_uint(buf, 4, u64::from(event.dropped_attributes_count));
        });
    }
    put_uint(buf, 12, u64::from(span.dropped_events));
    for link in span.links {
        put_message(buf, 13, 1, |buf| put_link(buf, link));
    }
    put_uint(buf, 14, u64::from(span.dropped_links));
    put_status_and_flags(buf, span);
}

/// `Span.start_time_unix_nano` and `Span.end_time_unix_nano`, each left out when 0.
fn put_times(buf: &mut Vec<u8>, start: u64, end: u64) {
    let mut times = Small::new();
    times.fixed64_field(7, start);
    times.fixed64_field(8, end);
    buf.extend_from_slice(times.as_slice());
}

/// A `Link` message's body.
fn put_link(buf: &mut Vec<u8>, link: &opentelemetry::trace::Link) {
    let ids = &link.span_context;
    put_len_field(buf, 1, &ids.trace_id().to_bytes());
    put_len_field(buf, 2, &ids.span_id().to_bytes());
    put_trace_state(buf, 3, ids);
    put_attributes(buf, 4, &link.attributes);
    put_uint(buf, 5, u64::from(link.dropped_attributes_count));
    put_fixed32(
        buf,
        6,
        span_flags(ids.trace_flags().to_u8(), ids.is_remote()),
    );
}

/// `Span.status` (always set, as the SDK path sets it) and `Span.flags`.
fn put_status_and_flags(buf: &mut Vec<u8>, span: &Recorded<'_>) {
    let mut tail = Small::new();
    match span.status {
        Status::Unset => tail.extend(&[15 << 3 | 2, 0]),
        Status::Ok => tail.extend(&[15 << 3 | 2, 2, 3 << 3, 1]),
        Status::Error { description } => {
            put_message(buf, 15, 1, |buf| {
                put_string(buf, 2, description);
                put_uint(buf, 3, 2);
            });
        }
    }
    tail.extend(&flags_field(span));
    buf.extend_from_slice(tail.as_slice());
}

/// Up to 64 bytes of fixed-size fields, gathered before one copy into the request.
struct Small {
    bytes: [u8; 64],
    len: usize,
}

impl Small {
    #[inline(always)]
    fn new() -> Small {
        Small {
            bytes: [0; 64],
            len: 0,
        }
    }

    #[inline(always)]
    fn extend(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// A bytes field of at most 16 bytes (an id), whose tag and length are one byte each.
    #[inline(always)]
    fn bytes_field(&mut self, field: u8, bytes: &[u8]) {
        self.extend(&[field << 3 | 2, bytes.len() as u8]);
        self.extend(bytes);
    }

    /// A fixed64 field, left out when zero.
    #[inline(always)]
    fn fixed64_field(&mut self, field: u8, value: u64) {
        if value != 0 {
            self.extend(&[field << 3 | 1]);
            self.extend(&value.to_le_bytes());
        }
    }

    #[inline(always)]
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The W3C `tracestate` header of `ids`, if it has one (it is rare, and only then built).
fn put_trace_state(buf: &mut Vec<u8>, field: u32, ids: &SpanContext) {
    let state = ids.trace_state();
    if *state != opentelemetry::trace::TraceState::NONE {
        put_string(buf, field, &state.header());
    }
}

/// Hashes a call site's address: one multiply, no state to seed (the keys are addresses
/// of statics, not input anyone controls).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests;
