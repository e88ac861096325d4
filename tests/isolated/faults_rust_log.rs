//! The transport's own log output never loops back into export and never deadlocks: a
//! tracing subscriber at `RUST_LOG` level (trace unless set) with a bridge that turns every
//! log event into a godtrace span, as tracing-to-OpenTelemetry bridges do.
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol};
use otlp_support::{Kind, Receiver, deliver, returns_within};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Log events seen on godtrace's export thread.
static EXPORT_THREAD_EVENTS: AtomicUsize = AtomicUsize::new(0);

struct Bridge;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Bridge {
    fn on_event(&self, _event: &tracing::Event<'_>, _cx: Context<'_, S>) {
        if std::thread::current().name() == Some("godtrace-export") {
            EXPORT_THREAD_EVENTS.fetch_add(1, Ordering::Relaxed);
        }
        let _span = godtrace::span("log.event");
    }
}

fn level() -> tracing::level_filters::LevelFilter {
    match std::env::var("RUST_LOG").as_deref() {
        Ok("error") => tracing::level_filters::LevelFilter::ERROR,
        Ok("warn") => tracing::level_filters::LevelFilter::WARN,
        Ok("info") => tracing::level_filters::LevelFilter::INFO,
        Ok("debug") => tracing::level_filters::LevelFilter::DEBUG,
        _ => tracing::level_filters::LevelFilter::TRACE,
    }
}

#[test]
fn transport_logs_at_trace_level_never_become_exported_spans() {
    crate::support::own_process!();
    let subscriber = tracing_subscriber::registry()
        .with(level())
        .with(Bridge)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let receiver = Receiver::start(Kind::Grpc);
    let guard = godtrace::init(
        Config::new("faults-rust-log")
            .endpoint(receiver.endpoint())
            .protocol(Protocol::Grpc)
            .max_export_batch_size(16)
            .schedule_delay(Duration::from_millis(5)),
    )
    .expect("init");
    let guard = returns_within(Duration::from_secs(120), move || {
        for i in 0..100 {
            deliver::work_sync(i);
            if i % 10 == 0 {
                guard.flush();
            }
        }
        guard.flush();
        guard
    });
    let expected = 100 * deliver::SPANS_PER_CALL;
    let stats = godtrace::stats();
    assert_eq!(stats.spans_queued, expected as u64, "{stats:?}");
    assert_eq!(stats.spans_exported, expected as u64, "{stats:?}");
    assert_eq!(receiver.sink.span_count(), expected);
    assert!(
        !receiver.sink.span_names().iter().any(|n| n == "log.event"),
        "log events became spans"
    );
    if level() == tracing::level_filters::LevelFilter::TRACE {
        assert!(
            EXPORT_THREAD_EVENTS.load(Ordering::Relaxed) > 0,
            "the transport logged nothing at trace level: the test exercised nothing"
        );
    }
    returns_within(Duration::from_secs(60), move || drop(guard));
}
