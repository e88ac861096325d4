//! A minimal HTTP/1.1 server for `/metrics` over `std::net`.
//!
//! One thread accepts; each connection is served on a thread of its own, at most
//! [`Limits::max_connections`] at once, so an idle or slow client never delays another scrape.
//! When all are taken, a new connection takes the place of the oldest one still waiting for its
//! request head (a scraper sends its head at once: the ones still waiting are idle or
//! trickling), or else of the one whose client has read nothing of its answer for the longest,
//! at least [`STALLED`] (a scraper reads at once), or else of the one whose answer has been
//! written longest, at least [`LONG_ANSWER`] (a scraper reads a whole exposition in far less;
//! a client reading a trickle keeps progressing), so that clients holding every slot cannot
//! keep scrapes out; else of the oldest one waiting for its rendering (the wait is the
//! server's, so these go last); with none to give up, the new connection is closed at once.
//! A connection given up has its socket shut down, so it ends at once. Scrapes that
//! arrive while another is rendered share the next rendering, one at a time: a burst of them
//! costs two renderings, not one each; and at most [`MAX_RENDERINGS_HELD`] renderings are held
//! by the clients they are sent to when another is made (see [`make_room_for_a_rendering`]).
//! One request per connection
//! (`Connection: close`). The whole request head must arrive within one deadline and the whole
//! response must be written within another: reads and writes wait in short slices, so a client
//! sending a byte at a time cannot stretch them. A malformed request gets a 4xx answer;
//! nothing a client sends can panic a thread.
//!
//! [`Server::stop_begin`] ends everything within about one slice, whatever clients do: the
//! accepting thread closes the listener (the port is free again) and joins every connection
//! thread, and those give up their client as soon as they see the stop flag.
use super::render::{Format, negotiate, render_registry_unless};
use crate::metrics::worker::JoinableThread;
use renderer::Renderer;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wire::{Head, Response, Timed, read_head, request_path};

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// The longest a blocked read or write waits before it checks its deadline and the stop flag:
/// this bounds how long a stop waits for a connection.
const SLICE: Duration = Duration::from_millis(50);
/// How often the accepting thread looks for a new connection when none is waiting: the most a
/// scrape waits to be accepted.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// How long a client may read none of its answer before a new connection may take its slot.
const STALLED: Duration = Duration::from_secs(1);

/// How long a connection may have sent no whole request head before it counts as idle (a
/// scraper sends its head at once): idle ones are given up first. Connections accepted more
/// recently are given up only after stalled answers, so that scrapes connecting at the same
/// moment do not take each other's slots before their heads arrive.
const IDLE_HEAD: Duration = Duration::from_millis(100);

/// How long the clients sending a rendering may all read none of it before a new rendering
/// takes its place (see [`make_room_for_a_rendering`]): a scraper reading its answer frees
/// room in the socket's buffers far more often.
const IDLE_HOLDERS: Duration = Duration::from_millis(200);

/// How long an answer may have been written, however its client reads, before a new
/// connection may take its slot when every slot is taken: a scraper reads a whole exposition
/// in far less, and clients that read a trickle each (their answer always progressing)
/// would otherwise keep scrapes out until their write deadline.
const LONG_ANSWER: Duration = Duration::from_secs(2);

/// What one client may take from the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub(crate) max_connections: usize,
    /// From accepting a connection to the end of its request head.
    pub(crate) head_deadline: Duration,
    /// From the start to the end of writing the response.
    pub(crate) write_deadline: Duration,
}

impl Limits {
    /// A Prometheus scrape sends its head at once and times out after 10 s by default; 16
    /// connections leave room for several scrapers next to stray clients.
    pub(crate) const DEFAULT: Limits = Limits {
        max_connections: 16,
        head_deadline: Duration::from_secs(5),
        write_deadline: Duration::from_secs(10),
    };
}

/// The running endpoint.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Dropped to wake the accepting thread at once.
    wake: Option<mpsc::Sender<()>>,
    worker: Option<JoinableThread>,
}

impl Server {
    /// Binds `listen` (e.g. `0.0.0.0:9464`, `127.0.0.1:0`) and serves on a new thread; fails
    /// (serving nothing, binding nothing) when the address cannot be bound.
    pub(crate) fn start(listen: impl ToSocketAddrs) -> io::Result<Server> {
        Server::start_with(listen, Limits::DEFAULT)
    }

    /// [`Server::start`] with other limits.
    pub(crate) fn start_with(listen: impl ToSocketAddrs, limits: Limits) -> io::Result<Server> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        // Polled, so that the accepting thread never blocks where a stop cannot reach it.
        listener.set_nonblocking(true)?;
        // Known to `fork` from here until it closes, whichever way that comes (a failure
        // below drops it too).
        let listener = forked::Listening::new(listener);
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel();
        let flag = stop.clone();
        let (renderer, rendering_thread) = Renderer::start(render_registry_unless, stop.clone())?;
        let worker = JoinableThread::spawn("godtrace-prometheus", move || {
            serve(listener, &flag, &woken, limits, renderer);
            // Its last sender dropped with `serve`'s: it ends once a rendering under way does.
            let _ = rendering_thread.join();
        })?;
        Ok(Server {
            addr,
            stop,
            wake: Some(wake),
            worker: Some(worker),
        })
    }

    /// The address actually bound (with the port chosen, for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits up to `bound` for every thread to end; true when they did (the
    /// port is free then).
    #[cfg(test)]
    pub(crate) fn stop_within(mut self, bound: Duration) -> bool {
        self.stop_begin()
            .is_none_or(|worker| worker.wait_until(Instant::now() + bound))
    }

    /// Stops accepting and tells every connection to give up; the returned thread closes the
    /// listener, joins the connection threads and ends within about one [`SLICE`]. `None` when
    /// already stopped.
    pub(crate) fn stop_begin(&mut self) -> Option<JoinableThread> {
        let worker = self.worker.take()?;
        self.stop.store(true, Ordering::SeqCst);
        self.wake = None;
        Some(worker)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(worker) = self.stop_begin() {
            worker.wait_until(Instant::now() + Duration::from_secs(1));
        }
    }
}

/// A connection being served: its thread, and what the accepting thread may tell it.
struct Connection {
    thread: JoinHandle<()>,
    state: Arc<ConnectionState>,
    /// The client's socket (a second handle on it): shut down when the connection is given
    /// up, so that its thread's read or write returns at once.
    socket: Option<TcpStream>,
}

impl Connection {
    /// Tells the connection to give its slot up: its thread ends at once when it reads or
    /// writes (its socket is shut down), within a [`LOCK_POLL`] when it waits for the
    /// renderings' lock.
    fn give_up(&self) {
        self.state.evicted.store(true, Ordering::SeqCst);
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// What a connection's thread and the accepting thread share.
struct ConnectionState {
    accepted: Instant,
    /// Set by the connection once its request head has arrived: from then on it is answered.
    head_read: AtomicBool,
    /// Set by the accepting thread: give the client up.
    evicted: AtomicBool,
    /// When the head arrived or the client last took bytes of the answer, in microseconds
    /// since `accepted`.
    progressed_us: AtomicU64,
    /// When the answer was ready to be written, in microseconds since `accepted`.
    answering_us: AtomicU64,
    /// Set by the connection once it renders (see [`lock_for_rendering`]): the scrapes
    /// waiting meanwhile wait for that rendering, so it is not given up for a newer one.
    renders: AtomicBool,
}

impl ConnectionState {
    fn new() -> ConnectionState {
        ConnectionState {
            accepted: Instant::now(),
            head_read: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            progressed_us: AtomicU64::new(0),
            answering_us: AtomicU64::new(0),
            renders: AtomicBool::new(false),
        }
    }

    fn since_accepted_us(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn mark_progress(&self) {
        self.progressed_us
            .store(self.since_accepted_us(), Ordering::SeqCst);
    }

    /// The answer is ready: its writing starts.
    fn mark_answering(&self) {
        // Never 0, which means "not answering yet".
        let us = self.since_accepted_us().max(1);
        self.answering_us.store(us, Ordering::SeqCst);
        self.progressed_us.store(us, Ordering::SeqCst);
    }

    /// Whether the answer is being written: before that the connection waits for the server
    /// (its rendering), not for its client.
    fn is_answering(&self) -> bool {
        self.answering_us.load(Ordering::SeqCst) != 0
    }

    fn progressed(&self) -> Instant {
        self.accepted + Duration::from_micros(self.progressed_us.load(Ordering::SeqCst))
    }

    fn answering_since(&self) -> Instant {
        self.accepted + Duration::from_micros(self.answering_us.load(Ordering::SeqCst))
    }
}

/// The accepting thread: hands each connection to a thread of its own until stopped, then
/// closes the listener and joins them.
fn serve(
    listener: forked::Listening,
    stop: &Arc<AtomicBool>,
    woken: &mpsc::Receiver<()>,
    limits: Limits,
    renderer: Renderer,
) {
    let mut connections: Vec<Connection> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let pause = match listener.accept() {
            Ok((stream, _)) => {
                if wait_for_room(&mut connections, limits.max_connections, stop) {
                    connections.extend(spawn_connection(
                        stream,
                        stop.clone(),
                        limits,
                        renderer.clone(),
                    ));
                }
                // Otherwise the stream is dropped here: closed at once.
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ACCEPT_POLL,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => ACCEPT_POLL * 5,
        };
        if let Err(mpsc::RecvTimeoutError::Disconnected) = woken.recv_timeout(pause) {
            break;
        }
    }
    drop(listener);
    for connection in connections {
        let _ = connection.thread.join();
    }
    // No scrape is left to take what was kept for the waiting ones.
    LATEST.let_go_unwaited();
}

/// [`make_room`] for a connection just accepted, after a short wait when every slot is
/// taken by given-up connections still ending (a burst of connections, each giving the one
/// before up): they end within a [`LOCK_POLL`], and a scrape right after the burst is then
/// served, not closed. The wait is at most [`ROOM_WAIT`], and only while some are ending.
fn wait_for_room(
    connections: &mut Vec<Connection>,
    max_connections: usize,
    stop: &AtomicBool,
) -> bool {
    let give_up = Instant::now() + ROOM_WAIT;
    loop {
        connections.retain(|c| !c.thread.is_finished());
        if make_room(connections, max_connections) {
            return true;
        }
        let ending = connections
            .iter()
            .any(|c| c.state.evicted.load(Ordering::SeqCst));
        if !ending || Instant::now() >= give_up || stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(LOCK_POLL);
    }
}

/// How long a connection just accepted may wait for given-up ones to end (see
/// [`wait_for_room`]): a few times what they take.
const ROOM_WAIT: Duration = Duration::from_millis(50);

/// Whether a new connection may be served: a slot is free, or the oldest connection still
/// waiting for its head after [`IDLE_HEAD`], else the one stalled longest (at least
/// [`STALLED`]) in its answer, else the one whose answer has been written longest (at least
/// [`LONG_ANSWER`]), else the oldest one still waiting for its head, else the oldest one
/// waiting for its rendering (not the one rendering), is told to give up its slot.
/// A connection waiting for its rendering waits for the server, not for its client, so it
/// goes last, and the oldest first: a scraper that just connected loses its place only to as
/// many connections as there are slots, made while it waits. Given-up connections end within
/// a [`LOCK_POLL`] (their sockets are shut down, and a connection waiting for the
/// renderings' lock looks);
/// until then they still count, and at most as many as the slots may be ending at once, which
/// bounds the threads at twice the slots.
fn make_room(connections: &[Connection], max_connections: usize) -> bool {
    let serving = connections
        .iter()
        .filter(|c| !c.state.evicted.load(Ordering::SeqCst))
        .count();
    if serving < max_connections {
        return true;
    }
    if connections.len() >= 2 * max_connections {
        return false;
    }
    let serving = || {
        connections
            .iter()
            .filter(|c| !c.state.evicted.load(Ordering::SeqCst))
    };
    // Of the connections still waiting for their head, the oldest, accepted `at_least` ago.
    let oldest_waiting = |at_least: Duration| {
        serving()
            .filter(|c| !c.state.head_read.load(Ordering::SeqCst))
            .filter(|c| c.state.accepted.elapsed() >= at_least)
            .min_by_key(|c| c.state.accepted)
    };
    let idle = || oldest_waiting(IDLE_HEAD);
    let just_connected = || oldest_waiting(Duration::ZERO);
    // Of the connections being answered, the one whose `since` is earliest, `at_least` ago.
    let longest = |since: fn(&ConnectionState) -> Instant, at_least: Duration| {
        serving()
            .filter(|c| c.state.is_answering())
            .map(|c| (c, since(&c.state)))
            .filter(|(_, at)| at.elapsed() >= at_least)
            .min_by_key(|(_, at)| *at)
            .map(|(c, _)| c)
    };
    let stalled = || longest(ConnectionState::progressed, STALLED);
    let answered_longest = || longest(ConnectionState::answering_since, LONG_ANSWER);
    let oldest_waiting_for_its_rendering = || {
        serving()
            .filter(|c| {
                c.state.head_read.load(Ordering::SeqCst)
                    && !c.state.is_answering()
                    && !c.state.renders.load(Ordering::SeqCst)
            })
            .min_by_key(|c| c.state.accepted)
    };
    match idle()
        .or_else(stalled)
        .or_else(answered_longest)
        .or_else(just_connected)
        .or_else(oldest_waiting_for_its_rendering)
    {
        Some(connection) => {
            connection.give_up();
            true
        }
        None => false,
    }
}

/// Serves `stream` on a new thread; `None` (the stream closed) when no thread can be made.
fn spawn_connection(
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    limits: Limits,
    renderer: Renderer,
) -> Option<Connection> {
    let state = Arc::new(ConnectionState::new());
    let shared = state.clone();
    let socket = stream.try_clone().ok();
    let thread = std::thread::Builder::new()
        .name("godtrace-prometheus-conn".to_owned())
        .spawn(move || {
            let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
            let _ = catch_unwind(AssertUnwindSafe(|| {
                handle(&stream, &stop, &shared, limits, &renderer)
            }));
            // Closed for the client now: the accepting thread's handle on the socket (to give
            // it up) keeps it open until that thread drops it.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        })
        .ok()?;
    Some(Connection {
        thread,
        state,
        socket,
    })
}

fn handle(
    stream: &TcpStream,
    stop: &AtomicBool,
    state: &Arc<ConnectionState>,
    limits: Limits,
    renderer: &Renderer,
) -> io::Result<()> {
    // Some platforms hand out accepted sockets non-blocking like their listener.
    stream.set_nonblocking(false)?;
    let mut reader = Timed::new(stream, stop, Some(state), limits.head_deadline);
    let head = read_head(&mut reader)?;
    let arrived = Instant::now();
    state.mark_progress();
    state.head_read.store(true, Ordering::SeqCst);
    let response = match head {
        Head::Complete(head) => respond(&head, arrived, stop, state, renderer),
        Head::TooLarge { head_method } => {
            Response::error(431, "Request Header Fields Too Large").head_only(head_method)
        }
    };
    // The answer's wait for a client starts when it is ready, not when the request arrived.
    state.mark_answering();
    // Held while it is written (the connection's state lives on in the accepting thread's
    // list until the next connection is accepted).
    let _holding = (response.status == 200).then(|| Holding::new(&HOLDERS, &response.body, state));
    let mut writer = Timed::new(stream, stop, Some(state), limits.write_deadline);
    response.write_to(&mut writer)?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// The answer to a request whose head (`head`) arrived at `arrived`, unless the server stops
/// (`stop`) while the request waits for its rendering.
fn respond(
    head: &str,
    arrived: Instant,
    stop: &AtomicBool,
    state: &ConnectionState,
    renderer: &Renderer,
) -> Response {
    // RFC 9112, 2.2: empty lines before the request line are passed over.
    let mut lines = head.lines().skip_while(|line| line.is_empty());
    let request_line = lines.next().unwrap_or("");
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let head_method = parts.first() == Some(&"HEAD");
    let [method, target, version] = parts[..] else {
        return Response::error(400, "Bad Request").head_only(head_method);
    };
    if !version.starts_with("HTTP/1.") {
        return Response::error(400, "Bad Request").head_only(head_method);
    }
    if lines.clone().any(malformed_field) {
        return Response::error(400, "Bad Request").head_only(head_method);
    }
    let path = request_path(target);
    if path != "/metrics" {
        return Response::error(404, "Not Found").head_only(head_method);
    }
    if method != "GET" && method != "HEAD" {
        return Response::error(405, "Method Not Allowed");
    }
    let format: Format = negotiate(accept_list(lines).as_deref());
    let Some(body) = exposition(format, arrived, stop, state, renderer) else {
        return Response::error(503, "Service Unavailable");
    };
    Response {
        status: 200,
        reason: "OK",
        content_type: format.content_type(),
        body,
        head_only: head_method,
    }
}

/// Whether `line` of a request's head is no field line RFC 9112 (5.1, 5.2) lets a server read:
/// whitespace before the colon, a line folded onto the one before, no colon. Such a request is
/// refused rather than read some other way than a proxy reads it.
fn malformed_field(line: &str) -> bool {
    match line.split_once(':') {
        _ if line.starts_with([' ', '\t']) => true,
        Some((name, _)) => name.is_empty() || name.ends_with([' ', '\t']),
        None => !line.is_empty(),
    }
}

/// Every `Accept` line of a request's head `lines`, as one list (RFC 9110, 5.3: a field given
/// on several lines is one comma-separated list); `None` without one. Bounded by the head.
fn accept_list<'a>(lines: impl Iterator<Item = &'a str>) -> Option<String> {
    let values: Vec<&str> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("accept")
                .then(|| value.trim())
        })
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The latest rendering in one format, while a connection still sends it or scrapes that
/// may share it wait for the lock.
struct Rendered {
    started: Instant,
    body: Weak<String>,
    /// The body, kept while other scrapes of its format wait: on loopback a client may have
    /// read all of it before the next waiter (which polls the lock) looks, and the burst would
    /// then render once per scrape.
    kept: Option<Arc<String>>,
}

/// The latest rendering of each format ([`Format::Text`], [`Format::OpenMetrics`]), locked
/// while rendering, so that renderings run one at a time; and how many scrapes of each format
/// are waiting for it or reading it.
struct Renderings {
    latest: Mutex<[Option<Rendered>; 2]>,
    waiting: [AtomicUsize; 2],
}

impl Renderings {
    const fn new() -> Renderings {
        Renderings {
            latest: Mutex::new([None, None]),
            waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Lets go of the renderings kept for formats no scrape waits for (see [`Waiting`]).
    fn let_go_unwaited_in(&self, latest: &mut [Option<Rendered>; 2]) {
        for (slot, waiting) in latest.iter_mut().zip(&self.waiting) {
            if let Some(rendered) = slot
                && waiting.load(Ordering::SeqCst) == 0
            {
                rendered.kept = None;
            }
        }
    }

    /// [`Renderings::let_go_unwaited_in`], taking the lock (the server has stopped: no
    /// rendering holds it for long).
    fn let_go_unwaited(&self) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        self.let_go_unwaited_in(&mut latest);
    }
}

static LATEST: Renderings = Renderings::new();

/// A scrape of one format in [`shared_rendering`]; the last one out lets the kept body go,
/// unless the lock is held: then the next scrape of either format to take it does (see
/// `shared_rendering`), or the server's end.
struct Waiting<'a> {
    renderings: &'a Renderings,
    slot: usize,
}

impl<'a> Waiting<'a> {
    fn enter(renderings: &'a Renderings, slot: usize) -> Waiting<'a> {
        renderings.waiting[slot].fetch_add(1, Ordering::SeqCst);
        Waiting { renderings, slot }
    }

    /// Whether other scrapes of this one's format are waiting.
    fn others(&self) -> bool {
        self.renderings.waiting[self.slot].load(Ordering::SeqCst) > 1
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.renderings.waiting[self.slot].fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let mut latest = match self.renderings.latest.try_lock() {
            Ok(latest) => latest,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        self.renderings.let_go_unwaited_in(&mut latest);
    }
}

/// The metrics in `format` for a request that arrived at `arrived`: a rendering started after
/// that and still being sent to another client, else a new one. Each client thus gets metrics
/// at least as recent as its request, and a burst of scrapes, which waits here while one is
/// rendered, shares the next rendering. `None` when the server stops (`stop`) or the
/// connection (`state`) is given up meanwhile.
fn exposition(
    format: Format,
    arrived: Instant,
    stop: &AtomicBool,
    state: &ConnectionState,
    renderer: &Renderer,
) -> Option<Arc<String>> {
    shared_rendering(
        &LATEST,
        format,
        arrived,
        stop,
        Some(state),
        || make_room_for_a_rendering(&HOLDERS, stop),
        |format| renderer.render(format),
    )
}

/// Renderings held at once by the connections sending them, before a new one is made: a
/// rendering is a multiple of what the metrics hold (each bucket line repeats its series'
/// labels), so clients that request and then read slowly or not at all would otherwise hold
/// one each.
const MAX_RENDERINGS_HELD: usize = 2;

/// A connection sending a rendering.
struct Holder {
    body: Weak<String>,
    state: Weak<ConnectionState>,
}

/// The connections sending an answer: see [`make_room_for_a_rendering`].
static HOLDERS: Mutex<Vec<Holder>> = Mutex::new(Vec::new());

/// That the connection of a state is sending a body, noted in `holders` until dropped.
struct Holding<'a> {
    holders: &'a Mutex<Vec<Holder>>,
    state: *const ConnectionState,
}

impl<'a> Holding<'a> {
    fn new(
        holders: &'a Mutex<Vec<Holder>>,
        body: &Arc<String>,
        state: &Arc<ConnectionState>,
    ) -> Holding<'a> {
        let mut listed = holders.lock().unwrap_or_else(|e| e.into_inner());
        listed.retain(Holder::is_live);
        // Bounded: each live one is a connection's, and the connections are.
        listed.push(Holder {
            body: Arc::downgrade(body),
            state: Arc::downgrade(state),
        });
        Holding {
            holders,
            state: Arc::as_ptr(state),
        }
    }
}

impl Drop for Holding<'_> {
    /// Written (or given up): a rendering still kept for scrapes waiting for it
    /// ([`Rendered::kept`]) is not held by this connection any more.
    fn drop(&mut self) {
        let mut listed = self.holders.lock().unwrap_or_else(|e| e.into_inner());
        listed.retain(|holder| holder.state.as_ptr() != self.state && holder.is_live());
    }
}

impl Holder {
    fn is_live(&self) -> bool {
        self.body.strong_count() > 0 && self.state.strong_count() > 0
    }
}

/// Before a new rendering is made (one at a time, under `LATEST`'s lock): while
/// [`MAX_RENDERINGS_HELD`] renderings are still being sent, one of them is given up by every
/// connection sending it, the first to be due: once none of its clients has read any of it
/// for [`IDLE_HOLDERS`] (clients that asked and read nothing), or once it has been sent for
/// [`LONG_ANSWER`] (a scraper reads a whole exposition in far less); and this waits for them
/// to let it go (within a [`SLICE`]). So the text held at once is at most that many
/// renderings and the new one, and a scrape waits at most about `LONG_ANSWER` for its room,
/// about `IDLE_HOLDERS` when the renderings are held by clients that read nothing (less when
/// the server stops: `stop`).
fn make_room_for_a_rendering(holders: &Mutex<Vec<Holder>>, stop: &AtomicBool) {
    let give_up = Instant::now() + LONG_ANSWER + 4 * SLICE;
    while Instant::now() < give_up && !stop.load(Ordering::SeqCst) {
        let wait = {
            let mut holders = holders.lock().unwrap_or_else(|e| e.into_inner());
            holders.retain(Holder::is_live);
            match first_due(&holders) {
                None => return,
                Some((body, due)) if due <= Instant::now() => {
                    for holder in holders.iter().filter(|h| h.body.as_ptr() == body) {
                        if let Some(state) = holder.state.upgrade() {
                            state.evicted.store(true, Ordering::SeqCst);
                        }
                    }
                    SLICE / 5
                }
                Some((_, due)) => due.saturating_duration_since(Instant::now()),
            }
        };
        std::thread::sleep(wait.clamp(Duration::from_millis(1), SLICE));
    }
}

/// With [`MAX_RENDERINGS_HELD`] or more renderings held by `holders`, the one to give up
/// first, and when it is due (see [`make_room_for_a_rendering`]); `None` when there is room.
fn first_due(holders: &[Holder]) -> Option<(*const String, Instant)> {
    let mut bodies: Vec<*const String> = holders.iter().map(|h| h.body.as_ptr()).collect();
    bodies.sort_unstable();
    bodies.dedup();
    if bodies.len() < MAX_RENDERINGS_HELD {
        return None;
    }
    bodies
        .into_iter()
        .filter_map(|body| {
            let states: Vec<Arc<ConnectionState>> = holders
                .iter()
                .filter(|h| h.body.as_ptr() == body)
                .filter_map(|h| h.state.upgrade())
                .collect();
            let sent_since = states.iter().map(|s| s.answering_since()).min()?;
            let last_read = states.iter().map(|s| s.progressed()).max()?;
            Some((
                body,
                (sent_since + LONG_ANSWER).min(last_read + IDLE_HOLDERS),
            ))
        })
        .min_by_key(|&(_, due)| due)
}

/// How often a connection waiting for the renderings' lock looks whether it was given up.
const LOCK_POLL: Duration = Duration::from_millis(5);

/// Locks `latest` for the connection of `waiting` (if any), which is then marked as the one
/// rendering; `None` when the server stops (`stop`) or the connection is given up first. The
/// lock is polled, so that a connection given up while it waits (for a newer one: see
/// [`make_room`]) lets its slot go within a few milliseconds, not after the rendering.
fn lock_for_rendering<'a, T>(
    latest: &'a Mutex<T>,
    stop: &AtomicBool,
    waiting: Option<&ConnectionState>,
) -> Option<MutexGuard<'a, T>> {
    let given_up =
        || stop.load(Ordering::SeqCst) || waiting.is_some_and(|s| s.evicted.load(Ordering::SeqCst));
    loop {
        if given_up() {
            return None;
        }
        let locked = match latest.try_lock() {
            Ok(locked) => locked,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(LOCK_POLL);
                continue;
            }
        };
        if let Some(state) = waiting {
            state.renders.store(true, Ordering::SeqCst);
        }
        // Given up as it took the lock: it does not render.
        return (!given_up()).then_some(locked);
    }
}

/// [`exposition`] with these renderings and this way to render.
fn shared_rendering(
    renderings: &Renderings,
    format: Format,
    arrived: Instant,
    stop: &AtomicBool,
    waiting: Option<&ConnectionState>,
    make_room: impl FnOnce(),
    render: impl FnOnce(Format) -> Option<String>,
) -> Option<Arc<String>> {
    // The scrapes queued here while the server stops do not each render in turn (the rendering
    // they would share is let go as its writer gives up): the stop waits for their threads.
    let index = match format {
        Format::Text => 0,
        Format::OpenMetrics => 1,
    };
    // Left after the lock (declared before it): see `Waiting`.
    let scrape = Waiting::enter(renderings, index);
    let mut latest = lock_for_rendering(&renderings.latest, stop, waiting)?;
    renderings.let_go_unwaited_in(&mut latest);
    let slot = &mut latest[index];
    if let Some(rendered) = slot
        && rendered.started >= arrived
        && let Some(body) = rendered.body.upgrade()
    {
        if !scrape.others() {
            rendered.kept = None;
        }
        return Some(body);
    }
    // Room first: the scrapes that arrive while it is made (up to about `LONG_ANSWER`) then
    // share the rendering that starts after it.
    make_room();
    if stop.load(Ordering::SeqCst) {
        return None;
    }
    let started = Instant::now();
    // None: the rendering failed (it panicked), and the scrape is answered 503.
    let body = Arc::new(render(format)?);
    *slot = Some(Rendered {
        started,
        body: Arc::downgrade(&body),
        kept: scrape.others().then(|| Arc::clone(&body)),
    });
    Some(body)
}

mod renderer;
#[cfg(test)]
mod tests;
mod wire;

#[cfg(unix)]
pub(crate) use forked::close_in_child as close_listener_in_forked_child;

/// The listening socket a child `fork` makes must not keep: the child has no thread to serve
/// it, and holding it would keep the port bound (and connections to it unanswered) after the
/// parent's endpoint stopped.
mod forked {
    use std::net::TcpListener;

    /// The descriptor of the endpoint listening now; -1 for none.
    #[cfg(unix)]
    static LISTENING: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

    /// The endpoint's listener, which a `fork` made while it is open finds (and its child
    /// closes): registered when made, unregistered when dropped, just before it closes, so
    /// that `LISTENING` never holds the number of a closed descriptor.
    pub(super) struct Listening(TcpListener);

    impl Listening {
        pub(super) fn new(listener: TcpListener) -> Listening {
            #[cfg(unix)]
            {
                use std::os::fd::AsRawFd;
                LISTENING.store(listener.as_raw_fd(), std::sync::atomic::Ordering::SeqCst);
            }
            Listening(listener)
        }
    }

    impl std::ops::Deref for Listening {
        type Target = TcpListener;
        fn deref(&self) -> &TcpListener {
            &self.0
        }
    }

    impl Drop for Listening {
        fn drop(&mut self) {
            #[cfg(unix)]
            {
                use std::os::fd::AsRawFd;
                use std::sync::atomic::Ordering::SeqCst;
                let _ = LISTENING.compare_exchange(self.0.as_raw_fd(), -1, SeqCst, SeqCst);
            }
        }
    }

    /// Closes, in a child `fork` just made, the descriptor of the endpoint listening in the
    /// parent: an atomic read and `close`, which a forked child of a threaded process may
    /// make.
    #[cfg(unix)]
    pub(crate) fn close_in_child() {
        let fd = LISTENING.swap(-1, std::sync::atomic::Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: `fd` was the parent's open listening socket at the fork (`Listening`
            // holds its number only while it is open: set when made, cleared before it
            // closes); in the child it is a copy nobody else uses (no other thread runs
            // here), and `swap` hands it to one caller: closed once.
            unsafe { libc::close(fd) };
        }
    }
}
