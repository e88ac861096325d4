//! OTLP metrics over HTTP/protobuf, pushed on the export interval, received by a small HTTP
//! server here that decodes each body as an `ExportMetricsServiceRequest` (prost, the OTLP
//! protobuf definitions). Gzip and headers come from the trace export settings.
use godtrace::metrics::record_counter;
use godtrace::{Compression, Config, MetricsConfig, Protocol, traced};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, metric::Data};
use prost::Message;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Received {
    headers: Vec<(String, String)>,
    request: ExportMetricsServiceRequest,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Serves every connection on its own thread; keeps what was posted to `/v1/metrics`.
fn receiver() -> (String, Log) {
    receiver_answering_after(Duration::ZERO)
}

/// [`receiver`], answering each request `delay` after reading it.
fn receiver_answering_after(delay: Duration) -> (String, Log) {
    receiver_with(delay, None)
}

/// [`receiver`], answering each request `delay` after reading it, and `400 Bad Request` to a
/// request holding the metric `refused` (kept in the log all the same).
fn receiver_with(delay: Duration, refused: Option<&'static str>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let keep = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(
                move || {
                    while serve_one(&stream, &keep, delay, refused).unwrap_or(false) {}
                },
            );
        }
    });
    (format!("http://{addr}"), log)
}

/// Reads one request and answers 200; false when the connection is done.
fn serve_one(
    stream: &TcpStream,
    log: &Log,
    delay: Duration,
    refused: Option<&str>,
) -> std::io::Result<bool> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(false);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    if header("content-encoding").as_deref() == Some("gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain)?;
        body = plain;
    }
    let mut refuse = false;
    if request_line.split_whitespace().nth(1) == Some("/v1/metrics") {
        let request = ExportMetricsServiceRequest::decode(&body[..]).expect("a metrics request");
        refuse = refused.is_some_and(|name| {
            let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
            metrics.iter().any(|m| m.name == name)
        });
        log.lock().unwrap().push(Received { headers, request });
    }
    std::thread::sleep(delay);
    let mut out = stream;
    let status = if refuse { "400 Bad Request" } else { "200 OK" };
    write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
    )?;
    Ok(true)
}

#[traced(operation = "otlp_http.work")]
fn work() {}

fn string_attr(p: &HistogramDataPoint, key: &str) -> Option<String> {
    p.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The duration point of `otlp_http.work` in `request`, if there.
fn work_point(request: &ExportMetricsServiceRequest) -> Option<HistogramDataPoint> {
    let metrics = &request
        .resource_metrics
        .first()?
        .scope_metrics
        .first()?
        .metrics;
    let metric = metrics
        .iter()
        .find(|m| m.name == "godtrace.operation.duration")?;
    let Some(Data::Histogram(h)) = &metric.data else {
        return None;
    };
    h.data_points
        .iter()
        .find(|p| string_attr(p, "operation").as_deref() == Some("otlp_http.work"))
        .cloned()
}

#[test]
fn metrics_are_pushed_over_http_on_the_interval() {
    crate::support::own_process!();
    let (endpoint, log) = receiver();
    let guard = godtrace::init(
        Config::new("metrics-otlp-http")
            .endpoint(&endpoint)
            .protocol(Protocol::HttpProtobuf)
            .compression(Compression::Gzip)
            .header("x-tenant", "t1")
            .local_tree(false)
            .metrics(MetricsConfig::new().export_interval(Duration::from_millis(200))),
    )
    .unwrap();
    for _ in 0..4 {
        work();
    }
    record_counter("otlp.http.orders", 1, &[]);
    // Pushed by the interval alone: wait (bounded) for two pushes carrying our calls.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pushes = loop {
        let got: Vec<Received> = log.lock().unwrap().clone();
        let with_work = got
            .iter()
            .filter(|r| work_point(&r.request).is_some())
            .count();
        if with_work >= 2 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let last = pushes
        .iter()
        .rev()
        .find(|r| work_point(&r.request).is_some())
        .expect("a push with the operation");
    assert!(
        pushes
            .iter()
            .filter(|r| work_point(&r.request).is_some())
            .count()
            >= 2,
        "expected repeated pushes"
    );
    let point = work_point(&last.request).unwrap();
    assert_eq!(point.count, 4);
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 4);
    assert!(point.start_time_unix_nano > 0 && point.time_unix_nano >= point.start_time_unix_nano);
    let resource = last.request.resource_metrics[0].resource.as_ref().unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()),
            Some(AnyValue::StringValue(s)) if s == "metrics-otlp-http")));
    let header = |n: &str| {
        last.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-tenant"), Some("t1"));
    assert_eq!(header("content-encoding"), Some("gzip"));
    assert_eq!(header("content-type"), Some("application/x-protobuf"));
    drop(guard);
}

/// A snapshot past the size a receiver takes in one request (4 MiB by default over gRPC)
/// goes in several requests of at most 1 MiB of metrics each, which together carry every
/// point once.
#[test]
fn a_large_push_goes_in_requests_of_at_most_a_mebibyte() {
    crate::support::own_process!();
    let (endpoint, log) = receiver();
    let guard = init_pushing_to(
        &endpoint,
        "metrics-otlp-http-large",
        MetricsConfig::new().export_interval(Duration::from_secs(3600)),
    );
    let (metrics, series) = record_large();
    // The last push, at shutdown, is the only one (the interval is an hour).
    drop(guard);
    let got: Vec<Received> = log.lock().unwrap().clone();
    assert!(got.len() >= 3, "{} requests", got.len());
    let mut points = std::collections::HashSet::new();
    for received in &got {
        let size = received.request.encoded_len();
        assert!(size <= (1 << 20) + 1024, "a request of {size} bytes");
        for metric in &received.request.resource_metrics[0].scope_metrics[0].metrics {
            let Some(Data::Sum(sum)) = &metric.data else {
                continue;
            };
            for point in &sum.data_points {
                let route = format!("{:?}", point.attributes[0].value);
                assert!(
                    points.insert((metric.name.clone(), route)),
                    "a point sent twice"
                );
            }
        }
    }
    assert_eq!(points.len(), metrics * series);
}

/// Records counters of `(metrics, series)` series with 250-byte attributes: about 2.5 MB of
/// metrics, three requests or more.
fn record_large() -> (usize, usize) {
    let (metrics, series) = (5, 1900);
    let padding = "x".repeat(250);
    for m in 0..metrics {
        for s in 0..series {
            let route = godtrace::otel::KeyValue::new("route", format!("/r/{s}/{padding}"));
            record_counter(&format!("otlp.http.large.{m}"), 1, &[route]);
        }
    }
    (metrics, series)
}

/// The export timeout bounds a push, not each of its requests: a push of several requests
/// to a receiver slow to answer each ends by the timeout; the next push starts with the request
/// the last one did not get through, so every metric arrives, a few pushes apart.
#[test]
fn the_export_timeout_bounds_a_whole_push_and_the_next_goes_on() {
    crate::support::own_process!();
    let (endpoint, log) = receiver_answering_after(Duration::from_millis(500));
    let timeout = Duration::from_millis(1200);
    let guard = init_pushing_to(
        &endpoint,
        "metrics-otlp-http-slow",
        MetricsConfig::new()
            .export_interval(Duration::from_secs(3600))
            .export_timeout(timeout),
    );
    let (metrics, _) = record_large();
    for _ in 0..metrics {
        let started = Instant::now();
        guard.flush();
        let took = started.elapsed();
        // Not a timing of godtrace: a bound it keeps (five requests of 0.5 s each took 2.5 s
        // when each had the timeout of its own).
        assert!(
            took < timeout + Duration::from_millis(600),
            "a push took {took:?}"
        );
    }
    let received: std::collections::HashSet<String> = log
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.request.resource_metrics[0].scope_metrics[0]
                .metrics
                .clone()
        })
        .map(|m| m.name)
        .collect();
    for m in 0..metrics {
        let name = format!("otlp.http.large.{m}");
        assert!(
            received.contains(&name),
            "{name} never arrived: {received:?}"
        );
    }
    drop(guard);
}

/// A request the receiver refuses for good (a 400) does not hold back the others: every push
/// sends them all.
#[test]
fn a_request_refused_for_good_leaves_the_others_going() {
    crate::support::own_process!();
    let (endpoint, log) = receiver_with(Duration::ZERO, Some("otlp.http.large.1"));
    let guard = init_pushing_to(
        &endpoint,
        "metrics-otlp-http-refused",
        MetricsConfig::new().export_interval(Duration::from_secs(3600)),
    );
    let (metrics, _) = record_large();
    let pushes = 3;
    for _ in 0..pushes {
        guard.flush();
    }
    let log = log.lock().unwrap();
    for m in 0..metrics {
        let name = format!("otlp.http.large.{m}");
        let sent = log
            .iter()
            .filter(|r| {
                let metrics = &r.request.resource_metrics[0].scope_metrics[0].metrics;
                metrics.iter().any(|metric| metric.name == name)
            })
            .count();
        assert_eq!(sent, pushes, "{name}");
    }
    drop(guard);
}

/// `init` with metrics pushed over OTLP/HTTP to `endpoint` as `service`.
fn init_pushing_to(endpoint: &str, service: &str, metrics: MetricsConfig) -> godtrace::Guard {
    godtrace::init(
        Config::new(service)
            .endpoint(endpoint)
            .protocol(Protocol::HttpProtobuf)
            .local_tree(false)
            .metrics(metrics),
    )
    .unwrap()
}

/// A push timeout longer than the guard's bound (`OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` set
/// above `OTEL_BSP_EXPORT_TIMEOUT`): the last push to a receiver that never answers is cut
/// within the guard's bound and its failure is said before the guard's drop returns (it ran
/// on past the drop, unsaid).
#[test]
fn the_last_push_ends_within_the_guards_bound_and_says_why() {
    crate::support::own_process!();
    use std::os::fd::AsRawFd as _;
    let path = std::env::temp_dir().join(format!("godtrace-last-push-{}", std::process::id()));
    let file = std::fs::File::create(&path).expect("a file for stderr");
    let (endpoint, _log) = receiver_answering_after(Duration::from_secs(3600));
    let restore = crate::faults_stderr::stderr_to(file.as_raw_fd());
    let guard = godtrace::init(
        Config::new("metrics-otlp-http-last-push")
            .endpoint(&endpoint)
            .protocol(Protocol::HttpProtobuf)
            .local_tree(false)
            .export_timeout(Duration::from_millis(1500))
            .metrics(
                MetricsConfig::new()
                    .export_interval(Duration::from_secs(3600))
                    .export_timeout(Duration::from_secs(60)),
            ),
    )
    .unwrap();
    record_counter("otlp.http.last_push", 1, &[]);
    drop(guard);
    drop(restore);
    let said = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        said.contains("godtrace: metrics export to") && said.contains("ran out while sending"),
        "{said}"
    );
}
