//! Issue 6: the per-call overhead of godtrace next to its peers, in one `cargo bench` run.
//!
//! ```text
//! cargo bench --bench overhead                         # ns per call, memory, throughput
//! GODTRACE_BENCH_ALLOC=1 cargo bench --bench overhead  # + allocations per call
//! cargo bench --bench overhead -- godtrace/sampled     # only the cases whose id contains it
//! ```
//!
//! godtrace, tracing, OpenTelemetry and fastrace all keep process-global state (one
//! `godtrace::init` per process), so every case runs in a process of its own: this binary
//! re-executes itself once per case (and per run) with `GODTRACE_BENCH_CASE` naming it,
//! reads the one result line the child prints, and prints the tables. Nothing (global
//! subscriber, exporter backlog, allocator state) carries over from one case to the next.
//!
//! `cargo test` runs this binary too, without `--bench`: it then checks the harness only (every
//! timing case once, short samples, no memory or throughput case) and fails if a case fails.
//!
//! Other settings: `GODTRACE_BENCH_ROUNDS` (runs of every timing case, default 2),
//! `GODTRACE_BENCH_QUICK=1` (short samples, for checking the harness itself),
//! `GODTRACE_BENCH_CASE=<id> GODTRACE_BENCH_PROFILE_CALLS=<n>` on the bench executable (one
//! case, exactly n calls in `profile_loop`, no output: for perf or callgrind).
mod bridge;
mod cases;
mod child;
mod db;
mod export;
mod figures;
mod layers;
mod measure;
mod receiver;
mod report;
mod targets;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Instant;

#[global_allocator]
static ALLOC: measure::CountingAlloc = measure::CountingAlloc;

/// Names the case a child process runs.
const CASE_VAR: &str = "GODTRACE_BENCH_CASE";
/// Prefixes the result line a child prints.
const RESULT_PREFIX: &str = "@@godtrace-bench ";

/// One child's result: `key=value` fields.
pub type Fields = BTreeMap<String, String>;

fn main() {
    match std::env::var(receiver::ROLE_VAR).as_deref() {
        Ok("receiver") => receiver::run(),
        Ok(export::HTTP_ROLE) => export::run_http_receiver(),
        _ => {}
    }
    if let Ok(id) = std::env::var(CASE_VAR) {
        let case = all_cases()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no case {id:?}"));
        child::run(case);
    }
    parent();
}

/// Every case, in the order they run and print.
fn all_cases() -> Vec<cases::Case> {
    [
        cases::calling_thread(),
        db::cases(),
        layers::cases(),
        bridge::cases(),
        export::cases(),
    ]
    .concat()
}

/// Runs every selected case in its own process and prints the report.
fn parent() {
    // `cargo bench` passes `--bench`; anything else not starting with `-` filters by id.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<cases::Case> = all_cases()
        .into_iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())))
        .filter(|c| !smoke || c.kind == cases::Kind::Time)
        .collect();
    let rounds: u32 = std::env::var("GODTRACE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0 && !smoke)
        .unwrap_or(if smoke { 1 } else { 2 });
    let mut failed = 0;
    let started = Instant::now();
    let cpu_before = report::CpuTicks::now();
    let mut results: Vec<(cases::Case, u32, Fields)> = Vec::new();
    let mut plan: Vec<(cases::Case, u32)> = Vec::new();
    // Timing and memory cases once per round (a round runs each case once, in order), then
    // the throughput search once.
    for round in 1..=rounds {
        plan.extend(
            selected
                .iter()
                .filter(|c| !matches!(c.kind, cases::Kind::Throughput | cases::Kind::Export))
                .map(|c| (*c, round)),
        );
    }
    plan.extend(
        selected
            .iter()
            .filter(|c| matches!(c.kind, cases::Kind::Throughput | cases::Kind::Export))
            .map(|c| (*c, 1)),
    );
    let total = plan.len();
    for (n, (case, round)) in plan.into_iter().enumerate() {
        eprint!("[{:>2}/{total}] run {round} {:<58}", n + 1, case.id);
        match run_child(case.id, smoke) {
            Ok(fields) => {
                eprintln!("{}", report::one_line(&case, &fields));
                results.push((case, round, fields));
            }
            Err(message) => {
                failed += 1;
                eprintln!("FAILED\n{message}");
            }
        }
    }
    eprintln!("all cases in {:.0?}", started.elapsed());
    if smoke {
        // Debug-build figures mean nothing: only whether every case ran.
        if failed > 0 {
            eprintln!("{failed} cases failed");
            std::process::exit(1);
        }
        return;
    }
    let text = report::render(&results, rounds, cpu_before);
    println!("{text}");
}

/// Runs one case in a fresh process and parses its result line.
fn run_child(id: &str, smoke: bool) -> Result<Fields, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    if smoke {
        command.env("GODTRACE_BENCH_QUICK", "1");
    }
    let output = command
        .env(CASE_VAR, id)
        .env_remove(receiver::ROLE_VAR)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(RESULT_PREFIX));
    match line {
        Some(line) if output.status.success() => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            for waits in stderr
                .lines()
                .filter(|l| l.starts_with(export::WAITS_PREFIX))
            {
                eprintln!("{id}: {waits}");
            }
            Ok(line
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect())
        }
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            Err(format!(
                "{}\n{}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }
}
