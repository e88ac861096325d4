//! A task on a one-worker runtime does everything: `init`, the work, and dropping the guard,
//! so the only worker thread is the one blocked in shutdown. Over HTTP this time.
use crate::support::otlp as otlp_support;
use otlp_support::{deliver, returns_within};
use std::time::Duration;

#[test]
fn a_task_on_a_one_worker_runtime_inits_works_and_shuts_down() {
    crate::support::own_process!();
    let receiver = returns_within(Duration::from_secs(120), || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let receiver = runtime.block_on(async {
            tokio::spawn(async {
                let (receiver, guard) =
                    deliver::start(otlp_support::Kind::Http, godtrace::Protocol::HttpProtobuf);
                for i in 0..200 {
                    deliver::work_async(i).await;
                }
                drop(guard);
                receiver
            })
            .await
            .unwrap()
        });
        drop(runtime);
        receiver
    });
    deliver::check(
        &receiver,
        200 * deliver::SPANS_PER_CALL,
        "task on a one-worker runtime",
    );
}
