//! A minimal HTTP/1.1 server for `/metrics`, on one background thread over `std::net`.
//!
//! One request per connection (`Connection: close`), handled in turn; reads and writes time
//! out, so a stuck client delays a scrape by at most a few seconds. A malformed request gets a
//! 4xx answer; nothing a client sends can panic the thread. [`Server::stop`] (or dropping
//! the server) wakes the accept loop and joins the thread.
use super::render::{Format, render};
use crate::metrics::metrics_snapshot;
use crate::metrics::worker::Worker;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The running endpoint.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    worker: Option<Worker>,
}

impl Server {
    /// Binds `listen` (e.g. `0.0.0.0:9464`, `127.0.0.1:0`) and serves on a new thread.
    pub(crate) fn start(listen: impl ToSocketAddrs) -> io::Result<Server> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let worker = Worker::spawn("godtrace-prometheus", move || serve(listener, &flag))?;
        Ok(Server {
            addr,
            stop,
            worker: Some(worker),
        })
    }

    /// The address actually bound (with the port chosen, for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and joins the thread (after the request in progress, if any).
    #[cfg(test)]
    pub(crate) fn stop(mut self) {
        if let Some(worker) = self.stop_begin() {
            worker.wait_until(Instant::now() + 2 * IO_TIMEOUT);
        }
    }

    /// Stops accepting; the returned thread ends after the request in progress, if any.
    pub(crate) fn stop_begin(&mut self) -> Option<Worker> {
        let worker = self.worker.take()?;
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let _ = TcpStream::connect_timeout(&SocketAddr::new(ip, self.addr.port()), IO_TIMEOUT);
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

fn serve(listener: TcpListener, stop: &AtomicBool) {
    let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(stream) => {
                let _ = catch_unwind(AssertUnwindSafe(|| handle(stream)));
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn handle(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let response = match read_head(&mut stream)? {
        Some(head) => respond(&head),
        None => Response::error(431, "Request Header Fields Too Large"),
    };
    response.write_to(&mut stream)?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// Reads up to the blank line that ends the request head; `None` when it is too long.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_end(&buf) {
            buf.truncate(end);
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            // Closed early: answer whatever arrived (likely a 400).
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    head_only: bool,
}

impl Response {
    fn error(status: u16, reason: &'static str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: format!("{status} {reason}\n"),
            head_only: false,
        }
    }

    fn write_to(&self, stream: &mut TcpStream) -> io::Result<()> {
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

fn respond(head: &str) -> Response {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("");
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let [method, target, version] = parts[..] else {
        return Response::error(400, "Bad Request");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::error(400, "Bad Request");
    }
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return Response::error(404, "Not Found");
    }
    if method != "GET" && method != "HEAD" {
        return Response::error(405, "Method Not Allowed");
    }
    let accept = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| value.trim())
    });
    let format = negotiate(accept);
    Response {
        status: 200,
        reason: "OK",
        content_type: format.content_type(),
        body: render(&metrics_snapshot(), format),
        head_only: method == "HEAD",
    }
}

/// OpenMetrics when the `Accept` header prefers it to the text format, else text.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let (mut openmetrics, mut text) = (0.0f64, 0.0f64);
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" | "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

#[cfg(test)]
mod tests;
