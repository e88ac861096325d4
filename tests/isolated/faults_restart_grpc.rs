//! Backend down at start, then up, down and up again, over gRPC.
use crate::support::otlp as otlp_support;

#[test]
fn spans_recorded_while_the_grpc_backend_is_up_arrive_across_restarts() {
    crate::support::own_process!();
    otlp_support::restart::run(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
}
