//! Manual spans (`godtrace::span`) nest by what is current on the thread, however their guards
//! are moved or dropped: out of order, returned out of the traced call they were made in, or
//! kept across threads' work. And traced calls keep working wherever they are made: on another
//! thread, in a `Drop`, during an unwind, after the capture is gone, while a thread exits.
use godtrace::testing;
use godtrace::traced;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

#[test]
fn a_guard_dropped_out_of_order_leaves_the_others_current() {
    let c = testing::capture();
    let a = godtrace::span("a");
    let b = godtrace::span("b");
    drop(a);
    {
        let _c = godtrace::span("c");
    }
    drop(b);
    {
        let _d = godtrace::span("d");
    }
    let (a, b, cs, d) = (c.span("a"), c.span("b"), c.span("c"), c.span("d"));
    assert_eq!(b.parent_span_id, Some(a.span_id));
    assert_eq!(
        cs.parent_span_id,
        Some(b.span_id),
        "b stayed current after a ended"
    );
    assert_eq!(d.parent_span_id, None, "nothing is current once both ended");
    assert_eq!(godtrace::span_id(), None);
}

#[traced(operation = "sampled_out_loop", sample_rate = 0.0)]
fn under_a_sampled_out_root(body: impl FnOnce()) {
    body();
}

/// Under a root godtrace sampled out, a request kept as a new trace holds its step span as a
/// struct would (`req` dropped first): the step is still current, and what it calls is
/// recorded under it, not taken for part of the sampled-out root.
#[test]
fn a_kept_span_left_before_its_child_under_a_sampled_out_root_keeps_the_child_current() {
    let c = testing::capture();
    under_a_sampled_out_root(|| {
        let request = godtrace::span_builder("request")
            .parent(godtrace::otel::Context::new())
            .start();
        let step = godtrace::span("step");
        drop(request);
        {
            let _query = godtrace::span("query");
        }
        drop(step);
    });
    let (step, query) = (c.span("step"), c.span("query"));
    assert_eq!(query.parent_span_id, Some(step.span_id));
    assert_eq!(query.trace_id, c.span("request").trace_id);
    assert!(c.spans_named("sampled_out_loop").is_empty());
}

#[traced(operation = "manual.after_the_guards")]
fn after_the_guards() {}

#[traced(operation = "manual.takes_the_request")]
fn takes_the_request(request: godtrace::SpanGuard) {
    drop(request);
}

/// A kept new trace's span under a sampled-out root, with spans entered after it, all left
/// in an order other than the reverse: once every one has ended, the root's body is under
/// its sampled-out root again, and what it calls next is not recorded (it was taken for a
/// new trace of its own).
#[test]
fn a_sampled_out_root_is_back_once_kept_spans_left_out_of_order_have_all_ended() {
    let c = testing::capture();
    let new_trace = || {
        godtrace::span_builder("manual.request")
            .parent(godtrace::otel::Context::new())
            .start()
    };
    // Orders of three guards: request, step, part (0, 1, 2).
    for order in [[0, 1, 2], [1, 0, 2], [0, 2, 1], [2, 0, 1]] {
        under_a_sampled_out_root(|| {
            let mut guards = [
                Some(new_trace()),
                Some(godtrace::span("manual.step")),
                Some(godtrace::span("manual.part")),
            ];
            for i in order {
                drop(guards[i].take());
            }
            after_the_guards();
        });
    }
    // Two kept new traces, the first left first; and a request guard dropped inside a
    // traced call made under it.
    under_a_sampled_out_root(|| {
        let (first, second) = (new_trace(), new_trace());
        drop(first);
        drop(second);
        after_the_guards();
    });
    under_a_sampled_out_root(|| {
        takes_the_request(new_trace());
        after_the_guards();
    });
    assert_eq!(c.spans_named("manual.request").len(), 7);
    assert_eq!(c.spans_named("manual.takes_the_request").len(), 1);
    assert!(
        c.spans_named("manual.after_the_guards").is_empty(),
        "{:#?}",
        c.spans_named("manual.after_the_guards")
    );
    assert!(c.spans_named("sampled_out_loop").is_empty());
}

#[traced(operation = "make_guard")]
fn make_guard() -> godtrace::SpanGuard {
    godtrace::span("outlives_its_call")
}

#[traced(operation = "after")]
fn after() {}

#[test]
fn a_guard_returned_out_of_a_traced_call_stays_current_until_dropped() {
    let c = testing::capture();
    let guard = make_guard();
    after();
    let inner_id = godtrace::span_id();
    drop(guard);
    after();
    let made = c.span("make_guard");
    let inner = c.span("outlives_its_call");
    let afters = c.spans_named("after");
    assert_eq!(inner.parent_span_id, Some(made.span_id));
    assert_eq!(inner_id, Some(inner.span_id.to_string()));
    assert_eq!(afters.len(), 2);
    assert_eq!(afters[0].parent_span_id, Some(inner.span_id));
    assert_eq!(afters[1].parent_span_id, None);
}

#[test]
fn guards_moved_around_keep_their_place() {
    let c = testing::capture();
    let mut guards: Vec<godtrace::SpanGuard> = Vec::new();
    for name in ["g0", "g1", "g2"] {
        guards.push(godtrace::span(name));
    }
    // Moved (the vector reallocates) and dropped from the middle.
    guards.reserve(64);
    drop(guards.remove(1));
    after();
    guards.clear();
    let (g0, g1, g2) = (c.span("g0"), c.span("g1"), c.span("g2"));
    assert_eq!(g1.parent_span_id, Some(g0.span_id));
    assert_eq!(g2.parent_span_id, Some(g1.span_id));
    assert_eq!(c.span("after").parent_span_id, Some(g2.span_id));
}

#[traced(operation = "close_connection", include_result)]
fn close_connection(id: u32) -> u32 {
    godtrace::set_attribute("connection.id", i64::from(id));
    id + 1
}

/// Makes a traced call when dropped, and keeps what it returned.
struct Connection {
    id: u32,
    closed: &'static AtomicU32,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _span = godtrace::span("connection.drop");
        self.closed
            .store(close_connection(self.id), Ordering::SeqCst);
    }
}

#[traced(operation = "handler")]
fn handler(id: u32) -> u32 {
    id * 2
}

#[traced(operation = "worker", parent = &parent)]
fn worker(parent: godtrace::otel::Context, id: u32) -> u32 {
    handler(id)
}

#[test]
fn traced_calls_on_another_thread_run_and_follow_a_parent_handed_to_them() {
    let c = testing::capture();
    let dispatch = godtrace::span("dispatch");
    let parent = godtrace::current_context();
    let (handled, joined) = std::thread::spawn(move || {
        // A root of its own (this thread has no capture) and a child of `dispatch`.
        (handler(4), worker(parent, 5))
    })
    .join()
    .expect("the thread's traced calls do not panic");
    drop(dispatch);
    assert_eq!((handled, joined), (8, 10));
    let (dispatch, worker) = (c.span("dispatch"), c.span("worker"));
    assert_eq!(worker.parent_span_id, Some(dispatch.span_id));
    let handlers = c.spans_named("handler");
    assert_eq!(
        handlers.len(),
        1,
        "the unparented call is not this thread's trace"
    );
    assert_eq!(handlers[0].parent_span_id, Some(worker.span_id));
}

#[test]
fn a_traced_call_in_drop_runs_under_the_current_span() {
    static CLOSED: AtomicU32 = AtomicU32::new(0);
    let c = testing::capture();
    {
        let _request = godtrace::span("request");
        let _connection = Connection {
            id: 1,
            closed: &CLOSED,
        };
    }
    assert_eq!(CLOSED.load(Ordering::SeqCst), 2);
    let (request, dropping, close) = (
        c.span("request"),
        c.span("connection.drop"),
        c.span("close_connection"),
    );
    assert_eq!(dropping.parent_span_id, Some(request.span_id));
    assert_eq!(close.parent_span_id, Some(dropping.span_id));
    assert_eq!(close.attr("connection.id"), Some(&1i64.into()));
}

#[traced(operation = "fails_holding_a_connection")]
fn fails_holding_a_connection(closed: &'static AtomicU32) {
    let _connection = Connection { id: 10, closed };
    panic!("lost the connection");
}

#[test]
fn a_traced_call_in_drop_during_an_unwind_runs_and_the_panic_goes_on() {
    static CLOSED: AtomicU32 = AtomicU32::new(0);
    let c = testing::capture();
    let caught = std::panic::catch_unwind(|| fails_holding_a_connection(&CLOSED));
    assert!(caught.is_err(), "the panic reaches the caller");
    assert_eq!(CLOSED.load(Ordering::SeqCst), 11);
    let failed = c.span("fails_holding_a_connection");
    assert!(failed.is_error());
    let dropping = c.span("connection.drop");
    assert_eq!(dropping.parent_span_id, Some(failed.span_id));
    // Started during the unwind and ended normally: not failed by the panic around it.
    assert!(!dropping.is_error(), "{dropping:#?}");
    assert_eq!(
        c.span("close_connection").parent_span_id,
        Some(dropping.span_id)
    );
}

/// A guard that a panic unwinds through ends its span failed, as a traced function's panic
/// does; one that the same unwind did not cross stays as it was.
#[test]
fn a_guard_a_panic_unwinds_through_marks_its_span_failed() {
    let c = testing::capture();
    let caught = std::panic::catch_unwind(|| {
        let _outer = godtrace::span("job.outer");
        drop(godtrace::span("job.step.done"));
        let _inner = godtrace::span("job.step.failing");
        panic!("step failed");
    });
    assert!(caught.is_err(), "the panic reaches the caller");
    for name in ["job.step.failing", "job.outer"] {
        let span = c.span(name);
        assert!(span.is_error(), "{span:#?}");
        assert_eq!(span.attr("error.type"), Some(&"panic".into()), "{name}");
        let exception = span.event("exception").expect(name);
        assert_eq!(exception.attr("exception.type"), Some(&"panic".into()));
        // The guard cannot read the payload: no text of godtrace's passes for its message.
        assert_eq!(exception.attr("exception.message"), None, "{name}");
    }
    assert!(!c.span("job.step.done").is_error());
}

#[test]
fn traced_calls_after_the_capture_is_dropped_run_and_return() {
    let c = testing::capture();
    let kept = godtrace::span("kept.past.the.capture");
    drop(c);
    assert_eq!(handler(21), 42);
    godtrace::set_attribute("after.capture", true);
    drop(kept);
    assert_eq!(handler(1), 2);
    assert_eq!(godtrace::span_id(), None);
}

/// Set by the child process of the test below: which test it is there to run.
const CHILD: &str = "GODTRACE_MANUAL_SPANS_CHILD";

/// What the traced calls made from a thread-local's destructor returned (0: never ran).
static AT_EXIT: AtomicU32 = AtomicU32::new(0);

/// A thread-local whose destructor makes traced calls, as a connection pool or a buffered
/// writer kept per thread would.
struct CallsAtExit;

impl Drop for CallsAtExit {
    fn drop(&mut self) {
        let span = godtrace::span("at.exit");
        godtrace::set_attribute("thread.exiting", true);
        let _ = (godtrace::span_id(), godtrace::current_context());
        godtrace::metrics::record_histogram("at.exit.seconds", 0.5, &[]);
        let closed = close_connection(41);
        drop(span);
        AT_EXIT.store(closed, Ordering::SeqCst);
    }
}

thread_local! {
    static CALLS_AT_EXIT: CallsAtExit = const { CallsAtExit };
    /// A manual span kept by a thread until it exits, and ended then.
    static KEPT_SPAN: RefCell<Option<godtrace::SpanGuard>> = const { RefCell::new(None) };
}

#[test]
fn a_traced_call_made_while_a_thread_exits_runs_untraced() {
    const NAME: &str = "a_traced_call_made_while_a_thread_exits_runs_untraced";
    if std::env::var_os(CHILD).is_some() {
        let _c = testing::capture();
        std::thread::spawn(|| {
            // Registered first, so dropped last: after OpenTelemetry's thread-local context,
            // which the traced call below creates, is gone.
            CALLS_AT_EXIT.with(|_| {});
            KEPT_SPAN.with(|_| {});
            assert_eq!(handler(3), 6);
            let kept = godtrace::span("kept.until.exit");
            KEPT_SPAN.with(|slot| *slot.borrow_mut() = Some(kept));
        })
        .join()
        .expect("the thread exits cleanly");
        assert_eq!(AT_EXIT.load(Ordering::SeqCst), 42, "the traced call ran");
        // Same, on a thread whose first traced call is the one made while it exits, with a
        // panic hook that reads godtrace's state (as one logging through `tracing` does): the
        // check of OpenTelemetry's context panics there, and the hook must not check again.
        AT_EXIT.store(0, Ordering::SeqCst);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {
            let _ = (godtrace::trace_id(), godtrace::span_id());
        }));
        std::thread::spawn(|| {
            CALLS_AT_EXIT.with(|_| {});
            let _ = godtrace::otel::Context::current();
        })
        .join()
        .expect("the thread exits cleanly");
        std::panic::set_hook(hook);
        assert_eq!(AT_EXIT.load(Ordering::SeqCst), 42, "the traced call ran");
        return;
    }
    // An abort would take the whole test binary down: the thread exits in a child process.
    // The test's path in this binary: its module path without the crate's name.
    let path = module_path!()
        .split_once("::")
        .map_or(NAME.to_owned(), |(_, module)| format!("{module}::{NAME}"));
    let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([path.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, NAME)
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success(),
        "child: {}\n{stdout}\n{stderr}",
        child.status
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test: {stdout}"
    );
}

/// Setting a key again overwrites its value (the specification), on a manual span as through
/// the `tracing` bridge: copies neither pile up to the count limit nor hide later keys.
#[test]
fn an_attribute_set_again_takes_the_new_value() {
    let capture = testing::capture();
    {
        let span = godtrace::span("manual.progress");
        for i in 0..200_i64 {
            span.set_attribute("progress", i);
        }
        span.set_attribute("outcome", "done");
    }
    let span = capture.span("manual.progress");
    assert_eq!(
        span.attr("progress"),
        Some(&godtrace::otel::Value::I64(199))
    );
    assert_eq!(
        span.attr("outcome"),
        Some(&godtrace::otel::Value::from("done"))
    );
    let progress = span
        .attributes
        .iter()
        .filter(|(key, _)| key == "progress")
        .count();
    assert_eq!(progress, 1, "{span:#?}");
}

#[traced(operation = "manual.keys")]
fn sets_its_call_sites_keys() {
    godtrace::set_attribute("code.function.name", "spoofed");
    godtrace::set_attribute("code.line.number", 1_i64);
    godtrace::set_attribute("", "no key");
    godtrace::set_attribute("kept", true);
}

/// An attribute list is a map with non-empty keys (the specification): a `#[traced]` span's
/// `code.*` keys stay its call site's, an empty key is not recorded, and an event given a key
/// twice (or two keys the 256-byte cut makes one) keeps one, with the last value.
#[test]
fn attribute_keys_are_unique_and_never_empty() {
    let c = testing::capture();
    sets_its_call_sites_keys();
    let long = "k".repeat(300);
    {
        let span = godtrace::span("manual.event.keys");
        span.set_attribute("", 1_i64);
        span.add_event(
            "twice",
            [
                ("a".to_owned(), 1_i64.into()),
                (String::new(), 0_i64.into()),
                ("a".to_owned(), 2_i64.into()),
                (format!("{long}1"), 3_i64.into()),
                (format!("{long}2"), 4_i64.into()),
            ],
        );
    }
    let traced = c.span("manual.keys");
    let count = |attributes: &[(String, godtrace::otel::Value)], key: &str| {
        attributes.iter().filter(|(k, _)| k == key).count()
    };
    for key in ["code.function.name", "code.line.number"] {
        assert_eq!(count(&traced.attributes, key), 1, "{traced:#?}");
    }
    assert_ne!(
        traced.attr("code.function.name"),
        Some(&godtrace::otel::Value::from("spoofed"))
    );
    assert_eq!(count(&traced.attributes, ""), 0, "{traced:#?}");
    assert!(traced.attr("kept").is_some());
    let manual = c.span("manual.event.keys");
    assert_eq!(count(&manual.attributes, ""), 0, "{manual:#?}");
    let event = &manual.events[0];
    let keys: Vec<&str> = event.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", &long[..256]], "{event:#?}");
    assert_eq!(event.attributes[0].1, godtrace::otel::Value::I64(2));
    assert_eq!(event.attributes[1].1, godtrace::otel::Value::I64(4));
}

#[traced(operation = "manual.many")]
fn sets_many_attributes() {
    for i in 0..200_i64 {
        godtrace::set_attribute(format!("attr.{i}"), i);
    }
}

/// A span keeps at most the count limit of attributes (128 by default), a `#[traced]` span's
/// `code.*` ones included.
#[test]
fn a_traced_spans_attributes_count_its_call_site_keys() {
    let c = testing::capture();
    sets_many_attributes();
    let span = c.span("manual.many");
    assert_eq!(span.attributes.len(), 128, "{:?}", span.attributes.len());
    assert!(span.attr("code.function.name").is_some());
}

/// Names built from input (a URL, an error's text) are bounded like values: a 10 MiB span or
/// event name is not held whole until the span is exported.
#[test]
fn span_and_event_names_are_bounded_like_values() {
    let capture = testing::capture();
    let limit = godtrace::limits::max_attribute_len();
    let huge = "n".repeat(10 << 20);
    {
        let span = godtrace::span(format!("big.{huge}"));
        span.add_event(format!("event.{huge}"), Vec::<(&str, _)>::new());
        godtrace::add_event(format!("current.{huge}"), Vec::<(&str, _)>::new());
    }
    let spans = capture.spans();
    let span = spans.iter().find(|s| s.name.starts_with("big.")).unwrap();
    assert!(span.name.len() <= limit, "{}", span.name.len());
    assert_eq!(span.events.len(), 2);
    for event in &span.events {
        assert!(event.name.len() <= limit, "{}", event.name.len());
    }
}

/// `set_error` keeps the last description, whichever sorts first, and bounds it as attribute
/// values are (a description built from a request can be megabytes).
#[test]
fn set_error_keeps_the_last_description_bounded() {
    let c = testing::capture();
    {
        let s = godtrace::span("first_sorts_last");
        s.set_error("zzz first");
        s.set_error("aaa second");
    }
    {
        let s = godtrace::span("first_sorts_first");
        s.set_error("aaa first");
        s.set_error("zzz second");
    }
    {
        let s = godtrace::span_builder("huge").start_detached();
        s.set_error("z".repeat(10_000_000));
    }
    {
        // A failure with no description after one with a description: the description stays.
        let s = godtrace::span("described_then_not");
        s.set_error("the reason");
        s.set_error("");
    }
    assert_eq!(
        c.span("first_sorts_last").error_message(),
        Some("aaa second")
    );
    assert_eq!(
        c.span("first_sorts_first").error_message(),
        Some("zzz second")
    );
    let huge = c.span("huge");
    let message = huge.error_message().expect("an error");
    assert!(message.len() <= 1024, "{} bytes", message.len());
    assert!(message.starts_with("zzz"));
    assert_eq!(
        c.span("described_then_not").error_message(),
        Some("the reason")
    );
}

/// A failure given by hand has an `error.type`, as the conventions ask of a failed operation:
/// `_OTHER` (its type is not known), unless the user set one, before or after.
#[test]
fn set_error_gives_an_error_type_unless_one_was_set() {
    let c = testing::capture();
    godtrace::span("untyped").set_error("timed out");
    {
        let s = godtrace::span("typed_before");
        s.set_attribute("error.type", "timeout");
        s.set_error("timed out");
    }
    {
        let s = godtrace::span_builder("typed_after").start_detached();
        s.set_error("timed out");
        s.set_attribute("error.type", "timeout");
    }
    godtrace::span("ok").set_attribute("done", true);
    let error_type = |name: &str| {
        c.span(name)
            .attr("error.type")
            .map(|v| v.as_str().into_owned())
    };
    assert_eq!(error_type("untyped").as_deref(), Some("_OTHER"));
    assert_eq!(error_type("typed_before").as_deref(), Some("timeout"));
    assert_eq!(error_type("typed_after").as_deref(), Some("timeout"));
    assert_eq!(error_type("ok"), None);
}

/// An event's attribute given again past the count limit takes its new value, as a span's
/// attribute set again does.
#[test]
fn an_event_attribute_given_again_past_the_limit_takes_its_last_value() {
    let c = testing::capture();
    let span = godtrace::span("manual.event_keys");
    let mut attributes: Vec<(String, godtrace::otel::Value)> = (0..128)
        .map(|i| (format!("k{i}"), godtrace::otel::Value::from(0i64)))
        .collect();
    attributes.push(("k0".into(), godtrace::otel::Value::from(999i64)));
    span.add_event("e", attributes);
    drop(span);
    let span = c.span("manual.event_keys");
    let event = span.event("e").expect("the event");
    assert_eq!(event.attr("k0"), Some(&godtrace::otel::Value::from(999i64)));
    assert_eq!(event.attributes.len(), 128);
}

#[traced(operation = "manual.sampled_out_task", sample_rate = 0.0)]
async fn sampled_out_task_holding_a_guard(resume: tokio::sync::oneshot::Receiver<()>) {
    let guard = godtrace::span("manual.guard_in_a_sampled_out_task");
    let _ = resume.await;
    drop(guard);
}

#[traced(operation = "manual.kept_meanwhile", sample_rate = 1.0)]
fn kept_meanwhile() {}

/// Runs the task `made` makes on a current-thread runtime until it waits, calls
/// `kept_meanwhile` on the thread, then lets the task finish. A guard is not `Send`: the task
/// is spawned on a `LocalSet`.
fn kept_call_while_waiting<F: std::future::Future<Output = ()> + 'static>(
    made: fn(tokio::sync::oneshot::Receiver<()>) -> F,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (resume, resumed) = tokio::sync::oneshot::channel();
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let task = tokio::task::spawn_local(made(resumed));
        tokio::task::yield_now().await;
        kept_meanwhile();
        let _ = resume.send(());
        task.await.unwrap();
    });
}

/// A guard a sampled-out task holds across an `.await` stays in that task: a call the thread
/// makes while the task waits is decided on its own (here kept), not taken for part of the
/// task's dropped trace.
#[test]
fn a_guard_a_sampled_out_task_holds_across_an_await_stays_in_it() {
    let c = testing::capture();
    kept_call_while_waiting(sampled_out_task_holding_a_guard);
    assert_eq!(c.spans_named("manual.kept_meanwhile").len(), 1);
    assert!(
        c.spans_named("manual.guard_in_a_sampled_out_task")
            .is_empty()
    );
}

#[traced(operation = "manual.sampled_out_consumer", sample_rate = 0.0)]
async fn sampled_out_task_holding_a_kept_guard(resume: tokio::sync::oneshot::Receiver<()>) {
    let message = godtrace::span_builder("manual.message")
        .parent(godtrace::otel::Context::new())
        .start();
    let _ = resume.await;
    drop(message);
}

/// A recorded span's guard that a sampled-out task holds across an `.await` is the task's: a
/// call the thread makes while the task waits is not made its child.
#[test]
fn a_kept_guard_a_sampled_out_task_holds_across_an_await_stays_in_it() {
    let c = testing::capture();
    kept_call_while_waiting(sampled_out_task_holding_a_kept_guard);
    let meanwhile = c.span("manual.kept_meanwhile");
    assert_eq!(meanwhile.parent_span_id, None, "{meanwhile:#?}");
    assert_ne!(meanwhile.trace_id, c.span("manual.message").trace_id);
}

#[traced(operation = "manual.sampled_out_handler", sample_rate = 0.0)]
async fn sampled_out_handler_leaving_guards_out_of_order() {
    let request = godtrace::span_builder("manual.handled_request")
        .parent(godtrace::otel::Context::new())
        .start();
    let step = godtrace::span("manual.handled_step");
    drop(request);
    drop(step);
    after_the_guards();
    tokio::task::yield_now().await;
    after_the_guards();
}

/// The same in a sampled-out `async fn`, before and after its next `.await`.
#[test]
fn a_sampled_out_task_is_back_under_its_root_once_kept_guards_left_out_of_order() {
    let c = testing::capture();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(sampled_out_handler_leaving_guards_out_of_order());
    assert_eq!(c.spans_named("manual.handled_step").len(), 1);
    assert!(c.spans_named("manual.after_the_guards").is_empty());
}

#[traced(operation = "manual.takes_the_request_async")]
async fn takes_the_request_across_an_await(request: godtrace::SpanGuard) {
    tokio::task::yield_now().await;
    drop(request);
    {
        let _part = godtrace::span("manual.part_after_the_request");
    }
}

#[traced(operation = "manual.sampled_out_receiver", sample_rate = 0.0)]
async fn sampled_out_receiver_handing_on_its_request() {
    let request = godtrace::span_builder("manual.received_request")
        .parent(godtrace::otel::Context::new())
        .start();
    takes_the_request_across_an_await(request).await;
}

/// A kept request's guard moved into a traced async fn and dropped there after an `.await`
/// (the guard was taken off the thread's list when the poll it was made in ended): the
/// function's span is current, and what it starts is recorded under it, not dropped with the
/// sampled-out root around.
#[test]
fn a_guard_dropped_in_a_later_poll_leaves_the_current_span_recording() {
    let c = testing::capture();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(sampled_out_receiver_handing_on_its_request());
    let handler = c.span("manual.takes_the_request_async");
    let part = c.span("manual.part_after_the_request");
    assert_eq!(part.parent_span_id, Some(handler.span_id));
}

/// A remote parent's child, a new trace in it and a child of that: the new trace's guard is
/// dropped first. Its OpenTelemetry context leaves (the remote parent's shows again, older
/// than the child's), and the child is still the innermost span: what starts next is its
/// child, not a sibling of the first span under the remote parent.
#[test]
fn a_guard_with_a_context_dropped_out_of_order_leaves_the_innermost_span_current() {
    let c = testing::capture();
    let remote = godtrace::propagation::extract_map(&std::collections::HashMap::from([(
        "traceparent".to_string(),
        "00-6d616e75616c2d6f75742d6f662d6f72-00f067aa0ba902b7-01".to_string(),
    )]));
    let message = godtrace::span_builder("manual.message")
        .parent(remote)
        .start();
    let batch = godtrace::span_builder("manual.batch")
        .parent(godtrace::otel::Context::new())
        .start();
    let item = godtrace::span("manual.item");
    drop(batch);
    {
        let _probe = godtrace::span("manual.after_batch");
    }
    drop(item);
    {
        let _probe = godtrace::span("manual.after_item");
    }
    drop(message);
    let (item, after_batch) = (c.span("manual.item"), c.span("manual.after_batch"));
    assert_eq!(
        after_batch.parent_span_id,
        Some(item.span_id),
        "{after_batch:#?}"
    );
    assert_eq!(after_batch.trace_id, item.trace_id);
    let (message, after_item) = (c.span("manual.message"), c.span("manual.after_item"));
    assert_eq!(
        after_item.parent_span_id,
        Some(message.span_id),
        "{after_item:#?}"
    );
}
