//! OTLP/gRPC options end to end in process: metadata (code over environment), gzip, resource.
use crate::support::otlp as otlp_support;

#[test]
fn grpc_exports_carry_headers_gzip_and_the_resource() {
    crate::support::own_process!();
    otlp_support::options::run(otlp_support::Kind::Grpc, "grpc");
}
