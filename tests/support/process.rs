//! One test per process, inside one test binary: `init` installs one provider per process and
//! environment variables are process-wide, so a suite that relies on either runs each test in a
//! child process of the same binary (`own_process!`), the way `benches/overhead` re-runs itself
//! per peer.
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Names the one test a child process runs (its path in the binary, `module::test`).
pub const CHILD_TEST: &str = "GODTRACE_TEST_IN_OWN_PROCESS";

/// A deadlock guard for the child, not a timing assertion.
const CHILD_LIMIT: Duration = Duration::from_secs(600);

/// `true` in the child that runs the test `here` (the `type_name` of a fn item declared in the
/// test's body); in the parent, runs that child, fails if it fails, and returns `false`.
pub fn in_own_process(here: &str) -> bool {
    let test = test_path(here);
    if std::env::var_os(CHILD_TEST).is_some_and(|named| named == test.as_str()) {
        return true;
    }
    run_alone(&test);
    false
}

/// `bin::module::test::{{closure}}::here` is the test `module::test` (the closure segment is
/// the body of an async test).
fn test_path(here: &str) -> String {
    let segments: Vec<&str> = here
        .split("::")
        .skip(1)
        .filter(|s| *s != "{{closure}}")
        .collect();
    let (_, path) = segments.split_last().expect("a fn declared inside a test");
    path.join("::")
}

/// Runs `test` alone in a fresh process of this binary, forwards its output, and panics
/// unless it ran exactly that one test and passed.
fn run_alone(test: &str) {
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([test, "--exact", "--nocapture"])
        .env(CHILD_TEST, test)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the test in a child process");
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let status = wait_or_kill(&mut child, CHILD_LIMIT, test);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    // Through the harness's capture: shown when the test fails or under --nocapture.
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(status.success(), "{test}: the child process failed");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test}: the child did not run exactly this test"
    );
}

/// Waits for `child` to exit; past `limit` (a deadlock guard, not a timing assertion), kills
/// it and panics naming `what`.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: the child did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}
