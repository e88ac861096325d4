//! The body of one case's process: set up, measure, print one result line, exit.
use crate::cases::{Case, Kept, Kind};
use crate::measure::{self, Budget};
use crate::{RESULT_PREFIX, cases};
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// The result line's fields, in order.
#[derive(Default)]
struct Out(String);

impl Out {
    fn put(&mut self, key: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{key}={value} ");
    }
}

pub fn run(case: Case) -> ! {
    let kept = cases::set_up(case.setup);
    if let Some(calls) = std::env::var("GODTRACE_BENCH_PROFILE_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        // About 10,000 traced calls, whatever the shape.
        for i in 0..(10_000 / case.calls_per_op).max(1) {
            black_box((case.op)(black_box(i)));
        }
        if case.short {
            // Boxes for every span the loop records, as in the timed case; flushed last, so
            // that the export thread (far slower under a profiler) has handed them back.
            warm_queue(&case, &kept, 2 * calls * case.spans_per_op);
        }
        profile_loop(case.op, calls);
        std::mem::forget(kept);
        std::process::exit(0)
    }
    let mut out = Out::default();
    out.put("case", case.id);
    if case.short {
        let spans = if std::env::var_os("GODTRACE_BENCH_QUICK").is_some() {
            10_000
        } else {
            // More than the timed part records (about a million spans at ~100 ns): the
            // export thread, slower than one recording thread, hands their boxes back while
            // this flushes.
            2_000_000
        };
        warm_queue(&case, &kept, spans);
    }
    match case.kind {
        Kind::Time => time(&case, &mut out),
        Kind::Memory { ops } => memory(&case, &kept, ops, &mut out),
        Kind::Throughput => throughput(&case, &kept, &mut out),
        Kind::Export => {
            for (key, value) in crate::export::run(&case) {
                out.put(&key, value);
            }
        }
    }
    if case.setup.is_godtrace() {
        let stats = godtrace::stats();
        out.put("queued", stats.spans_queued);
        out.put("dropped", stats.spans_dropped);
        out.put("exported", stats.spans_exported);
        out.put("failed", stats.spans_failed);
    }
    println!("{RESULT_PREFIX}{}", out.0.trim_end());
    let _ = std::io::stdout().flush();
    // No orderly shutdown of the tracing crates: flushing a backlog is not what is measured.
    // The receiver is stopped and waited for, so that its CPU time counts as this run's.
    let mut kept = kept;
    drop(kept.receiver.take());
    std::mem::forget(kept);
    std::process::exit(0)
}

/// Exactly `calls` operations after a warm-up, for a profiler: e.g. callgrind with
/// `--collect-atstart=no --toggle-collect='*profile_loop*'` counts only these, so its
/// totals divided by `calls` are per call.
#[inline(never)]
fn profile_loop(op: fn(u64) -> u64, calls: u64) {
    for i in 0..calls {
        black_box(op(black_box(i)));
    }
}

/// Before a case that keeps every span: records more spans than the case will and exports
/// them, so that their memory (the queue's, and the records' boxes, which the export thread
/// hands back for reuse) is in place when timing starts, as in a service that has been
/// running for a while with an exporter that keeps up.
fn warm_queue(case: &Case, kept: &Kept, spans: u64) {
    let calls = spans / case.spans_per_op;
    for i in 0..calls {
        black_box((case.op)(black_box(i)));
    }
    if let Some(guard) = &kept.godtrace {
        guard.flush();
    }
}

fn time(case: &Case, out: &mut Out) {
    let _others = Others::start(case);
    let mut op = case.op;
    let budget = if case.short {
        Budget::short(case.threads)
    } else {
        Budget::from_env()
    };
    let dropped_before = case
        .setup
        .is_godtrace()
        .then(|| godtrace::stats().spans_dropped);
    let t = measure::time(&mut op, case.calls_per_op, budget);
    if let Some(before) = dropped_before {
        // A kept case whose export fell behind drops spans while timed, and a dropped span
        // costs less than a kept one: such a run does not measure keeping (see
        // `View::cpu_ns`).
        out.put("dropped_timed", godtrace::stats().spans_dropped - before);
    }
    out.put("ns", format_args!("{:.3}", t.median));
    out.put("cpu_ns", format_args!("{:.3}", t.cpu_median));
    out.put("p10", format_args!("{:.3}", t.p10));
    out.put("p90", format_args!("{:.3}", t.p90));
    out.put("samples", t.samples);
    out.put("batch", t.batch);
    if measure::alloc_counting_requested() {
        // 20,000 calls, or as many as take about a second: a case that is slow by design
        // (the 100 MB inputs) would otherwise count for minutes.
        let per_op_ns = (t.median * case.calls_per_op as f64).max(1.0);
        let ops = (20_000 / case.calls_per_op)
            .min((1e9 / per_op_ns) as u64)
            .max(1);
        let a = measure::count_allocs(&mut op, case.calls_per_op, ops);
        out.put("allocs_thread", format_args!("{:.3}", a.this_thread));
        out.put("allocs_all", format_args!("{:.3}", a.all_threads));
    }
}

/// The threads running a case's operation beside the timed one, until dropped.
struct Others {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Others {
    /// `case.threads - 1` threads calling `case.op` in a loop, each running once it is started.
    fn start(case: &Case) -> Others {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let running = std::sync::Arc::new(AtomicU32::new(0));
        let threads = (1..case.threads)
            .map(|_| {
                let (stop, running, op) = (stop.clone(), running.clone(), case.op);
                std::thread::spawn(move || {
                    running.fetch_add(1, Ordering::SeqCst);
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        black_box(op(black_box(i)));
                        i = i.wrapping_add(1);
                    }
                })
            })
            .collect::<Vec<_>>();
        while running.load(Ordering::SeqCst) + 1 < case.threads {
            std::thread::yield_now();
        }
        Others { stop, threads }
    }
}

impl Drop for Others {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Peak RSS while recording spans as fast as one thread can, then while the backlog (if the
/// crate keeps one) is flushed.
fn memory(case: &Case, kept: &Kept, ops: u64, out: &mut Out) {
    let op = case.op;
    for i in 0..10_000 {
        black_box(op(black_box(i)));
    }
    // Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this loop's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = measure::proc_status_kib("VmRSS");
    let switches = measure::context_switches();
    let start = Instant::now();
    for i in 0..ops {
        black_box(op(black_box(i)));
    }
    let secs = start.elapsed().as_secs_f64();
    let switches_after = measure::context_switches();
    let peak_run = measure::proc_status_kib("VmHWM");
    let flush_start = Instant::now();
    if let Some(guard) = &kept.godtrace {
        guard.flush();
    }
    if let Some(provider) = &kept.provider {
        let _ = provider.force_flush();
    }
    if matches!(case.setup, cases::Setup::Fastrace) {
        fastrace::flush();
    }
    let flush_secs = flush_start.elapsed().as_secs_f64();
    out.put("spans", ops * case.spans_per_op);
    out.put("calls", ops);
    out.put("secs", format_args!("{secs:.3}"));
    out.put("rss_base_kib", base);
    out.put("rss_peak_run_kib", peak_run);
    out.put("rss_peak_kib", measure::proc_status_kib("VmHWM"));
    out.put("flush_secs", format_args!("{flush_secs:.3}"));
    // The measuring thread's: voluntary = it blocked (e.g. on a lock), involuntary = it was
    // preempted (another thread needed its core).
    out.put("blocked", switches_after.0 - switches.0);
    out.put("preempted", switches_after.1 - switches.1);
}

/// One paced attempt: `rate` spans per second for `length`, then a flush.
struct Trial {
    target: f64,
    achieved: f64,
    dropped: u64,
    failed: u64,
}

impl Trial {
    fn ok(&self) -> bool {
        self.dropped == 0 && self.failed == 0 && self.achieved >= 0.95 * self.target
    }
}

fn trial(op: fn(u64) -> u64, guard: &godtrace::Guard, rate: f64, length: Duration) -> Trial {
    let before = godtrace::stats();
    // About one burst per millisecond, far below the queue size (2048).
    let burst = (rate / 1000.0).clamp(1.0, 512.0) as u64;
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..burst {
            black_box(op(black_box(n)));
            n += 1;
        }
        let now = start.elapsed();
        if now >= length {
            break;
        }
        let due = Duration::from_secs_f64(n as f64 / rate);
        if due > now {
            std::thread::sleep(due - now);
        }
    }
    let achieved = n as f64 / start.elapsed().as_secs_f64();
    guard.flush();
    let after = godtrace::stats();
    Trial {
        target: rate,
        achieved,
        dropped: after.spans_dropped - before.spans_dropped,
        failed: after.spans_failed - before.spans_failed,
    }
}

/// The highest span rate exported through OTLP/gRPC with no drops at the default queue size:
/// doubling the rate from 25k/s until a trial drops (or the producer cannot keep up) twice in
/// a row, then bisecting three times.
fn throughput(case: &Case, kept: &Kept, out: &mut Out) {
    let guard = kept.godtrace.as_ref().expect("godtrace set up");
    let quick = std::env::var_os("GODTRACE_BENCH_QUICK").is_some();
    let length = Duration::from_millis(if quick { 300 } else { 1000 });
    for i in 0..2_000 {
        black_box((case.op)(i));
    }
    guard.flush();
    let mut ladder = String::new();
    let mut best: Option<f64> = None;
    let mut worst: Option<f64> = None;
    let mut rate = 25_000.0;
    let mut bisections = 0;
    while bisections < 3 && rate <= 6_400_000.0 {
        let mut t = trial(case.op, guard, rate, length);
        if !t.ok() {
            // One retry: on a shared 2-core machine one scheduling stall of the export thread
            // (~40 ms at 50k spans/s) is enough to overflow the queue once.
            t = trial(case.op, guard, rate, length);
        }
        let _ = write!(
            ladder,
            "{:.0}k:{}:{:.0}k:{}:{},",
            t.target / 1e3,
            if t.ok() { "ok" } else { "FAIL" },
            t.achieved / 1e3,
            t.dropped,
            t.failed,
        );
        if t.ok() {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            worst = Some(worst.map_or(rate, |w: f64| w.min(rate)));
        }
        rate = match (best, worst) {
            (_, None) => rate * 2.0,
            (lo, Some(hi)) => {
                bisections += 1;
                (lo.unwrap_or(0.0) + hi) / 2.0
            }
        };
    }
    out.put("sustained", format_args!("{:.0}", best.unwrap_or(0.0)));
    out.put("first_fail", format_args!("{:.0}", worst.unwrap_or(0.0)));
    out.put("trial_secs", length.as_secs_f64());
    out.put("ladder", ladder.trim_end_matches(','));
}
