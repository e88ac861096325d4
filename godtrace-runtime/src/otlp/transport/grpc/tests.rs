use super::super::Transport;
use super::super::tests::run;
use super::method_uri;
use crate::config::{Compression, OtlpTarget, Protocol};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the test receiver does with a request: its connection's number and the
/// request's number on the connection (both from 0).
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    Refuse,
    Never,
    Endless,
    /// Status OK after a partial success rejecting nothing, with a 70 KB message.
    LongOk,
    /// Status OK with a 1 MiB header.
    HugeHeaders,
    /// A message whose prefix says 100 MB, 16 KiB of it, then nothing (the stream held open).
    DeclaresHuge,
    /// An error status (`code`), with a `RetryInfo` of `retry_ms` when some.
    Failed {
        code: &'static str,
        retry_ms: Option<i64>,
    },
}

/// The connections a test receiver accepted, and those the client closed.
#[derive(Default)]
struct Connections {
    opened: AtomicUsize,
    closed: AtomicUsize,
}

/// A gRPC receiver on loopback (h2's server) answering each request as `answer`
/// says; counts connections.
async fn receiver(answer: fn(usize, usize) -> Answer) -> (OtlpTarget, Arc<Connections>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    receiver_on(listener, answer)
}

/// [`receiver`] on `listener`.
fn receiver_on(
    listener: tokio::net::TcpListener,
    answer: fn(usize, usize) -> Answer,
) -> (OtlpTarget, Arc<Connections>) {
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(Connections::default());
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let connection = counted.opened.fetch_add(1, Ordering::SeqCst);
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut h2) = h2::server::handshake(socket).await else {
                    return;
                };
                let mut held = Vec::new();
                let mut n = 0;
                while let Some(Ok((_request, mut respond))) = h2.accept().await {
                    match answer(connection, n) {
                        Answer::Ok => {
                            let _ = respond.send_response(grpc_ok(), true);
                        }
                        Answer::Refuse => respond.send_reset(h2::Reason::REFUSED_STREAM),
                        Answer::Failed { code, retry_ms } => {
                            let mut failed = http::Response::builder()
                                .header("content-type", "application/grpc")
                                .header("grpc-status", code);
                            if let Some(ms) = retry_ms {
                                let nanos = (ms % 1000) as i32 * 1_000_000;
                                let details =
                                    super::status_details::tests::details(ms / 1000, nanos, false);
                                failed = failed.header("grpc-status-details-bin", details);
                            }
                            let _ = respond.send_response(failed.body(()).unwrap(), true);
                        }
                        Answer::HugeHeaders => {
                            let ok = http::Response::builder()
                                .header("content-type", "application/grpc")
                                .header("grpc-status", "0")
                                .header("x-padding", "p".repeat(1 << 20))
                                .body(())
                                .unwrap();
                            let _ = respond.send_response(ok, true);
                        }
                        Answer::LongOk => {
                            if let Ok(mut body) = respond.send_response(grpc_head(), false) {
                                tokio::spawn(async move {
                                    let frame = long_partial_success();
                                    body.reserve_capacity(frame.len());
                                    let _ = body.send_data(frame.into(), false);
                                    let mut trailers = http::HeaderMap::new();
                                    trailers
                                        .insert("grpc-status", http::HeaderValue::from_static("0"));
                                    let _ = body.send_trailers(trailers);
                                });
                            }
                        }
                        Answer::Never => held.push(respond),
                        Answer::DeclaresHuge => {
                            if let Ok(mut body) = respond.send_response(grpc_head(), false) {
                                tokio::spawn(async move {
                                    let mut frame = vec![0u8; 5 + (16 << 10)];
                                    frame[1..5].copy_from_slice(&100_000_000u32.to_be_bytes());
                                    body.reserve_capacity(frame.len());
                                    let _ = body.send_data(frame.into(), false);
                                    // Held open, never ended.
                                    std::future::pending::<()>().await;
                                    drop(body);
                                });
                            }
                        }
                        Answer::Endless => {
                            if let Ok(mut body) = respond.send_response(grpc_head(), false) {
                                tokio::spawn(async move {
                                    loop {
                                        body.reserve_capacity(16 << 10);
                                        let chunk = Bytes::from(vec![0u8; 16 << 10]);
                                        if body.send_data(chunk, false).is_err() {
                                            return;
                                        }
                                        tokio::time::sleep(Duration::from_millis(1)).await;
                                    }
                                });
                            }
                        }
                    }
                    n += 1;
                }
                counted.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (grpc_target(endpoint), connections)
}

fn grpc_target(endpoint: String) -> OtlpTarget {
    OtlpTarget {
        protocol: Protocol::Grpc,
        endpoint,
        headers: Vec::new(),
        // Far beyond what the tests wait: reaching it is the failure they catch.
        timeout: Duration::from_secs(60),
        compression: Compression::None,
        tls: Default::default(),
    }
}

const FRAME: &[u8] = b"\0\0\0\0\0";

/// A stream the receiver refused (`REFUSED_STREAM`: gRPC's UNAVAILABLE, nothing was
/// processed) is sent again.
#[test]
fn a_refused_stream_is_sent_again() {
    run(async {
        let (target, _) = receiver(|_, n| if n == 0 { Answer::Refuse } else { Answer::Ok }).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        assert_eq!(
            transport
                .send_body(FRAME.to_vec(), std::future::pending())
                .await,
            Ok(None)
        );
    });
}

/// A receiver that cannot be reached yet (a collector restarting) is connected to
/// again, after a backoff, and gets the request once it listens.
#[test]
fn a_receiver_not_listening_yet_gets_the_request_once_it_listens() {
    run(async {
        let port = super::super::tests::port_nothing_listens_on();
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
            receiver_on(listener.unwrap(), |_, _| Answer::Ok)
        });
        let target = grpc_target(format!("http://127.0.0.1:{port}"));
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let sent = transport.send_body(FRAME.to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        let (_, connections) = late.await.unwrap();
        assert_eq!(connections.opened.load(Ordering::SeqCst), 1);
    });
}

/// A connection that stopped answering (a middlebox dropped it, the receiver hangs on
/// it) is given up when a request on it runs out of time: the next request opens
/// another, and gets through.
#[test]
fn a_connection_that_stopped_answering_is_given_up() {
    run(async {
        let (target, connections) = receiver(|connection, _| {
            if connection == 0 {
                Answer::Never
            } else {
                Answer::Ok
            }
        })
        .await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let first = tokio::time::timeout(
            Duration::from_millis(300),
            transport.send_body(FRAME.to_vec(), std::future::pending()),
        )
        .await;
        assert!(first.is_err(), "no answer on the first connection");
        assert_eq!(
            transport
                .send_body(FRAME.to_vec(), std::future::pending())
                .await,
            Ok(None)
        );
        assert_eq!(connections.opened.load(Ordering::SeqCst), 2);
    });
}

/// A connection given up (a request on it got no answer in time) is closed when the
/// next request opens another: a receiver that never answers does not hold one more
/// connection per request timeout.
#[test]
fn a_connection_given_up_is_closed() {
    run(async {
        let (target, connections) = receiver(|_, _| Answer::Never).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        for _ in 0..4 {
            // Each request given up is a failed one: the next waits out its pause
            // first, here, so that each gets to its connection.
            if let Some(until) = transport.paused_until() {
                tokio::time::sleep_until(until.into()).await;
            }
            let sent = transport.send_body(FRAME.to_vec(), std::future::pending());
            let given_up = tokio::time::timeout(Duration::from_millis(200), sent).await;
            assert!(given_up.is_err());
        }
        // The receiver sees the first three closed (the fourth is the one in use).
        let deadline = Instant::now() + Duration::from_secs(30);
        while connections.closed.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(connections.opened.load(Ordering::SeqCst), 4);
        assert_eq!(connections.closed.load(Ordering::SeqCst), 3);
    });
}

/// The head of a gRPC answer whose status comes in its trailers.
fn grpc_head() -> http::Response<()> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(())
        .unwrap()
}

/// A partial success that rejects nothing, with a 70 KB message, framed for gRPC.
fn long_partial_success() -> Vec<u8> {
    use prost::Message;
    let partial = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse {
        partial_success: Some(
            opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                rejected_spans: 0,
                error_message: "w".repeat(70_000),
            },
        ),
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(partial.len() as u32).to_be_bytes());
    frame.extend_from_slice(&partial);
    frame
}

/// An answer longer than what is kept of it, with status OK, is an export that
/// succeeded: the spans were delivered (with the receiver's warning, as far as it was read).
#[test]
fn a_long_ok_answer_is_a_success() {
    run(async {
        let (target, _) = receiver(|_, _| Answer::LongOk).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let sent = transport
            .send_body(FRAME.to_vec(), std::future::pending())
            .await;
        let warning = sent.expect("a success").expect("the warning");
        assert_eq!(warning.count, 0);
        assert!(warning.message.starts_with("www"), "{warning:?}");
        assert!(crate::otlp::transport::MAX_GRPC_ANSWER > long_partial_success().len());
    });
}

/// An answer's headers are bounded as its body is (h2 would buffer 16 MiB of them):
/// a receiver that sends more is a failed export.
#[test]
fn huge_answer_headers_are_refused() {
    run(async {
        let (target, _) = receiver(|_, _| Answer::HugeHeaders).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let sent = transport
            .send_body(FRAME.to_vec(), std::future::pending())
            .await;
        assert!(sent.is_err(), "{sent:?}");
    });
}

/// An answer without end is read up to the answers' bound, not until the timeout.
#[test]
fn an_endless_answer_is_given_up_at_its_bound() {
    run(async {
        let (target, _) = receiver(|_, _| Answer::Endless).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let started = Instant::now();
        let error = transport
            .send_body(FRAME.to_vec(), std::future::pending())
            .await
            .unwrap_err();
        assert!(error.contains("longer than"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    });
}

/// The receiver's `grpc-message` is percent-decoded and cannot drive a terminal.
#[test]
fn the_grpc_message_is_decoded_and_made_one_line() {
    let mut headers = http::HeaderMap::new();
    headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    headers.insert(
        "grpc-message",
        http::HeaderValue::from_static("bad%20value%C2%9B2J%E2%80%AE%0Anext%zz"),
    );
    let status = super::grpc_status(&headers).unwrap();
    assert_eq!(status.code, 3);
    assert_eq!(status.retry_delay, None);
    assert_eq!(status.message, "bad value\\u{9b}2J\\u{202e}\\nnext%zz");
}

/// The 256 bytes a `grpc-message` is cut to are of its decoded text, at a character
/// boundary: a short message of escaped characters (three bytes each on the wire) comes whole.
#[test]
fn the_grpc_message_is_cut_after_it_is_decoded() {
    let message_of = |text: String| {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
        headers.insert("grpc-message", http::HeaderValue::from_str(&text).unwrap());
        super::grpc_status(&headers).unwrap().message
    };
    assert_eq!(message_of("%C3%A9".repeat(100)), "é".repeat(100));
    assert_eq!(
        message_of("%C3%A9".repeat(200)),
        format!("{}{}", "é".repeat(128), crate::text::CUT_MARK)
    );
}

#[test]
fn the_method_uri_has_the_endpoints_scheme_and_host_and_never_its_credentials() {
    let method = super::super::TRACES;
    let uri = |endpoint: &str| {
        method_uri(&endpoint.parse().expect("a URI"), method)
            .expect("built")
            .to_string()
    };
    assert_eq!(
        uri("http://collector:4317"),
        format!("http://collector:4317{method}")
    );
    assert_eq!(
        uri("https://user:secret@collector/base"),
        format!("https://collector{method}")
    );
    assert_eq!(
        uri("http://[::1]:4317"),
        format!("http://[::1]:4317{method}")
    );
}

/// OTLP/gRPC throttling: RESOURCE_EXHAUSTED with the receiver's `RetryInfo` is retried after
/// the delay it gives (and UNAVAILABLE's delay is waited too); RESOURCE_EXHAUSTED without
/// one is not retried (the specification: "only if the server signals that the recovery from
/// resource exhaustion is possible").
#[test]
fn a_receivers_retry_delay_is_waited_and_makes_resource_exhausted_retryable() {
    run(async {
        for code in ["8", "14"] {
            static CODE: std::sync::Mutex<&str> = std::sync::Mutex::new("");
            *CODE.lock().unwrap() = code;
            let (target, _) = receiver(|_, n| match n {
                0 => Answer::Failed {
                    code: *CODE.lock().unwrap(),
                    retry_ms: Some(600),
                },
                _ => Answer::Ok,
            })
            .await;
            let transport = Transport::new(&target, super::super::TRACES).unwrap();
            let started = Instant::now();
            let sent = transport
                .send_body(FRAME.to_vec(), std::future::pending())
                .await;
            assert!(sent.is_ok(), "{code}: {sent:?}");
            // A lower bound: the retry waited for the receiver's delay, not the 100 ms backoff.
            assert!(started.elapsed() >= Duration::from_millis(600), "{code}");
        }
        let (target, _) = receiver(|_, n| match n {
            0 => Answer::Failed {
                code: "8",
                retry_ms: None,
            },
            _ => Answer::Ok,
        })
        .await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let sent = transport
            .send_body(FRAME.to_vec(), std::future::pending())
            .await;
        let error = sent.unwrap_err();
        assert!(error.contains("ResourceExhausted"), "{error}");
    });
}

/// A receiver answering every request, on a thread and runtime of its own; stopped, its
/// runtime drops every connection at once, as a crashed process does.
struct OwnThreadReceiver {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    connections: Arc<Connections>,
}

impl OwnThreadReceiver {
    /// Listening on `port` when this returns.
    fn start(port: u16) -> OwnThreadReceiver {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (listening, counted) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            run(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
                let (_, connections) = receiver_on(listener.unwrap(), |_, _| Answer::Ok);
                listening.send(connections).unwrap();
                let _ = stopped.await;
            });
        });
        let connections = counted.recv().unwrap();
        OwnThreadReceiver {
            stop,
            thread,
            connections,
        }
    }

    fn crash(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

/// A connection the receiver closed (it restarted) while the exporter was idle, and that
/// the next request is sent on before its end is read (the export thread's runtime runs only
/// while it exports), does not lose that request: it is sent again, on a new connection.
#[test]
fn a_request_on_a_connection_the_receiver_closed_while_idle_is_sent_again() {
    let port = super::super::tests::port_nothing_listens_on();
    let first = OwnThreadReceiver::start(port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = grpc_target(format!("http://127.0.0.1:{port}"));
    let transport = runtime.block_on(async { Transport::new(&target, super::super::TRACES) });
    let transport = transport.unwrap();
    let send = || runtime.block_on(transport.send_body(FRAME.to_vec(), std::future::pending()));
    assert_eq!(send(), Ok(None));
    first.crash();
    let second = OwnThreadReceiver::start(port);
    // The end of the first connection reached this process while its runtime was idle.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(send(), Ok(None));
    assert_eq!(second.connections.opened.load(Ordering::SeqCst), 1);
    second.crash();
}

/// A receiver whose first connection takes two requests, then drains (h2's graceful
/// GOAWAY: both are still to be answered there), answers the first at once and the second
/// 300 ms later; later connections answer at once. Counts every request it gets.
async fn draining_receiver() -> (OtlpTarget, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((socket, _)) = listener.accept().await {
            let draining = std::mem::take(&mut first);
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut h2) = h2::server::handshake(socket).await else {
                    return;
                };
                let mut held = Vec::new();
                while let Some(Ok((_request, mut respond))) = h2.accept().await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    if !draining {
                        let _ = respond.send_response(grpc_ok(), true);
                        continue;
                    }
                    held.push(respond);
                    if held.len() == 2 {
                        h2.graceful_shutdown();
                        let _ = held[0].send_response(grpc_ok(), true);
                        let mut second = held.pop().unwrap();
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            let _ = second.send_response(grpc_ok(), true);
                        });
                    }
                }
            });
        }
    });
    (grpc_target(endpoint), requests)
}

/// A gRPC answer with status OK, trailers-only.
fn grpc_ok() -> http::Response<()> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", "0")
        .body(())
        .unwrap()
}

/// A connection the receiver drains (GOAWAY: it takes no new stream, and answers those it
/// has) keeps serving the requests in flight on it while the next request goes on a new
/// connection: each request is answered once. (The next request dropped the draining
/// connection, cutting off the one still in flight, which was sent again: a duplicate.)
#[test]
fn requests_in_flight_on_a_draining_connection_are_answered_there() {
    run(async {
        let (target, requests) = draining_receiver().await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let send = || transport.send_body(FRAME.to_vec(), std::future::pending());
        // The first answered goes on to send another while the second is still out.
        let first_then_next = async { (send().await, send().await) };
        let ((first, next), second) = tokio::join!(first_then_next, send());
        assert_eq!((first, second, next), (Ok(None), Ok(None), Ok(None)));
        assert_eq!(
            requests.load(Ordering::SeqCst),
            3,
            "a request was sent twice"
        );
    });
}

/// A TLS endpoint whose server accepts the connection and then says nothing (a plain port
/// that waits for a request, a stuck proxy): the failure says the TLS handshake did not
/// finish, not that the connection could not be made.
#[test]
fn a_tls_handshake_that_never_finishes_is_named_in_the_failure() {
    run(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut accepted = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepted.push(stream);
            }
        });
        let mut target = grpc_target(format!("https://127.0.0.1:{port}"));
        target.timeout = Duration::from_millis(300);
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let failed = transport
            .send_body(FRAME.to_vec(), std::future::pending())
            .await
            .expect_err("no TLS answer");
        assert!(
            failed.contains("did not finish the TLS handshake"),
            "{failed}"
        );
        held.abort();
    });
}

/// An answer whose prefix says it is longer than the bound fails there: a receiver that then
/// stalls does not hold the request until its timeout.
#[test]
fn an_answer_said_to_be_longer_than_the_bound_fails_at_its_prefix() {
    run(async {
        let (target, _) = receiver(|_, _| Answer::DeclaresHuge).await;
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let error = tokio::time::timeout(
            Duration::from_secs(20),
            transport.send_body(FRAME.to_vec(), std::future::pending()),
        )
        .await
        .expect("failed before the timeout")
        .unwrap_err();
        assert!(error.contains("longer than"), "{error}");
    });
}
