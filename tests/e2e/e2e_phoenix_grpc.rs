//! End to end over OTLP/gRPC against the Phoenix backend `scripts/test` starts.
use crate::support::e2e as e2e_support;

#[test]
fn a_traced_tree_arrives_over_grpc_with_links_attributes_events_and_errors() {
    crate::support::own_process!();
    let Some(phoenix) = e2e_support::phoenix() else {
        return;
    };
    e2e_support::tree::run(&phoenix, godtrace::Protocol::Grpc, "grpc");
}
