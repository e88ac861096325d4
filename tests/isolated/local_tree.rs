//! The local tree (no exporter configured) in processes whose stderr the parent controls: a
//! root that never ends does not make it hold every span, and a stderr nobody reads does not
//! stop the traced code.
use godtrace::{Config, traced};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Names the role of the re-run process.
const CHILD: &str = "GODTRACE_LOCAL_TREE_CHILD";
/// Children of the root that never ends: far more than the tree may hold (4096 spans).
const CHILDREN: usize = 50_000;
/// The most spans the tree holds for unfinished traces (the README's figure).
const HELD: usize = 4096;
/// A deadlock guard for the child processes, not a timing assertion.
const LIMIT: Duration = Duration::from_secs(60);

#[traced(operation = "tree.child")]
fn child(i: usize) -> usize {
    i
}

/// The server loop: its children, then it waits (still running) until stdin closes.
#[traced(operation = "tree.server_loop")]
fn server_loop() {
    for i in 0..CHILDREN {
        child(i);
        if i % 200 == 0 {
            // Paced so that the queue does not overflow on a loaded machine: the spans are
            // all expected in the output.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    println!("children done");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Re-runs this binary on `test` as the child `role`.
fn spawn(test: &str, role: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture"])
        .env(CHILD, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child")
}

/// Waits for `child` to exit, killing it past [`LIMIT`].
fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{what}: the child did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count_children(text: &str) -> usize {
    text.lines().filter(|l| l.contains("─ tree.child")).count()
}

#[test]
fn a_root_that_never_ends_has_its_children_printed_as_it_runs() {
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        let guard = godtrace::init(Config::new("local-tree")).expect("init");
        server_loop();
        drop(guard);
        println!("dropped {}", godtrace::stats().spans_dropped);
        return;
    }
    let mut process = spawn(
        "local_tree::a_root_that_never_ends_has_its_children_printed_as_it_runs",
        "server",
    );
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (stderr, mut pipe) = (stderr.clone(), process.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]);
                stderr.lock().unwrap().push_str(&text);
            }
        })
    };
    let mut stdout = BufReader::new(process.stdout.take().unwrap());
    // After the harness's own lines.
    let mut line = String::new();
    while line != "children done\n" {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
    }
    // The root is still running: all but the spans the tree may hold are printed already (a
    // liveness wait for the export thread, not a timing assertion).
    let waited = Instant::now();
    let printed_while_running = loop {
        let printed = count_children(&stderr.lock().unwrap());
        if printed >= CHILDREN - HELD || waited.elapsed() > LIMIT / 2 {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(process.stdin.take());
    let status = wait(&mut process, "the server loop");
    reader.join().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let stderr = stderr.lock().unwrap();
    assert!(status.success(), "{rest}\n{stderr}");
    let dropped: usize = rest
        .lines()
        .find_map(|l| l.strip_prefix("dropped "))
        .expect("the child's count of dropped spans")
        .parse()
        .unwrap();
    assert!(
        printed_while_running + dropped >= CHILDREN - HELD,
        "{printed_while_running} of {CHILDREN} children printed while the root ran"
    );
    // None lost: every child printed (or counted dropped), and the root at the end.
    assert_eq!(count_children(&stderr) + dropped, CHILDREN);
    assert_eq!(stderr.matches("─ tree.server_loop").count(), 1);
}

#[traced(operation = "tree.request")]
fn request(children: usize) {
    for i in 0..children {
        child(i);
    }
}

#[test]
fn a_stderr_nobody_reads_does_not_stop_traced_calls_or_main() {
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        let guard = godtrace::init(
            Config::new("local-tree-blocked").export_timeout(Duration::from_secs(2)),
        )
        .expect("init");
        // Trees of about 3 KiB each, 1000 of them: far more than a pipe holds (64 KiB).
        for _ in 0..1000 {
            request(64);
        }
        println!("calls done");
        drop(guard);
        println!("guard dropped");
        return;
    }
    let mut process = spawn(
        "local_tree::a_stderr_nobody_reads_does_not_stop_traced_calls_or_main",
        "blocked",
    );
    // Its stderr is never read; stdout is read to the end.
    let _stderr = process.stderr.take();
    let mut stdout = String::new();
    let mut pipe = process.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = pipe.read_to_string(&mut stdout);
        stdout
    });
    let status = wait(&mut process, "the process with a blocked stderr");
    let stdout = reader.join().unwrap();
    assert!(stdout.contains("calls done"), "{stdout}");
    assert!(stdout.contains("guard dropped"), "{stdout}");
    assert!(status.success(), "{stdout}");
}
