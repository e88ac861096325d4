//! `cargo run --example services`: a reqwest client process and an axum server process
//! talking HTTP on 127.0.0.1 through godtrace's layers produce one trace — the client's CLIENT
//! span, the server's SERVER span under it, the handler's spans under that.
//!
//! Checked twice: locally from what both processes print (always), and in the real backend
//! that scripts/test starts (Phoenix), where the parent links are read back from storage.
use crate::support::e2e as e2e_support;
use crate::support::examples as examples_support;

use crate::support::otlp::{Kind, Receiver};
use examples_support::{field, local, parse_trees, run};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use serde_json::Value as Json;

/// The server span's name: method and axum's matched route.
const SERVER_SPAN: &str = "POST /risk/score/{wallet}";

/// A call the client made: the wallet (last segment of its URL), and the trace id and span id
/// of the `traceparent` the middleware sent (its CLIENT span).
struct Call {
    wallet: String,
    trace_id: String,
    span_id: String,
}

/// A request the server handled: (wallet, its trace id, the caller span it joined).
struct Handled {
    wallet: String,
    trace_id: String,
    parent_span_id: String,
    contexts_rejected: u64,
}

fn calls(stdout: &str) -> Vec<Call> {
    stdout
        .lines()
        .filter(|l| l.starts_with("wallet-gateway: call "))
        .map(|l| {
            let url = field(l, "url").unwrap();
            let traceparent: Vec<&str> = field(l, "traceparent").unwrap().split('-').collect();
            assert_eq!(traceparent.len(), 4, "{l}");
            Call {
                wallet: url.rsplit('/').next().unwrap().to_owned(),
                trace_id: traceparent[1].to_owned(),
                span_id: traceparent[2].to_owned(),
            }
        })
        .collect()
}

fn handled(stdout: &str) -> Vec<Handled> {
    stdout
        .lines()
        .filter(|l| l.starts_with("risk-service: request "))
        .map(|l| Handled {
            wallet: field(l, "wallet").unwrap().to_owned(),
            trace_id: field(l, "trace_id").unwrap().to_owned(),
            parent_span_id: field(l, "parent_span_id").unwrap().to_owned(),
            contexts_rejected: field(l, "contexts_rejected").unwrap().parse().unwrap(),
        })
        .collect()
}

#[test]
fn the_server_process_continues_the_client_process_trace() {
    let (stdout, stderr) = run(local("services"));
    let calls = calls(&stdout);
    let handled = handled(&stdout);
    assert_eq!(calls.len(), 3, "{stdout}");
    assert_eq!(
        handled.len(),
        4,
        "three calls and the forged probe:\n{stdout}"
    );

    for call in &calls {
        assert_eq!(call.trace_id.len(), 32);
        let served = handled
            .iter()
            .find(|h| h.trace_id == call.trace_id)
            .unwrap_or_else(|| {
                panic!("the server never joined trace {}:\n{stdout}", call.trace_id)
            });
        assert_eq!(served.wallet, call.wallet);
        assert_eq!(
            served.parent_span_id, call.span_id,
            "the server joins the trace under the client's span"
        );
    }

    // The forged traceparent: served anyway, under a new trace, and counted.
    let probe = handled
        .iter()
        .find(|h| h.parent_span_id == "none")
        .unwrap_or_else(|| panic!("no request without a remote parent:\n{stdout}"));
    assert!(calls.iter().all(|c| c.trace_id != probe.trace_id));
    assert_eq!(probe.contexts_rejected, 1);
    assert!(
        stdout.contains("wallet-gateway: probe → 200 risk"),
        "{stdout}"
    );

    // Both processes printed their part of each trace as a tree, under the same trace id.
    let trees = parse_trees(&stderr);
    for call in &calls {
        let parts: Vec<_> = trees
            .iter()
            .filter(|t| t.trace_id == call.trace_id)
            .collect();
        let mut roots: Vec<&str> = parts.iter().map(|t| t.root().name.as_str()).collect();
        roots.sort();
        assert_eq!(roots, [SERVER_SPAN, "gateway.screen_wallet"], "{stderr}");
        let client = parts
            .iter()
            .find(|t| t.root().name == "gateway.screen_wallet")
            .unwrap();
        assert_eq!(client.children_of(client.root()), ["risk_service.call"]);
        let call_span = client.one("risk_service.call");
        assert_eq!(client.children_of(call_span), ["POST"]);
        let request = client.one("POST");
        assert_eq!(request.attr("http.request.method"), Some("POST"));
        assert_eq!(request.attr("http.response.status_code"), Some("200"));
        assert_eq!(request.attr("server.address"), Some("127.0.0.1"));

        let server = parts.iter().find(|t| t.root().name == SERVER_SPAN).unwrap();
        assert_eq!(
            server.root().attr("http.route"),
            Some("/risk/score/{wallet}")
        );
        assert_eq!(server.root().attr("http.response.status_code"), Some("200"));
        assert_eq!(
            server
                .root()
                .attr("url.path")
                .map(|p| p.ends_with(&call.wallet)),
            Some(true)
        );
        assert_eq!(
            server.children_of(server.root()),
            ["risk_service.score_request"]
        );
        let handler = server.one("risk_service.score_request");
        assert_eq!(
            server.children_of(handler),
            ["pattern.detect", "risk.score"]
        );
        // The baggage the client set arrived with the request.
        assert_eq!(handler.attr("scan.batch"), Some("screening-2026-11-25T13"));
    }
    assert!(
        !stdout.contains("view at"),
        "no link without an endpoint:\n{stdout}"
    );
}

#[test]
fn in_the_backend_the_server_spans_are_children_of_the_client_spans() {
    let Some(phoenix) = e2e_support::phoenix() else {
        println!("skipped: run scripts/test");
        return;
    };
    let project = e2e_support::unique_project("example-services");
    let mut cmd = local("services");
    // Both processes (the server is started by the client) export to the backend.
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &phoenix.http)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("openinference.project.name={project}"),
        );
    let (stdout, _) = run(cmd);
    let calls = calls(&stdout);
    assert_eq!(calls.len(), 3, "{stdout}");

    for call in &calls {
        let link = format!(
            "wallet-gateway: view at http://localhost:16686/trace/{}",
            call.trace_id
        );
        assert!(stdout.contains(&link), "missing {link:?} in:\n{stdout}");

        let spans = phoenix.wait_for(&project, Some(&call.trace_id), |s| s.len() >= 7);
        assert_eq!(
            spans.len(),
            7,
            "trace {} in {project}: {:?}",
            call.trace_id,
            e2e_support::names(&spans)
        );
        let id = |s: &Json| s["context"]["span_id"].clone();
        let screen = e2e_support::named(&spans, "gateway.screen_wallet");
        let http_call = e2e_support::named(&spans, "risk_service.call");
        let client = e2e_support::named(&spans, "POST");
        let server = e2e_support::named(&spans, SERVER_SPAN);
        let handler = e2e_support::named(&spans, "risk_service.score_request");
        assert!(screen["parent_id"].is_null(), "{screen:#}");
        assert_eq!(http_call["parent_id"], id(screen));
        assert_eq!(client["parent_id"], id(http_call));
        assert_eq!(client["context"]["span_id"], call.span_id.as_str());
        // Across the process boundary: the server span hangs under the client span, the
        // handler under the server span.
        assert_eq!(server["parent_id"], id(client), "{server:#}");
        assert_eq!(handler["parent_id"], id(server), "{handler:#}");
        // Phoenix does not keep the OTLP span kind: its `span_kind` is OpenInference's
        // (`UNKNOWN` for every span here); the kinds are checked through an OTLP receiver
        // below.
        assert_eq!(client["attributes"]["http.request.method"], "POST");
        assert_eq!(client["attributes"]["http.response.status_code"], 200);
        assert_eq!(server["attributes"]["http.route"], "/risk/score/{wallet}");
        assert_eq!(server["attributes"]["http.response.status_code"], 200);
        assert_eq!(
            handler["attributes"]["wallet.address"],
            call.wallet.as_str()
        );
        assert_eq!(
            handler["attributes"]["scan.batch"],
            "screening-2026-11-25T13"
        );
        for child in ["pattern.detect", "risk.score"] {
            let span = e2e_support::named(&spans, child);
            assert_eq!(span["parent_id"], id(handler), "{span:#}");
        }
    }

    // The forged probe is its own trace, a root on the server.
    let probe = handled(&stdout)
        .into_iter()
        .find(|h| h.parent_span_id == "none")
        .expect("the probe was handled");
    let spans = phoenix.wait_for(&project, Some(&probe.trace_id), |s| s.len() >= 4);
    let root = e2e_support::named(&spans, SERVER_SPAN);
    assert!(root["parent_id"].is_null(), "{root:#}");
}

/// The string or integer value of attribute `key` of `span`, as text.
fn proto_attr(span: &ProtoSpan, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

#[test]
fn through_an_otlp_receiver_the_spans_have_their_kinds_and_http_attributes() {
    let receiver = Receiver::start(Kind::Http);
    let mut cmd = local("services");
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_METRICS_EXPORTER", "none");
    let (stdout, _) = run(cmd);
    let calls = calls(&stdout);
    assert_eq!(calls.len(), 3, "{stdout}");
    // Seven spans per call across both processes, and the probe's four on the server.
    let spans = receiver.sink.wait_spans(3 * 7 + 4);
    let kind = |s: &ProtoSpan| ProtoKind::try_from(s.kind).expect("a known kind");
    let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();

    for call in &calls {
        let trace: Vec<&ProtoSpan> = spans
            .iter()
            .filter(|s| hex(&s.trace_id) == call.trace_id)
            .collect();
        let named = |name: &str| -> &ProtoSpan {
            let found: Vec<_> = trace.iter().filter(|s| s.name == name).collect();
            assert_eq!(found.len(), 1, "{name} in trace {}", call.trace_id);
            found[0]
        };
        let client = named("POST");
        let server = named(SERVER_SPAN);
        let handler = named("risk_service.score_request");
        assert_eq!(kind(client), ProtoKind::Client);
        assert_eq!(kind(server), ProtoKind::Server);
        assert_eq!(kind(handler), ProtoKind::Internal);
        assert_eq!(hex(&client.span_id), call.span_id);
        assert_eq!(server.parent_span_id, client.span_id);
        assert_eq!(handler.parent_span_id, server.span_id);
        assert_eq!(client.parent_span_id, named("risk_service.call").span_id);

        assert_eq!(
            proto_attr(client, "http.request.method").as_deref(),
            Some("POST")
        );
        assert_eq!(
            proto_attr(client, "http.response.status_code").as_deref(),
            Some("200")
        );
        assert_eq!(
            proto_attr(client, "server.address").as_deref(),
            Some("127.0.0.1")
        );
        let url = proto_attr(client, "url.full").unwrap();
        assert!(
            url.ends_with(&format!("/risk/score/{}", call.wallet)),
            "{url}"
        );
        assert_eq!(
            proto_attr(server, "http.route").as_deref(),
            Some("/risk/score/{wallet}")
        );
        assert_eq!(proto_attr(server, "url.scheme").as_deref(), Some("http"));
        assert_eq!(
            proto_attr(server, "network.protocol.version").as_deref(),
            Some("1.1")
        );
        assert_eq!(
            proto_attr(server, "server.port"),
            proto_attr(client, "server.port")
        );
    }
}
