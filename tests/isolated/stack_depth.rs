//! The stack a traced call takes: a debug build (as `cargo test` builds) keeps every
//! temporary of what is inlined in its own slot, so the part of a traced call that stays on
//! the stack while its body runs is kept small there too. Recording must not turn a program
//! that fits its stack into one that overflows it (an abort).
use crate::support::otlp as otlp_support;
use godtrace::{Config, Protocol, traced};
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_support::{Kind, Receiver};
use std::future::Future;
use std::pin::Pin;

/// Deep enough that the debug build's old cost (5 to 10 KiB of stack a level) overflowed 1 MiB
/// (it did from about 200 levels), with room to spare at today's (about 2 KiB).
const DEPTH: u32 = 300;
const STACK: usize = 1 << 20;

#[traced(operation = "stack.sync")]
fn nested(n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        std::hint::black_box(nested(n - 1)) + 1
    }
}

#[traced(operation = "stack.sync_args", include_args)]
fn nested_args(n: u32, label: &str) -> u32 {
    if n == 0 {
        0
    } else {
        std::hint::black_box(nested_args(n - 1, label)) + 1
    }
}

#[traced(operation = "stack.async")]
async fn nested_async(n: u32) -> u32 {
    if n == 0 { 0 } else { boxed(n - 1).await + 1 }
}

fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(nested_async(n))
}

#[traced(operation = "stack.small.parent")]
fn parent_on_a_small_stack() -> u32 {
    nested(0) + nested(0)
}

/// Polls `future` on this thread to completion (it never waits on anything).
fn run_here<F: Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Runs `f` on a thread of `stack` bytes and returns its result (an overflow aborts the
/// process: the test then fails in its parent).
fn on_a_thread<R: Send + 'static>(stack: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the thread finished")
}

fn init(receiver: &Receiver, service: &str) -> godtrace::Guard {
    godtrace::init(
        Config::new(service)
            .endpoint(receiver.endpoint())
            .protocol(Protocol::HttpProtobuf),
    )
    .expect("init")
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// Runs `nested` (a recursion `DEPTH` deep of the operation `name`) on a thread with a 1 MiB
/// stack, and checks that every level's span arrives.
fn nested_on_a_1_mib_stack(name: &str, nested: impl FnOnce() -> u32 + Send + 'static) {
    let receiver = Receiver::start(Kind::Http);
    let guard = init(&receiver, name);
    assert_eq!(on_a_thread(STACK, nested), DEPTH);
    guard.flush();
    let spans = receiver.sink.wait_spans(DEPTH as usize + 1);
    assert_eq!(named(&spans, name).len(), DEPTH as usize + 1);
    drop(guard);
}

#[test]
fn traced_sync_calls_nested_300_deep_fit_a_1_mib_stack() {
    crate::support::own_process!();
    nested_on_a_1_mib_stack("stack.sync", || nested(DEPTH));
}

/// The same with `include_args`: the recorded arguments travel with the body (a tuple), and
/// the recording's temporaries are out of the frame that stays on the stack.
#[test]
fn traced_sync_calls_recording_arguments_nested_300_deep_fit_a_1_mib_stack() {
    crate::support::own_process!();
    nested_on_a_1_mib_stack("stack.sync_args", || nested_args(DEPTH, "wallet"));
}

#[test]
fn traced_futures_nested_300_deep_fit_a_1_mib_stack() {
    crate::support::own_process!();
    nested_on_a_1_mib_stack("stack.async", || run_here(nested_async(DEPTH)));
}

/// A thread started with a small stack (32 KiB, as some thread pools and embedded runtimes
/// use) records its first spans, which set up its record pool, its export lane and the call
/// sites' histograms, and they arrive.
#[test]
fn a_thread_with_a_32_kib_stack_records_and_exports_its_spans() {
    crate::support::own_process!();
    let receiver = Receiver::start(Kind::Http);
    let guard = init(&receiver, "stack-small");
    assert_eq!(on_a_thread(32 * 1024, parent_on_a_small_stack), 0);
    guard.flush();
    let spans = receiver.sink.wait_spans(3);
    let parent = named(&spans, "stack.small.parent");
    assert_eq!(parent.len(), 1);
    let children = named(&spans, "stack.sync");
    assert_eq!(children.len(), 2);
    for child in children {
        assert_eq!(child.parent_span_id, parent[0].span_id);
    }
    drop(guard);
}

/// An error whose `Display` looks its text up through a traced call that fails with the same
/// error: untraced, the lookup's error is never formatted; traced, each failed call's
/// recording formatted the next, until the stack overflowed (an abort). Recordings nested on
/// one thread now share one bound: the deepest is cut, and the program runs as untraced.
#[derive(Debug)]
struct LookupError(String);

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = lookup("error.lookup").unwrap_or_else(|_| "lookup failed".into());
        write!(f, "{text}: {}", self.0)
    }
}

impl std::error::Error for LookupError {}

#[traced(operation = "stack.lookup")]
fn lookup(key: &str) -> Result<String, LookupError> {
    Err(LookupError(key.into()))
}

#[test]
fn recording_values_whose_formatting_records_values_stays_within_the_stack() {
    crate::support::own_process!();
    let capture = godtrace::testing::capture();
    let failed = lookup("greeting").map_err(|e| e.0);
    assert_eq!(failed, Err("greeting".to_owned()));
    // The nested calls are made as the outer call's outcome is recorded, its span ending: it
    // ends last.
    let spans = capture.spans_named("stack.lookup");
    let outermost = spans.last().expect("the outermost call's span");
    assert_eq!(
        outermost.status,
        godtrace::otel::trace::Status::error("lookup failed: greeting")
    );
}
