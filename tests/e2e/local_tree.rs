//! With no collector configured, finished traces print to stderr as a tree
//! (`cargo run --example quickstart`).
use std::path::PathBuf;
use std::process::Command;

/// `cargo test` builds the examples beside the test binaries: target/<profile>/examples/.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    profile_dir.join("examples").join(name)
}

#[test]
fn quickstart_prints_each_trace_as_a_tree() {
    let out = Command::new(example("quickstart"))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()
        .expect("run the quickstart example (built by cargo test)");
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let trees: Vec<&str> = stderr.split("trace ").skip(1).collect();
    assert_eq!(
        trees.len(),
        2,
        "one tree per monitored transaction:\n{stderr}"
    );

    let ok = trees[0];
    let lines: Vec<&str> = ok.lines().filter(|l| l.contains("─ ")).collect();
    assert!(lines[0].starts_with("└─ transaction.monitor"), "{ok}");
    for child in ["wallet.analyze", "pattern.detect", "risk.score"] {
        let line = lines.iter().find(|l| l.contains(child)).expect(child);
        // Children are indented one level under the root.
        assert!(
            line.starts_with("   ├─ ") || line.starts_with("   └─ "),
            "{line}"
        );
    }
    assert!(!ok.contains('✗'), "the first wallet succeeds:\n{ok}");

    let failed = trees[1];
    let root = failed
        .lines()
        .find(|l| l.contains("transaction.monitor"))
        .unwrap();
    assert!(root.contains("✗ RPC timed out for bad-wallet"), "{failed}");
    let analyze = failed
        .lines()
        .find(|l| l.contains("wallet.analyze"))
        .unwrap();
    assert!(analyze.contains('✗'), "{failed}");
    // Verbose mode lists attributes under each span.
    assert!(failed.contains("wallet = bad-wallet"), "{failed}");
}
