//! Assert on the spans your own code produced, from ordinary `#[test]`s.
//!
//! [`capture`] returns a [`Capture`] that collects every span started on the calling thread
//! while it is alive, and their children on other threads, so tests running in parallel each
//! see only their own spans (also when they continue one remote trace). Captures nested on a
//! thread both collect while both are alive.
//!
//! ```
//! use godtrace_runtime::testing;
//!
//! let capture = testing::capture();
//! {
//!     let _span = godtrace_runtime::span("checkout");
//! }
//! let span = capture.span("checkout");
//! assert!(span.parent_span_id.is_none());
//! ```
//!
//! If `init` was not called, `capture` installs a recording-only provider (every root
//! sampled but where an operation's `sample_rate` says otherwise, nothing printed or
//! exported). A root call of an operation with a `sample_rate` below 1 is then recorded or
//! not at random, as in production (tests of sampled-out calls rely on it); a test that must
//! see such a call makes it under a span of its own (`godtrace::span("test")`), whose
//! children follow its decision. After that, `init` in the same process returns
//! `AlreadyInitialized`: call `init` first where a test needs both. Once the guard `init`
//! returned is dropped, godtrace is shut down for good and a capture records nothing: keep
//! that guard alive as long as any test records (a `static` or `mem::forget`).
mod finished;
pub(crate) mod sink;

pub use finished::{FinishedEvent, FinishedSpan};
use sink::CapturedSpans;
use std::fmt;
use std::sync::{Arc, PoisonError};

/// Collects finished spans; see the [module docs](self).
#[must_use = "spans are captured only while the Capture is alive"]
pub struct Capture {
    sink: Arc<CapturedSpans>,
}

/// Starts capturing the spans started on this thread, and their children on other threads.
pub fn capture() -> Capture {
    if !crate::provider::is_installed() {
        // Losing the race to another thread's `capture` or `init` is fine: theirs has the router too.
        let _ = crate::provider::install_capture_only(&crate::Config::default().local_tree(false));
    }
    Capture { sink: sink::open() }
}

impl Capture {
    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<FinishedSpan> {
        self.sink
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    /// When there is none or more than one (this is an assertion helper), listing the names
    /// that were captured.
    pub fn span(&self, name: &str) -> FinishedSpan {
        let spans = self.spans();
        let mut found = spans.iter().filter(|s| s.name == name);
        match (found.next(), found.next()) {
            (Some(s), None) => s.clone(),
            (None, _) if !crate::span::switches::is_enabled() => {
                panic!("no span named {name:?}: {}", why_nothing_is_recorded())
            }
            (None, _) => panic!("no span named {name:?}; captured: {:?}", names(&spans)),
            (Some(_), Some(_)) => panic!("more than one span named {name:?}"),
        }
    }

    /// Every finished span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<FinishedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The finished children of `parent`, in the order they ended.
    pub fn children(&self, parent: &FinishedSpan) -> Vec<FinishedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.parent_span_id == Some(parent.span_id) && s.trace_id == parent.trace_id)
            .collect()
    }
}

/// Why a capture records nothing while godtrace is off: the reason a test author can act on.
fn why_nothing_is_recorded() -> &'static str {
    if crate::span::switches::in_forked_child() {
        "this is a child process `fork` made, where godtrace records nothing"
    } else if crate::provider::is_shut_down() {
        "godtrace was shut down (the guard `init` returned was dropped), and nothing is \
         recorded after that; keep the guard for the whole test run"
    } else {
        "godtrace is disabled (`Config::enabled(false)` or `OTEL_SDK_DISABLED=true` given to \
         `init`), and records nothing"
    }
}

fn names(spans: &[FinishedSpan]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

impl Drop for Capture {
    fn drop(&mut self) {
        sink::close(&self.sink);
    }
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field(
                "spans",
                &self
                    .sink
                    .spans
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len(),
            )
            .finish()
    }
}
