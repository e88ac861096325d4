//! OTLP/HTTP options end to end in process: `/v1/traces` appended to the base endpoint,
//! headers (code over environment), gzip, resource.
use crate::support::otlp as otlp_support;

#[test]
fn http_exports_carry_path_headers_gzip_and_the_resource() {
    crate::support::own_process!();
    otlp_support::options::run(otlp_support::Kind::Http, "http/protobuf");
}

#[test]
fn spans_an_http_receiver_rejects_are_failed_not_exported() {
    crate::support::own_process!();
    otlp_support::options::rejected_spans_count_as_failed(
        otlp_support::Kind::HttpPartial,
        godtrace::Protocol::HttpProtobuf,
    );
}
