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
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}
