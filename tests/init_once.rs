//! `init` installs one provider per process; a second call is an error, never a panic.
use godtrace::{Config, InitError, testing, traced};

#[traced]
fn work() -> u8 {
    7
}

#[test]
fn a_second_init_is_an_error_and_the_first_keeps_working() {
    let guard = godtrace::init(Config::new("init-once").local_tree(false)).expect("first init");
    assert!(godtrace::is_enabled());
    let again = godtrace::init(Config::new("init-twice"));
    assert_eq!(again.err(), Some(InitError::AlreadyInitialized));
    let c = testing::capture();
    assert_eq!(work(), 7);
    c.span("init_once::work");
    drop(guard);
    assert!(
        !godtrace::is_enabled(),
        "the guard turns tracing off when dropped"
    );
    assert_eq!(work(), 7, "traced calls keep working after shutdown");
}
