//! The local tree (no exporter configured) in processes whose stderr the parent controls: a
//! root that never ends does not make it hold every span, and a stderr nobody reads does not
//! stop the traced code.
use crate::support::process::wait_or_kill;
use godtrace::{Config, traced};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Names the role of the re-run process.
const CHILD: &str = "GODTRACE_LOCAL_TREE_CHILD";
/// Children of the root that never ends: far more than the tree may hold (4096 spans).
const CHILDREN: usize = 50_000;
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
    // Spans are dropped when they end (a full queue): the count is whole now.
    println!("children done, {} dropped", godtrace::stats().spans_dropped);
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
    // Bytes, read as text whole: a read may end inside a line's `─` (three bytes).
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (stderr, mut pipe) = (stderr.clone(), process.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                stderr.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut stdout = BufReader::new(process.stdout.take().unwrap());
    // After the harness's own lines.
    let mut line = String::new();
    let dropped_while_running: usize = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
        if let Some(rest) = line.strip_prefix("children done, ") {
            break rest
                .trim_end()
                .trim_end_matches(" dropped")
                .parse()
                .unwrap();
        }
    };
    // The root is still running: every child is printed already, those the tree held for
    // the root once they were held too long (a liveness wait for the export thread, not a
    // timing assertion).
    let waited = Instant::now();
    let printed_while_running = loop {
        let printed = count_children(&text(&stderr.lock().unwrap()));
        if printed + dropped_while_running >= CHILDREN || waited.elapsed() > LIMIT / 2 {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(process.stdin.take());
    let status = wait_or_kill(&mut process, LIMIT, "the server loop");
    reader.join().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let stderr = text(&stderr.lock().unwrap());
    assert!(status.success(), "{rest}\n{stderr}");
    let dropped: usize = rest
        .lines()
        .find_map(|l| l.strip_prefix("dropped "))
        .expect("the child's count of dropped spans")
        .parse()
        .unwrap();
    assert!(
        printed_while_running + dropped >= CHILDREN,
        "{printed_while_running} of {CHILDREN} children printed while the root ran"
    );
    // None lost: every child printed (or counted dropped), and the root at the end.
    assert_eq!(count_children(&stderr) + dropped, CHILDREN);
    assert_eq!(stderr.matches("─ tree.server_loop").count(), 1);
}

/// A root still running when the program flushes and exits (`std::process::exit`, which
/// drops no guard): the flush prints the children it held for that root.
#[test]
fn a_flush_prints_the_children_of_a_root_still_running() {
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        let guard = godtrace::init(Config::new("local-tree-flush")).expect("init");
        let _root = godtrace::span("tree.running");
        for i in 0..50 {
            child(i);
        }
        guard.flush();
        std::process::exit(0);
    }
    let mut process = spawn(
        "local_tree::a_flush_prints_the_children_of_a_root_still_running",
        "flush",
    );
    drop(process.stdin.take());
    let mut stderr = String::new();
    process
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = wait_or_kill(&mut process, LIMIT, "the flushing child");
    assert!(status.success(), "{stderr}");
    assert_eq!(count_children(&stderr), 50, "{stderr}");
}

#[traced(operation = "tree.request", include_args)]
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
    let status = wait_or_kill(&mut process, LIMIT, "the process with a blocked stderr");
    let stdout = reader.join().unwrap();
    assert!(stdout.contains("calls done"), "{stdout}");
    assert!(stdout.contains("guard dropped"), "{stdout}");
    assert!(status.success(), "{stdout}");
}

/// Runs this binary on `test` as the child `role`, to the end; its stdout and stderr.
fn run_child(test: &str, role: &str) -> (String, String) {
    let mut process = spawn(test, role);
    drop(process.stdin.take());
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(process.stdout.take().unwrap()));
    let stderr = read(Box::new(process.stderr.take().unwrap()));
    let status = wait_or_kill(&mut process, LIMIT, test);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Five requests of three children each: 20 spans, 5 trees.
fn five_requests() {
    for _ in 0..5 {
        request(3);
    }
}

/// Every tree of [`five_requests`] whole in `stderr`.
fn assert_five_trees(stderr: &str) {
    assert_eq!(stderr.matches("└─ tree.request").count(), 5, "{stderr}");
    assert_eq!(count_children(stderr), 15, "{stderr}");
    assert_eq!(stderr.matches("   └─ tree.child").count(), 5, "{stderr}");
}

/// The number after `prefix` on a line of `stdout`.
fn reported(stdout: &str, prefix: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {stdout}"))
        .parse()
        .unwrap()
}

#[test]
fn otlp_and_the_tree_together_both_get_every_span() {
    use crate::support::otlp::{Kind, Receiver};
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        let receiver = Receiver::start(Kind::Http);
        let guard = godtrace::init(
            Config::new("local-tree-otlp")
                .endpoint(receiver.endpoint())
                .protocol(godtrace::Protocol::HttpProtobuf)
                .with_env_vars([("OTEL_TRACES_EXPORTER", "otlp,console")]),
        )
        .expect("init");
        five_requests();
        drop(guard);
        println!("received {}", receiver.sink.span_count());
        return;
    }
    let (stdout, stderr) = run_child(
        "local_tree::otlp_and_the_tree_together_both_get_every_span",
        "otlp",
    );
    assert_eq!(reported(&stdout, "received "), 20);
    assert_five_trees(&stderr);
}

/// Counts the spans it is given.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<std::sync::atomic::AtomicUsize>);

impl opentelemetry_sdk::trace::SpanExporter for Counting {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0
            .fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn an_exporter_of_your_own_and_the_verbose_tree_both_get_every_span() {
    crate::support::own_process!();
    if std::env::var_os(CHILD).is_some() {
        let exporter = Counting::default();
        let guard = godtrace::init(
            Config::new("local-tree-custom")
                .span_exporter(exporter.clone())
                .local_tree(true)
                .verbose(true),
        )
        .expect("init");
        five_requests();
        drop(guard);
        println!(
            "exported {}",
            exporter.0.load(std::sync::atomic::Ordering::SeqCst)
        );
        return;
    }
    let (stdout, stderr) = run_child(
        "local_tree::an_exporter_of_your_own_and_the_verbose_tree_both_get_every_span",
        "custom",
    );
    assert_eq!(reported(&stdout, "exported "), 20);
    assert_five_trees(&stderr);
    // Verbose: the arguments recorded on each span, read from the records.
    assert_eq!(stderr.matches("· children = 3").count(), 5, "{stderr}");
}
