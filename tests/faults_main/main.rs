//! Shutdown from each kind of `main` (no test harness): each case must be a process's real
//! `main`, not a test on a harness thread. This `main` re-runs the binary once per case with
//! `GODTRACE_FAULTS_MAIN_CASE` naming it; the child calls that case's `main` from its own.
#[path = "../support/mod.rs"]
mod support;

mod faults_main_sync;
mod faults_main_tokio_ct;
mod faults_main_tokio_mt;

use std::process::{Command, ExitCode};

const CASE: &str = "GODTRACE_FAULTS_MAIN_CASE";

/// Each case: its name and its `main`.
const CASES: [(&str, fn()); 3] = [
    ("faults_main_sync", faults_main_sync::main),
    ("faults_main_tokio_mt", faults_main_tokio_mt::main),
    ("faults_main_tokio_ct", faults_main_tokio_ct::main),
];

fn main() -> ExitCode {
    if let Ok(case) = std::env::var(CASE) {
        let (_, case_main) = CASES
            .iter()
            .find(|(name, _)| *name == case)
            .unwrap_or_else(|| panic!("no case named {case}"));
        case_main();
        return ExitCode::SUCCESS;
    }
    // `cargo test -- --list` asks every test binary for its tests.
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in CASES {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let mut failed = 0;
    for (name, _) in CASES {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .env(CASE, name)
            .status()
            .expect("run the case");
        println!(
            "case {name} ... {}",
            if status.success() { "ok" } else { "FAILED" }
        );
        failed += usize::from(!status.success());
    }
    println!(
        "\ncase result: {} passed; {failed} failed",
        CASES.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
