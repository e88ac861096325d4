//! `kind = ..` and `fields(...)` as an OTLP receiver decodes them: the protobuf span's `kind`
//! and typed attributes, from `#[traced]`, a traced impl block and a manual span.
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol, SpanKind, traced};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use otlp_support::{Kind, Receiver};

#[traced(operation = "kinds.server", kind = server, fields(http.request.method = method, attempt = attempt + 1))]
fn handle(method: &str, attempt: u32) {}

#[traced(operation = "kinds.internal")]
fn internal() {}

struct Queue;

#[traced(kind = producer)]
impl Queue {
    fn publish(&self) {}

    #[traced(kind = consumer)]
    async fn receive(&self) {}
}

#[test]
fn span_kinds_and_fields_reach_the_collector() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Http);
    let guard = godtrace::init(
        Config::new("span-kinds")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::HttpProtobuf),
    )
    .expect("init");

    handle("GET", 2);
    internal();
    Queue.publish();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(Queue.receive());
    drop(
        godtrace::span_builder("kinds.manual_client")
            .kind(SpanKind::Client)
            .start(),
    );
    guard.flush();
    let spans = receiver.sink.wait_spans(5);
    let kind_of = |suffix: &str| {
        let span = spans
            .iter()
            .find(|s| s.name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no span {suffix}"));
        ProtoKind::try_from(span.kind).expect("a known kind")
    };
    assert_eq!(kind_of("kinds.server"), ProtoKind::Server);
    assert_eq!(kind_of("kinds.internal"), ProtoKind::Internal);
    assert_eq!(kind_of("Queue::publish"), ProtoKind::Producer);
    assert_eq!(kind_of("Queue::receive"), ProtoKind::Consumer);
    assert_eq!(kind_of("kinds.manual_client"), ProtoKind::Client);

    let server = spans.iter().find(|s| s.name == "kinds.server").unwrap();
    let attr = |key: &str| {
        server
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attr("http.request.method"),
        Some(AnyValue::StringValue("GET".into()))
    );
    assert_eq!(attr("attempt"), Some(AnyValue::IntValue(3)));
}
