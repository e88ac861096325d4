//! Backend down at start, then up, down and up again, over gRPC.
mod otlp_support;

#[test]
fn spans_recorded_while_the_grpc_backend_is_up_arrive_across_restarts() {
    otlp_support::restart::run(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
}
