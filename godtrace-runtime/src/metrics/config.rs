//! [`MetricsConfig`]: where metrics go, and the limits they keep to. Code over environment
//! over defaults, like the rest of [`Config`](crate::Config).
use super::buckets::{MAX_BOUNDS, valid_bounds};
use super::limits::Limits;
use crate::InitError;
use crate::config::otlp::OtlpLayer;
use crate::config::{OtlpTarget, Protocol};
use std::sync::Arc;
use std::time::Duration;

mod env;
mod resolve;

pub(crate) use resolve::MetricsSettings;

/// The Prometheus listen address that `OTEL_METRICS_EXPORTER=prometheus` uses when
/// `GODTRACE_PROMETHEUS_LISTEN` is not set.
pub(crate) const DEFAULT_PROMETHEUS_LISTEN: &str = "127.0.0.1:9464";
/// How often metrics are pushed over OTLP unless configured (OpenTelemetry's default).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Metrics settings, given to [`Config::metrics`](crate::Config::metrics).
///
/// Every traced operation records its duration whatever this says; these settings choose the
/// exporters and the limits. Values set here win over the environment variables named on each
/// method, read when the `Config` reads the environment ([`Config::from_env`](crate::Config::from_env)).
///
/// ```
/// use std::time::Duration;
/// use godtrace_runtime::{Config, MetricsConfig};
///
/// let config = Config::new("wallet-scanner").metrics(
///     MetricsConfig::new()
///         .prometheus_listen("0.0.0.0:9464")
///         .export_interval(Duration::from_secs(15))
///         .cardinality_limit(500)
///         .histogram_buckets("royalty.amounts", [0.5, 1.0, 2.5, 5.0]),
/// );
/// # let _ = config;
/// ```
#[derive(Clone, Default)]
pub struct MetricsConfig {
    pub(crate) prometheus_listen: Option<String>,
    pub(crate) otlp: Option<bool>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_protocol: Option<Protocol>,
    pub(crate) export_interval: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) cardinality_limit: Option<usize>,
    pub(crate) per_metric_limits: Vec<(String, usize)>,
    pub(crate) buckets: Vec<(String, Vec<f64>)>,
}

/// The endpoint's user-info is a credential: shown as `<redacted>`.
impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("prometheus_listen", &self.prometheus_listen)
            .field("otlp", &self.otlp)
            .field(
                "otlp_endpoint",
                &self
                    .otlp_endpoint
                    .as_deref()
                    .map(crate::config::redacted_url),
            )
            .field("otlp_protocol", &self.otlp_protocol)
            .field("export_interval", &self.export_interval)
            .field("export_timeout", &self.export_timeout)
            .field("cardinality_limit", &self.cardinality_limit)
            .field("per_metric_limits", &self.per_metric_limits)
            .field("buckets", &self.buckets)
            .finish()
    }
}

impl MetricsConfig {
    /// Every setting at its default: no Prometheus endpoint, OTLP push whenever spans are
    /// exported over OTLP.
    pub fn new() -> Self {
        MetricsConfig::default()
    }

    /// Serves `/metrics` for Prometheus on `addr`, e.g. `0.0.0.0:9464` or `127.0.0.1:0` (env:
    /// `GODTRACE_PROMETHEUS_LISTEN`; `OTEL_METRICS_EXPORTER=prometheus` alone listens on
    /// `127.0.0.1:9464`). [`crate::init`] fails if the address cannot be bound.
    pub fn prometheus_listen(mut self, addr: impl Into<String>) -> Self {
        self.prometheus_listen = Some(addr.into());
        self
    }

    /// Pushes metrics over OTLP, or not (env: `OTEL_METRICS_EXPORTER` listing `otlp`, or
    /// `none`). Default: on exactly when spans are exported over OTLP or an OTLP metrics
    /// endpoint is set.
    pub fn otlp(mut self, on: bool) -> Self {
        self.otlp = Some(on);
        self
    }

    /// The full URL metrics are pushed to, used as it is (env:
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`). Default: the base endpoint
    /// ([`Config::endpoint`](crate::Config::endpoint), `OTEL_EXPORTER_OTLP_ENDPOINT`) with
    /// `/v1/metrics` over HTTP, else the traces endpoint with `/v1/traces` turned into
    /// `/v1/metrics`. Turns OTLP push on.
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(url.into());
        self
    }

    /// The OTLP transport for metrics (env: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`). Default:
    /// the generic protocol ([`Config::protocol`](crate::Config::protocol),
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`), else the traces' protocol.
    pub fn otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.otlp_protocol = Some(protocol);
        self
    }

    /// How often metrics are pushed over OTLP (default 60 s, 1 ms to 1 hour; env:
    /// `OTEL_METRIC_EXPORT_INTERVAL`, in milliseconds). A last push happens at shutdown.
    pub fn export_interval(mut self, interval: Duration) -> Self {
        self.export_interval = Some(interval);
        self
    }

    /// How long one push may take (default: the OTLP request timeout, 10 s; 1 ms to 1 hour; env:
    /// the sooner of `OTEL_METRIC_EXPORT_TIMEOUT` and `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, in
    /// milliseconds). Also bounds the last push at shutdown.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// The attribute sets each metric keeps at most (default 2000; env:
    /// `GODTRACE_METRICS_CARDINALITY_LIMIT`). Past it, new sets are recorded together in one
    /// series marked `otel.metric.overflow=true`, and the first overflow is reported once.
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    /// The cardinality limit of metric `name` alone, e.g. `godtrace.operation.duration`
    /// (named again, the last limit given counts).
    pub fn cardinality_limit_for(mut self, name: impl Into<String>, limit: usize) -> Self {
        let name = name.into();
        self.per_metric_limits
            .retain(|(named, _)| !named.eq_ignore_ascii_case(&name));
        self.per_metric_limits.push((name, limit));
        self
    }

    /// The bucket bounds of manual histogram `name` (inclusive upper bounds: finite,
    /// non-negative, increasing, at most 1,024 of them), instead of OpenTelemetry's defaults (0, 5, 10, 25, 50, 75,
    /// 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000). The duration histogram's seconds
    /// buckets are fixed: naming it is an [`InitError`]. Named again, the last bounds given
    /// count.
    pub fn histogram_buckets(
        mut self,
        name: impl Into<String>,
        bounds: impl IntoIterator<Item = f64>,
    ) -> Self {
        let name = name.into();
        self.buckets
            .retain(|(named, _)| !named.eq_ignore_ascii_case(&name));
        self.buckets.push((name, bounds.into_iter().collect()));
        self
    }

    /// Checks every value and combines code (`self`), the environment and the trace export
    /// settings into what `init` starts. `env` holds the variables the `Config` read, if any;
    /// `code_otlp` and `env_otlp` are the generic OTLP settings of code and environment;
    /// `bound` is the guard's flush and shutdown bound (`Config::export_timeout`).
    pub(crate) fn resolve(
        &self,
        env: Option<&[(String, Result<String, String>)]>,
        code_otlp: &OtlpLayer,
        env_otlp: &OtlpLayer,
        traces: Option<&OtlpTarget>,
        bound: Duration,
    ) -> Result<MetricsSettings, InitError> {
        let env = match env {
            Some(vars) => env::parse(vars)?,
            None => env::EnvLayer::default(),
        };
        let generic = resolve::Generic {
            code: code_otlp,
            env: env_otlp,
        };
        resolve::resolve(self, &env, &generic, traces, bound)
    }

    /// The limits and buckets, checked.
    fn limits(&self, env_limit: Option<usize>) -> Result<Limits, InitError> {
        if self.cardinality_limit == Some(0) {
            return Err(InitError::invalid(
                "cardinality_limit",
                "0",
                "a limit of at least 1",
            ));
        }
        let mut limits = Limits {
            cardinality_limit: self.cardinality_limit.or(env_limit),
            ..Limits::default()
        };
        for (name, limit) in &self.per_metric_limits {
            check_metric_name("cardinality_limit_for", name)?;
            if *limit == 0 {
                return Err(InitError::invalid(
                    &format!("cardinality_limit_for({name:?})"),
                    "0",
                    "a limit of at least 1",
                ));
            }
            limits.per_metric.push((name.clone(), *limit));
        }
        for (name, bounds) in &self.buckets {
            check_metric_name("histogram_buckets", name)?;
            // Else set and silently not used: a `Config` never falls back without saying so.
            if name.eq_ignore_ascii_case(super::snapshot::DURATION_METRIC) {
                return Err(InitError::invalid(
                    &format!("histogram_buckets({name:?})"),
                    &format!("{bounds:?}"),
                    "a histogram of your own or a layer's: the duration histogram's \
                     buckets are fixed (100 µs to 10 s)",
                ));
            }
            if bounds.len() > MAX_BOUNDS {
                let count = bounds.len();
                return Err(InitError::invalid(
                    &format!("histogram_buckets({name:?})"),
                    &format!("{count} bounds"),
                    &format!("at most {MAX_BOUNDS} bounds"),
                ));
            }
            if !valid_bounds(bounds) {
                return Err(InitError::invalid(
                    &format!("histogram_buckets({name:?})"),
                    &format!("{bounds:?}"),
                    "finite, non-negative bounds in strictly increasing order",
                ));
            }
            // `-0.0` is the bound 0 (it compares equal), written `le="0"`, not `le="-0"`.
            let bounds: Vec<f64> = bounds.iter().map(|b| b + 0.0).collect();
            limits.buckets.push((name.clone(), Arc::from(bounds)));
        }
        Ok(limits)
    }
}

/// A setting's metric name must be one an instrument can have (OpenTelemetry's name syntax):
/// else the setting would be taken and never used.
fn check_metric_name(setting: &str, name: &str) -> Result<(), InitError> {
    if super::manual::valid_name(name) {
        return Ok(());
    }
    Err(InitError::invalid(
        &format!("{setting}({name:?})"),
        name,
        "a metric name: a letter, then up to 254 letters, digits, `_`, `.`, `-` or `/`",
    ))
}
