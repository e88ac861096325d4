//! `godtrace::links::trace_url()`: the Jaeger UI link to the current trace, printed after an
//! operation as the guides do. One test function: it changes the process environment.
use godtrace::links;
use godtrace::{testing, traced};

#[traced(operation = "wallet.analyze")]
fn analyze() -> (String, String) {
    (
        godtrace::trace_id().unwrap(),
        godtrace::links::trace_url().expect("inside a span"),
    )
}

#[traced(operation = "wallet.dropped", sample_rate = 0.0)]
fn dropped() -> (Option<String>, Option<String>) {
    (godtrace::trace_id(), godtrace::links::trace_url())
}

#[test]
fn the_link_opens_the_current_trace_in_the_configured_jaeger_ui() {
    crate::support::own_process!();
    let _c = testing::capture();
    assert_eq!(
        godtrace::links::trace_url(),
        None,
        "no current trace outside a span"
    );

    // SAFETY: this test runs alone in its process (`own_process!`), and nothing else in it
    // reads or writes the environment concurrently (so for each `set_var` below too).
    unsafe { std::env::remove_var(links::JAEGER_UI_ENV) };
    let (id, url) = analyze();
    assert_eq!(id.len(), 32);
    assert_eq!(
        url,
        format!("http://localhost:16686/trace/{id}"),
        "the default UI"
    );

    // SAFETY: as above, no other thread touches the environment.
    unsafe { std::env::set_var(links::JAEGER_UI_ENV, "https://jaeger.internal.example/") };
    let (id, url) = analyze();
    assert_eq!(url, format!("https://jaeger.internal.example/trace/{id}"));

    // Not a URL (`init` would refuse it; a capture reads it here): the default.
    // SAFETY: as above, no other thread touches the environment.
    unsafe { std::env::set_var(links::JAEGER_UI_ENV, "javascript:alert(1)") };
    let (id, url) = analyze();
    assert_eq!(url, format!("http://localhost:16686/trace/{id}"));

    links::set_jaeger_ui("http://127.0.0.1:26686");
    let (id, url) = analyze();
    assert_eq!(
        url,
        format!("http://127.0.0.1:26686/trace/{id}"),
        "code wins over the environment"
    );

    // A trace sampled out at its root has an id to propagate, but nothing to open.
    let (id, url) = dropped();
    assert!(id.is_some());
    assert_eq!(url, None, "no link to a trace that is not recorded");

    links::set_jaeger_ui("");
    // SAFETY: as above, no other thread touches the environment.
    unsafe { std::env::set_var(links::JAEGER_UI_ENV, "") };
    assert_eq!(
        links::jaeger_ui(),
        links::DEFAULT_JAEGER_UI,
        "empty means the default"
    );
    assert_eq!(
        links::trace_url_for("4bf92f3577b34da6a3ce929d0e0e4736"),
        "http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    );
}
