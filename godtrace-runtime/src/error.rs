//! Errors returned by [`crate::init`].
use std::fmt;

/// Why [`crate::init`] could not install godtrace.
///
/// Every variant names what was wrong, so the message can be shown to the user as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// `init` was already called in this process (or `testing::capture` installed the test
    /// provider first). godtrace keeps one global provider per process.
    AlreadyInitialized,
    /// A configuration value, from the builder or from the environment, is not valid.
    InvalidValue {
        /// The environment variable or builder setting that carried the value.
        name: String,
        /// The value as given, its first 256 bytes when longer (marked `…[truncated]`): an
        /// error message stays readable whatever was given. The credentials of a URL in it
        /// are redacted, whichever setting it was given to (an endpoint put in the protocol's
        /// variable).
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The exporter could not be built.
    Exporter(String),
}

impl InitError {
    pub(crate) fn invalid(name: &str, value: &str, expected: &str) -> Self {
        InitError::InvalidValue {
            // A setting's name may quote a name of the user's (`histogram_buckets("..")`).
            name: crate::value::bounded_text(name, MAX_QUOTED_VALUE_LEN),
            value: quoted(value),
            expected: expected.to_owned(),
        }
    }

    /// The exporter could not be built, for the reason `message` gives: cut at 2 KiB, as it
    /// may quote the endpoint, whatever its length.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn exporter(message: String) -> Self {
        InitError::Exporter(crate::text::cut(message, crate::text::MAX_REPORT))
    }
}

/// `value` as an error quotes it: its first [`MAX_QUOTED_VALUE_LEN`] bytes, the credentials
/// of a URL in them redacted (that of a URL the cut ends in too: see `redact::urls_in`).
fn quoted(value: &str) -> String {
    let value = crate::value::bounded_text(value, MAX_QUOTED_VALUE_LEN);
    crate::redact::urls_in(&value).unwrap_or(value)
}

/// Set when the test capture installed the process's provider (no `init` came first): an
/// `init` after it is refused with a message naming the capture, not a call never made.
pub(crate) static INSTALLED_BY_CAPTURE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The most of an invalid value an error quotes.
const MAX_QUOTED_VALUE_LEN: usize = 256;

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialized => {
                f.write_str("godtrace is already initialized in this process")?;
                if INSTALLED_BY_CAPTURE.load(std::sync::atomic::Ordering::Relaxed) {
                    // Otherwise the message names a call the user never made.
                    f.write_str(
                        " (by `testing::capture()`, which starts godtrace for tests when `init` \
                         has not been called: call `init` before the first capture)",
                    )?;
                }
                Ok(())
            }
            InitError::InvalidValue {
                name,
                value,
                expected,
            } => write!(f, "{name}={value:?}: expected {expected}"),
            InitError::Exporter(msg) => write!(f, "could not build the exporter: {msg}"),
        }
    }
}

impl std::error::Error for InitError {}

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod tests {
    /// An exporter's error may quote an endpoint of any length: it is cut.
    #[test]
    fn an_exporter_error_is_bounded() {
        let error = super::InitError::exporter(format!("for http://h/{}", "a".repeat(100_000)));
        let shown = error.to_string();
        assert!(
            shown.len() <= crate::text::MAX_REPORT + 64,
            "{}",
            shown.len()
        );
        assert!(shown.contains("for http://h/aaa"));
    }

    /// A setting's name quoting a metric's name of any length is cut too.
    #[test]
    fn an_invalid_setting_error_is_bounded() {
        let name = format!("histogram_buckets({:?})", "m".repeat(100_000));
        let shown =
            super::InitError::invalid(&name, "1025 bounds", "at most 1024 bounds").to_string();
        assert!(shown.len() < 1024, "{}", shown.len());
        assert!(shown.contains("histogram_buckets(\"mmm"));
    }
}
