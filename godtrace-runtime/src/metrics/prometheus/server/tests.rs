use super::*;
use std::io::{Read, Write};

/// Longer than any of these tests takes on a loaded machine, and far shorter than a test
/// runner's patience: a wait for something that does not happen gives up after this.
const PATIENCE: Duration = Duration::from_secs(30);

/// A server whose request deadlines outlast every test, so that a test can tell "served
/// concurrently" from "served after the others gave up" without racing a clock.
fn patient_server() -> Server {
    Server::start_with(
        "127.0.0.1:0",
        Limits {
            head_deadline: 2 * PATIENCE,
            write_deadline: 2 * PATIENCE,
            ..Limits::DEFAULT
        },
    )
    .unwrap()
}

/// A [`patient_server`] with two connection slots.
fn two_slot_server() -> Server {
    Server::start_with(
        "127.0.0.1:0",
        Limits {
            max_connections: 2,
            head_deadline: 2 * PATIENCE,
            write_deadline: 2 * PATIENCE,
        },
    )
    .unwrap()
}

fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    s.read_to_string(&mut out)
        .unwrap_or_else(|e| panic!("no whole answer within {PATIENCE:?}: {e} (so far {out:?})"));
    out
}

/// Whether the server has neither answered nor closed `stream` yet.
fn still_waiting(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting = matches!(
        (&mut &*stream).read(&mut [0u8; 1]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    waiting
}

/// Whether the server closes `stream` (without answering) within [`PATIENCE`].
fn closed_unanswered(stream: &TcpStream) -> bool {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    match (&mut &*stream).read(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// A client that sends a request head one byte every 100 ms (never its end) on a thread of
/// its own. Its thread returns whether the server closed the connection within `patience`;
/// `sent` counts the bytes written so far.
fn trickle(
    addr: SocketAddr,
    patience: Duration,
) -> (Arc<std::sync::atomic::AtomicUsize>, JoinHandle<bool>) {
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let head = b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter();
        let start = Instant::now();
        for byte in head.chain(std::iter::repeat(&b'a')) {
            if start.elapsed() > patience {
                return false;
            }
            if s.write_all(&[*byte]).is_err() {
                return true;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            match s.read(&mut [0u8; 1]) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                // Closed, reset or answered: the server is done with it.
                _ => return true,
            }
        }
        unreachable!("the byte source never ends")
    });
    (sent, client)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn accept_header_negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(negotiate(None), Format::Text);
    assert_eq!(negotiate(Some("*/*")), Format::Text);
    assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
    assert_eq!(
        negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
        Format::Text
    );
    assert_eq!(negotiate(Some("garbage;;;q=x,,")), Format::Text);
    // The most specific range naming the text format gives its weight.
    assert_eq!(
        negotiate(Some(
            "text/plain;q=0.2, */*;q=0.9, application/openmetrics-text;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        negotiate(Some(
            "text/*;q=0.1, application/openmetrics-text;q=0.3, */*"
        )),
        Format::OpenMetrics
    );
    // A range with parameters names the text format only when they are its own:
    // Prometheus 3 asks for text 1.0.0 first, then OpenMetrics, then text 0.0.4.
    let prometheus_3 = "text/plain;version=1.0.0;escaping=underscores;q=0.6,\
                        application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
                        text/plain;version=0.0.4;q=0.4,*/*;q=0.3";
    assert_eq!(negotiate(Some(prometheus_3)), Format::OpenMetrics);
    let rfc_example = "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, \
                       text/plain;format=fixed;q=0.4, */*;q=0.5, application/openmetrics-text;q=0.8";
    assert_eq!(negotiate(Some(rfc_example)), Format::OpenMetrics);
    assert_eq!(
        negotiate(Some(
            "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5"
        )),
        Format::Text
    );
    // A weight that is not one leaves its range out.
    assert_eq!(
        negotiate(Some("text/plain;q=2, application/openmetrics-text")),
        Format::OpenMetrics
    );
    // An `Accept` given on two lines is one list.
    let two_lines = [
        "Host: x",
        "Accept: text/plain;q=0.1",
        "accept: application/openmetrics-text",
    ];
    assert_eq!(
        negotiate(accept_list(two_lines.into_iter()).as_deref()),
        Format::OpenMetrics
    );
    assert_eq!(accept_list(["Host: x"].into_iter()), None);
}

#[test]
fn serves_metrics_and_survives_bad_requests() {
    let server = Server::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("Content-Type: text/plain; version=0.0.4"),
        "{ok}"
    );
    let om = exchange(
        addr,
        b"GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text\r\n\r\n",
    );
    assert!(
        om.contains("application/openmetrics-text; version=1.0.0"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(exchange(addr, b"\x00\xff garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(exchange(addr, b"GET\r\n\r\n").starts_with("HTTP/1.1 400"));
    // An empty line before the request line is passed over (RFC 9112, 2.2).
    let after_crlf = exchange(addr, b"\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        after_crlf.starts_with("HTTP/1.1 200 OK\r\n"),
        "{after_crlf}"
    );
    // A space before a field's colon, a folded line, a line that is no field (RFC 9112).
    for malformed in [
        &b"GET /metrics HTTP/1.1\r\nAccept : application/openmetrics-text\r\n\r\n"[..],
        b"GET /metrics HTTP/1.1\r\nAccept: text/plain;q=0.1,\r\n application/openmetrics-text\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nnot a field\r\n\r\n",
    ] {
        let answer = exchange(addr, malformed);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    assert!(exchange(addr, b"").starts_with("HTTP/1.1 400"));
    // Empty lines before the request line are skipped (RFC 9112, 2.2), a few of them.
    for request in [
        &b"\r\nGET /metrics HTTP/1.1\r\n\r\n"[..],
        b"\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",
        b"\nGET /metrics HTTP/1.1\n\n",
    ] {
        let answer = exchange(addr, request);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let endless = [&b"\r\n"[..]; 20].concat();
    let answer = exchange(
        addr,
        &[&endless[..], b"GET /metrics HTTP/1.1\r\n\r\n"].concat(),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let huge = vec![b'a'; MAX_HEAD + 2048];
    assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431"));
    // Still serving after all that.
    assert!(exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
    assert!(server.stop_within(PATIENCE));
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn head_answers_carry_no_body() {
    let server = Server::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let ok = exchange(
        addr,
        b"HEAD /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n",
    );
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\n"), "a body after the head: {ok}");
    // The length GET would send: at least the OpenMetrics `# EOF` line.
    let length: usize = ok
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Content-Length: {ok}"));
    assert!(length >= "# EOF\n".len(), "{ok}");
    let mut huge = b"HEAD /metrics HTTP/1.1\r\nX: ".to_vec();
    huge.resize(MAX_HEAD + 2048, b'a');
    for (request, status) in [
        (&b"HEAD /nope HTTP/1.1\r\n\r\n"[..], "404"),
        (b"HEAD /metrics HTTP/2.0\r\n\r\n", "400"),
        (b"HEAD /metrics\r\n\r\n", "400"),
        (&huge, "431"),
    ] {
        let answer = exchange(addr, request);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")) && answer.ends_with("\r\n\r\n"),
            "HEAD answered with a body: {answer:?}"
        );
    }
}

#[test]
fn idle_connections_do_not_delay_a_scrape() {
    let server = patient_server();
    let addr = server.local_addr();
    let idle: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // Answered while every idle connection was still waiting: the scrape did not queue
    // behind them (one at a time, each would have been given up on, or answered, first).
    for (i, stream) in idle.iter().enumerate() {
        assert!(
            still_waiting(stream),
            "idle connection {i} was done with before the scrape"
        );
    }
}

#[test]
fn a_client_trickling_its_request_is_cut_off_at_the_deadline() {
    let server = Server::start_with(
        "127.0.0.1:0",
        Limits {
            head_deadline: Duration::from_secs(1),
            ..Limits::DEFAULT
        },
    )
    .unwrap();
    let addr = server.local_addr();
    let (sent, slow) = trickle(addr, PATIENCE);
    wait_for("the slow client sends its first bytes", || {
        sent.load(Ordering::SeqCst) >= 3
    });
    // Others are served meanwhile.
    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // A byte every 100 ms resets no per-read timeout: the 1 s deadline holds for the whole
    // head, so the connection ends long before PATIENCE (30 s) does.
    assert!(
        slow.join().unwrap(),
        "a client sending a byte every 100 ms kept its connection for {PATIENCE:?}"
    );
}

/// Clients holding every slot with connections that never send their head cannot keep a
/// scrape out: the oldest of them gives its slot to the new connection.
#[test]
fn a_full_server_gives_the_oldest_silent_connection_up_for_a_scrape() {
    let server = two_slot_server();
    let addr = server.local_addr();
    // Accepted in the order they connect.
    let first = TcpStream::connect(addr).unwrap();
    let second = TcpStream::connect(addr).unwrap();
    // Both slots are taken (for 60 s) when the scrape arrives.
    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        closed_unanswered(&first),
        "the oldest silent connection was kept"
    );
    assert!(still_waiting(&second), "a newer connection was given up");
}

/// A burst of connections that send nothing, four times the slots, each giving the one
/// before it up: a scrape right after the burst is served, not closed while the given-up
/// connections are still ending.
#[test]
fn a_scrape_right_after_a_burst_of_connections_is_served() {
    let server = two_slot_server();
    let addr = server.local_addr();
    for round in 0..5 {
        let burst: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n");
                s
            })
            .collect();
        let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "round {round}: {answer:?}"
        );
        drop(burst);
    }
}

/// Past the slots, with none to give up (every client sent its head and is being answered),
/// a new connection is closed at once.
#[test]
fn connections_past_the_limit_with_none_to_give_up_are_closed_at_once() {
    let connections = (0..2)
        .map(|_| Connection {
            thread: std::thread::spawn(|| ()),
            socket: None,
            state: Arc::new(ConnectionState {
                head_read: AtomicBool::new(true),
                // Being answered, since just now.
                answering_us: AtomicU64::new(1),
                progressed_us: AtomicU64::new(1),
                ..ConnectionState::new()
            }),
        })
        .collect::<Vec<_>>();
    assert!(!make_room(&connections, 2));
    assert!(make_room(&connections, 3));
    connections[0]
        .state
        .head_read
        .store(false, Ordering::SeqCst);
    assert!(make_room(&connections, 2));
    assert!(connections[0].state.evicted.load(Ordering::SeqCst));
    // Given-up connections still count until they end: at most twice the slots at once.
    assert!(!make_room(&connections, 1));
}

/// Past the slots, with every client answered, the one that has read nothing of its answer for
/// longest (at least `STALLED`) gives its slot up: clients that ask and never read cannot keep
/// scrapes out either.
#[test]
fn a_full_server_gives_up_the_client_stalled_longest_in_its_answer() {
    let answered = |stalled_for: Duration| Connection {
        thread: std::thread::spawn(|| ()),
        socket: None,
        state: Arc::new(ConnectionState {
            accepted: Instant::now() - stalled_for - Duration::from_secs(1),
            head_read: AtomicBool::new(true),
            evicted: AtomicBool::new(false),
            progressed_us: AtomicU64::new(1_000_000),
            answering_us: AtomicU64::new(1_000_000),
            renders: AtomicBool::new(false),
        }),
    };
    let reading = answered(Duration::ZERO);
    let connections = [
        answered(STALLED * 2),
        reading,
        answered(STALLED * 3),
        answered(STALLED / 2),
    ];
    assert!(make_room(&connections, 4));
    let evicted: Vec<bool> = connections
        .iter()
        .map(|c| c.state.evicted.load(Ordering::SeqCst))
        .collect();
    assert_eq!(evicted, [false, false, true, false]);
    // Three still served: with three slots, the next stalled one goes.
    assert!(make_room(&connections, 3));
    assert!(connections[0].state.evicted.load(Ordering::SeqCst));
    // Reading, or stalled for less than `STALLED`: kept.
    let kept = [answered(Duration::ZERO), answered(STALLED / 2)];
    assert!(!make_room(&kept, 2));
    assert!(kept.iter().all(|c| !c.state.evicted.load(Ordering::SeqCst)));
}

/// An answer of 32 MiB: a client that reads nothing leaves most of it unwritten.
fn larger_than_socket_buffers() -> Response {
    Response {
        status: 200,
        reason: "OK",
        content_type: "text/plain",
        body: Arc::new("x".repeat(32 << 20)),
        head_only: false,
    }
}

/// A connection given up while it writes to a client that reads nothing ends within a slice,
/// not at its write deadline.
#[test]
fn a_stalled_answer_ends_when_given_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (served, _) = listener.accept().unwrap();
    let state = Arc::new(ConnectionState::new());
    let response = larger_than_socket_buffers();
    let (done, finished) = mpsc::channel();
    let writing = state.clone();
    std::thread::spawn(move || {
        let stop = AtomicBool::new(false);
        let mut writer = Timed::new(&served, &stop, Some(&writing), 2 * PATIENCE);
        let _ = done.send(response.write_to(&mut writer).map_err(|e| e.to_string()));
    });
    wait_for("the socket's buffers fill up", || {
        state.progressed() > state.accepted
    });
    state.evicted.store(true, Ordering::SeqCst);
    let sent = finished
        .recv_timeout(PATIENCE)
        .expect("still writing after it was given up");
    assert_eq!(sent, Err("given up for a newer connection".to_owned()));
}

#[test]
fn stop_is_prompt_and_frees_the_port_whatever_clients_do() {
    let server = patient_server();
    let addr = server.local_addr();
    // It keeps going for longer than the stop may take: a server that waited for it would not
    // stop in time.
    let (sent, slow) = trickle(addr, 2 * PATIENCE);
    // Half a second of bytes: long past being accepted (the server looks every 20 ms). Were
    // it not, the stop would still have to be prompt; the test would only show less.
    wait_for("the slow client sends its first bytes", || {
        sent.load(Ordering::SeqCst) >= 5
    });
    let idle = TcpStream::connect(addr).unwrap();
    let start = Instant::now();
    // Their deadlines are 60 s away; the stop does not wait for them. (The guard waits 1 s;
    // the generous bound here only keeps a loaded machine from failing the test.)
    assert!(
        server.stop_within(PATIENCE),
        "the server's threads outlived the stop by {PATIENCE:?}"
    );
    println!(
        "stopped in {:?} with an idle and a slow client",
        start.elapsed()
    );
    TcpListener::bind(addr).expect("the port is free once the server stopped");
    assert!(slow.join().unwrap(), "the slow client was not let go");
    assert!(closed_unanswered(&idle), "the idle client was not let go");
}

#[test]
fn a_slow_reader_is_cut_off_at_the_write_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (served, _) = listener.accept().unwrap();
    // About 100 KiB/s: every write makes progress long before any per-write timeout, and 32 MiB
    // would take minutes.
    let reading = Arc::new(AtomicBool::new(true));
    let still_reading = reading.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while still_reading.load(Ordering::SeqCst) && (&client).read(&mut buf).is_ok() {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let response = larger_than_socket_buffers();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let stop = AtomicBool::new(false);
        let mut writer = Timed::new(&served, &stop, None, Duration::from_secs(1));
        let sent = response.write_to(&mut writer);
        let _ = done.send(sent.map_err(|e| e.kind()));
    });
    let sent = finished
        .recv_timeout(PATIENCE)
        .expect("still writing to a slow reader after 30 s");
    assert_eq!(sent, Err(io::ErrorKind::TimedOut));
    reading.store(false, Ordering::SeqCst);
    reader.join().unwrap();
}

#[test]
fn a_request_target_in_absolute_form_is_served_as_its_path() {
    for (target, status) in [
        ("http://127.0.0.1:9464/metrics", 200),
        ("HTTP://host/metrics?x=1", 200),
        ("http://host/other", 404),
        ("http://host", 404),
        ("ftp://host/metrics", 404),
        ("/metrics", 200),
    ] {
        let (renderer, _thread) = Renderer::start(render_registry_unless, never_stopped()).unwrap();
        let response = respond(
            &format!("GET {target} HTTP/1.1\r\n\r\n"),
            Instant::now(),
            &AtomicBool::new(false),
            &ConnectionState::new(),
            &renderer,
        );
        assert_eq!(response.status, status, "{target}");
    }
}

/// Scrapes waiting while another is rendered share the next rendering (a burst costs two
/// renderings, not one each), but never one that started before their request arrived.
#[test]
fn scrapes_share_a_rendering_only_when_it_started_after_they_arrived() {
    let latest = Renderings::new();
    let renderings = std::cell::Cell::new(0);
    let running = AtomicBool::new(false);
    let get = |format, arrived| {
        shared_rendering(
            &latest,
            format,
            arrived,
            &running,
            None,
            || {},
            |_| {
                renderings.set(renderings.get() + 1);
                Some(format!("rendering {}", renderings.get()))
            },
        )
        .expect("the server runs")
    };
    let before = Instant::now();
    let first = get(Format::Text, Instant::now());
    let waited = get(Format::Text, before);
    assert!(Arc::ptr_eq(&first, &waited), "arrived before the rendering");
    let later = get(Format::Text, Instant::now());
    assert_eq!(*later, "rendering 2", "arrived after it started");
    let other_format = get(Format::OpenMetrics, before);
    assert_eq!(*other_format, "rendering 3");
    // Sent and dropped: nothing to share, even for a request older than it.
    drop((first, waited, later));
    assert_eq!(*get(Format::Text, before), "rendering 4");
}

/// A burst of scrapes that arrived before a rendering started shares it, although each client
/// has read and dropped its answer before the next waiter takes the lock (as on loopback):
/// the burst rendered once per scrape. The last scrape out lets the kept body go.
#[test]
fn a_burst_of_scrapes_shares_one_rendering_after_its_clients_have_read_it() {
    const SCRAPES: usize = 6;
    let renderings = Renderings::new();
    let rendered = AtomicUsize::new(0);
    let running = AtomicBool::new(false);
    let all_arrived = std::sync::Barrier::new(SCRAPES);
    std::thread::scope(|s| {
        for _ in 0..SCRAPES {
            s.spawn(|| {
                let arrived = Instant::now();
                all_arrived.wait();
                let render = |_| {
                    // Every scrape waits before the rendering ends.
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while renderings.waiting[0].load(Ordering::SeqCst) < SCRAPES
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    rendered.fetch_add(1, Ordering::SeqCst);
                    Some("metrics".to_owned())
                };
                let body = shared_rendering(
                    &renderings,
                    Format::Text,
                    arrived,
                    &running,
                    None,
                    || {},
                    render,
                );
                // Sent and read at once.
                drop(body.expect("the server runs"));
            });
        }
    });
    assert_eq!(rendered.load(Ordering::SeqCst), 1);
    let latest = renderings.latest.lock().unwrap();
    let text = latest[0].as_ref().expect("a rendering");
    assert!(text.kept.is_none() && text.body.strong_count() == 0);
}

/// A connection that has written its answer no longer holds it, although the rendering is
/// still kept for scrapes waiting for it and the connection's state lives on in the accepting
/// thread's list: counted as held, two renderings kept for the two formats had each new
/// rendering wait for room until its give-up time (2.2 s) with nobody reading slowly.
#[test]
fn a_rendering_kept_for_waiting_scrapes_is_not_held_by_connections_done_with_it() {
    let holders = Mutex::new(Vec::new());
    let states = [
        Arc::new(ConnectionState::new()),
        Arc::new(ConnectionState::new()),
    ];
    let kept = [
        Arc::new("text".to_owned()),
        Arc::new("openmetrics".to_owned()),
    ];
    for (state, body) in states.iter().zip(&kept) {
        let writing = Holding::new(&holders, body, state);
        drop(writing);
    }
    assert!(first_due(&holders.lock().unwrap()).is_none());
}

/// A rendering kept for a waiting scrape that was given up while the lock was held by a scrape
/// of the other format is let go by the next scrape to take the lock, and at the server's end.
#[test]
fn a_rendering_kept_for_a_scrape_given_up_is_let_go() {
    let renderings = Renderings::new();
    let running = AtomicBool::new(false);
    let render = |format: Format, body: &str| {
        let body = body.to_owned();
        shared_rendering(
            &renderings,
            format,
            Instant::now(),
            &running,
            None,
            || {},
            |_| Some(body),
        )
        .expect("the server runs")
    };
    // A text rendering kept for a waiting scrape given up while a scrape of the other format
    // held the lock.
    let kept_for_a_given_up_scrape = || {
        let given_up = Waiting::enter(&renderings, 0);
        let text = Arc::downgrade(&render(Format::Text, "metrics"));
        let held = renderings.latest.lock().unwrap();
        drop(given_up);
        drop(held);
        assert_eq!(text.strong_count(), 1, "kept while the lock was held");
        text
    };
    let text = kept_for_a_given_up_scrape();
    drop(render(Format::OpenMetrics, "# EOF"));
    assert_eq!(text.strong_count(), 0, "let go by the next scrape");
    let text = kept_for_a_given_up_scrape();
    renderings.let_go_unwaited();
    assert_eq!(text.strong_count(), 0, "let go at the server's end");
}

/// Past the slots, with every client reading its answer a trickle at a time (none stalled),
/// the one whose answer has been written longest (at least `LONG_ANSWER`) gives its slot up:
/// slow readers cannot keep scrapes out until their write deadline.
#[test]
fn a_full_server_gives_up_the_answer_written_longest() {
    let reading = |answering_for: Duration| Connection {
        thread: std::thread::spawn(|| ()),
        socket: None,
        state: Arc::new({
            let state = ConnectionState {
                accepted: Instant::now() - answering_for,
                head_read: AtomicBool::new(true),
                // Answering since it was accepted.
                answering_us: AtomicU64::new(1),
                ..ConnectionState::new()
            };
            // Just took a few bytes.
            state.mark_progress();
            state
        }),
    };
    let connections = [
        reading(LONG_ANSWER * 2),
        reading(LONG_ANSWER * 3),
        reading(LONG_ANSWER / 2),
    ];
    assert!(make_room(&connections, 3));
    let evicted: Vec<bool> = connections
        .iter()
        .map(|c| c.state.evicted.load(Ordering::SeqCst))
        .collect();
    assert_eq!(evicted, [false, true, false]);
    // Answers written for less: kept.
    let kept = [reading(LONG_ANSWER / 2), reading(Duration::ZERO)];
    assert!(!make_room(&kept, 2));
}

/// Past `MAX_RENDERINGS_HELD` renderings still being sent, a new rendering waits for room:
/// the rendering sent longest (at least `LONG_ANSWER`) is given up by every connection sending
/// it, and a younger one is kept. Slow clients then hold two renderings, not one each.
#[test]
fn a_new_rendering_makes_the_oldest_held_one_given_up() {
    let holders = Mutex::new(Vec::new());
    // A connection's thread sending `body` until it is given up.
    let sending = |body: &Arc<String>, answering_for: Duration| {
        let state = Arc::new(ConnectionState {
            accepted: Instant::now() - answering_for,
            head_read: AtomicBool::new(true),
            ..ConnectionState::new()
        });
        std::mem::forget(Holding::new(&holders, body, &state));
        let (body, watched) = (body.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            while !watched.evicted.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(body);
        });
        (state, thread)
    };
    let oldest = Arc::new("oldest".to_owned());
    let younger = Arc::new("younger".to_owned());
    let (oldest_a, a) = sending(&oldest, LONG_ANSWER * 3);
    let (oldest_b, b) = sending(&oldest, LONG_ANSWER * 2);
    let (young, _young_thread) = sending(&younger, Duration::ZERO);
    drop((oldest, younger.clone()));
    let started = Instant::now();
    make_room_for_a_rendering(&holders, &AtomicBool::new(false));
    assert!(started.elapsed() < LONG_ANSWER, "no wait for a young one");
    assert!(oldest_a.evicted.load(Ordering::SeqCst));
    assert!(
        oldest_b.evicted.load(Ordering::SeqCst),
        "every sender of it"
    );
    assert!(!young.evicted.load(Ordering::SeqCst));
    a.join().unwrap();
    b.join().unwrap();
    // One rendering held: room at once.
    let started = Instant::now();
    make_room_for_a_rendering(&holders, &AtomicBool::new(false));
    assert!(started.elapsed() < SLICE);
    assert!(!young.evicted.load(Ordering::SeqCst));
    young.evicted.store(true, Ordering::SeqCst);
}

/// A scrape that arrives while room is made for a rendering (up to about `LONG_ANSWER`)
/// shares that rendering: it starts after the room is made.
#[test]
fn a_scrape_arriving_while_room_is_made_shares_the_rendering() {
    let latest = Renderings::new();
    let running = AtomicBool::new(false);
    let mut during = None;
    let first = shared_rendering(
        &latest,
        Format::Text,
        Instant::now(),
        &running,
        None,
        || {
            during = Some(Instant::now());
            std::thread::sleep(Duration::from_millis(5));
        },
        |_| Some("the rendering".to_owned()),
    )
    .expect("the server runs");
    let arrived_meanwhile = during.expect("room was made");
    let shared = shared_rendering(
        &latest,
        Format::Text,
        arrived_meanwhile,
        &running,
        None,
        || panic!("no room needed: the rendering is shared"),
        |_| panic!("not rendered again"),
    )
    .expect("the server runs");
    assert!(Arc::ptr_eq(&first, &shared));
}

/// Scrapes queued behind a rendering when the server stops give up without rendering in
/// turn: a stop then waits for one rendering, not one per queued scrape (the rendering they
/// would have shared is let go as the connection sending it gives up).
#[test]
fn scrapes_queued_behind_a_rendering_give_up_when_the_server_stops() {
    let latest = Renderings::new();
    let stop = AtomicBool::new(false);
    let renderings = std::sync::atomic::AtomicUsize::new(0);
    let (rendering, started) = std::sync::mpsc::channel();
    let scrape = |render: &dyn Fn() -> String| {
        shared_rendering(
            &latest,
            Format::Text,
            Instant::now(),
            &stop,
            None,
            || {},
            |_| {
                renderings.fetch_add(1, Ordering::SeqCst);
                Some(render())
            },
        )
    };
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            let slow = || {
                rendering.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                "the rendering".to_owned()
            };
            // Sent and given up at once (the stop): nothing holds it for the others.
            scrape(&slow).map(drop)
        });
        started.recv().unwrap();
        let queued: Vec<_> = (0..4)
            .map(|_| s.spawn(|| scrape(&|| "rendered again".to_owned())))
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::SeqCst);
        assert!(
            first.join().unwrap().is_some(),
            "the rendering under way ends"
        );
        for scrape in queued {
            assert!(scrape.join().unwrap().is_none(), "a queued scrape rendered");
        }
    });
    assert_eq!(renderings.load(Ordering::SeqCst), 1);
}

/// Connections whose request arrived and whose answer is not ready yet wait for the server
/// (their rendering), not for their client: they are given up only when no other kind of
/// connection can be, the oldest first, and never the one rendering (the others wait for its
/// rendering). A scraper that just connected then loses its place only to as many newer
/// connections as there are slots.
#[test]
fn connections_waiting_for_their_rendering_are_given_up_last_the_oldest_first() {
    let waiting = |for_: Duration, renders: bool| Connection {
        thread: std::thread::spawn(|| ()),
        socket: None,
        state: Arc::new(ConnectionState {
            accepted: Instant::now() - for_,
            head_read: AtomicBool::new(true),
            evicted: AtomicBool::new(false),
            progressed_us: AtomicU64::new(1),
            answering_us: AtomicU64::new(0),
            renders: AtomicBool::new(renders),
        }),
    };
    let connections = [
        waiting(STALLED * 2, false),
        waiting(STALLED * 4, true),
        waiting(STALLED * 3, false),
    ];
    assert!(make_room(&connections, 3));
    assert_eq!(evicted(&connections), [false, false, true]);
    // Before them: a connection stalled in its answer.
    let connections = [waiting(STALLED * 5, false), stalled_for(STALLED * 2)];
    assert!(make_room(&connections, 2));
    assert_eq!(evicted(&connections), [false, true]);
    // The one rendering alone: kept, and the new connection is closed.
    let connections = [waiting(STALLED * 5, true)];
    assert!(!make_room(&connections, 1));
    assert_eq!(evicted(&connections), [false]);
}

/// A connection given up while it waits for the renderings' lock stops waiting at once, not
/// when the rendering under way ends.
#[test]
fn a_connection_given_up_while_it_waits_for_the_rendering_stops_waiting() {
    let latest = Renderings::new();
    let stop = AtomicBool::new(false);
    let state = ConnectionState::new();
    let rendering = latest.latest.lock().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            shared_rendering(
                &latest,
                Format::Text,
                Instant::now(),
                &stop,
                Some(&state),
                || {},
                |_| panic!("given up: it does not render"),
            )
        });
        std::thread::sleep(LOCK_POLL * 4);
        state.evicted.store(true, Ordering::SeqCst);
        let started = Instant::now();
        wait_for("the waiter to stop", || waiter.is_finished());
        assert!(started.elapsed() < SLICE, "{:?}", started.elapsed());
        assert!(waiter.join().unwrap().is_none());
    });
    drop(rendering);
}

/// A rendering whose clients all read none of it for `IDLE_HOLDERS` (they asked and read
/// nothing) makes room for a new one at once, without waiting `LONG_ANSWER`; one whose client
/// reads is kept until then.
#[test]
fn a_rendering_its_clients_do_not_read_makes_room_without_waiting() {
    let holders = Mutex::new(Vec::new());
    let sending = |body: &Arc<String>, idle_for: Duration| {
        let state = Arc::new(ConnectionState {
            accepted: Instant::now() - idle_for,
            head_read: AtomicBool::new(true),
            answering_us: AtomicU64::new(1),
            progressed_us: AtomicU64::new(1),
            ..ConnectionState::new()
        });
        std::mem::forget(Holding::new(&holders, body, &state));
        state
    };
    let unread = Arc::new("unread".to_owned());
    let read = Arc::new("read".to_owned());
    let idle = sending(&unread, IDLE_HOLDERS * 2);
    let reading = sending(&read, Duration::ZERO);
    // Its client keeps reading: never idle while this test runs.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let reader = {
        let (state, stop) = (reading.clone(), stop_reading.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                state.mark_progress();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // The connection sending the unread one lets it go once given up.
    let unread_sender = {
        let (state, body) = (idle.clone(), unread.clone());
        std::thread::spawn(move || {
            while !state.evicted.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(body);
        })
    };
    drop(unread);
    let started = Instant::now();
    make_room_for_a_rendering(&holders, &AtomicBool::new(false));
    // It was sent `IDLE_HOLDERS * 2` ago: `LONG_ANSWER` after that is far off.
    assert!(
        started.elapsed() < LONG_ANSWER / 2,
        "{:?}",
        started.elapsed()
    );
    assert!(idle.evicted.load(Ordering::SeqCst));
    assert!(!reading.evicted.load(Ordering::SeqCst), "it is being read");
    unread_sender.join().unwrap();
    stop_reading.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    drop(read);
}

/// Connections just accepted whose heads have not arrived yet (scrapes connecting at the same
/// moment) are not given up before a client stalled in its answer: the stalled one goes, and
/// one that has sent nothing for `IDLE_HEAD` goes before either.
#[test]
fn connections_just_accepted_are_not_given_up_before_a_stalled_one() {
    let waiting_for_head = |for_: Duration| Connection {
        thread: std::thread::spawn(|| ()),
        socket: None,
        state: Arc::new(ConnectionState {
            accepted: Instant::now() - for_,
            ..ConnectionState::new()
        }),
    };
    let stalled = || stalled_for(STALLED * 2);
    let connections = [waiting_for_head(Duration::from_millis(5)), stalled()];
    assert!(make_room(&connections, 2));
    assert_eq!(evicted(&connections), [false, true]);
    let connections = [stalled(), waiting_for_head(IDLE_HEAD * 2)];
    assert!(make_room(&connections, 2));
    assert_eq!(evicted(&connections), [false, true]);
    // With none stalled, the oldest of those just accepted.
    let connections = [
        waiting_for_head(Duration::from_millis(2)),
        waiting_for_head(Duration::from_millis(5)),
    ];
    assert!(make_room(&connections, 2));
    assert_eq!(evicted(&connections), [false, true]);
}

/// Which of `connections` were told to give their slots up.
fn evicted(connections: &[Connection]) -> Vec<bool> {
    connections
        .iter()
        .map(|c| c.state.evicted.load(Ordering::SeqCst))
        .collect()
}

/// A connection answering since `for_` ago, which has read nothing since.
fn stalled_for(for_: Duration) -> Connection {
    Connection {
        thread: std::thread::spawn(|| ()),
        socket: None,
        state: Arc::new(ConnectionState {
            accepted: Instant::now() - for_,
            head_read: AtomicBool::new(true),
            answering_us: AtomicU64::new(1),
            progressed_us: AtomicU64::new(1),
            ..ConnectionState::new()
        }),
    }
}

/// Every rendering is made on the one rendering thread, whichever connection asks for it: made
/// on each connection's thread, renderings went into as many allocator arenas, which kept
/// about twenty times their size after clients that never read had been answered. A
/// rendering that panics is none (the scrape gets a 503, not an empty exposition), and the
/// thread renders on.
#[test]
fn renderings_are_made_on_the_one_rendering_thread() {
    fn thread_name(_: Format, _: &AtomicBool) -> Option<String> {
        Some(std::thread::current().name().unwrap_or("").to_owned())
    }
    let (renderer, thread) = Renderer::start(thread_name, never_stopped()).unwrap();
    let answers: Vec<Option<String>> = (0..3)
        .map(|_| {
            let renderer = renderer.clone();
            std::thread::spawn(move || renderer.render(Format::Text))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|asking| asking.join().unwrap())
        .collect();
    assert_eq!(
        answers,
        vec![Some("godtrace-prometheus-render".to_owned()); 3]
    );
    let (panicky, panicky_thread) =
        Renderer::start(|_, _| panic!("a rendering panicked"), never_stopped()).unwrap();
    assert_eq!(panicky.render(Format::OpenMetrics), None);
    assert_eq!(
        panicky.render(Format::Text),
        None,
        "renders on after a panic"
    );
    drop((renderer, panicky));
    thread.join().unwrap();
    panicky_thread.join().unwrap();
}

/// A scrape whose rendering panicked is answered 503: an empty 200 would read to Prometheus
/// as every series gone (stale), not as a failed scrape.
#[test]
fn a_rendering_that_panicked_is_a_503() {
    let (renderer, _thread) =
        Renderer::start(|_, _| panic!("a rendering panicked"), never_stopped()).unwrap();
    // Arrived after any rendering another test may have under way: this one renders.
    let response = respond(
        "GET /metrics HTTP/1.1\r\n\r\n",
        Instant::now() + Duration::from_secs(3600),
        &AtomicBool::new(false),
        &ConnectionState::new(),
        &renderer,
    );
    assert_eq!(response.status, 503);
}

/// A stop flag never set.
fn never_stopped() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// A rendering under way when the server stops is given up between metrics: the endpoint's
/// threads end within a metric's rendering, not a whole exposition's (a scrape of a large
/// exposition held the guard's drop for its one-second bound).
#[test]
fn a_rendering_under_way_is_given_up_when_the_server_stops() {
    for i in 0..50 {
        crate::metrics::manual::counter_add(&format!("render.stop.test{i}"), 1.0, &[]);
    }
    let stop = AtomicBool::new(false);
    assert!(super::super::render::render_registry_unless(Format::Text, &stop).is_some());
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        super::super::render::render_registry_unless(Format::Text, &stop),
        None
    );
}
