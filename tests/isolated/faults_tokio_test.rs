//! `#[tokio::test]` (a current-thread runtime): flush and the guard dropped in the test body
//! deliver every span.
use crate::support::otlp as otlp_support;
use otlp_support::deliver;

#[tokio::test]
async fn shutdown_inside_tokio_test_delivers_every_span() {
    crate::support::own_process!();
    let (receiver, guard) = deliver::start(otlp_support::Kind::Grpc, godtrace::Protocol::Grpc);
    for i in 0..150 {
        deliver::work_async(i).await;
        deliver::work_sync(i);
    }
    drop(guard);
    deliver::check(&receiver, 300 * deliver::SPANS_PER_CALL, "#[tokio::test]");
}
