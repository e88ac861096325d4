//! Issue 18, the export path: spans recorded at a fixed rate (1 M/s by default) for a few
//! seconds, exported over OTLP (HTTP and gRPC, gzip off and on) with the default queue and
//! batch settings to a receiver process on loopback that decodes every request.
//!
//! ```text
//! cargo bench --bench overhead -- export/    # only these cases
//! ```
//!
//! Each case prints the spans dropped (`godtrace::stats()`), the whole process's CPU time
//! (`getrusage`, every thread) per exported span next to `Instant::now()` measured in the
//! same process, the same less what the pacing loop costs without tracing (its sleeps and
//! wake-ups, measured first in the same process: not a cost of godtrace), the export thread's own CPU time per span (its spans per second of CPU) and
//! how often it was woken, per 512 spans (the default batch).
//! `GODTRACE_BENCH_EXPORT_RATE` (spans/s) and `GODTRACE_BENCH_EXPORT_SECS` change the load;
//! `GODTRACE_BENCH_EXPORT_SPANS=<n>` records n spans unpaced, flushes and exits (a fixed
//! workload for callgrind). `GODTRACE_BENCH_RECEIVER_DECODE=0` makes the HTTP receiver answer
//! without decoding (nor counting) the spans: whether drops come from the receiver's CPU.
//!
//! Where drops come from, each case also prints the milliseconds in which spans were dropped
//! (the loop reads the process's count of dropped spans after each burst) and the CPU time the hypervisor took
//! from this machine meanwhile (`steal` in `/proc/stat`). With `GODTRACE_BENCH_EXPORT_WAITS=1`,
//! each burst that found the queue full is also printed on stderr with how long the export
//! thread and the recording thread waited for a core since the burst before (`schedstat`; read
//! at every burst, which adds a few µs per burst to the recording thread's CPU).
use crate::cases::{Case, Kind, Setup};
use crate::figures::num;
use crate::{CASE_VAR, Fields};
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The receiver role of this module's HTTP receiver (the gRPC one is `receiver.rs`'s).
pub const HTTP_ROLE: &str = "receiver-http";

#[godtrace::traced]
#[inline(never)]
fn exported_work(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

fn op_exported(x: u64) -> u64 {
    exported_work(x)
}

/// `exported_work` without the attribute: the pacing loop's own cost.
#[inline(never)]
fn untraced_work(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

const fn export_case(id: &'static str) -> Case {
    Case {
        id,
        kind: Kind::Export,
        setup: Setup::Nothing,
        op: op_exported,
        calls_per_op: 1,
        spans_per_op: 1,
        short: false,
        threads: 1,
    }
}

/// The export cases: both transports, gzip off and on.
pub fn cases() -> Vec<Case> {
    vec![
        export_case("export/otlp-http"),
        export_case("export/otlp-http-gzip"),
        export_case("export/otlp-grpc"),
        export_case("export/otlp-grpc-gzip"),
    ]
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

/// The case's process: set up, record at the rate, report.
pub fn run(case: &Case) -> Vec<(String, String)> {
    let http = case.id.contains("http");
    let gzip = case.id.contains("gzip");
    let quick = std::env::var_os("GODTRACE_BENCH_QUICK").is_some();
    let rate = env_f64("GODTRACE_BENCH_EXPORT_RATE", 1e6);
    let secs = env_f64("GODTRACE_BENCH_EXPORT_SECS", if quick { 0.3 } else { 4.0 });
    // Before godtrace starts any thread: the process's CPU is the loop's alone.
    let pacing_cpu = pacing_cpu_per_call(rate, Duration::from_secs_f64(secs.min(1.0)));
    let mut receiver = ExportReceiver::spawn(http);
    let config = godtrace::Config::new("godtrace-bench")
        .endpoint(receiver.endpoint.clone())
        .protocol(if http {
            godtrace::Protocol::HttpProtobuf
        } else {
            godtrace::Protocol::Grpc
        })
        .compression(if gzip {
            godtrace::Compression::Gzip
        } else {
            godtrace::Compression::None
        })
        .local_tree(false);
    let guard = godtrace::init(config).expect("init");
    if let Some(n) = std::env::var("GODTRACE_BENCH_EXPORT_SPANS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        fixed_workload(&guard, n);
        drop(guard);
        let _ = receiver.finish();
        std::process::exit(0);
    }
    let instant_ns = instant_now_ns();
    // Warm: connections open, boxes in the pools, the call site's parts encoded.
    paced(
        op_exported,
        rate,
        Duration::from_millis(300),
        &mut Drops::default(),
    );
    guard.flush();
    let before = Sample::now();
    let receiver_before = receiver.cpu_ns();
    let start = Instant::now();
    let mut drops = Drops::with_waits();
    let steal_before = steal_ms();
    let recorded = paced(op_exported, rate, Duration::from_secs_f64(secs), &mut drops);
    let steal = steal_ms() - steal_before;
    if let Some(waits) = &drops.waits {
        waits.print();
    }
    let elapsed = start.elapsed().as_secs_f64();
    guard.flush();
    let after = Sample::now();
    let receiver_cpu = receiver.cpu_ns() - receiver_before;
    let exported_total = godtrace::stats().spans_exported;
    drop(guard);
    let (received, body_bytes) = receiver.finish();

    let exported = after.exported - before.exported;
    let per_span = |ns: u64| ns as f64 / exported.max(1) as f64;
    let cpu = per_span(after.process_ns - before.process_ns);
    let export_cpu = per_span(after.export_thread_ns - before.export_thread_ns);
    let mut out = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_owned(), v));
    put("target_rate", format!("{rate:.0}"));
    put("achieved_rate", format!("{:.0}", recorded as f64 / elapsed));
    put("secs", format!("{elapsed:.2}"));
    put("recorded", recorded.to_string());
    put("exported", exported.to_string());
    put("dropped", (after.dropped - before.dropped).to_string());
    put("drop_ms", drops.windows.to_string());
    put("steal_ms", steal.to_string());
    put("failed", (after.failed - before.failed).to_string());
    put("instant_ns", format!("{instant_ns:.2}"));
    put("cpu_ns_per_span", format!("{cpu:.1}"));
    put("cpu_vs_instant", format!("{:.2}", cpu / instant_ns));
    put("pacing_ns_per_call", format!("{pacing_cpu:.1}"));
    put("net_cpu_ns_per_span", format!("{:.1}", cpu - pacing_cpu));
    put(
        "net_cpu_vs_instant",
        format!("{:.2}", (cpu - pacing_cpu) / instant_ns),
    );
    put("export_ns_per_span", format!("{export_cpu:.1}"));
    put(
        "export_spans_per_core_sec",
        format!("{:.0}", 1e9 / export_cpu.max(1e-9)),
    );
    put(
        "record_ns_per_span",
        format!(
            "{:.1}",
            per_span(after.main_thread_ns - before.main_thread_ns)
        ),
    );
    put(
        "export_wakeups_per_batch",
        format!(
            "{:.2}",
            (after.export_wakeups - before.export_wakeups) as f64 * 512.0 / exported.max(1) as f64
        ),
    );
    put(
        "receiver_ns_per_span",
        format!("{:.0}", per_span(receiver_cpu)),
    );
    put("exported_total", exported_total.to_string());
    put("received_total", received.to_string());
    if body_bytes > 0 {
        put(
            "wire_bytes_per_span",
            format!("{:.1}", body_bytes as f64 / received.max(1) as f64),
        );
    }
    out
}

/// Records `n` spans as fast as possible and flushes.
fn fixed_workload(guard: &godtrace::Guard, n: u64) {
    for i in 0..n {
        black_box(op_exported(black_box(i)));
        if i % 1024 == 1023 {
            // Below the queue's size: the fixed workload drops nothing.
            guard.flush();
        }
    }
    guard.flush();
}

/// The process's CPU time per call of the paced loop around an untraced function: what the
/// loop's sleeps and wake-ups cost, which the traced run pays too and godtrace does not cause.
fn pacing_cpu_per_call(rate: f64, length: Duration) -> f64 {
    let before = process_cpu_ns();
    let calls = paced(untraced_work, rate, length, &mut Drops::default());
    (process_cpu_ns() - before) as f64 / calls.max(1) as f64
}

/// Calls `op` at `rate` per second for `length`, in bursts of about a millisecond's (at most
/// 256, an eighth of the default queue); returns how many calls. Few bursts keep the pacing's
/// own sleeps small beside the calls (they are measured apart: `pacing_cpu_per_call`).
fn paced(op: fn(u64) -> u64, rate: f64, length: Duration, drops: &mut Drops) -> u64 {
    let burst = (rate / 1000.0).clamp(1.0, 256.0) as u64;
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..burst {
            black_box(op(black_box(n)));
            n += 1;
        }
        let now = start.elapsed();
        drops.look(now);
        if now >= length {
            return n;
        }
        let due = Duration::from_secs_f64(n as f64 / rate);
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// The milliseconds of a paced run in which spans were dropped: a few long episodes point at
/// the export thread kept off the CPU, drops in every millisecond at a rate it cannot carry.
#[derive(Default)]
struct Drops {
    last_count: u64,
    last_window: Option<u128>,
    windows: u64,
    /// With `GODTRACE_BENCH_EXPORT_WAITS=1`: the threads' scheduler counts at each burst.
    waits: Option<Waits>,
}

impl Drops {
    /// Also reads both threads' scheduler counts at every burst (a few µs each: off by
    /// default, as it adds to the recording thread's CPU).
    fn with_waits() -> Drops {
        let waits = std::env::var_os("GODTRACE_BENCH_EXPORT_WAITS")
            .is_some_and(|v| v == "1")
            .then(Waits::default);
        Drops {
            waits,
            ..Drops::default()
        }
    }

    fn look(&mut self, now: Duration) {
        // Not `godtrace::stats()`, which collects every lane first: the recording thread
        // would then hand its spans over every burst, which it does not do untimed.
        let count = godtrace::__private::spans_dropped_counted();
        let dropped = count - self.last_count;
        if dropped > 0 {
            let window = now.as_millis();
            if self.last_window != Some(window) {
                self.windows += 1;
                self.last_window = Some(window);
            }
        }
        if let Some(waits) = &mut self.waits {
            waits.look(now, dropped);
        }
        self.last_count = count;
    }
}

/// Where the time went before each burst that found the queue full: how long the export
/// thread and the recording thread ran and waited for a core (runnable, not running: the
/// first two fields of `/proc/<tid>/schedstat`, which the kernel brings up to date when the
/// thread is switched, so a thread running through the interval may show little) since the
/// burst before. Printed on stderr at the end.
#[derive(Default)]
struct Waits {
    export: Option<std::fs::File>,
    /// When the burst before ended, and both threads' (time run, time waited), ns.
    last: Option<(Duration, [u64; 2], [u64; 2])>,
    episodes: Vec<String>,
}

impl Waits {
    fn look(&mut self, now: Duration, dropped: u64) {
        if self.export.is_none() {
            self.export = export_thread_schedstat();
        }
        let Some(export) = &self.export else {
            return;
        };
        let export_now = [schedstat_field(export, 0), schedstat_field(export, 1)];
        let own_now = std::fs::File::open("/proc/thread-self/schedstat")
            .map(|f| [schedstat_field(&f, 0), schedstat_field(&f, 1)])
            .unwrap_or([0, 0]);
        if let Some((then, export_before, own_before)) = self.last
            && dropped > 0
        {
            let us = |now: u64, before: u64| now.saturating_sub(before) / 1000;
            self.episodes.push(format!(
                "at {:.1} ms: {dropped} dropped; in the {} µs since the burst before, the export \
                 thread ran {} µs and waited {} µs for a core, the recording thread ran {} µs \
                 and waited {} µs",
                now.as_secs_f64() * 1e3,
                (now - then).as_micros(),
                us(export_now[0], export_before[0]),
                us(export_now[1], export_before[1]),
                us(own_now[0], own_before[0]),
                us(own_now[1], own_before[1]),
            ));
        }
        self.last = Some((now, export_now, own_now));
    }
}

impl Waits {
    fn print(&self) {
        for episode in &self.episodes {
            eprintln!("{WAITS_PREFIX}{episode}");
        }
    }
}

/// Starts the lines of [`Waits::print`], which the parent process passes on.
pub const WAITS_PREFIX: &str = "export waits: ";

/// The export thread's `schedstat`, open.
fn export_thread_schedstat() -> Option<std::fs::File> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim() == "godtrace-export")
            .then(|| std::fs::File::open(task.path().join("schedstat")).ok())
            .flatten()
    })
}

/// Field `n` of a `schedstat` file (0: ns on a CPU; 1: ns waiting for one), read afresh.
fn schedstat_field(file: &std::fs::File, n: usize) -> u64 {
    use std::os::unix::fs::FileExt as _;
    let mut buf = [0u8; 96];
    let len = file.read_at(&mut buf, 0).unwrap_or(0);
    std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|s| s.split_whitespace().nth(n)?.parse().ok())
        .unwrap_or(0)
}

/// The CPU time the hypervisor gave other guests while this machine's CPUs wanted it, summed
/// over the CPUs (`steal` on `/proc/stat`'s `cpu` line, in 10 ms ticks), ms; 0 where unknown.
fn steal_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks = stat
        .lines()
        .next()
        .and_then(|cpu| cpu.split_whitespace().nth(8))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    ticks * 10
}

/// `Instant::now()`'s cost in this process, ns: the lowest of a few runs.
fn instant_now_ns() -> f64 {
    let calls = 2_000_000u32;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                black_box(Instant::now());
            }
            start.elapsed().as_nanos() as f64 / f64::from(calls)
        })
        .fold(f64::INFINITY, f64::min)
}

/// CPU times and counters at one moment.
struct Sample {
    /// Every thread of the process, user + system (`getrusage(RUSAGE_SELF)`).
    process_ns: u64,
    /// The export thread's (`/proc/self/task/*/schedstat`).
    export_thread_ns: u64,
    /// The recording thread's (this one).
    main_thread_ns: u64,
    /// Times the export thread went to sleep and was woken (its voluntary context switches).
    export_wakeups: u64,
    exported: u64,
    dropped: u64,
    failed: u64,
}

impl Sample {
    fn now() -> Sample {
        let stats = godtrace::stats();
        Sample {
            process_ns: process_cpu_ns(),
            export_thread_ns: thread_cpu_ns(|comm| comm == "godtrace-export"),
            main_thread_ns: thread_cpu_ns_of("thread-self"),
            export_wakeups: export_thread_wakeups(),
            exported: stats.spans_exported,
            dropped: stats.spans_dropped,
            failed: stats.spans_failed,
        }
    }
}

#[repr(C)]
struct Timeval {
    sec: i64,
    usec: i64,
}

#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    rest: [i64; 14],
}

unsafe extern "C" {
    fn getrusage(who: std::ffi::c_int, usage: *mut Rusage) -> std::ffi::c_int;
}

/// User + system CPU time of every thread of this process, ns.
fn process_cpu_ns() -> u64 {
    let mut usage = Rusage {
        utime: Timeval { sec: 0, usec: 0 },
        stime: Timeval { sec: 0, usec: 0 },
        rest: [0; 14],
    };
    // SAFETY: `usage` is a valid, writable `struct rusage` (x86-64/aarch64 Linux layout:
    // two timevals and fourteen longs); RUSAGE_SELF is 0.
    let rc = unsafe { getrusage(0, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let ns = |t: &Timeval| t.sec as u64 * 1_000_000_000 + t.usec as u64 * 1_000;
    ns(&usage.utime) + ns(&usage.stime)
}

/// The CPU time of the threads whose name `keep` accepts, ns.
fn thread_cpu_ns(keep: impl Fn(&str) -> bool) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| keep(c.trim()))
        })
        .map(|task| schedstat_ns(&task.path().join("schedstat")))
        .sum()
}

/// The export thread's voluntary context switches (`/proc/self/task/*/status`).
fn export_thread_wakeups() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|c| c.trim() == "godtrace-export")
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}

fn thread_cpu_ns_of(task: &str) -> u64 {
    schedstat_ns(&std::path::Path::new("/proc").join(task).join("schedstat"))
}

/// The first field of a `schedstat` file: time spent on a CPU, ns.
fn schedstat_ns(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A receiver process (gRPC: `receiver.rs`'s; HTTP: this module's), which decodes every
/// request and, when its standard input closes, prints how many spans it decoded.
struct ExportReceiver {
    endpoint: String,
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl ExportReceiver {
    fn spawn(http: bool) -> ExportReceiver {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let role = if http { HTTP_ROLE } else { "receiver" };
        let mut child = Command::new(exe)
            .env(crate::receiver::ROLE_VAR, role)
            .env(crate::receiver::NORMAL_PRIORITY_VAR, "1")
            .env_remove(CASE_VAR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the receiver process");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the receiver's port");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("receiver said {line:?}, not its port"));
        ExportReceiver {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            stdout,
        }
    }

    /// The receiver process's CPU time so far, ns (`/proc/<pid>/stat`, 10 ms ticks).
    fn cpu_ns(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        // USER_HZ is 100 on Linux.
        ticks * 10_000_000
    }

    /// Stops the receiver; the spans it decoded and the bytes of the bodies it read (as sent:
    /// compressed when they were; 0 when it does not count them).
    fn finish(&mut self) -> (u64, u64) {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let _ = self.child.wait();
        let find = |prefix: &str| {
            rest.lines()
                .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
                .unwrap_or(0)
        };
        (find("SPANS "), find("BYTES "))
    }
}

/// Spans the HTTP receiver decoded, and the bytes of the bodies it read.
static HTTP_SPANS: AtomicU64 = AtomicU64::new(0);
static HTTP_BODY_BYTES: AtomicU64 = AtomicU64::new(0);

/// The HTTP/protobuf receiver process: HTTP/1.1 keep-alive, each trace request's body
/// gunzipped when it says so and decoded with prost, the metrics push's taken unread, every
/// request answered 200. A thread per connection; lowest priority, as `receiver.rs`'s.
pub fn run_http_receiver() -> ! {
    crate::receiver::lower_priority();
    crate::receiver::exit_when_stdin_closes(&HTTP_SPANS, &HTTP_BODY_BYTES);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    println!("PORT {}", listener.local_addr().expect("bound").port());
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let _ = stream.set_nodelay(true);
        std::thread::spawn(move || serve_http(stream));
    }
    std::process::exit(0)
}

fn serve_http(stream: std::net::TcpStream) {
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    let mut body = Vec::new();
    let mut plain = Vec::new();
    let decode = std::env::var_os("GODTRACE_BENCH_RECEIVER_DECODE").is_none_or(|v| v != "0");
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // The metrics push (on every flush) goes to the same receiver: answered, not counted.
        let traces = line.split(' ').nth(1) == Some("/v1/traces");
        let (mut len, mut gzip) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    len = value.parse().unwrap_or(0);
                } else if name == "content-encoding" {
                    gzip = value.eq_ignore_ascii_case("gzip");
                }
            }
        }
        body.resize(len, 0);
        if let Err(e) = reader.read_exact(&mut body) {
            if e.kind() != ErrorKind::UnexpectedEof {
                eprintln!("receiver: {e}");
            }
            return;
        }
        if traces {
            count_trace_request(&body, gzip, decode, &mut plain);
        }
        let ok =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(ok.as_bytes()).is_err() {
            return;
        }
    }
}

/// Counts a trace request's body bytes and, when `decode`, its spans (gunzipped into `plain`
/// when `gzip`).
fn count_trace_request(body: &[u8], gzip: bool, decode: bool, plain: &mut Vec<u8>) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    HTTP_BODY_BYTES.fetch_add(body.len() as u64, Ordering::Relaxed);
    let bytes = if gzip {
        plain.clear();
        flate2::read::GzDecoder::new(body)
            .read_to_end(plain)
            .expect("a gzip body");
        &plain[..]
    } else {
        body
    };
    if decode {
        let request = ExportTraceServiceRequest::decode(bytes).expect("an OTLP trace request");
        HTTP_SPANS.fetch_add(crate::receiver::spans_in(&request), Ordering::Relaxed);
    }
}

/// The progress line of an export case.
pub fn one_line(f: &Fields) -> String {
    format!(
        "{:.0} ns CPU/span ({:.1}× Instant::now; {:.1}× less the pacing loop's), export {:.2} M \
         spans/s/core, {} dropped",
        num(f, "cpu_ns_per_span").unwrap_or(f64::NAN),
        num(f, "cpu_vs_instant").unwrap_or(f64::NAN),
        num(f, "net_cpu_vs_instant").unwrap_or(f64::NAN),
        num(f, "export_spans_per_core_sec").unwrap_or(f64::NAN) / 1e6,
        f.get("dropped").map_or("?", String::as_str),
    )
}

/// The export table and the issue-18 export targets, judged on this run.
pub fn render(results: &[(Case, u32, Fields)]) -> String {
    let rows: Vec<&(Case, u32, Fields)> = results
        .iter()
        .filter(|(c, _, _)| c.kind == Kind::Export)
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n### Export path (issue 18)\n\n\
         Spans recorded at a fixed rate by one thread, default queue (2048) and batch (512), \
         exported to a receiver process on loopback that decodes every request (prost). \
         CPU/span: the whole process's CPU time (every thread, getrusage) ÷ spans exported; \
         net: less the pacing loop's own CPU per call (its sleeps, measured without tracing); \
         export: the export thread's own CPU time.\n\n\
         | case | rate (target → achieved) | dropped | ms with drops | steal ms | exported | received | CPU ns/span | \
         pacing ns/call | net CPU ns/span | net × Instant::now ({}) | record ns/span | \
         export ns/span | export M spans/s/core | export wake-ups per 512 spans | \
         receiver ns/span | bytes/span sent (HTTP) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        rows.first()
            .and_then(|(_, _, f)| f.get("instant_ns"))
            .map_or_else(|| "?".to_owned(), |ns| format!("{ns} ns"))
    );
    let mut verdicts = Vec::new();
    for (case, _, f) in &rows {
        let g = |k: &str| f.get(k).map_or("?", String::as_str);
        let _ = writeln!(
            out,
            "| {} | {:.2} M → {:.2} M/s | {} | {} | {} | {} | {} | {} | {} | {} | {:.1}× | {} | {} \
             | {:.2} | {} | {} | {} |",
            case.id,
            num(f, "target_rate").unwrap_or(f64::NAN) / 1e6,
            num(f, "achieved_rate").unwrap_or(f64::NAN) / 1e6,
            g("dropped"),
            g("drop_ms"),
            g("steal_ms"),
            g("exported"),
            g("received_total"),
            g("cpu_ns_per_span"),
            g("pacing_ns_per_call"),
            g("net_cpu_ns_per_span"),
            num(f, "net_cpu_vs_instant").unwrap_or(f64::NAN),
            g("record_ns_per_span"),
            g("export_ns_per_span"),
            num(f, "export_spans_per_core_sec").unwrap_or(f64::NAN) / 1e6,
            g("export_wakeups_per_batch"),
            g("receiver_ns_per_span"),
            f.get("wire_bytes_per_span").map_or("–", String::as_str),
        );
        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        let dropped = num(f, "dropped").unwrap_or(f64::NAN);
        let ratio = num(f, "net_cpu_vs_instant").unwrap_or(f64::NAN);
        let gross = num(f, "cpu_vs_instant").unwrap_or(f64::NAN);
        let per_core = num(f, "export_spans_per_core_sec").unwrap_or(f64::NAN);
        verdicts.push(format!(
            "{}: no drops at {:.1} M spans/s: {} ({dropped} dropped); total CPU ≤ 15× \
             Instant::now, less the pacing loop's own: {} ({ratio:.1}×; {gross:.1}× with it); export ≥ 2 M spans/s per core: {} ({:.2} M)",
            case.id,
            num(f, "target_rate").unwrap_or(f64::NAN) / 1e6,
            met(dropped == 0.0),
            met(ratio <= 15.0),
            met(per_core >= 2e6),
            per_core / 1e6,
        ));
    }
    let _ = writeln!(out, "\nIssue 18 export targets, judged on this run:\n");
    for v in verdicts {
        let _ = writeln!(out, "- {v}");
    }
    out
}
