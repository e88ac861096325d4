//! Many recording threads, each recording a few spans and exiting (a thread per request, a
//! blocking pool): every span is kept while the queue has room, though each thread's lane
//! takes slots from the queue's budget a chunk at a time.
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol};
use otlp_support::{Kind, Receiver, deliver};
use std::time::Duration;

const THREADS: u64 = 300;

#[test]
fn threads_holding_unused_slots_do_not_make_a_queue_with_room_drop_spans() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Http);
    // The default queue and batch; only shutdown sends (the schedule delay is long), so
    // nothing collects the exited threads' lanes before the last span is recorded.
    let guard = godtrace::init(
        Config::new("faults-many-threads")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::HttpProtobuf)
            .schedule_delay(Duration::from_secs(600)),
    )
    .expect("init");
    let threads: Vec<_> = (0..THREADS)
        .map(|i| std::thread::spawn(move || deliver::work_sync(i)))
        .collect();
    for thread in threads {
        thread.join().expect("the thread records");
    }
    let spans = THREADS as usize * deliver::SPANS_PER_CALL;
    let stats = godtrace::stats();
    assert_eq!(stats.spans_dropped, 0, "{stats:?}");
    drop(guard);
    assert_eq!(receiver.sink.span_count(), spans);
    assert_eq!(godtrace::stats().spans_exported, spans as u64);
}
