//! End to end over OTLP/HTTP (protobuf) against the Phoenix backend `scripts/test` starts.
use crate::support::e2e as e2e_support;

#[test]
fn a_traced_tree_arrives_over_http_with_links_attributes_events_and_errors() {
    crate::support::own_process!();
    let Some(phoenix) = e2e_support::phoenix() else {
        return;
    };
    e2e_support::tree::run(&phoenix, godtrace::Protocol::HttpProtobuf, "http");
}
