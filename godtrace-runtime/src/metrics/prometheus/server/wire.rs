//! The HTTP/1.1 of the `/metrics` server: reads and writes bounded by a deadline, the request
//! head, the response, the request target's path.
use super::{ConnectionState, MAX_HEAD, SLICE};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Reads and writes of one connection that give up at `deadline` or when the server stops,
/// however the client paces its bytes.
pub(super) struct Timed<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
    /// The connection's state, told of progress and read for whether it was given up.
    state: Option<&'a ConnectionState>,
    deadline: Instant,
}

impl<'a> Timed<'a> {
    pub(super) fn new(
        stream: &'a TcpStream,
        stop: &'a AtomicBool,
        state: Option<&'a ConnectionState>,
        within: Duration,
    ) -> Timed<'a> {
        Timed {
            stream,
            stop,
            state,
            // A deadline too far to represent is no deadline: a year will do.
            deadline: Instant::now()
                .checked_add(within)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600)),
        }
    }

    /// How long the next blocking call may wait, or why it may not.
    fn next_wait(&self) -> io::Result<Duration> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(io::Error::other("the server is stopping"));
        }
        if self.state.is_some_and(|s| s.evicted.load(Ordering::SeqCst)) {
            return Err(io::Error::other("given up for a newer connection"));
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left.clamp(Duration::from_millis(1), SLICE))
    }

    /// Runs `io` until it does something other than time out its slice.
    fn retry<T>(
        &mut self,
        mut io: impl FnMut(&mut Self, Duration) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            let wait = self.next_wait()?;
            match io(self, wait) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                other => return other,
            }
        }
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|t, wait| {
            t.stream.set_read_timeout(Some(wait))?;
            (&mut &*t.stream).read(buf)
        })
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.retry(|t, wait| {
            t.stream.set_write_timeout(Some(wait))?;
            (&mut &*t.stream).write(buf)
        })?;
        if written > 0
            && let Some(state) = self.state
        {
            state.mark_progress();
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What came before the blank line that ends a request head.
pub(super) enum Head {
    Complete(String),
    /// Longer than [`MAX_HEAD`]; `head_method` when it is a `HEAD` request.
    TooLarge {
        head_method: bool,
    },
}

/// Reads up to the blank line that ends the request head.
pub(super) fn read_head(stream: &mut impl Read) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let mut skipped = 0;
    loop {
        if let Some(end) = find_end(&buf) {
            buf.truncate(end);
            return Ok(Head::Complete(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(Head::TooLarge {
                head_method: buf.starts_with(b"HEAD "),
            });
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            // Closed early: answer whatever arrived (likely a 400).
            return Ok(Head::Complete(String::from_utf8_lossy(&buf).into_owned()));
        }
        buf.extend_from_slice(&chunk[..n]);
        skip_empty_lines(&mut buf, &mut skipped);
    }
}

/// The most bytes of empty lines skipped before a request line: a client's stray line
/// endings, not a stream of them that would keep the head from ever starting.
const MAX_EMPTY_LINES: usize = 16;

/// Drops the empty lines that start `buf`, as HTTP/1.1 asks a server to (RFC 9112, 2.2: a
/// client may end a request's body with a line ending more), up to [`MAX_EMPTY_LINES`] bytes
/// counted in `skipped`; past those, the head is read as it is (and refused).
fn skip_empty_lines(buf: &mut Vec<u8>, skipped: &mut usize) {
    let empty = buf
        .iter()
        .take(MAX_EMPTY_LINES - *skipped)
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    buf.drain(..empty);
    *skipped += empty;
}

fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) content_type: &'static str,
    /// Shared by the scrapes that share a rendering.
    pub(super) body: Arc<String>,
    /// An answer to `HEAD`: the head of the answer to `GET`, without the body.
    pub(super) head_only: bool,
}

impl Response {
    pub(super) fn error(status: u16, reason: &'static str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: Arc::new(format!("{status} {reason}\n")),
            head_only: false,
        }
    }

    pub(super) fn head_only(mut self, head_only: bool) -> Response {
        self.head_only = head_only;
        self
    }

    pub(super) fn write_to(&self, stream: &mut impl Write) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if !self.head_only {
            stream.write_all(self.body.as_bytes())?;
        }
        Ok(())
    }
}

/// The path of a request target, without its query: in origin form (`/metrics?x`) and in
/// absolute form (`http://host:9464/metrics`), which RFC 9112 (section 3.2.2) has servers
/// accept (proxies send it).
pub(super) fn request_path(target: &str) -> &str {
    let origin_form = match target.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            match rest.find(['/', '?']) {
                Some(at) if rest.as_bytes()[at] == b'/' => &rest[at..],
                // No path (`http://host` or `http://host?x`): the root.
                _ => "/",
            }
        }
        _ => target,
    };
    origin_form.split('?').next().unwrap_or("")
}
