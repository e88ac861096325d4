use super::printer::TreePrinter;
use super::tree_span::TreeSpan;
use super::unprinted::{MAX_HELD_SPANS, UnprintedTraces};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanId, TraceId};
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// Span `id` of trace `trace` under `parent` (0: a root), started `at` µs after the epoch.
fn span(trace: u128, id: u64, parent: u64, name: &'static str, at: u64) -> TreeSpan {
    let start = SystemTime::UNIX_EPOCH + Duration::from_micros(at);
    TreeSpan {
        trace_id: TraceId::from(trace),
        span_id: SpanId::from(id),
        parent_span_id: SpanId::from(parent),
        is_local_root: parent == 0,
        name: Cow::Borrowed(name),
        start,
        end: start + Duration::from_micros(5),
        error: None,
        cancelled: false,
        attributes: Vec::new(),
        events: Vec::new(),
    }
}

fn printed(printer: &TreePrinter<Vec<u8>>) -> String {
    String::from_utf8(printer.output().clone()).unwrap()
}

fn lines_naming(text: &str, name: &str) -> usize {
    text.lines().filter(|l| l.contains(name)).count()
}

#[test]
fn a_root_that_never_ends_holds_at_most_the_bound_and_every_child_is_printed() {
    let mut printer = TreePrinter::new(false, Vec::new());
    let children = 50_000u64;
    // The spans of the root's trace come in batches, as the export thread takes them; the
    // root (span 1) never ends.
    let mut next = 2;
    while next < children + 2 {
        let end = (next + 512).min(children + 2);
        printer.take_batch((next..end).map(|id| span(7, id, 1, "child", id)));
        assert!(printer.held() <= MAX_HELD_SPANS, "{}", printer.held());
        next = end;
    }
    let before_shutdown = printed(&printer);
    // Printed as partial trees while the root runs: the children show as roots.
    assert!(
        lines_naming(&before_shutdown, "child") >= children as usize - MAX_HELD_SPANS,
        "{}",
        lines_naming(&before_shutdown, "child")
    );
    assert!(before_shutdown.starts_with(&format!("trace {}\n├─ child", TraceId::from(7))));
    printer.print_all();
    assert_eq!(printer.held(), 0);
    assert_eq!(lines_naming(&printed(&printer), "child"), children as usize);
}

#[test]
fn the_oldest_trace_is_printed_as_it_stands_once_the_bound_is_passed() {
    let mut traces = UnprintedTraces::new(3);
    let mut ready = Vec::new();
    traces.add(span(1, 11, 10, "a1", 1), &mut ready);
    traces.add(span(2, 21, 20, "b1", 2), &mut ready);
    traces.add(span(1, 12, 10, "a2", 3), &mut ready);
    assert!(ready.is_empty());
    traces.add(span(2, 22, 20, "b2", 4), &mut ready);
    // Trace 1 came first: it goes, whole, and trace 2 stays.
    assert_eq!(ready.len(), 1);
    let names: Vec<_> = ready[0].iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["a1", "a2"]);
    assert_eq!(traces.held(), 2);
    ready.clear();
    traces.take_all(&mut ready);
    assert_eq!(ready.len(), 1);
    assert_eq!(traces.held(), 0);
}

/// Two requests of one trace to this process (a caller's concurrent calls): each local root
/// prints its own spans, and what the other holds waits for its own root.
#[test]
fn two_local_roots_of_one_trace_print_their_own_spans() {
    let remote = |id, name, at| TreeSpan {
        is_local_root: true,
        ..span(5, id, 99, name, at)
    };
    let mut printer = TreePrinter::new(false, Vec::new());
    printer.take_batch([
        span(5, 11, 10, "a.child", 2),
        span(5, 21, 20, "b.step", 3),
        span(5, 22, 21, "b.child", 4),
    ]);
    printer.take_batch([remote(10, "request.a", 1)]);
    let first = printed(&printer);
    assert_eq!(lines_naming(&first, "a.child"), 1, "{first}");
    assert_eq!(lines_naming(&first, "b."), 0, "{first}");
    assert_eq!(printer.held(), 2);
    printer.take_batch([remote(20, "request.b", 1)]);
    let both = printed(&printer);
    let second = &both[first.len()..];
    assert!(second.contains("└─ request.b"), "{second}");
    assert_eq!(lines_naming(second, "b.step"), 1, "{second}");
    assert_eq!(lines_naming(second, "b.child"), 1, "{second}");
    assert_eq!(printer.held(), 0);
}

/// What another request of the trace leaves held is held from when it came in, not from when
/// the trace's first span did: a short request overlapping others prints whole.
#[test]
fn spans_left_by_another_local_root_are_held_from_their_own_arrival() {
    use super::unprinted::MAX_HOLD;
    let remote = |id, name, at| TreeSpan {
        is_local_root: true,
        ..span(8, id, 99, name, at)
    };
    let mut traces = UnprintedTraces::new(100);
    let mut ready = Vec::new();
    let start = std::time::Instant::now();
    traces.add(span(8, 11, 10, "a.child", 2), &mut ready);
    std::thread::sleep(std::time::Duration::from_millis(50));
    traces.add(span(8, 21, 20, "b.child", 3), &mut ready);
    traces.add(remote(10, "request.a", 1), &mut ready);
    assert_eq!(ready.len(), 1);
    ready.clear();
    // Past `MAX_HOLD` from the trace's first span, not from `b.child`'s arrival.
    traces.take_held_since(
        start + MAX_HOLD + std::time::Duration::from_millis(25),
        &mut ready,
    );
    assert!(ready.is_empty(), "{ready:?}");
    traces.take_held_since(std::time::Instant::now() + MAX_HOLD, &mut ready);
    assert_eq!(ready.len(), 1);
    // A trace due for an old span prints that span, not one that came in since (another
    // request of the trace, shorter than `MAX_HOLD`).
    ready.clear();
    let start = std::time::Instant::now();
    traces.add(span(8, 31, 30, "c.old", 5), &mut ready);
    std::thread::sleep(std::time::Duration::from_millis(50));
    traces.add(span(8, 41, 40, "d.young", 6), &mut ready);
    let due_old_only = start + MAX_HOLD + std::time::Duration::from_millis(25);
    traces.take_held_since(due_old_only, &mut ready);
    let names: Vec<Vec<&str>> = ready
        .iter()
        .map(|t| t.iter().map(|s| s.name.as_ref()).collect())
        .collect();
    assert_eq!(names, [["c.old"]]);
    assert_eq!(traces.held(), 1);
}

/// A trace is held for its root at most `MAX_HOLD`: then printed as it stands (a server
/// loop's children; work a request left behind).
#[test]
fn a_trace_held_too_long_prints_as_it_stands() {
    use super::unprinted::MAX_HOLD;
    let mut printer = TreePrinter::new(false, Vec::new());
    printer.take_batch([span(6, 2, 1, "child", 20)]);
    printer.print_held_since(std::time::Instant::now());
    assert_eq!(printed(&printer), "", "not held long yet");
    printer.print_held_since(std::time::Instant::now() + MAX_HOLD);
    assert_eq!(lines_naming(&printed(&printer), "child"), 1);
    assert_eq!(printer.held(), 0);
}

#[test]
fn a_trace_prints_once_its_root_ends_and_is_released() {
    let mut printer = TreePrinter::new(false, Vec::new());
    printer.take_batch([span(3, 2, 1, "child", 20)]);
    assert_eq!(printed(&printer), "");
    printer.take_batch([span(3, 1, 0, "root", 10)]);
    assert_eq!(printer.held(), 0);
    let text = printed(&printer);
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines[0], format!("trace {}", TraceId::from(3)));
    assert!(lines[1].starts_with("└─ root  "), "{text}");
    assert!(lines[2].starts_with("   └─ child  "), "{text}");
}

#[test]
fn a_root_ahead_of_its_children_in_a_batch_still_heads_their_tree() {
    let mut printer = TreePrinter::new(false, Vec::new());
    // Children that ended on other threads can reach the queue after their root.
    printer.take_batch([
        span(4, 1, 0, "root", 10),
        span(4, 2, 1, "first", 11),
        span(4, 3, 1, "second", 12),
    ]);
    let text = printed(&printer);
    assert_eq!(text.matches("trace ").count(), 1, "{text}");
    assert!(text.contains("   ├─ first"), "{text}");
    assert!(text.contains("   └─ second"), "{text}");
}

/// What a span carries is the program's data (an error's text, a name built from a request):
/// one line each in the tree, with no terminal escape or reordering left live.
#[test]
fn names_errors_and_attributes_cannot_forge_lines_or_escapes() {
    let mut printer = TreePrinter::new(true, Vec::new());
    let mut root = span(6, 1, 0, "root", 10);
    root.name = Cow::Owned("op\ntrace 0000 fake".into());
    root.error = Some("line1\nFAKE trace 0000 \u{1b}[31mRED\u{1b}[0m \u{202e}rev".into());
    root.attributes = vec![KeyValue::new("k\rey", "v\nalue")];
    root.events = vec!["ev\u{1b}[2Jent".into()];
    root.attributes.push(KeyValue::new(
        "invisible",
        "\u{061c}\u{200b}\u{2028}\u{2029}\u{feff}",
    ));
    printer.take_batch([root]);
    let text = printed(&printer);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    for hidden in ['\u{061c}', '\u{200b}', '\u{2028}', '\u{2029}', '\u{feff}'] {
        assert!(!text.contains(hidden), "{hidden:?} in {text:?}");
    }
    assert!(!text.contains('\r'), "{text:?}");
    // The header, the span's line, its two attributes and its event: nothing else.
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().all(|l| !l.starts_with("FAKE")), "{text}");
    assert!(text.contains(r"op\ntrace 0000 fake"), "{text}");
}

#[test]
fn verbose_trees_show_attributes_events_errors_but_not_the_call_site() {
    let mut printer = TreePrinter::new(true, Vec::new());
    let mut root = span(5, 1, 0, "root", 10);
    root.error = Some("RPC timed out".into());
    root.attributes = vec![KeyValue::new("wallet", "bad-wallet")];
    root.events = vec!["retry".into()];
    root.cancelled = true;
    printer.take_batch([root]);
    let text = printed(&printer);
    assert!(
        text.contains("└─ root  5 µs  ✗ RPC timed out  (cancelled)"),
        "{text}"
    );
    assert!(text.contains("   · wallet = bad-wallet"), "{text}");
    assert!(text.contains("   ! retry"), "{text}");
}

#[test]
fn the_tree_takes_what_it_shows_from_span_data() {
    use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    let mut events = SpanEvents::default();
    events
        .events
        .push(opentelemetry::trace::Event::with_name("retry"));
    let data = SpanData {
        span_context: SpanContext::new(
            TraceId::from(6),
            SpanId::from(2),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(1),
        parent_span_is_remote: true,
        span_kind: SpanKind::Internal,
        name: "handler".into(),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH + Duration::from_millis(2),
        attributes: vec![
            KeyValue::new("code.function.name", "handler"),
            KeyValue::new("godtrace.cancelled", true),
            KeyValue::new("user", "ada"),
        ],
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: Status::error("boom"),
        instrumentation_scope: Default::default(),
    };
    let quiet = TreeSpan::of_span_data(&data, false);
    // A remote parent makes it the root of its trace here.
    assert!(quiet.is_local_root && quiet.cancelled);
    assert_eq!(quiet.error.as_deref(), Some("boom"));
    assert!(quiet.attributes.is_empty() && quiet.events.is_empty());
    let verbose = TreeSpan::of_span_data(&data, true);
    let keys: Vec<_> = verbose
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys, ["godtrace.cancelled", "user"]);
    assert_eq!(verbose.events, ["retry"]);
}

#[test]
fn an_error_without_a_description_shows_its_error_type() {
    use super::tree_span::SpanParts;
    use opentelemetry::trace::Status;
    let failed = Status::error("");
    let parts = |id: u64, attributes| SpanParts {
        trace_id: TraceId::from(8),
        span_id: SpanId::from(id),
        parent_span_id: SpanId::INVALID,
        parent_is_remote: false,
        name: Cow::Borrowed("GET /wallets/{id}"),
        start: SystemTime::UNIX_EPOCH,
        end: SystemTime::UNIX_EPOCH,
        status: &failed,
        attributes,
        events: &[],
    };
    let typed = [KeyValue::new("error.type", "503")];
    let with_type = TreeSpan::of(parts(1, &typed), false);
    assert_eq!(with_type.error.as_deref(), Some("503"));
    let without = TreeSpan::of(parts(2, &[]), false);
    let mut printer = TreePrinter::new(false, Vec::new());
    printer.take_batch([with_type, without]);
    let text = printed(&printer);
    assert!(text.contains("  ✗ 503\n"), "{text}");
    // With neither a description nor a type, the mark alone.
    assert!(text.lines().any(|l| l.ends_with("  ✗")), "{text}");
}

/// The sink of builds without the export thread.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
mod without_the_export_thread {
    use super::super::sink::TreeSink;
    use crate::span::sink::Sink;
    use crate::stats::Counters;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::SpanData;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime};

    fn data(id: u64, parent: u64, name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(9),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            name: name.into(),
            start_time: SystemTime::UNIX_EPOCH + Duration::from_micros(id),
            end_time: SystemTime::UNIX_EPOCH + Duration::from_micros(id + 1),
            ..crate::export::sdk::empty_span_data()
        }
    }

    fn counters() -> &'static Counters {
        Box::leak(Box::new(Counters::new()))
    }

    /// An output the test reads.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// An output nobody reads: every write blocks, once `writing` is set.
    struct Blocked {
        writing: Arc<AtomicBool>,
    }

    impl Write for Blocked {
        fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
            self.writing.store(true, Ordering::SeqCst);
            loop {
                std::thread::park();
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn trees_print_on_the_sinks_own_thread() {
        let out = Shared::default();
        let sink =
            TreeSink::start(out.clone(), false, 16, Duration::from_secs(30), counters()).unwrap();
        sink.on_end(data(2, 1, "child"));
        sink.on_end(data(1, 0, "root"));
        sink.flush().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("└─ root") && text.contains("   └─ child"),
            "{text}"
        );
        sink.shutdown(Duration::from_secs(30)).unwrap();
    }

    #[test]
    fn a_blocked_output_drops_spans_and_bounds_the_shutdown() {
        let counters = counters();
        let writing = Arc::new(AtomicBool::new(false));
        let out = Blocked {
            writing: writing.clone(),
        };
        let sink = TreeSink::start(out, false, 4, Duration::from_millis(100), counters).unwrap();
        let started = Instant::now();
        sink.on_end(data(1, 0, "root"));
        // A liveness wait for the thread to reach its write, not a timing assertion.
        while !writing.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Never waits: the channel holds 4 spans, the rest are dropped and counted.
        for i in 0..100 {
            sink.on_end(data(i + 2, 0, "root"));
        }
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 96);
        assert!(sink.flush().is_err());
        assert!(sink.shutdown(Duration::from_millis(100)).is_err());
        // A deadlock guard, not a timing assertion.
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

/// A queue that feeds the tree only exports soon after a trace ends, unless told otherwise.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[test]
fn the_tree_alone_exports_every_100_ms_unless_a_delay_is_configured() {
    use super::console::{CONSOLE_SCHEDULE_DELAY, batch_settings};
    use crate::Config;
    let delay = |config: Config| batch_settings(&config.resolve().unwrap()).schedule_delay;
    assert_eq!(CONSOLE_SCHEDULE_DELAY, Duration::from_millis(100));
    assert_eq!(delay(Config::new("svc")), CONSOLE_SCHEDULE_DELAY);
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "5000")];
    assert_eq!(
        delay(Config::new("svc").with_env_vars(env)),
        Duration::from_secs(5)
    );
    let code = Config::new("svc").schedule_delay(Duration::from_secs(2));
    assert_eq!(delay(code), Duration::from_secs(2));
}

#[test]
fn nested_and_sibling_spans_keep_their_branches_and_indents() {
    let mut printer = TreePrinter::new(false, Vec::new());
    printer.take_batch([
        span(8, 3, 2, "grandchild", 12),
        span(8, 2, 1, "first", 11),
        span(8, 4, 1, "second", 13),
        span(8, 1, 0, "root", 10),
    ]);
    let text = printed(&printer);
    let shape: Vec<_> = text
        .lines()
        .skip(1)
        .map(|l| l.strip_suffix("  5 µs").unwrap())
        .collect();
    assert_eq!(
        shape,
        [
            "└─ root",
            "   ├─ first",
            "   │  └─ grandchild",
            "   └─ second"
        ],
        "{text}"
    );
}

#[test]
fn a_chain_as_deep_as_the_bound_renders_without_recursion() {
    // On a thread with a small stack: rendering does not grow it with the depth.
    let text = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let mut printer = TreePrinter::new(false, Vec::new());
            let depth = MAX_HELD_SPANS as u64;
            printer.take_batch((1..=depth).map(|id| span(9, id, id - 1, "level", id)));
            printed(&printer)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(lines_naming(&text, "level"), MAX_HELD_SPANS);
    assert!(text.lines().last().unwrap().ends_with("└─ level  5 µs"));
}
