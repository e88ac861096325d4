//! What [`crate::init`] installs: service identity, sampling, limits and where spans go.

/// Configuration for [`crate::init`].
///
/// ```
/// let config = godtrace_runtime::Config::new("wallet-scanner")
///     .sample_ratio(0.25)
///     .max_attribute_len(512)
///     .verbose(true);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) service_name: String,
    pub(crate) enabled: bool,
    pub(crate) sample_ratio: f64,
    pub(crate) max_attribute_len: usize,
    pub(crate) local_tree: bool,
    pub(crate) verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: "unknown_service".to_owned(),
            enabled: true,
            sample_ratio: 1.0,
            max_attribute_len: crate::value::DEFAULT_MAX_ATTRIBUTE_LEN,
            local_tree: true,
            verbose: false,
        }
    }
}

impl Config {
    /// A configuration for the service `service_name` (the `service.name` resource attribute),
    /// with every other setting at its default.
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            ..Config::default()
        }
    }

    /// Turns all tracing on or off. Disabled, a traced call costs one relaxed atomic load.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The share of root spans recorded, from 0 to 1 (default 1). Children follow their
    /// parent's decision; the decision is a pure function of the trace id. A value outside
    /// 0..=1 makes [`crate::init`] return [`crate::InitError::InvalidValue`].
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.sample_ratio = ratio;
        self
    }

    /// The longest attribute value kept, in bytes (default 1024). Longer values are cut on a
    /// char boundary and end with a visible marker.
    pub fn max_attribute_len(mut self, bytes: usize) -> Self {
        self.max_attribute_len = bytes;
        self
    }

    /// Print each finished trace to stderr as an indented tree (default on while no other
    /// exporter is configured).
    pub fn local_tree(mut self, on: bool) -> Self {
        self.local_tree = on;
        self
    }

    /// Include every span's attributes in the local tree (default off: names, durations and
    /// error marks only).
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }
}
