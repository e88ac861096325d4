//! Links and work handed to other threads, as an OTLP receiver decodes them: a manual span's
//! `follows_from` arrives as an OTLP link, and `in_current_span` carries the span into another
//! thread with `Config::otel_context(false)` too (godtrace's own current span, not only
//! OpenTelemetry's context).
use crate::support::otlp as otlp_support;
use godtrace::otel::trace::TraceContextExt;
use godtrace::{Config, Protocol, traced};
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_support::{Kind, Receiver};

#[traced(operation = "otlp.threads.work")]
fn work() -> u64 {
    std::hint::black_box(3)
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn a_link_arrives_over_otlp_with_its_trace_and_span_ids() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Http);
    let guard = godtrace::init(
        Config::new("links-otlp")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::HttpProtobuf),
    )
    .expect("init");
    let produced = {
        let _produce = godtrace::span("otlp.links.produce");
        godtrace::current_context().span().span_context().clone()
    };
    {
        let consume = godtrace::span("otlp.links.consume");
        consume.follows_from(&produced);
    }
    guard.flush();
    let spans = receiver.sink.wait_spans(2);
    let consume = named(&spans, "otlp.links.consume");
    assert_eq!(consume.links.len(), 1, "{consume:?}");
    let link = &consume.links[0];
    assert_eq!(link.trace_id, produced.trace_id().to_bytes().to_vec());
    assert_eq!(link.span_id, produced.span_id().to_bytes().to_vec());
    assert_eq!(consume.dropped_links_count, 0);
    drop(guard);
}

#[test]
fn in_current_span_carries_the_span_without_otel_context() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Http);
    let guard = godtrace::init(
        Config::new("threads-otlp")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::HttpProtobuf)
            .otel_context(false),
    )
    .expect("init");
    {
        let _job = godtrace::span("otlp.threads.job");
        godtrace::thread::spawn(work).join().unwrap();
        std::thread::spawn(godtrace::in_current_span(work))
            .join()
            .unwrap();
    }
    guard.flush();
    let spans = receiver.sink.wait_spans(3);
    let job = named(&spans, "otlp.threads.job");
    let children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "otlp.threads.work")
        .collect();
    assert_eq!(children.len(), 2);
    for child in children {
        assert_eq!(child.trace_id, job.trace_id);
        assert_eq!(child.parent_span_id, job.span_id);
    }
    drop(guard);
}
