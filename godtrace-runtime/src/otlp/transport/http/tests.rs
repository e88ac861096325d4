use super::super::Transport;
use super::super::tests::run;
use super::Client;
use crate::config::{Compression, OtlpTarget, Protocol};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn target(endpoint: String) -> OtlpTarget {
    OtlpTarget {
        protocol: Protocol::HttpProtobuf,
        endpoint,
        headers: vec![
            ("x-api-key".into(), "s3cr3t".into()),
            ("authorization".into(), "Bearer t0k3n-only".into()),
            ("x-quoted".into(), "Tok3n\"Secret Value".into()),
        ],
        // Far beyond what the tests wait: reaching it is the failure they catch.
        timeout: Duration::from_secs(120),
        compression: Compression::None,
        tls: Default::default(),
    }
}

/// A loopback server answering its `i`-th connection with `answers[i]` (the last one
/// past them; its head, then `body_chunk` and silence when given), and counting the
/// connections.
async fn server(answers: &[&str], body_chunk: Option<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let answers: Vec<String> = answers.iter().map(|a| a.to_string()).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let i = counted.fetch_add(1, Ordering::SeqCst);
            let answer = answers[i.min(answers.len() - 1)].clone();
            let chunk = body_chunk.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                if let Some(chunk) = &chunk {
                    let _ = socket.write_all(chunk).await;
                    // The rest never comes: the connection stays open, silent.
                    std::future::pending::<()>().await;
                }
            });
        }
    });
    (url, connections)
}

/// The error of a request to `url` whose exporter starts closing 200 ms after it
/// was sent.
async fn failed_while_closing(url: String) -> String {
    let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
    let closing = tokio::time::sleep(Duration::from_millis(200));
    transport
        .send_body(b"spans".to_vec(), closing)
        .await
        .unwrap_err()
}

const SPANS: Bytes = Bytes::from_static(b"spans");

/// A throttling answer (`503` with `Retry-After`) is sent again, and the next answer
/// decides; an answer the specification does not retry (`400`) fails at once.
#[test]
fn a_throttled_request_is_sent_again_after_the_servers_delay() {
    run(async {
        let throttled = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\n\
                         connection: close\r\ncontent-length: 0\r\n\r\n";
        let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&[throttled, throttled, ok], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        assert_eq!(
            transport
                .send_body(b"spans".to_vec(), std::future::pending())
                .await,
            Ok(None)
        );
        assert_eq!(attempts.load(Ordering::SeqCst), 3);

        let bad = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
                   content-length: 0\r\n\r\n";
        let (url, attempts) = server(&[bad, ok], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let error = transport
            .send_body(b"spans".to_vec(), std::future::pending())
            .await
            .unwrap_err();
        assert!(error.contains("400"), "{error}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    });
}

/// A receiver that asks for a pause (`Retry-After`) is given it before the next
/// request, up to a minute (years asked for are a minute); a request that gets
/// through ends it.
#[test]
fn a_throttling_answer_sets_the_pause_it_asks_for_up_to_a_minute() {
    run(async {
        let throttled = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 999999999\r\n\
                         connection: close\r\ncontent-length: 0\r\n\r\n";
        let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&[throttled, ok], None).await;
        let mut target = target(url);
        target.timeout = Duration::from_millis(400);
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let first = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert!(first.await.unwrap_err().contains("429"));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        let pause = transport.paused_until().expect("paused");
        let ahead = pause.saturating_duration_since(Instant::now());
        assert!(ahead > Duration::from_secs(55) && ahead <= Duration::from_secs(60));
        // Sent anyway (as shutdown's last flush is): it gets through, and the pause ends.
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        assert!(transport.paused_until().is_none() && !transport.failing());
    });
}

/// A request given up from outside before any answer (the export thread's own bound
/// on it: a receiver that never answers) counts as failed: the next waits, and goes
/// alone. (Requests went out in pairs, each second, with no pause.)
#[test]
fn a_request_given_up_unanswered_pauses_the_next() {
    run(async {
        let (url, attempts) = server(&["HTTP/1.1 200 OK\r\n"], Some(Vec::new())).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let send = transport.send_body(b"spans".to_vec(), std::future::pending());
        let outer = tokio::time::timeout(Duration::from_millis(200), send).await;
        assert!(outer.is_err(), "never answered");
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        assert!(transport.paused_until().is_some() && transport.failing());
    });
}

/// Failed requests in a row set a pause before the next that doubles (from 100 ms,
/// jittered to half of it at least), whatever the failure; a request that gets
/// through ends it: a receiver refusing every request (a wrong path, a bad
/// certificate) is not sent the next batch at once, each time.
#[test]
fn failed_requests_in_a_row_pause_the_next_longer_until_one_gets_through() {
    run(async {
        let bad = "HTTP/1.1 404 Not Found\r\nconnection: close\r\n\
                   content-length: 0\r\n\r\n";
        let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&[bad, bad, bad, ok], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        for least in [50, 100, 200] {
            let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
            assert!(sent.await.is_err());
            let pause = transport.paused_until().expect("paused after a failure");
            let ahead = pause.saturating_duration_since(Instant::now());
            // Within the doubled backoff's jitter (less the time since it was set).
            assert!(ahead <= Duration::from_millis(2 * least), "{ahead:?}");
            assert!(ahead + Duration::from_millis(20) >= Duration::from_millis(least));
            tokio::time::sleep_until(pause.into()).await;
        }
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        assert!(transport.paused_until().is_none() && !transport.failing());
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
    });
}

/// A receiver that answers it cannot take the request now (a load balancer's 503
/// with no collector behind it, asking for 5 s) is not waited out once the exporter
/// is closing: the answer is the error, at once, not after the retries the request's
/// timeout leaves room for.
#[test]
fn a_throttling_answer_is_not_waited_out_once_the_exporter_closes() {
    run(async {
        let unavailable = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\n\
                           connection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&[unavailable], None).await;
        let error = failed_while_closing(url).await;
        assert!(error.contains("503"), "{error}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "not sent again");
    });
}

/// A kept-alive connection the receiver closed as it was reused is the likeliest
/// failure of shutdown's last flush (after an idle spell): the request is sent again
/// on a new connection even once the exporter is closing.
#[test]
fn a_kept_alive_connection_closed_as_it_was_reused_is_resent_even_when_closing() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            // The first connection answers one request, then closes on the next; the
            // second answers.
            while let Ok((mut socket, _)) = listener.accept().await {
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    socket.write_all(ok).await.unwrap();
                    if first {
                        let _ = socket.read(&mut request).await;
                        return;
                    }
                    let _ = socket.read(&mut request).await;
                });
            }
        });
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        let closing = std::future::ready(());
        assert_eq!(
            transport.send_body(b"spans".to_vec(), closing).await,
            Ok(None)
        );
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    });
}

/// A new connection the receiver closes before answering anything (a server requiring a
/// client certificate none was sent for, a TLS port given `http://`): tried again on a
/// new connection while the exporter runs, as a receiver that cannot be reached is, but
/// once it is closing the failure is the error at once (it was resent on a new
/// connection until the request's timeout, for a server that will never answer).
#[test]
fn a_new_connection_closed_before_any_answer_is_not_resent_once_closing() {
    run(async {
        // Running: sent again on a new connection, which answers.
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&["", ok], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);

        let (url, attempts) = server(&[""], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let started = Instant::now();
        let error = transport
            .send_body(b"spans".to_vec(), std::future::ready(()))
            .await
            .unwrap_err();
        assert!(error.contains("closed a new connection"), "{error}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "not sent again");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(transport.unanswered(), "the rest of a shutdown gives up");
    });
}

/// A receiver that cannot be reached yet (a collector restarting) is connected to
/// again, after a backoff, and gets the request once it listens; once the exporter is
/// closing, it is not waited for (the process does not wait to exit for a collector
/// that is not there), nor is a request retried past its timeout.
#[test]
fn an_unreachable_receiver_is_tried_again_until_the_exporter_closes() {
    run(async {
        let port = super::super::tests::port_nothing_listens_on();
        let url = format!("http://127.0.0.1:{port}/v1/traces");
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            socket.write_all(ok.as_bytes()).await.unwrap();
        });
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert_eq!(sent.await, Ok(None));
        late.await.unwrap();

        // Closing, while it backs off: the refusal is the error, long before the
        // 120 s timeout.
        let port = super::super::tests::port_nothing_listens_on();
        let url = format!("http://127.0.0.1:{port}/v1/traces");
        let started = Instant::now();
        let error = failed_while_closing(url).await;
        assert!(error.contains("refused"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(30), "{error}");

        // Retried within the timeout only.
        let mut short = target(format!("http://127.0.0.1:{port}/v1/traces"));
        short.timeout = Duration::from_millis(400);
        let transport = Transport::new(&short, super::super::TRACES).unwrap();
        let started = Instant::now();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert!(sent.await.is_err());
        assert!(started.elapsed() < Duration::from_secs(30));
    });
}

/// A header's value is redacted where a receiver quotes it (also as Go's JSON
/// encoder and a `\/`-escaping one write it), not inside the endpoint's URL, which the
/// message names already and which may hold its letters (`traces`).
#[test]
fn header_values_are_redacted_in_a_receivers_words_not_in_the_endpoint() {
    let mut target = target("http://127.0.0.1:1/v1/traces".to_owned());
    target.headers = vec![
        ("x-dataset".into(), "traces".into()),
        ("x-api-key".into(), "tok<en>&x1234".into()),
        ("x-other".into(), "abc/def+ghi==".into()),
        // Configured percent-encoded (a SAS token), quoted decoded.
        (
            "authorization".into(),
            "SharedAccessSignature sig=Zm9v%2BYmFy%3D".into(),
        ),
    ];
    let transport = Transport::new(&target, super::super::TRACES).unwrap();
    let message = transport.without_secrets(
        "error sending request for url (http://127.0.0.1:1/v1/traces): \
         dataset traces refused; key \"tok\\u003cen\\u003e\\u0026x1234\" and \
         \"abc\\/def+ghi==\"; sas sig=Zm9v+YmFy="
            .to_owned(),
    );
    assert!(!message.contains("Zm9v"), "{message}");
    assert!(
        message.starts_with("error sending request for url (http://127.0.0.1:1/v1/traces)"),
        "{message}"
    );
    assert!(message.contains("dataset <redacted> refused"), "{message}");
    assert!(
        !message.contains("tok") && !message.contains("def+ghi"),
        "{message}"
    );
}

/// A failed request's answer says why in a `google.rpc.Status` (the specification):
/// its message is in the error, as one line, without the configured headers' values
/// a receiver may quote back; a body of another type (a proxy's page) is not read so.
#[test]
fn a_failures_status_message_is_in_the_error_without_secrets() {
    run(async {
        let message = "bad thing: key s3cr3t (t0k3n-only, BEARER T0K3N-ONLY) \
                       {\"k\":\"Tok3n\\\"Secret Value\"} Tok3n%22Secret%20Value \
                       refused\nsecond line";
        let mut status = vec![0x08, 0x03, 0x12, message.len() as u8];
        status.extend_from_slice(message.as_bytes());
        let status = String::from_utf8(status).unwrap();
        let head = |kind: &str| {
            format!(
                "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: {kind}\r\n\
                 content-length: {}\r\n\r\n{status}",
                status.len()
            )
        };
        let protobuf = head("application/x-protobuf");
        let (url, _) = server(&[&protobuf], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let error = transport
            .send_body(b"spans".to_vec(), std::future::pending())
            .await
            .unwrap_err();
        assert!(
            error.contains("HTTP 400 Bad Request: bad thing: key"),
            "{error}"
        );
        // A header's credential alone (the token of `Bearer <token>`) too.
        // In any case, escaped in JSON, percent-encoded.
        let lower = error.to_ascii_lowercase();
        assert!(
            !lower.contains("s3cr3t")
                && !lower.contains("t0k3n")
                && !lower.contains("secret")
                && !error.contains('\n'),
            "{error}"
        );
        assert!(error.contains(r"refused\nsecond line"), "{error}");

        let html = head("text/html");
        let (url, _) = server(&[&html], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let error = transport
            .send_body(b"spans".to_vec(), std::future::pending())
            .await
            .unwrap_err();
        assert!(error.ends_with("HTTP 400 Bad Request"), "{error}");
    });
}

/// The receiver's words are cut (at 256 bytes) before the secrets are looked for: a
/// configured value the cut splits is redacted as far as it goes, not printed.
#[test]
fn a_secret_the_cut_of_a_status_message_splits_is_redacted() {
    run(async {
        for kept in 1..6 {
            let message = format!("{} key=s3cr3t refused", "p".repeat(256 - 5 - kept));
            // The message's length as a two-byte varint (it is 265 to 269 bytes long).
            let len = message.len();
            let mut status = vec![
                0x08,
                0x03,
                0x12,
                (len & 0x7f) as u8 | 0x80,
                (len >> 7) as u8,
            ];
            status.extend_from_slice(message.as_bytes());
            let head = format!(
                "HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\
                 content-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
                status.len()
            );
            let (url, _) = server(&[&head], Some(status)).await;
            let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
            let error = transport
                .send_body(b"spans".to_vec(), std::future::pending())
                .await
                .unwrap_err();
            let cut = &"s3cr3t"[..kept];
            assert!(error.contains(" key=<redacted>…"), "{kept}: {error}");
            assert!(!error.contains(&format!("={cut}")), "{kept}: {error}");
        }
    });
}

/// A redirect would take the spans and the API key to another host: it is a failed
/// export, and the host it names is never contacted.
#[test]
fn a_redirect_is_a_failure_and_is_not_followed() {
    run(async {
        let (elsewhere, contacted) =
            server(&["HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], None).await;
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}\r\n\
             content-length: 0\r\n\r\n"
        );
        let (url, _) = server(&[&redirect], None).await;
        let client = Client::new(&target(url)).unwrap();
        let error = client.send(SPANS).await.unwrap_err().message;
        assert!(
            error.contains("307") && error.contains("redirects"),
            "{error}"
        );
        assert_eq!(
            contacted.load(Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
    });
}

/// A receiver that answers with informational heads without end (`100 Continue`,
/// which HTTP clients skip) costs a bounded amount of reading: the request fails once
/// its connection has read its bound, not at the request timeout (120 s here).
#[test]
fn endless_informational_answers_fail_the_request_after_a_bounded_read() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let sent = Arc::new(AtomicUsize::new(0));
        let counted = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let heads = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
                    while socket.write_all(&heads).await.is_ok() {
                        counted.fetch_add(heads.len(), Ordering::SeqCst);
                    }
                });
            }
        });
        let client = Client::new(&target(url)).unwrap();
        let started = Instant::now();
        let error = client.send(SPANS).await.unwrap_err().message;
        assert!(error.contains("KiB in answer"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "read until the timeout: {:?}",
            started.elapsed()
        );
        assert!(sent.load(Ordering::SeqCst) >= 256 << 10);
    });
}

/// A receiver that answers with a body it never finishes (5 GB announced) costs at
/// most `MAX_ANSWER` of it: the send ends once that much is read, not at the request
/// timeout with all it sent held.
#[test]
fn an_endless_answer_is_read_only_up_to_its_bound() {
    run(async {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n";
        let (url, _) = server(&[head], Some(vec![b'x'; 2 << 20])).await;
        let client = Client::new(&target(url)).unwrap();
        let started = Instant::now();
        assert_eq!(client.send(SPANS).await.ok(), Some(None));
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "read until the timeout: {:?}",
            started.elapsed()
        );
    });
}

/// One request to a receiver answering `head` and one byte of the 1000 it announces, with a
/// 300 ms timeout.
async fn send_to_a_slow_body(head: &str) -> Result<Option<super::Rejected>, super::Failure> {
    let head = format!("{head}\r\ncontent-length: 1000\r\n\r\n");
    let (url, _) = server(&[&head], Some(b"\x0a".to_vec())).await;
    let mut target = target(url);
    target.timeout = Duration::from_millis(300);
    Client::new(&target).unwrap().send(SPANS).await
}

/// A success whose body comes too slowly (here: never ends) is a success once the request's
/// timeout ends its reading, not a request left unanswered: the receiver took the spans.
#[test]
fn a_success_whose_body_does_not_end_in_time_is_a_success() {
    run(async {
        let sent = send_to_a_slow_body("HTTP/1.1 200 OK").await;
        assert_eq!(sent.ok(), Some(None));
    });
}

/// A failure whose body does not end in time is the failure its status says (retried as it
/// says), not a request left unanswered.
#[test]
fn a_failure_whose_body_does_not_end_in_time_is_that_failure() {
    run(async {
        let failure = send_to_a_slow_body("HTTP/1.1 400 Bad Request")
            .await
            .unwrap_err();
        assert!(failure.message.contains("HTTP 400"), "{}", failure.message);
        assert!(!failure.unanswered);
    });
}

/// A throttling answer whose details come too slowly is still sent again: its body is read
/// for a part of the timeout only, which leaves the retry its time.
#[test]
fn a_throttling_answer_with_a_slow_body_is_sent_again() {
    run(async {
        let throttled = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\n\
                         connection: close\r\ncontent-length: 100\r\n\r\n";
        let ok = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, attempts) = server(&[throttled, ok], Some(b"x".to_vec())).await;
        let mut target = target(url);
        target.timeout = Duration::from_millis(2000);
        let transport = Transport::new(&target, super::super::TRACES).unwrap();
        let sent = transport
            .send_body(b"spans".to_vec(), std::future::pending())
            .await;
        assert_eq!(sent, Ok(None));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    });
}

/// A request the receiver did not answer (refused, or given up while it waited) is told
/// apart from one it answered with an error: shutdown sends nothing more after the first.
#[test]
fn a_request_left_unanswered_is_told_apart_from_a_refused_one() {
    run(async {
        let port = super::super::tests::port_nothing_listens_on();
        let refused = format!("http://127.0.0.1:{port}/v1/traces");
        let closing = tokio::time::sleep(Duration::from_millis(100));
        let transport = Transport::new(&target(refused), super::super::TRACES).unwrap();
        assert!(
            transport
                .send_body(b"spans".to_vec(), closing)
                .await
                .is_err()
        );
        assert!(transport.unanswered(), "a connection refused");

        // Accepted, never answered: the exporter's own bound gives it up.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", silent.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let (socket, _) = silent.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(socket);
        });
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert!(
            tokio::time::timeout(Duration::from_millis(300), sent)
                .await
                .is_err()
        );
        assert!(transport.unanswered(), "no answer in time");
        held.abort();

        // Accepted, never answered: the request's own timeout gives it up.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", silent.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let (socket, _) = silent.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(socket);
        });
        let mut short = target(url);
        short.timeout = Duration::from_millis(300);
        let transport = Transport::new(&short, super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert!(sent.await.is_err());
        assert!(
            transport.unanswered(),
            "no answer within the request timeout"
        );
        held.abort();

        let bad = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let (url, _) = server(&[bad], None).await;
        let transport = Transport::new(&target(url), super::super::TRACES).unwrap();
        let sent = transport.send_body(b"spans".to_vec(), std::future::pending());
        assert!(sent.await.is_err());
        assert!(
            transport.failing() && !transport.unanswered(),
            "an answer, an error"
        );
    });
}
