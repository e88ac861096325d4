//! End to end with a real Prometheus (started by `scripts/backends/prometheus.sh`): it scrapes
//! the `metrics_server` example, and PromQL reads back the 95th percentile latency per
//! operation, the error ratio (non-zero only for the failing operation) and the exemplars
//! linking buckets to traces.
//!
//! Meanwhile ten idle clients and one sending a byte every 100 ms stay connected to the
//! endpoint: Prometheus's scrapes (1 s timeout) go through all the same, and it reports the
//! target healthy, with no scrape or parse error.
//!
//! Without `GODTRACE_PROMETHEUS_URL` (plain `cargo test`) it prints "skipped: run
//! scripts/test", unless `GODTRACE_REQUIRE_E2E=1`, when it fails.
//!
//! Also (no Prometheus needed): dropping the guard stops the endpoint whatever its clients do.
use godtrace::metrics::prometheus_addr;
use godtrace::{Config, MetricsConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const OPERATIONS: [&str; 3] = ["shop.checkout", "shop.inventory", "shop.payment"];
const FAILING: &str = "shop.payment";

const P95: &str = "histogram_quantile(0.95, sum by (operation, le) \
    (rate(godtrace_operation_duration_seconds_bucket{job=\"godtrace-e2e\"}[30s])))";
/// The Grafana dashboard's error-ratio query (deploy/grafana), for this job.
const ERROR_RATIO: &str = "(sum by (operation) (rate(godtrace_operation_duration_seconds_count\
    {job=\"godtrace-e2e\", error_type!=\"\"}[30s])) or 0 * sum by (operation) \
    (rate(godtrace_operation_duration_seconds_count{job=\"godtrace-e2e\"}[30s]))) / sum by \
    (operation) (rate(godtrace_operation_duration_seconds_count{job=\"godtrace-e2e\"}[30s]))";

/// Kills the example when the test ends, however it ends.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Clients that hold connections to `addr` without finishing a request, until dropped: `idle`
/// connections that send nothing (re-opened whenever the server closes one) and one that
/// sends a byte every 100 ms.
struct Stragglers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Stragglers {
    fn start(addr: SocketAddr, idle: usize) -> Stragglers {
        let stop = Arc::new(AtomicBool::new(false));
        let idle_stop = stop.clone();
        let idlers = std::thread::spawn(move || {
            let mut held: Vec<Option<TcpStream>> = (0..idle).map(|_| None).collect();
            while !idle_stop.load(Ordering::SeqCst) {
                for slot in &mut held {
                    if slot.as_ref().is_none_or(|s| !open(s)) {
                        *slot = TcpStream::connect(addr).ok();
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let trickle_stop = stop.clone();
        let trickler = std::thread::spawn(move || {
            while !trickle_stop.load(Ordering::SeqCst) {
                let sent = AtomicUsize::new(0);
                trickle(addr, &sent, &trickle_stop);
            }
        });
        Stragglers {
            stop,
            threads: vec![idlers, trickler],
        }
    }
}

impl Drop for Stragglers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Whether the server has neither answered nor closed `stream`.
fn open(stream: &TcpStream) -> bool {
    let _ = stream.set_nonblocking(true);
    matches!(
        (&mut &*stream).read(&mut [0u8; 1]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}

/// Sends a request head to `addr` a byte every 100 ms, never its end, counting the bytes in
/// `sent`, until the server lets go (true) or `give_up` is set (false).
fn trickle(addr: SocketAddr, sent: &AtomicUsize, give_up: &AtomicBool) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return true;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let head = b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter();
    for byte in head.chain(std::iter::repeat(&b'a')) {
        if give_up.load(Ordering::SeqCst) {
            return false;
        }
        if s.write_all(&[*byte]).is_err() {
            return true;
        }
        sent.fetch_add(1, Ordering::SeqCst);
        match s.read(&mut [0u8; 1]) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            _ => return true,
        }
    }
    unreachable!("the byte source never ends")
}

/// The health, last error and last scrape time Prometheus reports for its target `target`.
fn target_state(prometheus: &str, target: &str) -> [String; 3] {
    let json = get_json(
        &format!("{prometheus}/api/v1/targets"),
        &[("state", "active")],
    );
    json["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["instance"] == target)
        .map(|t| {
            ["health", "lastError", "lastScrape"].map(|k| t[k].as_str().unwrap_or("").to_owned())
        })
        .unwrap_or_else(|| panic!("Prometheus does not scrape {target}: {json}"))
}

/// The health and last error of a scrape that began after this call: the second one reported
/// after it (the first may have begun before).
fn health_of_a_new_scrape(prometheus: &str, target: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let [_, _, mut last] = target_state(prometheus, target);
    let mut scrapes = 0;
    loop {
        let [health, error, scraped] = target_state(prometheus, target);
        if scraped != last {
            scrapes += 1;
            last = scraped;
            if scrapes == 2 {
                return (health, error);
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus reported no new scrape of {target} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn example_binary() -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/metrics_server
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("metrics_server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --example metrics_server`)",
        bin.display()
    );
    bin
}

/// The JSON answer of Prometheus's HTTP API at `url` with these query parameters.
fn get_json(url: &str, params: &[(&str, &str)]) -> Value {
    let mut request = ureq::get(url);
    for (key, value) in params {
        request = request.query(*key, *value);
    }
    let body = request
        .call()
        .unwrap_or_else(|e| panic!("querying {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url} answered {body:?}: {e}"))
}

/// `query`'s instant vector as (operation, value) pairs.
fn query(prometheus: &str, promql: &str) -> Vec<(String, f64)> {
    let json = get_json(&format!("{prometheus}/api/v1/query"), &[("query", promql)]);
    assert_eq!(json["status"], "success", "{json}");
    json["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let op = r["metric"]["operation"].as_str().unwrap_or("").to_owned();
            let v = r["value"][1]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap_or(f64::NAN);
            (op, v)
        })
        .collect()
}

/// The trace ids of the exemplars stored for the duration buckets in the last five minutes.
fn exemplar_trace_ids(prometheus: &str) -> Vec<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 300).to_string(), (now + 60).to_string());
    let json = get_json(
        &format!("{prometheus}/api/v1/query_exemplars"),
        &[
            (
                "query",
                "godtrace_operation_duration_seconds_bucket{job=\"godtrace-e2e\"}",
            ),
            ("start", &start),
            ("end", &end),
        ],
    );
    json["data"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .flat_map(|s| s["exemplars"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_reads_latency_quantiles_error_ratios_and_exemplars() {
    crate::support::own_process!();
    let Ok(prometheus) = std::env::var("GODTRACE_PROMETHEUS_URL") else {
        assert!(
            std::env::var("GODTRACE_REQUIRE_E2E").as_deref() != Ok("1"),
            "GODTRACE_REQUIRE_E2E=1 but GODTRACE_PROMETHEUS_URL is not set: \
             scripts/backends/prometheus.sh did not run"
        );
        println!("skipped: run scripts/test");
        return;
    };
    let target = std::env::var("GODTRACE_PROMETHEUS_TARGET")
        .expect("GODTRACE_PROMETHEUS_TARGET: the address Prometheus scrapes");
    if let Err(e) = ureq::get(format!("{prometheus}/-/ready")).call() {
        panic!("Prometheus at {prometheus} is not ready: {e}");
    }

    let mut example = Example(
        Command::new(example_binary())
            .env_clear()
            .env("GODTRACE_PROMETHEUS_LISTEN", &target)
            .args(["--seconds", "300"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the metrics_server example"),
    );
    let mut first_line = String::new();
    BufReader::new(example.0.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.starts_with(&format!("serving http://{target}/metrics")),
        "the example did not start serving: {first_line:?}"
    );

    // Clients that would hold a one-at-a-time server for good (1 s scrape timeout).
    let stragglers = Stragglers::start(target.parse().unwrap(), 10);

    // Scraped every second; rates need a few samples. Poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (p95, ratio, exemplars) = loop {
        let p95 = query(&prometheus, P95);
        let ratio = query(&prometheus, ERROR_RATIO);
        let exemplars = exemplar_trace_ids(&prometheus);
        let complete = |v: &[(String, f64)]| {
            OPERATIONS
                .iter()
                .all(|op| v.iter().any(|(o, x)| o == op && x.is_finite()))
        };
        let failing_seen = ratio.iter().any(|(o, x)| o == FAILING && *x > 0.0);
        if complete(&p95) && complete(&ratio) && failing_seen && !exemplars.is_empty() {
            break (p95, ratio, exemplars);
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not return every operation within 120 s:\n\
             p95 {p95:?}\nerror ratio {ratio:?}\nexemplars {exemplars:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    let mut ops: Vec<&str> = p95.iter().map(|(o, _)| o.as_str()).collect();
    ops.sort();
    assert_eq!(ops, OPERATIONS, "p95 per operation: {p95:?}");
    for (op, seconds) in &p95 {
        assert!(*seconds > 0.0 && *seconds < 10.0, "{op}: {seconds}");
    }
    // Every inventory call sleeps 2 ms: none sits in a bucket at or below 1 ms.
    let inventory = p95.iter().find(|(o, _)| o == "shop.inventory").unwrap().1;
    assert!(inventory > 0.001, "p95 of shop.inventory: {inventory}");

    for (op, r) in &ratio {
        if op == FAILING {
            assert!(*r > 0.0 && *r < 1.0, "error ratio of {op}: {r}");
        } else {
            assert_eq!(*r, 0.0, "error ratio of {op} ({ratio:?})");
        }
    }
    for trace_id in &exemplars {
        assert!(
            trace_id.len() == 32 && trace_id.chars().all(|c| c.is_ascii_hexdigit()),
            "exemplar trace_id {trace_id:?}"
        );
    }
    // A scrape made with the stragglers connected was whole and parsed.
    let (health, last_error) = health_of_a_new_scrape(&prometheus, &target);
    assert_eq!(
        (health.as_str(), last_error.as_str()),
        ("up", ""),
        "the target's health"
    );
    drop(stragglers);
}

/// With a client sending a byte every 100 ms connected, dropping the guard stops the endpoint
/// at once: the port is free when `drop` returns. The guard's bound (20 s) is shorter than the
/// client's patience (60 s), so an endpoint that waited for the client would still hold the
/// port after the guard gave up on it; no clock is read.
#[test]
fn dropping_the_guard_stops_the_endpoint_whatever_clients_do() {
    crate::support::own_process!();
    let guard = godtrace::init(
        Config::new("prometheus-e2e-stop")
            .local_tree(false)
            .export_timeout(Duration::from_secs(20))
            .metrics(MetricsConfig::new().prometheus_listen("127.0.0.1:0")),
    )
    .unwrap();
    let addr = prometheus_addr().expect("the endpoint runs");
    let sent = Arc::new(AtomicUsize::new(0));
    let give_up = Arc::new(AtomicBool::new(false));
    let slow = {
        let (sent, give_up) = (sent.clone(), give_up.clone());
        std::thread::spawn(move || trickle(addr, &sent, &give_up))
    };
    let patience = {
        let give_up = give_up.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(60));
            give_up.store(true, Ordering::SeqCst);
        })
    };
    // Half a second of bytes: the endpoint is serving this client.
    while sent.load(Ordering::SeqCst) < 5 {
        assert!(!slow.is_finished(), "the slow client was cut off early");
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = Instant::now();
    drop(guard);
    println!("the guard dropped in {:?}", start.elapsed());
    TcpListener::bind(addr).expect("the port is free once the guard has dropped");
    assert!(slow.join().unwrap(), "the slow client was never let go");
    drop(patience);
}
