//! The HTTP/protobuf receiver (and the black hole), on plain threads: a minimal HTTP/1.1
//! server that reads `POST` bodies, decodes them as OTLP, and answers 200.
use super::{Kind, Received, Sink};
use opentelemetry::Context;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub(super) fn start(
    listener: TcpListener,
    sink: Arc<Sink>,
    stop: Arc<AtomicBool>,
    kind: Kind,
) -> JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let _quiet = Context::enter_telemetry_suppressed_scope();
        let mut held = Vec::new();
        let mut workers = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) if kind == Kind::BlackHole => held.push(stream),
                Ok((stream, _)) => {
                    let (sink, stop) = (sink.clone(), stop.clone());
                    let answer = match kind {
                        Kind::HttpPartial => Some(super::one_rejected()),
                        Kind::HttpWarning => Some(super::a_warning()),
                        _ => None,
                    };
                    let stalls = kind == Kind::HttpStalledSuccess;
                    workers.push(std::thread::spawn(move || {
                        serve(stream, &sink, &stop, answer, stalls)
                    }));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        drop(listener);
        drop(held);
        for w in workers {
            let _ = w.join();
        }
    })
}

/// Serves requests on one keep-alive connection until the client closes it or `stop`;
/// `partial`: the partial success each answer carries, if any; `stalls`: the first answer is
/// a success whose body never ends (see `Kind::HttpStalledSuccess`).
fn serve(
    stream: TcpStream,
    sink: &Sink,
    stop: &AtomicBool,
    partial: Option<opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess>,
    stalls: bool,
) {
    let _quiet = Context::enter_telemetry_suppressed_scope();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some((path, headers, body)) = read_request(&mut reader, stop) else {
            return;
        };
        if path != "/v1/traces" {
            // Not a trace export (e.g. godtrace's metrics push to /v1/metrics): not counted.
            let response = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        let gzip = headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip");
        let body = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            body
        };
        let request = ExportTraceServiceRequest::decode(&body[..]).expect("an OTLP body");
        sink.record(Received {
            path,
            headers,
            request,
        });
        if stalls {
            let head = "HTTP/1.0 200 OK\r\ncontent-type: application/x-protobuf\r\n\r\n";
            let _ = writer.write_all(head.as_bytes());
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        let answer = ExportTraceServiceResponse {
            partial_success: partial.clone(),
        }
        .encode_to_vec();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&answer).is_err() {
            return;
        }
    }
}

type Request = (String, Vec<(String, String)>, Vec<u8>);

fn read_request(reader: &mut BufReader<TcpStream>, stop: &AtomicBool) -> Option<Request> {
    let mut line = String::new();
    // Wait for the next request, checking `stop` between read timeouts.
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .ok()?;
    Some((path, headers, body))
}
