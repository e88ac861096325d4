//! The `tracing` bridge under a global subscriber (`set_global_default`, which no other
//! test of a shared process could set): a closure `in_current_span` made, kept by a worker
//! thread in a thread-local and dropped by its destructor when the thread exits, still lets
//! the spans it carried close; one run on a thread under another (scoped) subscriber sends
//! its events to the global one, whose span it carries.
use godtrace::testing;
use std::cell::RefCell;
use tracing_subscriber::layer::SubscriberExt as _;

thread_local! {
    static KEPT: RefCell<Option<Box<dyn FnOnce() + Send>>> = const { RefCell::new(None) };
}

#[test]
fn a_carried_closure_dropped_at_thread_exit_lets_its_parent_close() {
    crate::support::own_process!();
    let c = testing::capture();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(godtrace::tracing::layer()),
    )
    .expect("the only subscriber of this process");
    let request = tracing::info_span!("global.request");
    let (kept, ran) = request.in_scope(|| {
        let step = tracing::info_span!("global.step");
        let kept = step.in_scope(|| godtrace::in_current_span(|| tracing::info!("never")));
        let other = tracing::info_span!("global.other");
        let ran = other.in_scope(|| godtrace::in_current_span(|| tracing::info!("ran")));
        (kept, ran)
    });
    std::thread::spawn(move || {
        KEPT.with(|k| *k.borrow_mut() = Some(Box::new(kept)));
        ran();
    })
    .join()
    .unwrap();
    drop(request);
    let names: Vec<String> = c.spans().into_iter().map(|s| s.name).collect();
    for name in ["global.step", "global.other", "global.request"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
}

#[test]
fn a_carried_closure_run_under_a_scoped_subscriber_records_into_its_global_span() {
    crate::support::own_process!();
    let c = testing::capture();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(godtrace::tracing::layer()),
    )
    .expect("the only subscriber of this process");
    let carried = tracing::info_span!("global.carried");
    let job = carried.in_scope(|| godtrace::in_current_span(|| tracing::info!("to the global")));
    drop(carried);
    std::thread::spawn(move || {
        // A subscriber without godtrace's layer: the event would be lost in it.
        tracing::subscriber::with_default(tracing_subscriber::registry(), job);
    })
    .join()
    .unwrap();
    let spans = c.spans();
    let span = spans
        .iter()
        .find(|s| s.name == "global.carried")
        .expect("the carried span ends");
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["to the global"]);
}
