//! OTLP push: a background thread that collects every interval (and on flush and shutdown)
//! and sends the snapshot to the configured receiver, with its own current-thread runtime, so
//! it never depends on, or blocks, the application's.
mod encode;

use super::registry::registry;
use super::worker::JoinableThread;
use crate::InitError;
use crate::config::OtlpTarget as Target;
use crate::config::{deadline_after, url};
use crate::otlp::transport::{self, Transport};
use opentelemetry::KeyValue;
use prost::Message as _;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

enum Command {
    Flush(mpsc::SyncSender<()>),
    Stop,
}

/// The running push thread.
pub(crate) struct Pusher {
    commands: mpsc::Sender<Command>,
    worker: JoinableThread,
    /// Set when the pusher is asked to stop, to the moment the last push must have ended by
    /// (the export timeout from then): a push under way (a periodic one, a flush's, the last
    /// one) no longer waits to connect again to a receiver that cannot be reached, and none
    /// runs past it.
    closing: tokio::sync::watch::Sender<Option<Instant>>,
    /// How long the last push may take once asked for ([`last_push_budget`]).
    last_push: Duration,
}

/// How long the last push may take: its export timeout, but never past the guard's `bound`,
/// and ending early enough before the guard stops waiting for it (at `bound`) that a failure
/// is reported before the guard's drop returns. (A push's own timeout may be set longer than
/// the guard's bound, `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`: the push then went on after the
/// guard had returned, and its failure was never said.)
fn last_push_budget(timeout: Duration, bound: Duration) -> Duration {
    let to_report = (bound / 10).min(Duration::from_millis(50));
    timeout.min(bound - to_report)
}

/// What to do when the receiver says it has no metrics service (a traces-only backend, such
/// as Jaeger, answers `/v1/metrics` with 404 or 405, and gRPC with UNIMPLEMENTED): metrics
/// are pushed by default wherever spans go, as OpenTelemetry's default exporter is OTLP.
fn no_metrics_hint(error: &str) -> &'static str {
    let no_service = [": HTTP 404", ": HTTP 405", "status Unimplemented"]
        .iter()
        .any(|answer| error.contains(answer));
    if no_service {
        " (the receiver takes no metrics? `OTEL_METRICS_EXPORTER=none` or \
         `MetricsConfig::new().otlp(false)` stops the push)"
    } else {
        ""
    }
}

impl Pusher {
    /// Starts pushing to `target` every `interval`, with `resource` on every request.
    /// `bound`: the longest the guard's flush and shutdown wait for metrics.
    pub(crate) fn start(
        target: Target,
        resource: Vec<KeyValue>,
        interval: Duration,
        bound: Duration,
    ) -> Result<Pusher, InitError> {
        let (commands, rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let (closing, closed) = tokio::sync::watch::channel(None);
        let last_push = last_push_budget(target.timeout, bound);
        let worker = JoinableThread::spawn("godtrace-metrics", move || {
            run(
                &target, &resource, interval, &rx, &ready_tx, closed, last_push,
            );
        })
        .map_err(|e| InitError::Exporter(format!("could not start the metrics thread: {e}")))?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Pusher {
                commands,
                worker,
                closing,
                last_push,
            }),
            Ok(Err(e)) => Err(InitError::exporter(e)),
            Err(_) => Err(InitError::Exporter("the metrics thread stopped".into())),
        }
    }

    /// Asks for a push now; the receiver hears when it is done.
    pub(crate) fn flush_begin(&self) -> mpsc::Receiver<()> {
        let (ack, acked) = mpsc::sync_channel(1);
        let _ = self.commands.send(Command::Flush(ack));
        acked
    }

    /// Asks for a last push and the end of the thread, which the caller may wait for.
    pub(crate) fn stop_begin(self) -> Option<JoinableThread> {
        // A push under way when the stop comes and the last push share one budget.
        self.closing
            .send_replace(Some(deadline_after(self.last_push)));
        let _ = self.commands.send(Command::Stop);
        Some(self.worker)
    }
}

/// Completes once the pusher is asked to stop (or is gone).
async fn stopping(mut closing: tokio::sync::watch::Receiver<Option<Instant>>) {
    let _ = closing.wait_for(Option::is_some).await;
}

/// Completes when the time for the last push has run out; never before the pusher is asked
/// to stop (nor when it cannot be).
async fn stop_deadline(mut closing: tokio::sync::watch::Receiver<Option<Instant>>) {
    let deadline = match closing.wait_for(Option::is_some).await {
        Ok(deadline) => *deadline,
        Err(_) => None,
    };
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

fn run(
    target: &Target,
    resource: &[KeyValue],
    interval: Duration,
    commands: &mpsc::Receiver<Command>,
    ready: &mpsc::SyncSender<Result<(), String>>,
    closing: tokio::sync::watch::Receiver<Option<Instant>>,
    last_push: Duration,
) {
    let build = || {
        Transport::new(target, transport::METRICS).map_err(|e| {
            let message = format!("OTLP metrics exporter for {}: {e}", target.endpoint);
            url::scrub(&message, &target.endpoint)
        })
    };
    let report = |result| {
        let _ = ready.send(result);
    };
    let Some(started) = crate::otlp::thread::start("godtrace-metrics-blocking", build, report)
    else {
        return;
    };
    let (runtime, client, _suppressed) = (started.runtime, started.client, started.suppressed);
    let mut failing = false;
    let mut warned = false;
    // The request a push starts with: the one the last push did not get through (see below).
    let mut first = 0;
    // Once stopping, a push does not wait for a receiver that cannot be reached (see
    // `Transport::send_body`).
    // Each request of a push ends by `deadline`, the push's: the export timeout bounds a push
    // however many requests it takes. `at`: which request, for the report.
    let send_one = |client: &Transport, request: Vec<u8>, deadline: Instant, at: (usize, usize)| {
        runtime.block_on(async {
            let send = tokio::time::timeout_at(
                deadline.into(),
                client.send(request, stopping(closing.clone())),
            );
            tokio::select! {
                sent = send => match sent {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "the push's {:?} ran out at its request {} of {} (the next push starts there)",
                        target.timeout, at.0 + 1, at.1
                    )),
                },
                () = stop_deadline(closing.clone()) => {
                    Err(format!("shutdown's {last_push:?} ran out while sending"))
                }
            }
        })
    };
    let mut push = |client: &Transport| {
        let snapshot = registry().collect();
        if snapshot.metrics().is_empty() {
            return;
        }
        let mut requests = encode::requests(
            &snapshot,
            resource,
            registry().start,
            SystemTime::now(),
            encode::MAX_REQUEST_BYTES,
        );
        // One after the other, within the push's timeout. A request refused goes on to the
        // next (a receiver that refuses one request for good still gets the others); once the
        // timeout has run out the push stops, and the next push starts with the request it
        // stopped at (its totals then, being cumulative): a receiver too slow for every
        // request within a push's timeout still gets all of them, a few pushes apart.
        let deadline = deadline_after(target.timeout);
        let count = requests.len();
        let start = first % count.max(1);
        requests.rotate_left(start);
        first = 0;
        let mut sent = Ok(());
        for (i, request) in requests.into_iter().enumerate() {
            let at = (start + i) % count;
            match send_one(client, request.encode_to_vec(), deadline, (at, count)) {
                Ok(None) => {}
                // A warning (nothing rejected): said once.
                Ok(Some(r)) if r.count == 0 => {
                    if !std::mem::replace(&mut warned, true) {
                        let said = crate::redact::urls_in(&r.message).unwrap_or(r.message);
                        let message = format!(
                            "godtrace: the metrics receiver took every data point, with a \
                             warning (later ones are not reported): {said}"
                        );
                        // The receiver's words may quote the URL: never its credentials.
                        let message = url::scrub(&message, &target.endpoint);
                        crate::stderr::say(crate::text::cut(message, crate::text::MAX_REPORT));
                    }
                }
                // Data points the receiver rejected of a request it accepted: said like a
                // failure (the next push sends them again), after the other requests go.
                Ok(Some(r)) => {
                    if sent.is_ok() {
                        sent = Err(format!(
                            "the receiver rejected {} data points: {}",
                            r.count, r.message
                        ));
                    }
                }
                Err(e) => {
                    if sent.is_ok() {
                        sent = Err(e);
                    }
                    if Instant::now() >= deadline {
                        first = at;
                        break;
                    }
                }
            }
        }
        match sent {
            Ok(()) => failing = false,
            Err(e) => {
                // Once per run of failures, not once per interval.
                if !failing {
                    // Transport errors quote the URL: never with its credentials.
                    let message = format!(
                        "godtrace: metrics export to {} failed: {}{}",
                        target.endpoint,
                        crate::otlp::client::explain(&e),
                        no_metrics_hint(&e)
                    );
                    let message = url::scrub(&message, &target.endpoint);
                    crate::stderr::say(crate::text::cut(message, crate::text::MAX_REPORT));
                }
                failing = true;
            }
        }
    };
    let mut next = deadline_after(interval);
    loop {
        match commands.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // From the start of this push to the start of the next (the specification's
                // interval), however long this one takes.
                next = deadline_after(interval);
                // Not while the receiver is given its pause after a failed push (a throttling
                // answer's `Retry-After`, a backoff): the next push carries the same totals.
                // Flushes and the last push go anyway.
                if client.paused_until().is_none() {
                    push(&client);
                }
            }
            Ok(Command::Flush(ack)) => {
                // Every flush asked for until now is answered by this one push: flushes that
                // pile up while a receiver hangs cost one push, not one each.
                let mut acks = vec![ack];
                let mut stop = false;
                while let Ok(command) = commands.try_recv() {
                    match command {
                        Command::Flush(ack) => acks.push(ack),
                        Command::Stop => stop = true,
                    }
                }
                push(&client);
                for ack in acks {
                    let _ = ack.send(());
                }
                if stop {
                    break;
                }
            }
            Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                push(&client);
                break;
            }
        }
    }
    drop(client);
    runtime.shutdown_timeout(Duration::from_millis(100));
}

#[cfg(all(test, feature = "otlp-http"))]
mod tests {
    use super::*;
    use crate::config::{Compression, Protocol};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An OTLP/HTTP target of `endpoint`, its requests bounded by `timeout`.
    fn http_target(endpoint: String, timeout: Duration) -> Target {
        Target {
            protocol: Protocol::HttpProtobuf,
            endpoint,
            headers: Vec::new(),
            timeout,
            compression: Compression::None,
            tls: Default::default(),
        }
    }

    /// A receiver without a metrics service (a traces-only backend answering 405) gets a
    /// failure report that says how to stop the push; other failures do not.
    #[test]
    fn a_receiver_without_metrics_is_told_apart() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = std::io::Read::read(&mut stream, &mut [0u8; 65536]);
                let answer = "HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\n\
                              content-length: 0\r\n\r\n";
                let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
            }
        });
        let target = http_target(format!("http://{addr}/v1/metrics"), Duration::from_secs(5));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(async {
                let client = Transport::new(&target, transport::METRICS).unwrap();
                client.send(Vec::new(), std::future::pending()).await
            })
            .unwrap_err();
        assert!(
            no_metrics_hint(&error).contains("OTEL_METRICS_EXPORTER=none"),
            "{error}"
        );
        let unavailable = error.replace("405 Method Not Allowed", "503 Service Unavailable");
        assert_eq!(no_metrics_hint(&unavailable), "", "{unavailable}");
    }

    /// A receiver that accepts connections and never answers (each push ends at its timeout
    /// and drops its connection), and how many connections it accepted.
    fn silent_receiver() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        (addr, connections)
    }

    /// The guard's default bound (`OTEL_BSP_EXPORT_TIMEOUT`), longer than these tests' push
    /// timeouts.
    const GUARD_BOUND: Duration = Duration::from_secs(30);

    /// Flushes asked for while a push hangs on a receiver that never answers are answered
    /// together by the next push, not by one push (one request timeout) each.
    #[test]
    fn flushes_that_pile_up_while_the_receiver_hangs_cost_one_push() {
        let (addr, connections) = silent_receiver();
        // Something to push (recorded whether godtrace is initialised or not).
        crate::metrics::manual::counter_add("otlp.push.flush_test", 1.0, &[]);
        let target = http_target(
            format!("http://{addr}/v1/metrics"),
            Duration::from_millis(300),
        );
        let pusher =
            Pusher::start(target, Vec::new(), Duration::from_secs(3600), GUARD_BOUND).unwrap();
        let acks: Vec<_> = (0..30).map(|_| pusher.flush_begin()).collect();
        for ack in acks {
            ack.recv_timeout(Duration::from_secs(60))
                .expect("every flush is answered");
        }
        let pushes = connections.load(Ordering::SeqCst);
        assert!((1..=3).contains(&pushes), "{pushes} pushes for 30 flushes");
        drop(pusher.stop_begin());
    }

    /// A push under way when the pusher is asked to stop and the last push share the export
    /// timeout: against a receiver that accepts and never answers, the thread ends within
    /// one timeout of the stop (the push under way ran to its own end, then the last push
    /// had a whole timeout of its own: almost two).
    #[test]
    fn the_last_push_ends_within_the_timeout_of_the_stop() {
        let (addr, connections) = silent_receiver();
        crate::metrics::manual::counter_add("otlp.push.stop_test", 1.0, &[]);
        let timeout = Duration::from_secs(2);
        let target = http_target(format!("http://{addr}/v1/metrics"), timeout);
        let pusher =
            Pusher::start(target, Vec::new(), Duration::from_millis(50), GUARD_BOUND).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while connections.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = Instant::now();
        let thread = pusher.stop_begin().expect("a thread");
        assert!(thread.wait_until(stopped + Duration::from_secs(30)));
        let took = stopped.elapsed();
        assert!(took < timeout + Duration::from_millis(900), "{took:?}");
    }

    /// The export interval runs from the start of one push to the start of the next (the
    /// specification's `OTEL_METRIC_EXPORT_INTERVAL`), not from the end of the last: pushes
    /// that take 600 ms, every 500 ms, start about 600 ms apart, not 1.1 s.
    #[test]
    fn the_interval_is_from_one_push_start_to_the_next() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = starts.clone();
        // Answers each push after 600 ms (on a new connection each: `connection: close`).
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                seen.lock().unwrap().push(Instant::now());
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let _ = std::io::Read::read(&mut stream, &mut [0u8; 65536]);
                    std::thread::sleep(Duration::from_millis(600));
                    let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                    let _ = std::io::Write::write_all(&mut stream, ok.as_bytes());
                });
            }
        });
        crate::metrics::manual::counter_add("otlp.push.interval_test", 1.0, &[]);
        let target = http_target(format!("http://{addr}/v1/metrics"), Duration::from_secs(5));
        let pusher =
            Pusher::start(target, Vec::new(), Duration::from_millis(500), GUARD_BOUND).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while starts.lock().unwrap().len() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(pusher.stop_begin());
        let starts = starts.lock().unwrap().clone();
        let mut gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort();
        // The shortest of four gaps: the time a busy machine adds only makes them longer.
        assert!(gaps.len() >= 4, "{gaps:?}");
        assert!(gaps[0] < Duration::from_millis(950), "{gaps:?}");
    }

    /// While a receiver that answered `429` is given the pause it asked for, periodic pushes
    /// are skipped (the next carries the same totals); a flush still pushes. (Each interval
    /// pushed to it, however long it asked to be left alone.)
    #[test]
    fn periodic_pushes_wait_out_the_pause_a_throttling_receiver_asks_for() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut stream) = stream else { continue };
                let _ = std::io::Read::read(&mut stream, &mut [0u8; 65536]);
                let throttled = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3600\r\n\
                                 connection: close\r\ncontent-length: 0\r\n\r\n";
                let _ = std::io::Write::write_all(&mut stream, throttled.as_bytes());
            }
        });
        crate::metrics::manual::counter_add("otlp.push.pause_test", 1.0, &[]);
        let target = http_target(
            format!("http://{addr}/v1/metrics"),
            Duration::from_millis(200),
        );
        let pusher =
            Pusher::start(target, Vec::new(), Duration::from_millis(50), GUARD_BOUND).unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "one push, then the pause"
        );
        pusher
            .flush_begin()
            .recv_timeout(Duration::from_secs(10))
            .expect("the flush is answered");
        assert_eq!(
            connections.load(Ordering::SeqCst),
            2,
            "a flush pushes anyway"
        );
        drop(pusher.stop_begin());
    }

    /// A push under way that waits to connect again to a receiver that is not there (nothing
    /// listens) stops waiting when the pusher is stopped: shutdown does not wait for it.
    #[test]
    fn stopping_cuts_short_a_push_waiting_for_an_unreachable_receiver() {
        let port = crate::otlp::transport::tests::port_nothing_listens_on();
        crate::metrics::manual::counter_add("otlp.push.unreachable_test", 1.0, &[]);
        // Its retries could go on for 45 s.
        let target = http_target(
            format!("http://127.0.0.1:{port}/v1/metrics"),
            Duration::from_secs(60),
        );
        let pusher =
            Pusher::start(target, Vec::new(), Duration::from_millis(100), GUARD_BOUND).unwrap();
        // A periodic push has started and waits to connect again.
        std::thread::sleep(Duration::from_millis(500));
        let worker = pusher.stop_begin().expect("a thread");
        assert!(
            worker.wait_until(Instant::now() + Duration::from_secs(20)),
            "the push went on waiting"
        );
    }
}
