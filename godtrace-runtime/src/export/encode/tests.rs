//! The encoder against the SDK path: the same spans, turned into `SpanData` and then into
//! `opentelemetry-proto` messages by `opentelemetry-proto`'s conversions, must give the same
//! request, decoded and byte for byte.
use super::RequestEncoder;
use crate::export::lanes::Queued;
use crate::span::clock::{self, Tick};
use crate::span::{CallSite, Finished, Live, Name, SiteOptions};
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn checkout_path() -> &'static str {
    "shop::orders::Cart<_>::checkout::h"
}

static CHECKOUT: CallSite = CallSite::new(
    checkout_path,
    "src/orders.rs",
    42,
    SiteOptions {
        operation: None,
        include_duration: true,
        sample_rate: None,
        carries_parent: false,
        kind: SpanKind::Client,
    },
);

static NAMED: CallSite = CallSite::new(
    checkout_path,
    "src/named.rs",
    7,
    SiteOptions {
        operation: Some("orders.named"),
        include_duration: false,
        sample_rate: None,
        carries_parent: true,
        kind: SpanKind::Internal,
    },
);

fn ids(trace: u128, span: u64, flags: TraceFlags, remote: bool, state: &str) -> SpanContext {
    let state = if state.is_empty() {
        TraceState::NONE
    } else {
        TraceState::from_key_value(state.split(',').filter_map(|kv| kv.split_once('=')))
            .expect("a valid trace state")
    };
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        remote,
        state,
    )
}

/// One attribute of each kind of value.
fn every_kind_of_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("s", "text"),
        KeyValue::new("s.empty", ""),
        KeyValue::new("i", -7_i64),
        KeyValue::new("i.zero", 0_i64),
        KeyValue::new("f", 2.5),
        KeyValue::new("b", true),
        KeyValue::new("b.false", false),
        KeyValue::new("a.b", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("a.i", Value::Array(Array::I64(vec![i64::MIN, 0, 300]))),
        KeyValue::new("a.f", Value::Array(Array::F64(vec![-0.5, 1e300]))),
        KeyValue::new(
            "a.s",
            Value::Array(Array::String(vec![
                StringValue::from("x"),
                StringValue::from(""),
            ])),
        ),
        KeyValue::new("a.empty", Value::Array(Array::I64(Vec::new()))),
        KeyValue::new("", "an empty key"),
    ]
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_schema_url(
            every_kind_of_value(),
            "https://opentelemetry.io/schemas/1.2.0",
        )
        .build()
}

/// A recorded span with everything a span can carry, ended at `start`+`len`.
fn recorded(name: Name, ids: SpanContext, parent: Option<&SpanContext>, start: Tick) -> Finished {
    let live = Live::start(ids, parent, name, vec![KeyValue::new("first", 1_i64)]);
    for kv in every_kind_of_value() {
        live.set_attribute(kv);
    }
    live.add_event("plain".into(), Vec::new());
    live.add_event("with attributes".into(), every_kind_of_value());
    live.add_link(self::ids(9, 10, TraceFlags::SAMPLED, true, "vendor=value"));
    live.add_link(self::ids(11, 12, TraceFlags::default(), false, ""));
    live.set_status(Status::error("it failed: ünïcode"));
    live.finish(start, Tick::from_raw(start.raw() + 1_000_000))
}

/// A span of other OpenTelemetry code, under a scope of its own.
fn sdk_span() -> SpanData {
    let mut events = SpanEvents::default();
    events.events = vec![Event::new(
        "sdk.event",
        UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        vec![KeyValue::new("k", 1_i64)],
        3,
    )];
    events.dropped_count = 2;
    let mut links = SpanLinks::default();
    let mut link = Link::with_context(ids(5, 6, TraceFlags::SAMPLED, false, "a=b"));
    link.attributes = vec![KeyValue::new("link.attr", "v")];
    link.dropped_attributes_count = 4;
    links.links = vec![link];
    links.dropped_count = 1;
    SpanData {
        span_context: ids(3, 4, TraceFlags::SAMPLED, false, ""),
        parent_span_id: SpanId::from(99),
        parent_span_is_remote: true,
        span_kind: SpanKind::Consumer,
        name: "sdk.span".into(),
        start_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        end_time: SystemTime::now(),
        attributes: every_kind_of_value(),
        dropped_attributes_count: 5,
        events,
        links,
        status: Status::Ok,
        instrumentation_scope: InstrumentationScope::builder("other.library")
            .with_version("3.1")
            .with_schema_url("https://example.com/schema")
            .with_attributes([KeyValue::new("scope.attr", 7_i64)])
            .build(),
    }
}

/// What the SDK path sends for `batch`: every span as `SpanData`, through
/// `opentelemetry-proto`'s conversions.
fn sdk_path(batch: Vec<Queued>, resource: &Resource) -> ExportTraceServiceRequest {
    let mut emptied = Vec::new();
    let spans: Vec<SpanData> = batch
        .into_iter()
        .map(|span| span.into_span_data(&mut emptied))
        .collect();
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            spans,
            &ResourceAttributesWithSchema::from(resource),
        ),
    }
}

/// A copy of `batch`: the encoder takes the batch, the SDK path the copy.
fn copy_of(batch: &mut [Queued]) -> Vec<Queued> {
    batch
        .iter_mut()
        .map(|queued| match queued {
            Queued::Own(span) => Queued::Own(span.duplicate()),
            Queued::Sdk(span) => Queued::Sdk(span.clone()),
        })
        .collect()
}

/// Writes the request for `batch` (which it takes whole, whatever its size) and returns its
/// bytes.
fn encoded(encoder: &mut RequestEncoder, mut batch: Vec<Queued>) -> Vec<u8> {
    encoder.set_max_bytes(usize::MAX);
    let mut emptied = Vec::new();
    encoder.write_request(&mut batch, &mut emptied);
    assert!(batch.is_empty(), "the encoder takes every span");
    encoder.buf.clone()
}

/// Encodes `batch`, then checks the request against the SDK path's for the same spans.
fn check(encoder: &mut RequestEncoder, mut batch: Vec<Queued>, resource: &Resource) {
    let copy = copy_of(&mut batch);
    let bytes = encoded(encoder, batch);
    let expected = sdk_path(copy, resource);
    let decoded = ExportTraceServiceRequest::decode(&bytes[..]).expect("a valid request");
    assert_eq!(decoded, expected);
    assert!(
        bytes == expected.encode_to_vec(),
        "the bytes differ from prost's"
    );
}

#[test]
fn requests_decode_into_what_the_sdk_path_produced() {
    let resource = resource();
    let mut encoder = RequestEncoder::new(&resource);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let root = ids(0xABCD, 1, TraceFlags::SAMPLED, false, "");
    let remote_parent = ids(0xABCD, 2, TraceFlags::SAMPLED, true, "congo=t61rcWkgMzE");
    // The same call sites twice: their parts are encoded once and reused the second time.
    for _ in 0..2 {
        let batch = vec![
            Queued::Own(recorded(Name::Site(&CHECKOUT), root.clone(), None, start)),
            Queued::Own(recorded(
                Name::Site(&NAMED),
                ids(0xABCD, 3, TraceFlags::SAMPLED, false, ""),
                Some(&root),
                start,
            )),
            Queued::Own(recorded(
                Name::Given(Cow::Borrowed("manual"), SpanKind::Server),
                ids(0xABCD, 4, TraceFlags::SAMPLED, false, "k1=v1,k2=v2"),
                Some(&remote_parent),
                start,
            )),
            Queued::Sdk(Box::new(sdk_span())),
            Queued::Own(recorded(
                Name::Given(Cow::Owned(String::new()), SpanKind::Producer),
                ids(1, 5, TraceFlags::default(), false, ""),
                None,
                Tick::from_raw(0),
            )),
        ];
        check(&mut encoder, batch, &resource);
    }
    assert_eq!(encoder.sites.parts.len(), 2);
}

/// A bridged `tracing` span renamed after it started (`otel.name`, `otel.kind` recorded late)
/// is exported under its new name and kind, as the SDK path gives it.
#[cfg(feature = "tracing")]
#[test]
fn a_span_renamed_after_it_started_is_encoded_with_its_new_name() {
    let resource = Resource::builder_empty().build();
    let mut encoder = RequestEncoder::new(&resource);
    let live = Live::start(
        ids(3, 4, TraceFlags::SAMPLED, false, ""),
        None,
        Name::Given("info_span".into(), SpanKind::Internal),
        Vec::new(),
    );
    live.rename(Some("GET /wallets".into()), Some(SpanKind::Server));
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    check(
        &mut encoder,
        vec![Queued::Own(live.finish(start, start))],
        &resource,
    );
    let request = ExportTraceServiceRequest::decode(&encoder.buf[..]).expect("valid");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "GET /wallets");
    assert_eq!(span.kind, 2, "SPAN_KIND_SERVER");
}

#[test]
fn counts_past_the_limits_are_encoded_as_dropped() {
    let resource = Resource::builder_empty().build();
    let mut encoder = RequestEncoder::new(&resource);
    let live = Live::start(
        ids(7, 8, TraceFlags::SAMPLED, false, ""),
        None,
        Name::Site(&CHECKOUT),
        Vec::new(),
    );
    for i in 0..(crate::config::limits::span_attributes() + 3) {
        live.set_attribute(KeyValue::new(format!("n{i}"), i as i64));
    }
    for _ in 0..(crate::config::limits::span_events() + 2) {
        live.add_event("e".into(), Vec::new());
    }
    for i in 0..(crate::config::limits::span_links() + 1) {
        live.add_link(ids(1, i as u64 + 1, TraceFlags::SAMPLED, false, ""));
    }
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let batch = vec![Queued::Own(live.finish(start, start))];
    check(&mut encoder, batch, &resource);
    let request = ExportTraceServiceRequest::decode(&encoder.buf[..]).expect("valid");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    // Three past the limit, and three more for the call site's `code.*` attributes, which
    // count toward it.
    assert_eq!(span.dropped_attributes_count, 6);
    assert_eq!(
        span.attributes.len(),
        crate::config::limits::span_attributes()
    );
    assert_eq!(span.dropped_events_count, 2);
    assert_eq!(span.dropped_links_count, 1);
}

#[test]
fn encode_empties_the_batch_and_hands_back_every_box() {
    let resource = Resource::builder_empty().build();
    let mut encoder = RequestEncoder::new(&resource);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let mut batch = vec![
        Queued::Own(recorded(
            Name::Site(&CHECKOUT),
            ids(1, 1, TraceFlags::SAMPLED, false, ""),
            None,
            start,
        )),
        Queued::Sdk(Box::new(sdk_span())),
        Queued::Own(recorded(
            Name::Site(&NAMED),
            ids(1, 2, TraceFlags::SAMPLED, false, ""),
            None,
            start,
        )),
    ];
    let mut emptied = Vec::new();
    let request = encoder.encode(&mut batch, &mut emptied).to_vec();
    assert!(batch.is_empty());
    assert_eq!(emptied.len(), 2);
    let decoded = ExportTraceServiceRequest::decode(&request[..]).expect("valid");
    let spans: usize = decoded.resource_spans[0]
        .scope_spans
        .iter()
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans, 3);
    crate::span::return_spares(&mut emptied);
}

/// A small deterministic generator (xorshift64*), so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    /// Hostile text: empty, NUL, invalid-looking escapes, right-to-left marks, emoji, very long.
    fn text(&mut self) -> String {
        let pieces = [
            "", "\0", "a", "é", "🦀", "\u{202E}", "\u{FEFF}", "\\x80", "\"'<>&", "\r\n\t", "ключ",
        ];
        match self.below(20) {
            0 => "x".repeat(self.below(70_000) as usize),
            1 => "🦀".repeat(self.below(5_000) as usize),
            _ => (0..self.below(6)).map(|_| self.pick(&pieces)).collect(),
        }
    }

    fn int(&mut self) -> i64 {
        match self.below(4) {
            0 => self.pick(&[0, -1, 1, i64::MIN, i64::MAX, 127, 128, -128]),
            _ => self.next() as i64 >> self.below(64),
        }
    }

    fn float(&mut self) -> f64 {
        match self.below(3) {
            0 => self.pick(&[
                0.0,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE,
            ]),
            _ => f64::from_bits(self.next()),
        }
    }

    fn value(&mut self) -> Value {
        let n = self.below(4) as usize;
        match self.below(8) {
            0 => Value::Bool(self.below(2) == 0),
            1 => Value::I64(self.int()),
            2 => Value::F64(self.float()),
            3 => Value::Array(Array::Bool((0..n).map(|_| self.below(2) == 0).collect())),
            4 => Value::Array(Array::I64((0..n).map(|_| self.int()).collect())),
            5 => Value::Array(Array::F64((0..n).map(|_| self.float()).collect())),
            6 => Value::Array(Array::String((0..n).map(|_| self.text().into()).collect())),
            _ => Value::from(self.text()),
        }
    }

    fn attributes(&mut self, most: u64) -> Vec<KeyValue> {
        (0..self.below(most + 1))
            .map(|_| KeyValue::new(self.text(), self.value()))
            .collect()
    }

    fn span(&mut self, n: u64) -> Finished {
        let flags = TraceFlags::new(self.next() as u8);
        let state = self.pick(&["", "a=b", "vendor=x,other=y"]);
        let span_ids = ids(
            u128::from(self.next()) << 64 | u128::from(self.next()),
            self.next(),
            flags,
            false,
            state,
        );
        let parent = match self.below(3) {
            0 => None,
            1 => Some(ids(1, self.next() | 1, TraceFlags::SAMPLED, true, "")),
            _ => Some(ids(1, self.next() | 1, TraceFlags::SAMPLED, false, "")),
        };
        let name = match self.below(3) {
            0 => Name::Site(&CHECKOUT),
            1 => Name::Site(&NAMED),
            _ => Name::Given(
                Cow::Owned(self.text()),
                self.pick(&[
                    SpanKind::Internal,
                    SpanKind::Server,
                    SpanKind::Client,
                    SpanKind::Producer,
                    SpanKind::Consumer,
                ]),
            ),
        };
        let initial = self.attributes(3);
        let live = Live::start(span_ids, parent.as_ref(), name, initial);
        for kv in self.attributes(140) {
            live.set_attribute(kv);
        }
        for _ in 0..self.below(4) {
            let attributes = self.attributes(3);
            live.add_event(Cow::Owned(self.text()), attributes);
        }
        for _ in 0..self.below(3) {
            live.add_link(ids(
                2,
                self.next() | 1,
                TraceFlags::new(self.next() as u8),
                self.below(2) == 0,
                state,
            ));
        }
        match self.below(4) {
            0 => live.set_status(Status::Ok),
            1 => live.set_status(Status::error(self.text())),
            _ => {}
        }
        let start = Tick::from_raw(self.below(1 << 40) + n);
        live.finish(start, Tick::from_raw(start.raw() + self.below(1 << 30)))
    }
}

#[test]
fn random_and_hostile_spans_encode_as_prost_encodes_them() {
    let resource = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "fuzz"),
            KeyValue::new("\0", "🦀"),
        ])
        .build();
    let mut encoder = RequestEncoder::new(&resource);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..60 {
        let batch: Vec<Queued> = (0..rng.below(12))
            .map(|n| Queued::Own(rng.span(n)))
            .collect();
        let mut batch = batch;
        let copy = copy_of(&mut batch);
        let bytes = encoded(&mut encoder, batch);
        let expected = sdk_path(copy, &resource);
        // Compared as bytes: NaN attributes make the decoded messages unequal to themselves.
        assert!(
            bytes == expected.encode_to_vec(),
            "round {round}: the bytes differ"
        );
        ExportTraceServiceRequest::decode(&bytes[..]).expect("a valid request");
    }
}

#[test]
fn a_reused_buffer_holds_the_head_room_and_the_latest_request_only() {
    let resource = resource();
    let mut encoder = RequestEncoder::new(&resource);
    encoder.set_head_room(5);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let flags = TraceFlags::SAMPLED;
    // A large request first, its head room filled in as the transport does.
    let mut large: Vec<Queued> = (1..=40)
        .map(|i| {
            Queued::Own(recorded(
                Name::Site(&CHECKOUT),
                ids(7, i, flags, false, ""),
                None,
                start,
            ))
        })
        .collect();
    let mut emptied = Vec::new();
    encoder.encode(&mut large, &mut emptied);
    encoder.request_mut().0[..5].copy_from_slice(&[0xEE; 5]);
    // Then a small one, into the same buffer.
    let mut small = vec![Queued::Own(recorded(
        Name::Given(Cow::Borrowed("small"), SpanKind::Server),
        ids(8, 1, flags, false, ""),
        None,
        start,
    ))];
    let copy = copy_of(&mut small);
    let bytes = encoded(&mut encoder, small);
    assert_eq!(
        bytes[..5],
        [0; 5],
        "the head room is cleared for the transport"
    );
    let expected = sdk_path(copy, &resource).encode_to_vec();
    assert!(
        bytes[5..] == expected,
        "only the latest request, as prost writes it"
    );
    crate::span::return_spares(&mut emptied);
}

/// Spans of a call site with little or nothing recorded take the shortcuts (the site's whole
/// span copied, or its length summed first): with and without a parent, local or remote,
/// sampled or not, with a status, an attribute or a count, they decode as the SDK path's.
#[test]
fn spans_with_little_recorded_decode_into_what_the_sdk_path_produced() {
    let resource = resource();
    let mut encoder = RequestEncoder::new(&resource);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let local = ids(7, 70, TraceFlags::SAMPLED, false, "");
    let remote = ids(7, 71, TraceFlags::default(), true, "");
    let span = |n: u64, parent: Option<&SpanContext>, flags, edit: &dyn Fn(&Live)| {
        let live = Live::start(
            ids(7, n, flags, false, ""),
            parent,
            Name::Site(if n.is_multiple_of(2) {
                &CHECKOUT
            } else {
                &NAMED
            }),
            Vec::new(),
        );
        edit(&live);
        Queued::Own(live.finish(start, Tick::from_raw(start.raw() + 1_000 * n)))
    };
    let nothing = |_: &Live| {};
    for _ in 0..2 {
        let batch = vec![
            span(1, None, TraceFlags::SAMPLED, &nothing),
            span(2, Some(&local), TraceFlags::SAMPLED, &nothing),
            span(3, Some(&remote), TraceFlags::default(), &nothing),
            span(4, None, TraceFlags::default(), &|l| {
                l.set_status(Status::Ok)
            }),
            span(5, Some(&remote), TraceFlags::SAMPLED, &|l| {
                l.set_attribute(KeyValue::new("one", "attribute"))
            }),
            span(6, Some(&local), TraceFlags::SAMPLED, &|l| {
                l.set_status(Status::Ok);
                l.set_attribute(KeyValue::new("n", 300_i64));
            }),
        ];
        check(&mut encoder, batch, &resource);
    }
}

#[test]
fn only_the_boxes_of_spans_that_held_something_are_left_to_be_emptied() {
    let resource = Resource::builder_empty().build();
    let mut encoder = RequestEncoder::new(&resource);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    let end = Tick::from_raw(start.raw() + 1_000);
    let plain = |n: u64| {
        Live::start(
            ids(7, n, TraceFlags::SAMPLED, false, ""),
            None,
            Name::Site(&CHECKOUT),
            Vec::new(),
        )
    };
    let with_status = plain(2);
    with_status.set_status(Status::Ok);
    let mut batch = vec![
        Queued::Own(plain(1).finish(start, end)),
        Queued::Own(with_status.finish(start, end)),
        Queued::Own(recorded(
            Name::Site(&CHECKOUT),
            ids(7, 3, TraceFlags::SAMPLED, false, ""),
            None,
            start,
        )),
        Queued::Own(plain(4).finish(start, end)),
    ];
    let copy = copy_of(&mut batch);
    let mut emptied = Vec::new();
    let bytes = encoder.encode(&mut batch, &mut emptied).to_vec();
    assert_eq!(bytes, sdk_path(copy, &resource).encode_to_vec());
    // The two spans that held nothing went back as they were; the others still hold what
    // was recorded on them, for `return_spares` to empty.
    let held: Vec<u64> = emptied
        .iter()
        .map(|live| u64::from_be_bytes(live.span_context.span_id().to_bytes()))
        .collect();
    assert_eq!(held, [2, 3]);
    assert!(batch.is_empty() && encoder.bare.is_empty());
}

#[test]
fn kept_span_ranges_are_each_span_and_let_the_request_gzip_small() {
    let resource = resource();
    let mut encoder = RequestEncoder::new(&resource);
    encoder.keep_span_ranges();
    let mut rng = Rng(0x5EED);
    // The bytes are compared with the SDK path's, which converts the times again.
    let _anchor = clock::pinned::pin();
    let start = clock::now();
    // Mostly spans with nothing recorded, of two sites, as a service's batch is; some with
    // anything recorded; other code's spans. Requests of over 2 MiB and under 16 KiB: their
    // messages' lengths take more or fewer bytes than set aside, and the spans move.
    for (spans, anything_every) in [(40, 1_000), (600, 1_000), (600u64, 10)] {
        let batch: Vec<Queued> = (0..spans)
            .map(|i| match i % anything_every {
                0 => Queued::Own(rng.span(i)),
                1 => Queued::Sdk(Box::new(sdk_span())),
                n => {
                    let site = if n % 3 == 0 { &NAMED } else { &CHECKOUT };
                    let ids = ids(
                        u128::from(rng.next()) << 64 | 1,
                        rng.next() | 1,
                        TraceFlags::SAMPLED,
                        false,
                        "",
                    );
                    // Nothing recorded on it, as on most spans.
                    let live = Live::start(ids, None, Name::Site(site), Vec::new());
                    Queued::Own(live.finish(start, Tick::from_raw(start.raw() + 1_000 * n)))
                }
            })
            .collect();
        let own = batch
            .iter()
            .filter(|queued| matches!(queued, Queued::Own(_)))
            .count();
        let bytes = encoded(&mut encoder, batch);
        let ranges = encoder.request_mut().1.to_vec();
        check_ranges_and_gzip(&bytes, &ranges, own);
    }
}

fn check_ranges_and_gzip(bytes: &[u8], records: &[crate::otlp::gzip::Record], own_spans: usize) {
    let ranges: Vec<_> = records.iter().map(|record| record.range.clone()).collect();
    let request = ExportTraceServiceRequest::decode(bytes).expect("a valid request");
    let own = &request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(ranges.len(), own_spans);
    assert_eq!(ranges.len(), own.len());
    for (range, span) in ranges.iter().zip(own) {
        // The span's field of `ScopeSpans`: tag 2, length, the span (which decodes as the
        // request's span in that place).
        let mut field = &bytes[range.clone()];
        assert_eq!(field[0], 0x12, "{range:?} of {}", bytes.len());
        field = &field[1..];
        let len = prost::encoding::decode_varint(&mut field).unwrap();
        assert_eq!(len as usize, field.len(), "a range is one span, whole");
        let decoded = opentelemetry_proto::tonic::trace::v1::Span::decode(field).unwrap();
        assert_eq!(decoded.span_id, span.span_id);
    }
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "one after the other");
    }
    // The spans with nothing recorded are of their call site's kind (two sites here), for the
    // compressor to compare with each other.
    let mut kinds: Vec<usize> = records
        .iter()
        .map(|record| record.kind)
        .filter(|&kind| kind != 0)
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    let mut member = Vec::new();
    crate::otlp::gzip::Gzip::new().compress(bytes, records, &mut member);
    let mut searched = Vec::new();
    crate::otlp::gzip::Gzip::new().compress(bytes, &[], &mut searched);
    // Mostly spans with nothing recorded: smaller than with the search alone, as well as
    // faster; among hostile spans, about the same.
    assert!(
        member.len() * 100 <= searched.len() * 101,
        "{} bytes, {} without the records",
        member.len(),
        searched.len()
    );
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&member[..]), &mut plain).unwrap();
    assert!(plain == bytes);
    let mut zlib = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut zlib, bytes).unwrap();
    let zlib = zlib.finish().unwrap().len();
    // The fixed codes take 9 bits for bytes from 144 (UTF-8's other bytes): on the hostile
    // spans' text, about a third more than codes built for each request; on the others,
    // about the same or less.
    assert!(
        member.len() * 100 < zlib * 135,
        "{} bytes, a general compressor {zlib}",
        member.len()
    );
}

/// A batch whose spans would make a request larger than receivers take (gRPC's 4 MiB) goes in
/// several requests, each within the bound, together every span once, other code's spans
/// included; a span larger than the bound alone is a request of its own (not added to one
/// under the bound, which it would take far past it).
#[test]
fn a_batch_too_large_for_one_request_goes_in_several() {
    let resource = Resource::builder_empty().build();
    let mut encoder = RequestEncoder::new(&resource);
    encoder.set_max_bytes(20_000);
    let start = clock::now();
    let span = |id: u64, bytes: usize| {
        let live = Live::start(
            ids(7, id, TraceFlags::SAMPLED, false, ""),
            None,
            Name::Site(&CHECKOUT),
            vec![KeyValue::new("arg", "x".repeat(bytes))],
        );
        Queued::Own(live.finish(start, Tick::from_raw(start.raw() + 1_000)))
    };
    let mut batch: Vec<Queued> = (1..=40).map(|id| span(id, 4_000)).collect();
    batch.insert(10, Queued::Sdk(Box::new(sdk_span())));
    batch.push(span(41, 50_000));
    batch.push(span(42, 10));
    // A small span, then one that fits alone but not beside it.
    batch.push(span(43, 10));
    batch.push(span(44, 19_500));
    let sdk_id = sdk_span().span_context.span_id();
    let expected: Vec<Vec<u8>> = (1..=44_u64)
        .map(|id| SpanId::from(id).to_bytes().to_vec())
        .chain([sdk_id.to_bytes().to_vec()])
        .collect();
    let (mut requests, mut seen, mut emptied) = (0, Vec::new(), Vec::new());
    while !batch.is_empty() {
        let before = batch.len();
        let request = encoder.encode(&mut batch, &mut emptied).to_vec();
        assert!(batch.len() < before, "each request takes a span at least");
        let decoded = ExportTraceServiceRequest::decode(&request[..]).expect("valid");
        let spans: Vec<_> = (decoded.resource_spans.iter())
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect();
        // Within the bound, but for a span larger than it alone (the 50 kB one).
        if spans.len() > 1 {
            assert!(request.len() <= 20_000, "{} bytes", request.len());
        } else {
            assert!(request.len() <= 20_000 || spans[0].span_id == SpanId::from(41).to_bytes());
        }
        seen.extend(spans.iter().map(|s| s.span_id.clone()));
        requests += 1;
    }
    let (mut expected, mut seen) = (expected, seen);
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every span once");
    assert!(requests >= 9, "{requests} requests");
    assert_eq!(emptied.len() + encoder.bare.len(), 44);
}
