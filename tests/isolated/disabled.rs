//! A disabled configuration records nothing and changes no behaviour.
use godtrace::{Config, testing, traced};

#[traced(include_args, include_result)]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[traced]
async fn fails() -> Result<(), String> {
    Err("no".into())
}

#[test]
fn disabled_means_no_spans() {
    crate::support::own_process!();
    let _guard = godtrace::init(Config::new("disabled").enabled(false)).unwrap();
    assert!(!godtrace::is_enabled());
    let c = testing::capture();
    assert_eq!(add(2, 3), 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(fails()).is_err());
    let _manual = godtrace::span("manual");
    assert_eq!(godtrace::trace_id(), None);
    drop(_manual);
    // A library's span (OpenTelemetry's global tracer) is no span either, as OpenTelemetry's
    // no-op tracer's: not recording, and no new ids marked sampled sent on.
    {
        use godtrace::otel::trace::{Span as _, TraceContextExt as _, Tracer as _};
        let span = godtrace::otel::global::tracer("library").start("library.op");
        assert!(!span.is_recording());
        assert!(!span.span_context().is_valid(), "{:?}", span.span_context());
        let cx = godtrace::otel::Context::current_with_span(span);
        let mut headers = std::collections::HashMap::new();
        godtrace::propagation::inject_context(&cx, &mut headers);
        assert!(!headers.contains_key("traceparent"), "{headers:?}");
        cx.span().end();
    }
    assert!(c.spans().is_empty(), "{:?}", c.spans());
    // Looking a span up says why there is none: disabled, not shut down (the guard is alive).
    let lookup = std::panic::catch_unwind(|| c.span("isolated::disabled::add"));
    let message = *lookup
        .expect_err("nothing recorded")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("godtrace is disabled"), "{message}");
}

const INCOMING_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A caller's context, as godtrace's propagator writes it (an empty `tracestate` with every
/// `traceparent`, as OpenTelemetry's does).
fn incoming() -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([
        ("traceparent".to_owned(), INCOMING_PARENT.to_owned()),
        ("tracestate".to_owned(), String::new()),
        ("baggage".to_owned(), "user.id=alice".to_owned()),
    ])
}

/// What a call made now would send on.
fn outgoing() -> std::collections::HashMap<String, String> {
    let mut headers = std::collections::HashMap::new();
    godtrace::propagation::inject(&mut headers);
    headers
}

#[traced(parent = &parent)]
fn handle(parent: godtrace::otel::Context) -> std::collections::HashMap<String, String> {
    let _ = &parent;
    outgoing()
}

#[traced(parent = &parent)]
async fn handle_async(
    parent: godtrace::otel::Context,
) -> std::collections::HashMap<String, String> {
    let _ = &parent;
    tokio::task::yield_now().await;
    outgoing()
}

#[traced]
async fn call_downstream() -> std::collections::HashMap<String, String> {
    tokio::task::yield_now().await;
    outgoing()
}

/// A handler whose downstream call runs in a task of its own.
#[traced(parent = &parent)]
async fn handle_spawning(
    parent: godtrace::otel::Context,
) -> std::collections::HashMap<String, String> {
    let _ = &parent;
    tokio::spawn(call_downstream()).await.unwrap()
}

/// Off (`OTEL_SDK_DISABLED=true`), godtrace records nothing but still passes the caller's
/// context on, as the specification says (the setting "has no effect on propagators"): a
/// service turned off in the middle does not break its callers' traces or their baggage.
#[tokio::test]
async fn disabled_passes_the_callers_context_on() {
    use tower::{Layer, ServiceExt};
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("disabled")
            .local_tree(false)
            .with_env_vars([("OTEL_SDK_DISABLED", "true")]),
    )
    .unwrap();
    assert!(!godtrace::is_enabled());
    let expected = incoming();
    let parent = godtrace::propagation::extract_map(&expected);

    // `#[traced(parent = ..)]`, sync and async.
    assert_eq!(handle(parent.clone()), expected);
    assert_eq!(handle_async(parent.clone()).await, expected);
    // A traced call spawned there: polled where the caller's context is not current.
    assert_eq!(handle_spawning(parent.clone()).await, expected);

    // The manual API: a detached span's context, and a guard under an explicit parent.
    let span = godtrace::span_builder("srv")
        .parent(&parent)
        .start_detached();
    let mut headers = std::collections::HashMap::new();
    godtrace::propagation::inject_context(&span.context(), &mut headers);
    assert_eq!(headers, expected);
    {
        let _guard = godtrace::span_builder("srv").parent(&parent).start();
        assert_eq!(outgoing(), expected);
    }
    assert_eq!(
        outgoing(),
        std::collections::HashMap::new(),
        "nothing left current"
    );

    // A request through the server layer: its handler's calls carry the caller's context.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let handler = tower::service_fn({
        let seen = seen.clone();
        move |_req: http::Request<String>| {
            *seen.lock().unwrap() = Some(outgoing());
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
        }
    });
    let request = http::Request::builder()
        .uri("/served")
        .header("traceparent", INCOMING_PARENT)
        .header("baggage", "user.id=alice")
        .body(String::new())
        .unwrap();
    let layered = godtrace::layers::HttpServerLayer::new().layer(handler);
    drop(layered.oneshot(request).await.unwrap());
    assert_eq!(seen.lock().unwrap().take(), Some(expected));
}
