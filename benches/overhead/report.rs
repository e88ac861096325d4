//! The tables (Markdown, to paste into BENCHMARKS.md) and the targets (issues 6 and 18), judged on
//! this run's numbers.
use crate::Fields;
use crate::cases::{Case, Kind};
use crate::figures::{Results, View, fmt_ns, fmt_opt, fmt_ratio, num};
use std::fmt::Write as _;

/// The progress line after a case's name.
pub fn one_line(case: &Case, f: &Fields) -> String {
    let mut s = match case.kind {
        Kind::Time => format!("{:>10.2} ns", num(f, "ns").unwrap_or(f64::NAN)),
        Kind::Memory { .. } => format!(
            "peak RSS {:.1} MiB (from {:.1})",
            kib_to_mib(num(f, "rss_peak_kib")),
            kib_to_mib(num(f, "rss_base_kib"))
        ),
        Kind::Throughput => format!(
            "{:.0} spans/s sustained",
            num(f, "sustained").unwrap_or(f64::NAN)
        ),
        Kind::Export => crate::export::one_line(f),
    };
    if let Some(a) = num(f, "allocs_thread") {
        let _ = write!(s, "  {a:.2} allocs/call");
    }
    if let Some(d) = num(f, "dropped").filter(|&d| d > 0.0) {
        let _ = write!(s, "  {d} dropped");
    }
    s
}

fn kib_to_mib(kib: Option<f64>) -> f64 {
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// The plain-function baseline of the same flavor.
fn plain_of(id: &str) -> &'static str {
    if id.ends_with("/async") {
        "plain/async"
    } else {
        "plain/sync"
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    format!(
        "- machine: {cores} cores (`nproc`), CPU `{cpu}`, {}\n- rustc: `{}`\n- godtrace: \
         commit `{}`{}",
        run("uname", &["-sr"]),
        run(&rustc, &["-V"]),
        run("git", &["rev-parse", "--short", "HEAD"]),
        if run("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            ""
        } else {
            " (with uncommitted changes)"
        },
    )
}

/// CPU time, in clock ticks: the whole machine's busy and total time (`/proc/stat`), and
/// this process's own plus its waited-for children's (`/proc/self/stat`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTicks {
    busy: u64,
    total: u64,
    ours: u64,
}

impl CpuTicks {
    pub fn now() -> CpuTicks {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|n| n.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the parenthesised command: utime stime cutime cstime are 14..=17.
        let ours = own
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(4)
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        CpuTicks {
            busy: total - idle,
            total,
            ours,
        }
    }
}

/// The share of the machine's CPU that other processes used between `before` and now.
fn others_share(before: CpuTicks) -> Option<f64> {
    let now = CpuTicks::now();
    let total = now.total.checked_sub(before.total)?;
    let others = (now.busy - before.busy).saturating_sub(now.ours - before.ours);
    (total > 0).then(|| others as f64 / total as f64)
}

/// The whole report: how and where it was measured, the tables, and the targets' verdicts.
pub fn render(results: &Results, rounds: u32, before: CpuTicks) -> String {
    let v = View::new(results, rounds);
    let counted = results
        .iter()
        .any(|(_, _, f)| f.contains_key("allocs_thread"));
    let mut out = conditions(rounds, counted, before);
    let timing: Vec<&Case> = dedup(results, |c| c.kind == Kind::Time);
    per_call_table(&mut out, &v, &timing);
    peer_table(&mut out, &v, &timing);
    crate::layers::table(&mut out, &v);
    memory_table(
        &mut out,
        &v,
        &dedup(results, |c| matches!(c.kind, Kind::Memory { .. })),
    );
    throughput(
        &mut out,
        &v,
        &dedup(results, |c| c.kind == Kind::Throughput),
    );
    out.push_str(&crate::export::render(results));
    let _ = write!(
        out,
        "\n### Targets (issues 6 and 18), judged on this run\n\n"
    );
    for line in crate::targets::targets(&v, counted) {
        let _ = writeln!(out, "- {line}");
    }
    crate::bridge::report(&mut out, &v);
    out
}

/// The machine, the load other processes put on it, and what the figures are.
fn conditions(rounds: u32, counted: bool, before: CpuTicks) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Results\n\n{}\n- other processes used {} of the machine's CPU time during the \
         run (from /proc/stat, less this run's own processes; 0% = a quiet machine)",
        machine(),
        others_share(before).map_or_else(
            || "an unknown share".into(),
            |s| format!("{:.0}%", s * 100.0)
        ),
    );
    let _ = writeln!(
        out,
        "- {rounds} run(s) of every timing case, each in a fresh process; ns per call is the \
         median of that run's samples; \"best\" is the lowest of the runs' medians (other \
         processes only ever add time), and every ratio and verdict below uses it; \
         ⚠ marks a case whose runs differ by more than 25%.\n\
         - allocations: {}\n",
        if counted {
            "counted (GODTRACE_BENCH_ALLOC=1): per call on the calling thread, and per call \
             across all threads (export/collector threads included: amortised per span)"
        } else {
            "not counted in this run (set GODTRACE_BENCH_ALLOC=1)"
        }
    );
    out
}

/// Every timing case: each run's median, the best, the ratio to the plain call, allocations
/// and drops.
fn per_call_table(out: &mut String, v: &View<'_>, timing: &[&Case]) {
    let rounds = v.rounds;
    let _ = write!(out, "### Per call\n\n| case |");
    for r in 1..=rounds {
        let _ = write!(out, " run {r} ns |");
    }
    let _ = writeln!(
        out,
        " best ns | × plain | best thread CPU ns | p10–p90 run 1 | allocs/call (thread) \
         | allocs/call (all threads) | spans dropped / queued |"
    );
    let _ = writeln!(
        out,
        "|---|{}---|---|---|---|---|---|---|",
        "---|".repeat(rounds as usize)
    );
    for case in timing {
        let id = case.id;
        let runs: Vec<f64> = (1..=rounds)
            .filter_map(|r| num(v.fields(id, r)?, "ns"))
            .collect();
        let spread = runs.iter().copied().fold(f64::NAN, f64::max)
            / runs.iter().copied().fold(f64::NAN, f64::min);
        let mark = if spread > 1.25 { " ⚠" } else { "" };
        let _ = write!(out, "| {id}{mark} |");
        for r in 1..=rounds {
            let _ = write!(
                out,
                " {} |",
                fmt_ns(v.fields(id, r).and_then(|f| num(f, "ns")))
            );
        }
        let drops = match (v.first(id, "dropped"), v.first(id, "queued")) {
            (Some(d), Some(q)) => format!("{d:.0} / {q:.0}"),
            _ => "–".into(),
        };
        let drops = match v.runs_dropping(id) {
            0 => drops,
            n => format!("{drops} ({n} run(s) dropped while timed: left out)"),
        };
        let _ = writeln!(
            out,
            " {} | {} | {} | {}–{} | {} | {} | {drops} |",
            fmt_ns(v.ns(id)),
            fmt_ratio(v.ns(id), v.ns(plain_of(id))),
            fmt_ns(v.cpu_ns(id)),
            fmt_ns(v.first(id, "p10")),
            fmt_ns(v.first(id, "p90")),
            fmt_opt(v.mean(id, "allocs_thread"), 2),
            fmt_opt(v.mean(id, "allocs_all"), 2),
        );
    }
}

/// Each godtrace case divided by each peer's.
fn peer_table(out: &mut String, v: &View<'_>, timing: &[&Case]) {
    let peers: [(&str, &str, &str); 11] = [
        ("plain", "plain/sync", "plain/async"),
        (
            "tracing, no subscriber",
            "tracing/no-subscriber/sync",
            "tracing/no-subscriber/async",
        ),
        ("tracing-otel in", "tracing-otel/sampled-in/sync", ""),
        ("tracing-otel out", "tracing-otel/sampled-out/sync", ""),
        ("otel in_span in", "otel-sdk/sampled-in/sync", ""),
        ("otel in_span out", "otel-sdk/sampled-out/sync", ""),
        ("autometrics", "autometrics/sync", "autometrics/async"),
        (
            "fastrace root/call",
            "fastrace/root-per-call/sync",
            "fastrace/root-per-call/async",
        ),
        (
            "fastrace 100/root",
            "fastrace/100-children-per-root/sync",
            "fastrace/100-children-per-root/async",
        ),
        (
            "fastrace 1000/root",
            "fastrace/1000-children-per-root/sync",
            "fastrace/1000-children-per-root/async",
        ),
        ("Instant::now", "reference/Instant::now", ""),
    ];
    let _ = write!(
        out,
        "\n### godtrace ÷ each peer (best ns ÷ best ns; below 1 = godtrace cheaper)\n\n\
         Async rows are divided by the peer's async case where it has one, else by its sync \
         case.\n\n| godtrace case |"
    );
    for (name, _, _) in &peers {
        let _ = write!(out, " {name} |");
    }
    let _ = writeln!(out, "\n|---|{}", "---|".repeat(peers.len()));
    for case in timing.iter().filter(|c| c.id.starts_with("godtrace/")) {
        let _ = write!(out, "| {} |", case.id);
        let asy = case.id.ends_with("/async");
        for (_, sync_id, async_id) in &peers {
            let peer = if asy && !async_id.is_empty() {
                async_id
            } else {
                sync_id
            };
            let _ = write!(out, " {} |", fmt_ratio(v.ns(case.id), v.ns(peer)));
        }
        out.push('\n');
    }
}

/// Peak memory of each memory case, every run.
fn memory_table(out: &mut String, v: &View<'_>, memory: &[&Case]) {
    if !memory.is_empty() {
        let _ = writeln!(
            out,
            "\n### Peak memory over {} spans, one thread recording as fast as it can\n\n\
             RSS before the loop, peak during it (VmHWM, reset first), peak including the \
             flush of whatever backlog is left.\n\n\
             The measuring thread's context switches during the loop: *blocked* (it waited, \
             e.g. on a lock) and *preempted* (another thread took its core).\n\n\
             | case | run | calls | ns/call | RSS before MiB | peak during MiB | peak incl. flush \
             MiB | flush s | blocked / preempted | spans dropped / queued / exported |\n\
             |---|---|---|---|---|---|---|---|---|---|",
            crate::cases::MEMORY_SPANS
        );
        for case in memory {
            for round in 1..=v.rounds {
                let Some(f) = v.fields(case.id, round) else {
                    continue;
                };
                let calls = num(f, "calls");
                let ns = match (num(f, "secs"), calls) {
                    (Some(s), Some(c)) if c > 0.0 => Some(s * 1e9 / c),
                    _ => None,
                };
                let drops = match (num(f, "dropped"), num(f, "queued"), num(f, "exported")) {
                    (Some(d), Some(q), Some(e)) => format!("{d:.0} / {q:.0} / {e:.0}"),
                    _ => "– (none: never drops)".into(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {round} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {} / {} | {drops} |",
                    case.id,
                    fmt_opt(calls, 0),
                    fmt_ns(ns),
                    kib_to_mib(num(f, "rss_base_kib")),
                    kib_to_mib(num(f, "rss_peak_run_kib")),
                    kib_to_mib(num(f, "rss_peak_kib")),
                    fmt_opt(num(f, "flush_secs"), 2),
                    fmt_opt(num(f, "blocked"), 0),
                    fmt_opt(num(f, "preempted"), 0),
                );
            }
        }
    }
}

/// The highest export rate with nothing dropped.
fn throughput(out: &mut String, v: &View<'_>, cases: &[&Case]) {
    for case in cases {
        let f = v.fields(case.id, 1).expect("listed");
        let _ = writeln!(
            out,
            "\n### Export throughput: {}\n\n\
             Highest rate with no span dropped or failed, default queue (2048) and batch \
             (512), {} s per trial, spans paced in ~1 ms bursts, flushed after each trial; \
             the discarding OTLP/gRPC receiver is another process on the same 2 cores.\n\n\
             - sustained: **{} spans/s** (first failing rate: {} spans/s)\n\
             - trials (target:verdict:achieved:dropped:failed): `{}`",
            case.id,
            f.get("trial_secs").map_or("?", String::as_str),
            f.get("sustained").map_or("?", String::as_str),
            f.get("first_fail").map_or("?", String::as_str),
            f.get("ladder").map_or("", String::as_str),
        );
    }
}

/// Each case once, in run order.
fn dedup(results: &Results, keep: impl Fn(&Case) -> bool) -> Vec<&Case> {
    let mut seen: Vec<&Case> = Vec::new();
    for (case, _, _) in results {
        if keep(case) && !seen.iter().any(|c| c.id == case.id) {
            seen.push(case);
        }
    }
    seen
}
