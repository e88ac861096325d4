//! The `tracing` bridge (feature `tracing`): `tracing` spans and events recorded as godtrace
//! spans in the same trace as `#[traced]` calls, both ways, across `.await`, `Instrument`ed
//! futures and threads; fields, `otel.*` fields, events, filters; the trace ids on fmt lines
//! and on `log` records. Each test sets its subscriber for its own thread (`set_default`):
//! the suite shares one process.
use godtrace::otel::Value;
use godtrace::testing::{self, Capture};
use godtrace::{SpanKind, traced};
use std::sync::{Arc, Mutex};
use tracing::Instrument as _;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, filter};

/// The subscriber most tests use: the registry and godtrace's layer, nothing else.
fn bridged() -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(
        tracing_subscriber::registry().with(godtrace::tracing::layer()),
    )
}

fn is_child(c: &Capture, child: &str, parent: &str) -> bool {
    let (child, parent) = (c.span(child), c.span(parent));
    child.parent_span_id == Some(parent.span_id) && child.trace_id == parent.trace_id
}

#[traced]
fn traced_leaf() {}

#[traced]
fn traced_root_with_tracing_span_inside() {
    let span = tracing::info_span!("bridge.query", table = "wallets");
    let _entered = span.enter();
    traced_leaf();
}

#[test]
fn traced_root_then_tracing_span_then_traced_call_is_one_tree() {
    let c = testing::capture();
    let _subscriber = bridged();
    traced_root_with_tracing_span_inside();

    let root = "capture::tracing_bridge::traced_root_with_tracing_span_inside";
    assert!(is_child(&c, "bridge.query", root));
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "bridge.query"
    ));
    let query = c.span("bridge.query");
    assert_eq!(query.attr("table"), Some(&Value::from("wallets")));
    assert_eq!(
        query.attr("code.file.path"),
        Some(&Value::from(file!())),
        "the span's call site"
    );
    assert!(matches!(query.attr("code.line.number"), Some(Value::I64(line)) if *line > 0));
}

#[traced]
fn traced_after_exits() {}

#[test]
fn spans_exited_out_of_order_leave_the_one_still_entered_current() {
    let c = testing::capture();
    let _subscriber = bridged();
    let outer = tracing::info_span!("bridge.outer");
    let outer_entered = outer.enter();
    let inner = tracing::info_span!("bridge.inner");
    let inner_entered = inner.enter();
    // The outer span is exited first: the inner one, entered after it, stays current.
    drop(outer_entered);
    traced_leaf();
    drop(inner_entered);
    traced_after_exits();
    drop((outer, inner));

    assert!(is_child(&c, "bridge.inner", "bridge.outer"));
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "bridge.inner"
    ));
    let after = c.span("capture::tracing_bridge::traced_after_exits");
    assert_eq!(after.parent_span_id, None, "nothing is entered any more");
}

#[traced]
fn traced_under_two_subscribers() {}

/// A subscriber set for a scope (`with_default`) inside another gives out the same `tracing`
/// ids: its spans are not taken for the outer one's, which stays current with its
/// attributes, events and children.
#[test]
fn a_scoped_subscribers_spans_are_not_taken_for_the_outer_ones() {
    let c = testing::capture();
    let _subscriber = bridged();
    let request = tracing::info_span!("bridge.request").entered();
    let inner = tracing_subscriber::registry().with(godtrace::tracing::layer());
    tracing::subscriber::with_default(inner, || {
        // The first span of a new registry: the same id as `bridge.request`.
        let scoped = tracing::info_span!("bridge.scoped");
        godtrace::set_attribute("bridge.user_id", 42_i64);
        drop(scoped);
    });
    traced_under_two_subscribers();
    tracing::info!("bridge.after_scoped");
    let trace_id = godtrace::trace_id();
    drop(request);
    let request = c.span("bridge.request");
    assert_eq!(trace_id, Some(request.trace_id.to_string()));
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_under_two_subscribers",
        "bridge.request"
    ));
    assert!(
        request.event("bridge.after_scoped").is_some(),
        "{request:#?}"
    );
    assert_eq!(c.span("bridge.scoped").attr("bridge.user_id"), None);
}

/// A span entered from one subscriber's registry while another subscriber is the default:
/// an event there is not added to the span of the same `tracing` id in the default one's
/// registry (a span never entered, which the event marked failed).
#[test]
fn an_event_is_not_added_to_another_registrys_span_of_the_same_id() {
    let c = testing::capture();
    let outer =
        tracing::Dispatch::new(tracing_subscriber::registry().with(godtrace::tracing::layer()));
    let inner =
        tracing::Dispatch::new(tracing_subscriber::registry().with(godtrace::tracing::layer()));
    let outers = tracing::dispatcher::with_default(&outer, || tracing::info_span!("bridge.outers"));
    // The first span of each registry: the same `tracing` id.
    let namesake =
        tracing::dispatcher::with_default(&inner, || tracing::info_span!("bridge.namesake"));
    tracing::dispatcher::with_default(&inner, || {
        let _entered = outers.enter();
        tracing::error!("bridge.elsewhere");
    });
    drop((outers, namesake));
    let namesake = c.span("bridge.namesake");
    assert!(namesake.events.is_empty(), "{namesake:#?}");
    assert!(!namesake.is_error(), "{namesake:#?}");
}

#[traced]
fn traced_after_a_forgotten_guard() {}

/// A `tracing` span closed while still entered (its guard forgotten): `tracing` no longer
/// shows it, and neither does godtrace: later calls on the thread start traces of their own.
#[test]
fn a_span_closed_while_entered_is_current_no_more() {
    let c = testing::capture();
    let _subscriber = bridged();
    let forgotten = tracing::info_span!("bridge.forgotten");
    std::mem::forget(forgotten.enter());
    drop(forgotten);
    assert!(tracing::Span::current().is_none());
    assert_eq!(godtrace::trace_id(), None, "nothing current");
    traced_after_a_forgotten_guard();
    let after = c.span("capture::tracing_bridge::traced_after_a_forgotten_guard");
    assert_eq!(after.parent_span_id, None, "a root: {after:#?}");
    assert_ne!(after.trace_id, c.span("bridge.forgotten").trace_id);
}

/// A bridged span has its file and line; not a function name made up from its name (an
/// `info_span!("load_wallet")` names no function; only `#[instrument]`'s spans would).
#[test]
fn a_bridged_span_has_its_file_and_line_and_no_made_up_function_name() {
    let c = testing::capture();
    let _subscriber = bridged();
    drop(tracing::info_span!("load_wallet").entered());
    let span = c.span("load_wallet");
    assert_eq!(span.attr("code.function.name"), None);
    assert_eq!(
        span.attr("code.file.path"),
        Some(&Value::from("tests/capture/tracing_bridge.rs"))
    );
    assert!(span.attr("code.line.number").is_some());
}

/// TRACE spans (h2's and hyper's, one per frame or poll) are not recorded by default, and are
/// transparent: what runs in one, on whatever thread it is entered, is recorded under its
/// parent; events given it as their explicit parent too. `min_span_level` sets the level.
#[test]
fn spans_below_the_layers_level_are_transparent() {
    let c = testing::capture();
    let _subscriber = bridged();
    let kept = tracing::debug_span!("bridge.level.kept");
    let below = kept.in_scope(|| tracing::trace_span!("bridge.level.trace"));
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::spawn(move || {
        let _subscriber = tracing::dispatcher::set_default(&dispatch);
        below.in_scope(|| {
            tracing::info!("bridge.level.event");
            traced_leaf();
        });
        tracing::info!(parent: &below, "bridge.level.explicit");
        // Closed while this thread's subscriber is set: the registry lets go of the parent
        // through the thread's default subscriber.
        drop(below);
    })
    .join()
    .unwrap();
    drop(kept);
    let names: Vec<_> = c.spans().into_iter().map(|s| s.name).collect();
    assert!(
        !names.iter().any(|n| n == "bridge.level.trace"),
        "{names:?}"
    );
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "bridge.level.kept"
    ));
    let kept = c.span("bridge.level.kept");
    let events: Vec<_> = kept.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["bridge.level.event", "bridge.level.explicit"]);

    let c = testing::capture();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(godtrace::tracing::layer().min_span_level(tracing::Level::INFO)),
    );
    drop(tracing::info_span!("bridge.level.recorded").entered());
    drop(tracing::debug_span!("bridge.level.debug").entered());
    let names: Vec<_> = c.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["bridge.level.recorded"]);
}

#[traced(operation = "bridge.transparent.leaf")]
fn leaf_with_an_event_and_a_span() -> Option<String> {
    tracing::info!("bridge.transparent.event");
    drop(tracing::info_span!("bridge.transparent.inner").entered());
    godtrace::span_id()
}

#[traced(operation = "bridge.transparent.outer")]
fn outer_calling_through_a_trace_span() -> Option<String> {
    tracing::trace_span!("bridge.transparent.trace").in_scope(leaf_with_an_event_and_a_span)
}

/// A `#[traced]` call made inside a transparent span (entered under a godtrace span, the
/// shape of hyper's and h2's TRACE spans around a handler) is the current span in its body:
/// its events and `tracing` spans are its own.
#[test]
fn a_traced_call_inside_a_transparent_span_is_current_in_its_body() {
    let c = testing::capture();
    let _subscriber = bridged();
    let seen = outer_calling_through_a_trace_span();
    let leaf = c.span("bridge.transparent.leaf");
    assert_eq!(seen, Some(leaf.span_id.to_string()));
    assert!(leaf.event("bridge.transparent.event").is_some());
    assert!(is_child(
        &c,
        "bridge.transparent.inner",
        "bridge.transparent.leaf"
    ));
    assert!(is_child(
        &c,
        "bridge.transparent.leaf",
        "bridge.transparent.outer"
    ));
}

#[traced(operation = "bridge.transparent.handler")]
fn handler_with_events_naming_a_transparent_span() {
    let helper = tracing::trace_span!("bridge.transparent.helper");
    let _entered = helper.enter();
    tracing::info!("bridge.transparent.contextual");
    tracing::info!(parent: &helper, "bridge.transparent.explicit");
    tracing::error!(parent: &helper, "bridge.transparent.failure");
}

/// An event naming as its `parent:` a transparent span whose nearest recorded ancestor is a
/// `#[traced]` call goes to that call's span, as the events inside the transparent span do
/// (an ERROR one fails it).
#[test]
fn an_event_naming_a_transparent_span_goes_to_its_traced_ancestor() {
    let c = testing::capture();
    let _subscriber = bridged();
    handler_with_events_naming_a_transparent_span();
    let handler = c.span("bridge.transparent.handler");
    let events: Vec<_> = handler.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        events,
        [
            "bridge.transparent.contextual",
            "bridge.transparent.explicit",
            "bridge.transparent.failure"
        ]
    );
    assert!(handler.is_error(), "{:?}", handler.status);
}

#[traced(operation = "bridge.again.leaf")]
fn leaf_entered_again() {}

/// A `tracing` span entered again (`in_scope`) inside a godtrace span that was made inside
/// it is the current span there, as `tracing` has it: a call made in it is its child and its
/// events are its own; once it is left, the godtrace span is current again.
#[test]
fn a_tracing_span_entered_again_inside_a_godtrace_span_is_current_there() {
    let c = testing::capture();
    let _subscriber = bridged();
    let outer = tracing::info_span!("bridge.again.outer");
    let _entered = outer.enter();
    let own = godtrace::span("bridge.again.own");
    outer.in_scope(|| {
        leaf_entered_again();
        tracing::info!("bridge.again.event");
    });
    godtrace::add_event::<&str>("bridge.again.after", []);
    drop(own);
    drop(_entered);
    drop(outer);
    assert!(is_child(&c, "bridge.again.leaf", "bridge.again.outer"));
    assert!(
        c.span("bridge.again.outer")
            .event("bridge.again.event")
            .is_some()
    );
    assert!(
        c.span("bridge.again.own")
            .event("bridge.again.after")
            .is_some()
    );
    assert!(is_child(&c, "bridge.again.own", "bridge.again.outer"));
}

#[traced(operation = "bridge.notes.grandchild")]
fn exits_the_span_it_is_handed(entered: tracing::span::EnteredSpan) -> Option<String> {
    drop(entered);
    godtrace::span_id()
}

#[traced(operation = "bridge.notes.child")]
fn enters_an_outer_span_again(outer: tracing::Span) -> Option<String> {
    exits_the_span_it_is_handed(outer.entered())
}

#[traced(operation = "bridge.notes.parent")]
fn enters_a_span_then_calls(outer: tracing::Span) -> Option<String> {
    let _inner = tracing::info_span!("bridge.notes.inner").entered();
    enters_an_outer_span_again(outer)
}

/// A `tracing` span entered again in a traced call and exited in the call below it leaves
/// that call current: entering it again does not make the calls below forget what
/// OpenTelemetry's context showed where they were made.
#[test]
fn a_span_entered_again_and_exited_below_leaves_the_call_current() {
    let c = testing::capture();
    let _subscriber = bridged();
    let outer = tracing::info_span!("bridge.notes.outer");
    let _entered = outer.clone().entered();
    let seen = enters_a_span_then_calls(outer);
    assert_eq!(
        seen,
        Some(c.span("bridge.notes.grandchild").span_id.to_string())
    );
}

/// A transparent span with no parent is a root nothing records: a span given it as its
/// explicit parent is a root (not a child of whatever is current), and nothing links to it.
#[test]
fn a_transparent_root_parents_roots_and_takes_no_links() {
    let c = testing::capture();
    let _subscriber = bridged();
    let connection = tracing::trace_span!(parent: None, "bridge.connection");
    {
        let _request = tracing::info_span!("bridge.request").entered();
        let stream = tracing::info_span!(parent: &connection, "bridge.stream");
        stream.follows_from(&connection);
        drop(stream);
        let above = tracing::info_span!("bridge.above");
        let below = above.in_scope(|| tracing::trace_span!("bridge.below"));
        above.follows_from(&below);
        drop((below, above));
    }
    let stream = c.span("bridge.stream");
    assert_eq!(stream.parent_span_id, None, "{stream:#?}");
    assert_ne!(stream.trace_id, c.span("bridge.request").trace_id);
    assert!(stream.links.is_empty(), "{stream:#?}");
    let above = c.span("bridge.above");
    assert!(above.links.is_empty(), "a link to itself: {above:#?}");
}

#[traced]
async fn traced_async_leaf() {
    tokio::task::yield_now().await;
}

#[traced]
async fn traced_async_root() {
    let fetch = async {
        tokio::task::yield_now().await;
        traced_async_leaf().await;
        // Moved to another worker thread, still under the instrumented span.
        tokio::spawn(traced_async_leaf().with_current_subscriber())
            .await
            .unwrap();
    };
    fetch.instrument(tracing::info_span!("bridge.fetch")).await;
}

#[test]
fn traced_then_instrumented_tracing_span_then_traced_across_await_and_threads() {
    let c = testing::capture();
    let _subscriber = bridged();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(traced_async_root().with_current_subscriber());

    let root = "capture::tracing_bridge::traced_async_root";
    assert!(is_child(&c, "bridge.fetch", root));
    let fetch = c.span("bridge.fetch");
    let leaves = c.spans_named("capture::tracing_bridge::traced_async_leaf");
    assert_eq!(leaves.len(), 2);
    for leaf in leaves {
        assert_eq!(leaf.parent_span_id, Some(fetch.span_id));
        assert_eq!(leaf.trace_id, fetch.trace_id);
    }
}

#[test]
fn a_tracing_span_entered_on_two_threads_at_once_parents_both() {
    let c = testing::capture();
    let _subscriber = bridged();
    let root = godtrace::span("bridge.batch");
    let shared = tracing::info_span!("bridge.shared");
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (span, barrier, dispatch) = (shared.clone(), barrier.clone(), dispatch.clone());
            std::thread::spawn(move || {
                let _subscriber = tracing::dispatcher::set_default(&dispatch);
                span.in_scope(|| {
                    // Both threads are inside the span at the same time.
                    barrier.wait();
                    traced_leaf();
                    tracing::info!(worker = true, "bridge.step");
                    barrier.wait();
                });
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    drop(shared);
    drop(root);

    assert!(is_child(&c, "bridge.shared", "bridge.batch"));
    let shared = c.span("bridge.shared");
    for leaf in c.spans_named("capture::tracing_bridge::traced_leaf") {
        assert_eq!(leaf.parent_span_id, Some(shared.span_id));
    }
    let steps = shared.events.iter().filter(|e| e.name == "bridge.step");
    assert_eq!(steps.count(), 2);
}

#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug")]
struct Wallet {
    id: u32,
}

#[test]
fn fields_become_typed_bounded_attributes() {
    let c = testing::capture();
    let _subscriber = bridged();
    let long = "x".repeat(5000);
    let wallet = Wallet { id: 7 };
    drop(
        tracing::info_span!(
            "bridge.fields",
            count = -3i64,
            big = u64::MAX,
            small = 42u64,
            ratio = 0.5f64,
            ok = true,
            name = "alice",
            shown = %"display",
            wallet = ?wallet,
            long = long.as_str(),
        )
        .entered(),
    );

    let span = c.span("bridge.fields");
    assert_eq!(span.attr("count"), Some(&Value::I64(-3)));
    assert_eq!(span.attr("big"), Some(&Value::from(u64::MAX.to_string())));
    assert_eq!(span.attr("small"), Some(&Value::I64(42)));
    assert_eq!(span.attr("ratio"), Some(&Value::F64(0.5)));
    assert_eq!(span.attr("ok"), Some(&Value::Bool(true)));
    assert_eq!(span.attr("name"), Some(&Value::from("alice")));
    assert_eq!(span.attr("shown"), Some(&Value::from("display")));
    assert_eq!(span.attr("wallet"), Some(&Value::from("Wallet { id: 7 }")));
    let long = span.attr("long").unwrap().as_str();
    assert!(
        long.len() < 1100 && long.ends_with("…[truncated]"),
        "{long}"
    );
}

#[test]
fn fields_recorded_later_land_on_the_span() {
    let c = testing::capture();
    let _subscriber = bridged();
    let span = tracing::info_span!(
        "bridge.later",
        rows = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    span.record("rows", 12);
    span.record("otel.name", "GET /wallets/{id}");
    span.record("otel.kind", "server");
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", "timed out");
    drop(span);

    let span = c.span("GET /wallets/{id}");
    assert!(c.spans_named("bridge.later").is_empty(), "renamed");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.attr("rows"), Some(&Value::I64(12)));
    assert_eq!(span.error_message(), Some("timed out"));
}

#[test]
fn otel_fields_set_name_kind_and_status() {
    let c = testing::capture();
    let _subscriber = bridged();
    let route = "/wallets";
    drop(
        tracing::info_span!(
            "request",
            otel.name = %format!("GET {route}"),
            otel.kind = "server",
            otel.status_code = "ok",
        )
        .entered(),
    );
    drop(tracing::info_span!("bridge.rpc", otel.kind = "Client").entered());
    drop(
        tracing::info_span!(
            "bridge.failing",
            otel.status_code = "error",
            otel.status_message = "refused"
        )
        .entered(),
    );

    let request = c.span("GET /wallets");
    assert_eq!(request.kind, SpanKind::Server);
    assert_eq!(request.status, godtrace::otel::trace::Status::Ok);
    assert!(c.spans_named("request").is_empty(), "renamed");
    assert_eq!(c.span("bridge.rpc").kind, SpanKind::Client);
    assert_eq!(c.span("bridge.failing").error_message(), Some("refused"));
}

#[traced]
fn traced_around_an_instrumented_fn() {
    instrumented_setting_attributes(7);
}

#[tracing::instrument]
fn instrumented_setting_attributes(n: u32) {
    godtrace::set_attribute("set.through.godtrace", 42i64);
    godtrace::add_event("godtrace.event", [("k", Value::from(1i64))]);
}

/// The README maps `Span::current().record(..)` to `godtrace::set_attribute`: in a `tracing`
/// span, godtrace's API records on that span, as it does on its own.
#[test]
fn godtraces_attribute_and_event_api_records_on_the_tracing_span_it_runs_in() {
    let c = testing::capture();
    let _subscriber = bridged();
    traced_around_an_instrumented_fn();
    let span = c.span("instrumented_setting_attributes");
    assert_eq!(span.attr("set.through.godtrace"), Some(&Value::I64(42)));
    assert_eq!(span.attr("n"), Some(&Value::I64(7)));
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["godtrace.event"]);
    let outer = c.span("capture::tracing_bridge::traced_around_an_instrumented_fn");
    assert_eq!(outer.attr("set.through.godtrace"), None);
}

#[traced]
fn traced_with_event() {
    tracing::warn!(attempt = 2, "retrying inside traced");
}

#[test]
fn events_become_span_events_from_info_up_by_default() {
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let _span = tracing::info_span!("bridge.events").entered();
        tracing::info!(rows = 3, "fetched");
        tracing::debug!("too verbose");
        tracing::error!(error = "disk full");
        let failure = std::io::Error::other("quota exceeded");
        tracing::error!(error = %failure, "write failed");
        traced_with_event();
    }
    let span = c.span("bridge.events");
    let names: Vec<_> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["fetched", "exception", "write failed"],
        "DEBUG left out"
    );
    // ERROR events fail their span by default, as tracing-opentelemetry's do; the last one's
    // error describes it.
    assert_eq!(span.error_message(), Some("quota exceeded"));
    // An error beside a message: the message names the event, the error is its text.
    assert_eq!(
        span.event("write failed")
            .unwrap()
            .attr("exception.message"),
        Some(&Value::from("quota exceeded"))
    );
    let fetched = span.event("fetched").unwrap();
    assert_eq!(fetched.attr("rows"), Some(&Value::I64(3)));
    assert_eq!(fetched.attr("level"), Some(&Value::from("INFO")));
    assert_eq!(
        fetched.attr("target"),
        Some(&Value::from("capture::tracing_bridge"))
    );
    let exception = span.event("exception").unwrap();
    assert_eq!(
        exception.attr("exception.message"),
        Some(&Value::from("disk full"))
    );
    // An event inside a `#[traced]` call goes to that call's span, the innermost.
    let traced = c.span("capture::tracing_bridge::traced_with_event");
    assert_eq!(traced.events[0].name, "retrying inside traced");
    assert_eq!(traced.events[0].attr("attempt"), Some(&Value::I64(2)));
}

/// An event field named like an attribute the bridge writes (`level`, `target`): one
/// attribute of that key on the span event, with the field's value.
#[test]
fn an_event_field_named_like_the_bridges_own_is_one_attribute() {
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let _span = tracing::info_span!("bridge.duplicate.keys").entered();
        tracing::warn!(level = "dup", target = "mine", "named like ours");
    }
    let event = c.span("bridge.duplicate.keys").events[0].clone();
    let keys: Vec<&str> = event.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys.iter().filter(|k| **k == "level").count(),
        1,
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| **k == "target").count(),
        1,
        "{keys:?}"
    );
    assert_eq!(event.attr("level"), Some(&Value::from("dup")));
}

/// A span field named like a `code.*` attribute the bridge writes from the call site, or
/// named by an empty string, leaves one attribute per key and none without one.
#[test]
fn a_span_field_named_like_the_bridges_own_is_one_attribute() {
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let _span = tracing::info_span!(
            "bridge.span.keys",
            code.line.number = 999,
            code.file.path = "mine.rs",
            "" = 1
        )
        .entered();
    }
    let span = c.span("bridge.span.keys");
    for key in ["code.line.number", "code.file.path"] {
        let n = span.attributes.iter().filter(|(k, _)| k == key).count();
        assert_eq!(n, 1, "{span:#?}");
    }
    assert_eq!(span.attr("code.line.number"), Some(&Value::I64(999)));
    assert!(
        span.attributes.iter().all(|(k, _)| !k.is_empty()),
        "{span:#?}"
    );
}

/// Two error values each give the span an `exception.message`: it keeps one, the last.
#[test]
fn two_error_fields_leave_one_exception_message() {
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let first = std::io::Error::other("first");
        let second = std::io::Error::other("second");
        let _span = tracing::info_span!(
            "bridge.span.errors",
            cause = &first as &dyn std::error::Error,
            retry_cause = &second as &dyn std::error::Error,
        )
        .entered();
    }
    let span = c.span("bridge.span.errors");
    let messages: Vec<_> = span
        .attributes
        .iter()
        .filter(|(k, _)| k == "exception.message")
        .collect();
    assert_eq!(messages.len(), 1, "{span:#?}");
    assert_eq!(span.attr("exception.message"), Some(&Value::from("second")));
    assert_eq!(span.attr("cause"), Some(&Value::from("first")));
}

#[test]
fn the_event_level_is_configurable_and_error_events_can_fail_the_span() {
    let c = testing::capture();
    let layer = godtrace::tracing::layer()
        .min_event_level(tracing::Level::DEBUG)
        .error_events_fail_span(true);
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    {
        let _span = tracing::info_span!("bridge.strict").entered();
        tracing::debug!("now kept");
        tracing::trace!("still too verbose");
        tracing::error!("payment declined");
    }
    let span = c.span("bridge.strict");
    let names: Vec<_> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["now kept", "payment declined"]);
    assert_eq!(span.error_message(), Some("payment declined"));

    // An error event with no message: the span's description is the error's text, not the
    // event's name (`exception`).
    {
        let _span = tracing::info_span!("bridge.failing").entered();
        let e = std::io::Error::other("boom");
        tracing::error!(error = %e);
    }
    let span = c.span("bridge.failing");
    assert_eq!(span.events[0].name, "exception");
    assert_eq!(span.error_message(), Some("boom"));

    // The same event in a `#[traced]` call's span: the same description.
    failing_inside_traced();
    let traced = c.span("capture::tracing_bridge::failing_inside_traced");
    assert_eq!(traced.error_message(), Some("boom"));
}

/// `tracing` events inside a span a library started through OpenTelemetry's API (the global
/// tracer `init` installs) go to that span, the innermost, as `godtrace::add_event` does; an
/// ERROR event fails it, as it fails a bridged span.
#[test]
fn events_inside_a_span_of_opentelemetrys_api_go_to_that_span() {
    use godtrace::otel::trace::Tracer as _;
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let _request = tracing::info_span!("bridge.around.library").entered();
        godtrace::otel::global::tracer("library").in_span("bridge.library.op", |_| {
            tracing::info!(rows = 2, "library fetched");
            tracing::error!("library failed");
        });
    }
    let op = c.span("bridge.library.op");
    let fetched = op.event("library fetched").expect("the INFO event");
    assert_eq!(fetched.attr("rows"), Some(&Value::I64(2)));
    assert_eq!(fetched.attr("level"), Some(&Value::from("INFO")));
    assert!(op.event("library failed").is_some(), "{op:#?}");
    assert_eq!(op.error_message(), Some("library failed"));
    let request = c.span("bridge.around.library");
    assert!(request.events.is_empty(), "{request:#?}");
    assert!(!request.is_error(), "{request:#?}");
}

#[tracing::instrument(err)]
fn instrumented_err(fail: bool) -> Result<u32, String> {
    if fail { Err("declined".into()) } else { Ok(1) }
}

/// `#[instrument(err)]` fails its span on an `Err` by default (its ERROR event), as with
/// tracing-opentelemetry; turned off, ERROR events leave the status alone.
#[test]
fn an_instrumented_err_fails_its_span_unless_turned_off() {
    let c = testing::capture();
    {
        let _subscriber = bridged();
        assert!(instrumented_err(true).is_err());
        assert!(instrumented_err(false).is_ok());
    }
    let spans = c.spans_named("instrumented_err");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].error_message(), Some("declined"));
    assert!(!spans[1].is_error(), "{:#?}", spans[1]);
    let lenient = godtrace::tracing::layer().error_events_fail_span(false);
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(lenient));
    {
        let _span = tracing::info_span!("bridge.lenient").entered();
        tracing::error!("logged and handled");
    }
    assert!(!c.span("bridge.lenient").is_error());
}

#[traced]
fn failing_inside_traced() {
    let e = std::io::Error::other("boom");
    tracing::error!(error = &e as &dyn std::error::Error, "query failed");
}

#[test]
fn a_filter_decides_which_spans_reach_godtrace() {
    let c = testing::capture();
    let layer = godtrace::tracing::layer().with_filter(
        filter::Targets::new()
            .with_target("noisy", tracing::Level::ERROR)
            .with_default(tracing::Level::INFO),
    );
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    {
        let _outer = tracing::info_span!("bridge.kept").entered();
        let _noisy = tracing::info_span!(target: "noisy", "bridge.noisy").entered();
        let _debug = tracing::debug_span!("bridge.debug").entered();
        traced_leaf();
    }
    let names: Vec<_> = c.spans().into_iter().map(|s| s.name).collect();
    assert!(
        !names
            .iter()
            .any(|n| n == "bridge.noisy" || n == "bridge.debug"),
        "{names:?}"
    );
    // What the filter leaves out is skipped: the call nests under the nearest kept span.
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "bridge.kept"
    ));
}

/// An event whose explicit `parent:` a per-layer filter keeps from godtrace's layer: the layer
/// never saw that span, nor what was current when it started (a `#[traced]` call, say), so it
/// cannot tell where the event belongs; it records it nowhere, and its fmt line has no ids,
/// rather than put it (and an `error!`'s failure) on an ancestor it may not belong to. An
/// event inside the same span, in context, goes to the current span.
#[test]
fn an_event_under_a_filtered_explicit_parent_is_recorded_nowhere() {
    let c = testing::capture();
    let lines = Lines::default();
    let writer = lines.clone();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .map_event_format(godtrace::tracing::TraceIds::new);
    let layer = godtrace::tracing::layer().with_filter(filter::LevelFilter::INFO);
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer).with(fmt));
    {
        let _kept = tracing::info_span!("bridge.filter.kept").entered();
        let filtered = tracing::debug_span!("bridge.filter.out");
        tracing::error!(parent: &filtered, "bridge.filter.explicit");
        let _in = filtered.enter();
        tracing::info!("bridge.filter.contextual");
    }
    let kept = c.span("bridge.filter.kept");
    assert!(kept.event("bridge.filter.explicit").is_none(), "{kept:#?}");
    assert!(!kept.is_error(), "{kept:#?}");
    assert!(
        kept.event("bridge.filter.contextual").is_some(),
        "{kept:#?}"
    );
    let text = lines.text();
    let line = |needle: &str| line_with(&text, needle);
    assert!(
        !line("bridge.filter.explicit").contains("trace_id="),
        "{text}"
    );
    assert!(
        line("bridge.filter.contextual").starts_with(&ids_of(&kept)),
        "{text}"
    );
}

#[traced(sample_rate = 0.0)]
async fn sampled_out_root() {
    let child = async {
        traced_async_leaf().await;
        let inner = tracing::info_span!("bridge.out.inner");
        traced_async_leaf().instrument(inner).await;
    };
    child.instrument(tracing::info_span!("bridge.out")).await;
}

/// What is added to "the current span" through godtrace's API lands on the bridged span
/// entered, whatever subscriber is the thread's default there: a library silencing `tracing`
/// inside it (`NoSubscriber`), or the span moved to a thread whose default is another one.
#[test]
fn a_bridged_span_takes_what_is_added_under_another_default_subscriber() {
    let c = testing::capture();
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(godtrace::tracing::layer()));
    let span =
        tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("bridge.elsewhere"));
    span.in_scope(|| {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            godtrace::set_attribute("silenced.attribute", 1_i64);
            godtrace::add_event("silenced.event", Vec::<(&str, Value)>::new());
        });
    });
    std::thread::spawn(move || {
        span.in_scope(|| godtrace::set_attribute("moved.attribute", 2_i64));
    })
    .join()
    .unwrap();
    let recorded = c.span("bridge.elsewhere");
    assert_eq!(recorded.attr("silenced.attribute"), Some(&Value::I64(1)));
    assert_eq!(recorded.attr("moved.attribute"), Some(&Value::I64(2)));
    let events: Vec<&str> = recorded.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["silenced.event"]);
}

/// The same, silenced, with the layer where tracing-subscriber does not tell it its subscriber
/// (behind `Option`, in a boxed subscriber): the subscriber entering the span is taken.
#[test]
fn a_bridged_span_of_a_layer_behind_option_or_box_takes_what_is_added_silenced() {
    let c = testing::capture();
    let optional: Box<dyn tracing::Subscriber + Send + Sync> =
        Box::new(tracing_subscriber::registry().with(Some(godtrace::tracing::layer())));
    for (name, subscriber) in [
        ("bridge.optional", tracing::Dispatch::new(optional)),
        (
            "bridge.listed",
            tracing::Dispatch::new(
                tracing_subscriber::registry().with(vec![godtrace::tracing::layer().boxed()]),
            ),
        ),
    ] {
        tracing::dispatcher::with_default(&subscriber, || {
            tracing::info_span!("bridge.silenced", otel.name = name).in_scope(|| {
                tracing::subscriber::with_default(
                    tracing::subscriber::NoSubscriber::default(),
                    || {
                        godtrace::set_attribute("silenced.attribute", 1_i64);
                    },
                )
            })
        });
        assert_eq!(
            c.span(name).attr("silenced.attribute"),
            Some(&Value::I64(1)),
            "{name}"
        );
    }
}

/// OpenTelemetry logs (its `internal-logs` feature) while it holds the thread's context
/// borrowed: an attach past its stack's limit of 65,535 contexts (spans exited after the next
/// one is entered leave holes that fill it), and the drop of that attach's guard. godtrace's
/// layer and `TraceIds` read the context for such an event, which panicked inside
/// OpenTelemetry's `attach` (an abort under `panic = "abort"`).
#[test]
fn opentelemetry_logging_inside_its_context_code_is_passed_over() {
    let c = testing::capture();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(godtrace::tracing::layer())
            .with(
                tracing_subscriber::fmt::layer()
                    .map_event_format(godtrace::tracing::TraceIds::new)
                    .with_writer(std::io::sink),
            ),
    );
    let span = tracing::info_span!("bridge.context.full").entered();
    let mut guards: Vec<_> = (0..u16::MAX)
        .map(|_| godtrace::otel::Context::current().attach())
        .collect();
    tracing::info!("still recorded");
    while let Some(guard) = guards.pop() {
        drop(guard);
    }
    drop(span);
    let recorded = c.span("bridge.context.full");
    let events: Vec<&str> = recorded.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["still recorded"]);
}

#[test]
fn tracing_spans_under_a_sampled_out_root_stay_out() {
    let c = testing::capture();
    let _subscriber = bridged();
    // One thread: a span wrongly starting a trace of its own would be captured here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(sampled_out_root());
    let names: Vec<_> = c.spans().into_iter().map(|s| s.name).collect();
    assert!(names.is_empty(), "{names:?}");
}

#[traced(sample_rate = 0.0)]
fn sampled_out_root_with_span() -> tracing::Span {
    tracing::info_span!("bridge.out.handed")
}

#[test]
fn a_span_started_elsewhere_under_a_sampled_out_span_keeps_the_decision() {
    let c = testing::capture();
    let _subscriber = bridged();
    let handed = sampled_out_root_with_span();
    // Another thread, with no sampled-out root of its own, starts a child under the span.
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let child = std::thread::spawn(move || {
        let _subscriber = tracing::dispatcher::set_default(&dispatch);
        handed.in_scope(|| tracing::info_span!("bridge.out.child"))
    })
    .join()
    .unwrap();
    // Back here, outside the root: what runs under the child stays out of the trace too.
    child.in_scope(traced_leaf);
    let names: Vec<_> = c.spans().into_iter().map(|s| s.name).collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn parent_none_starts_a_new_trace_and_an_explicit_parent_is_followed() {
    let c = testing::capture();
    let _subscriber = bridged();
    let request = tracing::info_span!("bridge.request");
    {
        let _traced_root = godtrace::span("bridge.unrelated");
        drop(tracing::info_span!(parent: None, "bridge.detached").entered());
        drop(tracing::info_span!(parent: &request, "bridge.explicit").entered());
    }
    drop(request);
    let detached = c.span("bridge.detached");
    assert_eq!(detached.parent_span_id, None);
    assert_ne!(detached.trace_id, c.span("bridge.unrelated").trace_id);
    assert!(is_child(&c, "bridge.explicit", "bridge.request"));
}

/// A span whose explicit `parent:` a per-layer filter keeps from godtrace's layer: the layer
/// cannot tell which trace that parent is in, and the span is not put under whatever span is
/// current (another request's): it starts a trace of its own.
#[test]
fn a_span_under_a_filtered_explicit_parent_is_a_root() {
    let c = testing::capture();
    let layer = godtrace::tracing::layer().with_filter(filter::LevelFilter::INFO);
    // Another layer keeps DEBUG spans: the filtered parent exists, unseen by godtrace's.
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer).with(fmt));
    let job = tracing::info_span!("bridge.hidden.job");
    let step = job.in_scope(|| tracing::debug_span!("bridge.hidden.step"));
    {
        let _request = tracing::info_span!("bridge.hidden.request").entered();
        drop(tracing::info_span!(parent: &step, "bridge.hidden.part").entered());
    }
    drop((step, job));
    let part = c.span("bridge.hidden.part");
    assert_eq!(part.parent_span_id, None, "{part:#?}");
    assert_ne!(part.trace_id, c.span("bridge.hidden.request").trace_id);
    assert_ne!(part.trace_id, c.span("bridge.hidden.job").trace_id);
}

/// A `MakeWriter` that keeps what the fmt layer writes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        std::io::Write::write(&mut *self.0.lock().unwrap(), bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The first line of `text` that contains `needle`.
fn line_with(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap()
        .to_owned()
}

/// The ids `TraceIds` puts at the start of a line in `span`.
fn ids_of(span: &testing::FinishedSpan) -> String {
    format!("trace_id={} span_id={} ", span.trace_id, span.span_id)
}

#[traced]
fn traced_logging() {
    tracing::info!("inside traced");
}

#[test]
fn fmt_lines_carry_the_ids_of_the_current_span() {
    let c = testing::capture();
    let lines = Lines::default();
    let writer = lines.clone();
    // The span's own lines too: the one a span's close prints (with its busy and idle time)
    // comes after godtrace's layer has ended the span.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_span_events(
            tracing_subscriber::fmt::format::FmtSpan::NEW
                | tracing_subscriber::fmt::format::FmtSpan::CLOSE,
        )
        .with_writer(move || writer.clone())
        .map_event_format(godtrace::tracing::TraceIds::new);
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(godtrace::tracing::layer())
            .with(fmt),
    );
    tracing::info!("outside any span");
    {
        let _span = tracing::info_span!("bridge.logged").entered();
        tracing::info!("inside tracing span");
        // In no span, as godtrace's layer reads it: no ids on the line either.
        tracing::info!(parent: None, "an explicit root");
        traced_logging();
    }
    let logged = c.span("bridge.logged");
    let traced = c.span("capture::tracing_bridge::traced_logging");
    let text = lines.text();
    let line = |needle: &str| line_with(&text, needle);
    assert!(!line("outside any span").contains("trace_id="), "{text}");
    assert!(!line("an explicit root").contains("trace_id="), "{text}");
    assert!(
        line("inside tracing span").starts_with(&ids_of(&logged)),
        "{text}"
    );
    assert!(
        line("inside traced").starts_with(&ids_of(&traced)),
        "{text}"
    );
    for event in [": new", ": close"] {
        assert!(line(event).starts_with(&ids_of(&logged)), "{text}");
    }
}

/// A `log::Log` that keeps each record's message and key-values.
#[derive(Default)]
struct Records(Mutex<Vec<String>>);

impl log::Log for Records {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        struct Collect(String);
        impl<'kvs> log::kv::VisitSource<'kvs> for Collect {
            fn visit_pair(
                &mut self,
                key: log::kv::Key<'kvs>,
                value: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                self.0.push_str(&format!(" {key}={value}"));
                Ok(())
            }
        }
        let mut line = Collect(record.args().to_string());
        record.key_values().visit(&mut line).unwrap();
        self.0.lock().unwrap().push(line.0);
    }
    fn flush(&self) {}
}

fn log_info(logger: &dyn log::Log, message: &str) {
    let order = [("order", 17)];
    logger.log(
        &log::Record::builder()
            .args(format_args!("{message}"))
            .level(log::Level::Info)
            .target("shop")
            .key_values(&order)
            .build(),
    );
}

#[traced]
fn traced_checkout(logger: &dyn log::Log) {
    log_info(logger, "charged");
}

#[test]
fn log_records_carry_the_ids_and_can_become_span_events() {
    let c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(Records::default()).span_events(log::Level::Info);
    log_info(&logger, "idle");
    traced_checkout(&logger);
    let _subscriber = bridged();
    tracing::info_span!("bridge.log").in_scope(|| log_info(&logger, "in tracing span"));

    let checkout = c.span("capture::tracing_bridge::traced_checkout");
    let lines = logger_lines(logger);
    assert_eq!(lines[0], "idle order=17");
    assert_eq!(
        lines[1],
        format!(
            "[trace_id={0} span_id={1}] charged trace_id={0} span_id={1} order=17",
            checkout.trace_id, checkout.span_id
        )
    );
    let event = checkout
        .event("charged")
        .expect("the record as a span event");
    assert_eq!(event.attr("level"), Some(&Value::from("INFO")));
    assert_eq!(event.attr("target"), Some(&Value::from("shop")));
    assert_eq!(event.attr("order"), Some(&Value::I64(17)));
    let bridged = c.span("bridge.log");
    assert!(lines[2].contains(&format!("span_id={}", bridged.span_id)));
    assert!(bridged.event("in tracing span").is_some());
}

#[traced]
fn traced_logs_its_own_trace_id(logger: &dyn log::Log) {
    let own = [("trace_id", "from-the-caller")];
    logger.log(
        &log::Record::builder()
            .args(format_args!("named"))
            .level(log::Level::Info)
            .target("shop")
            .key_values(&own)
            .build(),
    );
}

/// A record that names `trace_id` itself keeps its own: the logger gets one pair of the key.
#[test]
fn a_record_naming_trace_id_itself_keeps_its_own() {
    let _c = testing::capture();
    let logger = godtrace::log::TraceIdLogger::new(Records::default());
    traced_logs_its_own_trace_id(&logger);
    let lines = logger_lines(logger);
    // The prefix's ids, then the record's pairs: `span_id` added, `trace_id` its own.
    assert_eq!(lines[0].matches("trace_id=").count(), 2, "{}", lines[0]);
    assert!(
        lines[0].ends_with(" trace_id=from-the-caller"),
        "{}",
        lines[0]
    );
}

/// A logger that writes WARN and above and, like many simple loggers, trusts its caller to
/// have asked `enabled` first.
#[derive(Default)]
struct WarnOnly(Records);

impl log::Log for WarnOnly {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.log(record);
    }
    fn flush(&self) {}
}

fn info_enabled(logger: &dyn log::Log) -> bool {
    logger.enabled(&log::Metadata::builder().level(log::Level::Info).build())
}

#[traced]
fn traced_info_enabled(logger: &dyn log::Log) -> bool {
    info_enabled(logger)
}

#[test]
fn span_events_never_make_the_wrapped_logger_write_what_it_filters_out() {
    let c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(WarnOnly::default()).span_events(log::Level::Info);
    // Outside any span, `log_enabled!` answers as the wrapped logger; inside one, INFO is on
    // for the span event.
    assert!(!info_enabled(&logger));
    assert!(traced_info_enabled(&logger));
    traced_checkout(&logger);
    let checkout = c.span("capture::tracing_bridge::traced_checkout");
    assert!(
        checkout.event("charged").is_some(),
        "the span event is recorded"
    );
    let lines = logger.into_inner().0.0.into_inner().unwrap();
    assert!(
        lines.is_empty(),
        "the INFO line the logger filters out: {lines:?}"
    );
}

/// A logger that turns one target off, as `sqlx::query=off` does.
#[derive(Default)]
struct WithoutQueries(Records);

impl log::Log for WithoutQueries {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() != "sqlx::query"
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.log(record);
        }
    }
    fn flush(&self) {}
}

#[traced]
fn traced_slow_statement(logger: &dyn log::Log) -> bool {
    let statement = log::Metadata::builder()
        .level(log::Level::Warn)
        .target("sqlx::query")
        .build();
    logger.log(
        &log::Record::builder()
            .metadata(statement.clone())
            .args(format_args!("UPDATE users SET password = 'hunter2'"))
            .build(),
    );
    logger.log(
        &log::Record::builder()
            .level(log::Level::Warn)
            .target("app")
            .args(format_args!("kept"))
            .build(),
    );
    logger.enabled(&statement)
}

/// A target the wrapped logger turns off gives no span events: what the user silenced (an
/// unsanitized statement) is not exported either.
#[test]
fn span_events_leave_out_the_targets_the_wrapped_logger_turns_off() {
    let c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(WithoutQueries::default()).span_events(log::Level::Info);
    assert!(
        !traced_slow_statement(&logger),
        "`log_enabled!` is off for it"
    );
    let span = c.span("capture::tracing_bridge::traced_slow_statement");
    assert!(span.event("kept").is_some());
    assert_eq!(span.events.len(), 1, "{:?}", span.events);
}

fn logger_lines(logger: godtrace::log::TraceIdLogger<Records>) -> Vec<String> {
    let records = logger.into_inner();
    records.0.into_inner().unwrap()
}

#[traced]
async fn traced_client() -> u16 {
    use tower::{Service as _, ServiceExt as _};
    let mut service = tower::ServiceBuilder::new()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service_fn(|_request: http::Request<String>| async {
            traced_async_leaf().await;
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
        });
    let request = http::Request::get("/wallets/7")
        .body(String::new())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    response.status().as_u16()
}

#[test]
fn a_tracing_instrumented_library_nests_between_traced_calls() {
    let c = testing::capture();
    // tower-http's TraceLayer makes its spans at DEBUG.
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(godtrace::tracing::layer().min_span_level(tracing::Level::DEBUG)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(traced_client()), 200);

    // tower-http's TraceLayer opens a span named `request` for each request.
    assert!(is_child(
        &c,
        "request",
        "capture::tracing_bridge::traced_client"
    ));
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_async_leaf",
        "request"
    ));
    let request = c.span("request");
    assert_eq!(request.attr("method"), Some(&Value::from("GET")));
    assert_eq!(request.attr("uri"), Some(&Value::from("/wallets/7")));
}

#[test]
fn the_layer_added_twice_does_not_panic() {
    let c = testing::capture();
    let subscriber = tracing_subscriber::registry()
        .with(godtrace::tracing::layer())
        .with(godtrace::tracing::layer());
    let _subscriber = tracing::subscriber::set_default(subscriber);
    drop(tracing::info_span!("bridge.twice").entered());
    assert!(!c.spans_named("bridge.twice").is_empty());
}

/// `Span::record` of a field again replaces its value, as `tracing` means it.
#[test]
fn a_field_recorded_again_takes_the_new_value() {
    let capture = testing::capture();
    let _subscriber = bridged();
    {
        let span = tracing::info_span!(
            "bridge.progress",
            progress = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        for i in 0..200_i64 {
            span.record("progress", i);
        }
        span.record("outcome", "done");
    }
    let span = capture.span("bridge.progress");
    assert_eq!(span.attr("progress"), Some(&Value::I64(199)), "{span:#?}");
    assert_eq!(
        span.attr("outcome"),
        Some(&Value::from("done")),
        "{span:#?}"
    );
}

#[traced]
fn consumes_an_entered_span(entered: tracing::span::EnteredSpan) -> Option<String> {
    drop(entered);
    traced_leaf();
    godtrace::trace_id()
}

/// A `tracing` guard entered before a traced call and dropped inside it (a value holding one,
/// consumed by a traced method) leaves the traced call current: its later children stay in
/// its trace, and its trace id is still there.
#[test]
fn a_tracing_guard_dropped_inside_a_traced_call_leaves_it_current() {
    let c = testing::capture();
    let _subscriber = bridged();
    let entered = tracing::info_span!("bridge.handed").entered();
    let trace_id = consumes_an_entered_span(entered);
    let call = "capture::tracing_bridge::consumes_an_entered_span";
    assert!(is_child(&c, call, "bridge.handed"));
    assert!(is_child(&c, "capture::tracing_bridge::traced_leaf", call));
    assert_eq!(trace_id, Some(c.span(call).trace_id.to_string()));
}

#[traced(parent = cx)]
fn traced_under(cx: &godtrace::otel::Context) {}

/// Where telemetry is suppressed (the export thread), nothing is recorded, whatever parent a
/// span names: a library's `tracing` root (`parent: None`, as the HTTP/2 client's connection
/// span) and what runs inside it, or an explicit context. Before, the export thread recorded
/// its HTTP/2 client's spans and exported them with the next batch, forever.
#[test]
fn roots_and_explicit_parents_are_not_recorded_where_telemetry_is_suppressed() {
    let c = testing::capture();
    let _subscriber = bridged();
    {
        let _suppressed = godtrace::otel::Context::enter_telemetry_suppressed_scope();
        let connection = tracing::info_span!(parent: None, "suppressed.connection");
        connection.in_scope(|| {
            tracing::info_span!("suppressed.poll").in_scope(traced_leaf);
        });
        traced_under(&godtrace::otel::Context::new());
        let remote = godtrace::propagation::extract_map(&std::collections::HashMap::from([(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        )]));
        traced_under(&remote);
    }
    assert!(c.spans().is_empty(), "{:#?}", c.spans());
    // Outside the suppressed scope, the same calls are recorded.
    tracing::info_span!(parent: None, "suppressed.connection").in_scope(|| {});
    traced_under(&godtrace::otel::Context::new());
    assert_eq!(c.spans().len(), 2);
}

#[traced]
fn traced_inside_map_current() {
    let span = tracing::info_span!("bridge.inside.map_current");
    let _entered = span.enter();
    traced_leaf();
}

/// A `tracing` span entered inside OpenTelemetry's `Context::map_current` (where `attach`
/// panics) is entered and recorded as anywhere else, without a panic; only OpenTelemetry's
/// context does not show it there.
#[test]
fn a_span_entered_inside_map_current_is_recorded_without_a_panic() {
    let c = testing::capture();
    let _subscriber = bridged();
    godtrace::otel::Context::map_current(|_| traced_inside_map_current());
    let root = "capture::tracing_bridge::traced_inside_map_current";
    assert!(is_child(&c, "bridge.inside.map_current", root));
}

/// Work wrapped with `in_current_span` under a bridged `tracing` span, run on another thread:
/// its events and attributes reach that span, as with `tracing`'s own `in_scope`.
#[test]
fn in_current_span_carries_a_tracing_span_with_its_record() {
    let c = testing::capture();
    let _default = bridged();
    let request = tracing::info_span!("carried_request");
    let work = request.in_scope(|| {
        godtrace::in_current_span(|| {
            godtrace::set_attribute("rows", 3i64);
            tracing::info!("parsed");
            traced_leaf();
        })
    });
    // The other thread has no default subscriber: the span carries its own.
    std::thread::spawn(work).join().unwrap();
    drop(request);
    let span = c.span("carried_request");
    assert_eq!(span.attr("rows"), Some(&Value::I64(3)), "{span:#?}");
    assert!(span.event("parsed").is_some(), "{span:#?}");
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "carried_request"
    ));
}

/// The carried span's last handle may go on the other thread, after the closure ran or
/// without it running: its parent still closes (the registry tells it through the thread's
/// default subscriber, which there is the span's own only while the closure runs).
#[test]
fn a_tracing_span_carried_to_another_thread_lets_its_parent_close() {
    let c = testing::capture();
    let _default = bridged();
    let request = tracing::info_span!("carrying_request");
    let (ran, never_run) = request.in_scope(|| {
        let step = tracing::info_span!("carried_step");
        let ran = step.in_scope(|| godtrace::in_current_span(|| tracing::info!("working")));
        let never_run = step.in_scope(|| godtrace::in_current_span(|| ()));
        (ran, never_run)
    });
    std::thread::spawn(ran).join().unwrap();
    std::thread::spawn(move || drop(never_run)).join().unwrap();
    drop(request);
    let step = c.span("carried_step");
    assert!(step.event("working").is_some(), "{step:#?}");
    let request = c.span("carrying_request");
    assert_eq!(step.parent_span_id, Some(request.span_id));
}

#[traced]
fn traced_wraps_work() -> impl FnOnce() + Send {
    godtrace::in_current_span(|| {
        godtrace::set_attribute("lost", 1i64);
        traced_leaf();
    })
}

/// Under a `#[traced]` call inside a `tracing` span, the call is innermost: its ids are
/// carried, and nothing reaches the outer `tracing` span.
#[test]
fn in_current_span_under_a_traced_call_does_not_enter_an_outer_tracing_span() {
    let c = testing::capture();
    let _default = bridged();
    let outer = tracing::info_span!("outer_request");
    let work = outer.in_scope(traced_wraps_work);
    std::thread::spawn(work).join().unwrap();
    drop(outer);
    assert!(c.span("outer_request").attr("lost").is_none());
    assert!(is_child(
        &c,
        "capture::tracing_bridge::traced_leaf",
        "capture::tracing_bridge::traced_wraps_work"
    ));
}

#[async_trait::async_trait]
trait Scorer {
    async fn score(&self, n: u32) -> u32;
}

struct AsyncTraitFirst;

#[async_trait::async_trait]
#[traced]
impl Scorer for AsyncTraitFirst {
    #[tracing::instrument(name = "score_async_trait_first", skip(self))]
    async fn score(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        tracing::info!("scoring");
        n + 1
    }
}

struct TracedFirst;

#[traced]
#[async_trait::async_trait]
impl Scorer for TracedFirst {
    #[tracing::instrument(name = "score_traced_first", skip(self))]
    async fn score(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        tracing::info!("scoring");
        n + 2
    }
}

/// `#[instrument]` on a method of a traced `#[async_trait]` impl: whichever of the two
/// block attributes expands first, its span covers the body (it has the body's event) and
/// sits inside the traced call's span.
#[test]
fn instrument_in_a_traced_async_trait_impl_covers_the_body_in_either_order() {
    let c = testing::capture();
    let _default = bridged();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(AsyncTraitFirst.score(1)), 2);
    assert_eq!(runtime.block_on(TracedFirst.score(1)), 3);
    for (instrumented, traced) in [
        ("score_async_trait_first", "AsyncTraitFirst"),
        ("score_traced_first", "TracedFirst"),
    ] {
        let span = c.span(instrumented);
        assert!(span.event("scoring").is_some(), "{span:#?}");
        let calls = c.spans();
        let call = calls
            .iter()
            .find(|s| s.name.contains(traced) && s.name.ends_with("::score"))
            .unwrap_or_else(|| panic!("no traced span for {traced}: {calls:#?}"));
        assert_eq!(span.parent_span_id, Some(call.span_id), "{instrumented}");
    }
}

#[tracing::instrument(err)]
fn fetches_with_a_key() -> Result<(), String> {
    Err("GET https://u:pw@h.example/?api_key=k3y failed".into())
}

/// The error `#[instrument(err)]` records (and any error value) is the text a traced call's
/// status would show: the credentials in its URLs are redacted there too.
#[test]
fn credentials_in_urls_of_recorded_errors_are_redacted() {
    let c = testing::capture();
    let _default = bridged();
    assert!(fetches_with_a_key().is_err());
    let span = c.span("fetches_with_a_key");
    let redacted = "GET https://REDACTED:REDACTED@h.example/?api_key=REDACTED failed";
    let event = span.event("exception").expect("the error's event");
    assert_eq!(
        event.attr("exception.message"),
        Some(&Value::from(redacted)),
        "{span:#?}"
    );
    assert_eq!(span.error_message(), Some(redacted));
}

/// An event's message (its name) is formatted with values, a database URL among them: the
/// credentials in its URLs are redacted as the status it gives its span is, for a `tracing`
/// event and a `log` record alike.
#[test]
fn credentials_in_urls_of_messages_are_redacted() {
    let c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(Records::default()).span_events(log::Level::Info);
    let _default = bridged();
    tracing::info_span!("bridge.message").in_scope(|| {
        tracing::error!("connect to postgres://u:s3cret@db.example/app failed");
        log::Log::log(
            &logger,
            &log::Record::builder()
                .args(format_args!("retry postgres://u:s3cret@db.example/app"))
                .level(log::Level::Warn)
                .build(),
        );
    });
    let span = c.span("bridge.message");
    let names: Vec<_> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "connect to postgres://REDACTED:REDACTED@db.example/app failed",
            "retry postgres://REDACTED:REDACTED@db.example/app"
        ]
    );
    assert_eq!(
        span.error_message(),
        Some("connect to postgres://REDACTED:REDACTED@db.example/app failed")
    );
    // A message the name's limit (1024 bytes by default) cuts inside a URL: redacted before
    // the cut, wherever it falls (here in an encoded URL in the query, before its `%40`).
    let url = "https://app/login?next=https%3A%2F%2Fbob%3Ahunter2hunter2%40evil.example";
    for pad in 940..1024 {
        let padded = format!("{}{url}", "y".repeat(pad));
        tracing::info_span!("bridge.message.cut", pad).in_scope(|| tracing::info!("{padded}"));
    }
    for span in c.spans_named("bridge.message.cut") {
        let name = &span.events[0].name;
        assert!(!name.contains("hunter"), "{name}");
    }
}

/// A span field named `error`, recorded as text (`%e`, `?e` or a `&str`), is an error's text
/// as an event's `error` field is: its URLs' credentials are redacted too.
#[test]
fn a_span_field_named_error_is_redacted_as_an_events_is() {
    let c = testing::capture();
    let _default = bridged();
    let failure = "GET https://u:pw@h.example/?token=t0k failed";
    let redacted = "GET https://REDACTED:REDACTED@h.example/?token=REDACTED failed";
    for (name, record) in [("field.display", 0), ("field.debug", 1), ("field.str", 2)] {
        let span = tracing::info_span!("field", otel.name = name, error = tracing::field::Empty);
        match record {
            0 => span.record("error", tracing::field::display(failure)),
            1 => span.record("error", tracing::field::debug(failure)),
            _ => span.record("error", failure),
        };
        drop(span);
        let text = match c.span(name).attr("error") {
            Some(Value::String(text)) => text.to_string(),
            other => panic!("{name}: {other:?}"),
        };
        assert!(
            !text.contains("pw") && !text.contains("t0k"),
            "{name}: {text}"
        );
        assert!(text.contains(redacted), "{name}: {text}");
    }
}

/// A field value whose `Debug` calls godtrace's API (`set_attribute`, `add_event`) or logs
/// through `TraceIdLogger`, recorded on the entered span with a fmt layer beside godtrace's,
/// the README's setup: the fmt layer formats the value while it holds the lock on the span's
/// extensions, and what the value adds reached the span's record through that lock, which
/// deadlocked the thread. It now reaches the span, with no lock of the registry's.
#[test]
fn a_recorded_value_that_adds_to_the_entered_span_does_not_deadlock() {
    struct AddsToTheSpan;
    impl std::fmt::Debug for AddsToTheSpan {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            godtrace::set_attribute("bridge.from_debug", 1_i64);
            godtrace::add_event::<&str>("bridge.event_from_debug", []);
            f.write_str("adds")
        }
    }
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let c = testing::capture();
        let fmt = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::io::sink)
            .map_event_format(godtrace::tracing::TraceIds::new);
        let subscriber = tracing_subscriber::registry()
            .with(godtrace::tracing::layer())
            .with(fmt);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("bridge.debug_adds", value = tracing::field::Empty);
            let _entered = span.enter();
            span.record("value", tracing::field::debug(&AddsToTheSpan));
        });
        let _ = done.send(());
        c.span("bridge.debug_adds")
    });
    // A deadlock guard, not a timing assertion.
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        finished.recv_timeout(std::time::Duration::from_secs(60))
    {
        panic!("recording the value deadlocked");
    }
    let span = worker.join().expect("the recording thread");
    assert_eq!(span.attr("bridge.from_debug"), Some(&Value::I64(1)));
    assert!(span.event("bridge.event_from_debug").is_some(), "{span:#?}");
    assert_eq!(span.attr("value"), Some(&Value::from("adds")));
}

/// A bridged span that ends failed (an ERROR event in it, `otel.status_code = "error"`) has
/// `error.type` `_OTHER`, as a manual span's `set_error` gives, unless a field gave one; one
/// whose failure a later `otel.status_code = "ok"` cleared has none.
#[test]
fn a_bridged_span_that_ends_failed_has_an_error_type() {
    let c = testing::capture();
    let _subscriber = bridged();
    tracing::info_span!("bridge.failed_by_event").in_scope(|| tracing::error!("it broke"));
    let _ = tracing::info_span!("bridge.failed_by_status", otel.status_code = "error");
    tracing::info_span!("bridge.typed", error.type = "timeout")
        .in_scope(|| tracing::error!("timed out"));
    let cleared = tracing::info_span!("bridge.cleared", otel.status_code = tracing::field::Empty);
    cleared.in_scope(|| tracing::error!("retried"));
    cleared.record("otel.status_code", "ok");
    drop(cleared);
    let other = Some(Value::from("_OTHER"));
    for name in ["bridge.failed_by_event", "bridge.failed_by_status"] {
        let span = c.span(name);
        assert!(span.is_error(), "{span:#?}");
        assert_eq!(span.attr("error.type").cloned(), other, "{span:#?}");
    }
    let typed = c.span("bridge.typed");
    assert_eq!(typed.attr("error.type"), Some(&Value::from("timeout")));
    let cleared = c.span("bridge.cleared");
    assert!(!cleared.is_error(), "{cleared:#?}");
    assert_eq!(cleared.attr("error.type"), None, "{cleared:#?}");
}

#[traced(sample_rate = 0.0)]
fn traced_sampled_out_info_enabled(logger: &dyn log::Log) -> bool {
    info_enabled(logger)
}

/// Inside a sampled-out call no record becomes a span event: `log_enabled!` answers as the
/// wrapped logger alone would, so code guarded by it does no work for nothing.
#[test]
fn a_sampled_out_span_turns_on_no_level_the_logger_filters_out() {
    let _c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(WarnOnly::default()).span_events(log::Level::Info);
    assert!(
        traced_info_enabled(&logger),
        "sampled in: for the span event"
    );
    assert!(!traced_sampled_out_info_enabled(&logger));
}

/// A message whose `Display` logs a record itself.
struct LogsWhenShown<'a>(&'a dyn log::Log);

impl std::fmt::Display for LogsWhenShown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        log_info(self.0, "from display");
        f.write_str("shown")
    }
}

#[traced]
fn traced_logs_a_message_that_logs(logger: &dyn log::Log) {
    logger.log(
        &log::Record::builder()
            .args(format_args!("outer {}", LogsWhenShown(logger)))
            .level(log::Level::Info)
            .target("shop")
            .build(),
    );
}

/// A record that becomes a span event and is written has its message formatted once: the
/// user's `Display` (and what it does, here a record of its own) runs once, not twice.
#[test]
fn a_records_message_is_formatted_once_for_the_event_and_the_line() {
    let c = testing::capture();
    let logger =
        godtrace::log::TraceIdLogger::new(Records::default()).span_events(log::Level::Info);
    traced_logs_a_message_that_logs(&logger);
    let span = c.span("capture::tracing_bridge::traced_logs_a_message_that_logs");
    let names: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["from display", "outer shown"], "{span:#?}");
    let lines = logger_lines(logger);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("] outer shown"), "{lines:?}");
}

/// A span that follows from itself gains no link.
#[test]
fn a_span_following_from_itself_gains_no_link() {
    let c = testing::capture();
    let _subscriber = bridged();
    let span = tracing::info_span!("bridge.self_follows");
    span.follows_from(&span);
    drop(span);
    assert!(c.span("bridge.self_follows").links.is_empty());
}
