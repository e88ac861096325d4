//! What [`crate::init`] installs: service identity, sampling, limits and where spans go.
//!
//! Two layers: values set through the builder methods, and the standard `OTEL_*` environment
//! variables read by [`Config::from_env`] / [`Config::with_env`]. A value set in code always
//! wins over the environment, whatever the order of the calls; anything set in neither place
//! takes its default. Values are checked by [`crate::init`], which returns
//! [`crate::InitError::InvalidValue`] naming the builder setting or variable at fault.
use opentelemetry::Value;
use std::time::{Duration, Instant};

pub(crate) mod env;
pub(crate) mod http_methods;
pub(crate) mod limits;
pub(crate) mod otlp;
mod settings;
pub(crate) mod url;

pub(crate) use otlp::{OtlpTarget, bounded_duration};
pub(crate) use settings::{BatchSettings, MAX_DURATION, MIN_DURATION, Settings};
pub(crate) use url::redacted as redacted_url;

/// The instant `timeout` from now. A span of time past what [`Instant`] can hold (a setting
/// that slipped past the bounds `init` checks) waits a day instead of panicking: a panic here
/// would abort a process already unwinding, or stop the export thread for good.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(24 * 60 * 60)))
        .unwrap_or(now)
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, default endpoint
    /// `http://localhost:4317`). Needs the `otlp-grpc` feature.
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, default
    /// endpoint `http://localhost:4318/v1/traces`). Needs the `otlp-http` feature.
    HttpProtobuf,
}

/// Compression of export requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Send requests uncompressed (the default).
    None,
    /// Compress requests with gzip.
    Gzip,
}

/// A context propagator `init` installs as OpenTelemetry's global text-map propagator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// W3C Baggage (`baggage`).
    Baggage,
}

impl Propagator {
    /// What `OTEL_PROPAGATORS` defaults to: `tracecontext,baggage`.
    pub(crate) const DEFAULT: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];
}

/// Configuration for [`crate::init`].
///
/// ```
/// use std::time::Duration;
/// use godtrace_runtime::{Config, Protocol};
///
/// let config = Config::new("wallet-scanner")
///     .service_version("1.4.2")
///     .resource_attribute("environment", "staging")
///     .endpoint("http://collector:4317")
///     .protocol(Protocol::Grpc)
///     .header("authorization", "Bearer abc")
///     .timeout(Duration::from_secs(5))
///     .sample_ratio(0.25);
/// # let _ = config;
/// ```
///
/// Configured from the environment, with code taking precedence:
///
/// ```
/// let config = godtrace_runtime::Config::from_env().service_name("wallet-scanner");
/// # let _ = config;
/// ```
#[derive(Clone, Default)]
pub struct Config {
    pub(crate) code: Layer,
    env: Option<Vec<(String, EnvValue)>>,
    pub(crate) metrics: crate::metrics::MetricsConfig,
    /// An exporter of the user's own, instead of OTLP ([`Config::span_exporter`]).
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) span_exporter: Option<crate::export::custom::ExporterSlot>,
}

/// Header values and the user-info of endpoints are credentials, and a `Config` is often
/// logged: they are shown as `<redacted>`, and of the environment only the variable names.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut code = self.code.clone();
        code.otlp = code.otlp.redacted();
        code.traces = code.traces.redacted();
        let env: Option<Vec<&str>> = self
            .env
            .as_ref()
            .map(|vars| vars.iter().map(|(name, _)| name.as_str()).collect());
        f.debug_struct("Config")
            .field("code", &code)
            .field("env_variables", &env)
            .field("metrics", &self.metrics)
            .field("span_exporter", &self.has_span_exporter())
            .finish()
    }
}

/// One environment variable's value, or the lossy text of a value that is not UTF-8.
pub(crate) type EnvValue = Result<String, String>;

/// What `OTEL_TRACES_EXPORTER` lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TracesExporter {
    pub(crate) otlp: bool,
    /// The local tree.
    pub(crate) console: bool,
}

/// The span count limits one source gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SpanLimitsLayer {
    pub(crate) attributes: Option<usize>,
    pub(crate) events: Option<usize>,
    pub(crate) event_attributes: Option<usize>,
    pub(crate) links: Option<usize>,
}

/// The values one source (code or environment) gave; `None` means not given there.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) resource: Vec<(String, Value)>,
    pub(crate) enabled: Option<bool>,
    pub(crate) sample_ratio: Option<f64>,
    pub(crate) parent_based: Option<bool>,
    pub(crate) max_attribute_len: Option<usize>,
    pub(crate) local_tree: Option<bool>,
    pub(crate) verbose: Option<bool>,
    pub(crate) otel_context: Option<bool>,
    /// The generic OTLP settings, shared by spans and metrics.
    pub(crate) otlp: otlp::OtlpLayer,
    /// The spans' own OTLP settings.
    pub(crate) traces: otlp::OtlpLayer,
    /// `OTEL_TRACES_EXPORTER`.
    pub(crate) traces_exporter: Option<TracesExporter>,
    pub(crate) span_limits: SpanLimitsLayer,
    pub(crate) max_queue_size: Option<usize>,
    pub(crate) max_export_batch_size: Option<usize>,
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) propagators: Option<Vec<Propagator>>,
    /// `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (environment only).
    pub(crate) known_http_methods: Option<Vec<String>>,
    /// `GODTRACE_JAEGER_UI` (environment only: code sets it with `links::set_jaeger_ui`).
    pub(crate) jaeger_ui: Option<String>,
}

impl Config {
    /// A configuration for the service `service_name` (the `service.name` resource attribute),
    /// with every other setting at its default. The environment is not read; see
    /// [`Config::with_env`].
    pub fn new(service_name: impl Into<String>) -> Self {
        Config::default().service_name(service_name)
    }

    /// A configuration read from the standard `OTEL_*` environment variables (the README
    /// lists them). Builder calls on the result override what the environment says.
    /// Invalid values are reported by [`crate::init`].
    pub fn from_env() -> Self {
        Config::default().with_env()
    }

    /// Also reads the standard `OTEL_*` environment variables, now. Values set through the
    /// builder, before or after this call, win over them.
    pub fn with_env(self) -> Self {
        let vars = std::env::vars_os().filter_map(|(key, value)| {
            let key = key.into_string().ok()?;
            let value = value
                .into_string()
                .map_err(|raw| raw.to_string_lossy().into_owned());
            Some((key, value))
        });
        self.read_env(vars)
    }

    /// Like [`Config::with_env`], reading the given `(name, value)` pairs instead of the
    /// process environment (for tests, or a configuration kept elsewhere). Reads combine:
    /// after `with_env`, or another `with_env_vars`, a variable given again takes this value,
    /// and the others stay (and are checked by `init`).
    ///
    /// ```
    /// let config = godtrace_runtime::Config::new("svc")
    ///     .with_env_vars([("OTEL_TRACES_SAMPLER", "always_off")]);
    /// # let _ = config;
    /// ```
    pub fn with_env_vars<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.read_env(
            vars.into_iter()
                .map(|(key, value)| (key.into(), Ok(value.into()))),
        )
    }

    /// Adds `vars` to what was read before (`with_env` and `with_env_vars` combine, neither
    /// drops the other's values unchecked): a variable read again takes its later value.
    fn read_env(mut self, vars: impl Iterator<Item = (String, EnvValue)>) -> Self {
        let read: Vec<(String, EnvValue)> = vars
            .filter(|(key, _)| key.starts_with("OTEL_") || key.starts_with("GODTRACE_"))
            .collect();
        let env = self.env.get_or_insert_with(Vec::new);
        for (key, value) in read {
            // An empty variable counts as unset: it leaves an earlier read's value.
            let empty = value.as_deref().is_ok_and(|v| v.trim().is_empty());
            let earlier = env.iter().position(|(read_before, _)| *read_before == key);
            match earlier {
                Some(_) if empty => {}
                Some(at) => env[at].1 = value,
                None => env.push((key, value)),
            }
        }
        self
    }

    /// Checks every value and combines code, environment and defaults.
    pub(crate) fn resolve(&self) -> Result<Settings, crate::InitError> {
        let env = match &self.env {
            Some(vars) => env::parse(vars)?,
            None => Layer::default(),
        };
        let mut settings = settings::resolve(&self.code, &env)?;
        if self.has_span_exporter() {
            // Spans go to the exporter given in code, not to an OTLP target; the local tree
            // is off unless asked for.
            settings.export = None;
            let console = env.traces_exporter.is_some_and(|e| e.console);
            settings.local_tree = self.code.local_tree.unwrap_or(console);
        }
        Ok(settings)
    }

    /// Whether spans go to an exporter of the user's own.
    fn has_span_exporter(&self) -> bool {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        return self.span_exporter.is_some();
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        return false;
    }

    /// The `service.name` resource attribute (env: `OTEL_SERVICE_NAME`; default, and for an
    /// empty name, `unknown_service:` and the executable's name).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.code.service_name = Some(name.into());
        self
    }

    /// The `service.version` resource attribute, e.g. `env!("CARGO_PKG_VERSION")`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.code.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute (env: `OTEL_RESOURCE_ATTRIBUTES`), such as `environment` or
    /// `region`. A key given in code replaces the same key from the environment.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.code.resource.push((key.into(), value.into()));
        self
    }

    /// Turns all tracing on or off (env: `OTEL_SDK_DISABLED`). Disabled, a traced call costs
    /// one relaxed atomic load and nothing is exported.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.code.enabled = Some(enabled);
        self
    }

    /// The share of root spans recorded, from 0 to 1 (default 1; env:
    /// `OTEL_TRACES_SAMPLER_ARG`). The decision is a pure function of the trace id. A value
    /// outside 0..=1 makes [`crate::init`] return [`crate::InitError::InvalidValue`].
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.code.sample_ratio = Some(ratio);
        self
    }

    /// Whether a child span follows its parent's sampling decision, including a remote
    /// parent's (default true; env: the `parentbased_` samplers of `OTEL_TRACES_SAMPLER`).
    /// When false, the ratio decides every span by its trace id.
    pub fn parent_based(mut self, on: bool) -> Self {
        self.code.parent_based = Some(on);
        self
    }

    /// The longest attribute value kept, in bytes (default 1024; env:
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    /// Longer values are cut on a char boundary and end with a visible marker, within the
    /// limit; 0 records every text as empty.
    pub fn max_attribute_len(mut self, bytes: usize) -> Self {
        self.code.max_attribute_len = Some(bytes);
        self
    }

    /// Print each finished trace to stderr as an indented tree (env: `OTEL_TRACES_EXPORTER`
    /// listing `console`; default: on when no OTLP exporter is configured, off when one is).
    /// The export thread prints it, from the same bounded queue as OTLP; at most 4096 spans
    /// of unfinished traces are held.
    pub fn local_tree(mut self, on: bool) -> Self {
        self.code.local_tree = Some(on);
        self
    }

    /// Include every span's attributes in the local tree (default off: names, durations and
    /// error marks only).
    pub fn verbose(mut self, on: bool) -> Self {
        self.code.verbose = Some(on);
        self
    }

    /// Whether each recorded span is also made current in OpenTelemetry's [`Context`] while it
    /// runs (default false; env: `GODTRACE_OTEL_CONTEXT`), so that `Context::current()` and
    /// tracers of a provider of your own see it. That costs one allocation per recorded span.
    /// Off, recording a span allocates nothing on the calling thread; godtrace's own API
    /// ([`crate::trace_id`], [`crate::propagation`], [`crate::current_context`]), its W3C
    /// propagator and the tracers of OpenTelemetry's global provider (installed by `init`)
    /// still see every span.
    ///
    /// [`Context`]: opentelemetry::Context
    pub fn otel_context(mut self, on: bool) -> Self {
        self.code.otel_context = Some(on);
        self
    }

    /// The OTLP base endpoint of spans and metrics, e.g. `http://collector:4317` or
    /// `https://collector:4318` (TLS; see [`Config::certificate`]) (env:
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`). Over HTTP, `/v1/traces` (`/v1/metrics`) is appended, in
    /// code exactly as from the environment. Setting an endpoint or a [`Config::protocol`]
    /// turns OTLP export on.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.code.otlp.endpoint = Some(otlp::Named::new(url.into(), "endpoint"));
        self
    }

    /// The full traces URL, used as it is (env: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). Wins
    /// over [`Config::endpoint`].
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.code.traces.endpoint = Some(otlp::Named::new(url.into(), "traces_endpoint"));
        self
    }

    /// The OTLP transport (env: `OTEL_EXPORTER_OTLP_PROTOCOL`, or `..._TRACES_PROTOCOL` for
    /// spans alone; default `http/protobuf` when the `otlp-http` feature is on, else `grpc`).
    /// Turns OTLP export on.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.code.otlp.protocol = Some(otlp::Named::new(protocol, "protocol"));
        self
    }

    /// Adds a header (gRPC metadata) sent with every export, e.g. an auth token (env:
    /// `OTEL_EXPORTER_OTLP_HEADERS`). A name given in code replaces the same name from the
    /// environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let header = (name.into(), value.into());
        self.code
            .otlp
            .headers
            .push(otlp::Named::new(header, "header"));
        self
    }

    /// How long one export request may take (default 10 s, 1 ms to 1 hour; env:
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.code.otlp.timeout = Some(otlp::Named::new(timeout, "timeout"));
        self
    }

    /// Compression of export requests (default none; env: `OTEL_EXPORTER_OTLP_COMPRESSION`).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.code.otlp.compression = Some(otlp::Named::new(compression, "compression"));
        self
    }

    /// The CA certificate (PEM) that `https://` endpoints must be signed by, instead of the
    /// platform's root certificates (env: `OTEL_EXPORTER_OTLP_CERTIFICATE`). Read by
    /// [`crate::init`], which fails if the file is missing or holds no certificate.
    pub fn certificate(mut self, ca_pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.code.otlp.certificate = Some(otlp::Named::new(ca_pem_file.into(), "certificate"));
        self
    }

    /// The client certificate chain and its private key (PEM files) presented to `https://`
    /// endpoints that ask for one (mutual TLS; env: `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`
    /// and `OTEL_EXPORTER_OTLP_CLIENT_KEY`). Read by [`crate::init`].
    pub fn client_certificate(
        mut self,
        cert_pem_file: impl Into<std::path::PathBuf>,
        key_pem_file: impl Into<std::path::PathBuf>,
    ) -> Self {
        let (cert, key) = (cert_pem_file.into(), key_pem_file.into());
        self.code.otlp.client_certificate = Some(otlp::Named::new(cert, "client_certificate"));
        self.code.otlp.client_key = Some(otlp::Named::new(key, "client_certificate"));
        self
    }

    /// Finished spans waiting for export at most (default 2048, at most 1,048,576; env:
    /// `OTEL_BSP_MAX_QUEUE_SIZE`). Past that, spans are dropped and counted in
    /// [`crate::stats`](fn@crate::stats). A queued span holds about 240 bytes plus its attributes,
    /// and as many emptied records are kept for reuse: about 1 KiB per slot once it was full.
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.code.max_queue_size = Some(spans);
        self
    }

    /// Spans sent per export request at most (default 512; env:
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`); at most the queue size.
    pub fn max_export_batch_size(mut self, spans: usize) -> Self {
        self.code.max_export_batch_size = Some(spans);
        self
    }

    /// The longest a finished span waits before it is sent (default 5 s, or 100 ms when only
    /// the local tree takes spans; 1 ms to 1 hour; env: `OTEL_BSP_SCHEDULE_DELAY`, in
    /// milliseconds). A full batch is sent at once.
    pub fn schedule_delay(mut self, delay: Duration) -> Self {
        self.code.schedule_delay = Some(delay);
        self
    }

    /// The bound on [`crate::Guard::flush`] and on the shutdown when the guard drops
    /// (default 30 s, 1 ms to 1 hour; env: `OTEL_BSP_EXPORT_TIMEOUT`, in milliseconds).
    /// Neither ever waits longer, whatever the backend does.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.code.export_timeout = Some(timeout);
        self
    }

    /// The propagators installed as OpenTelemetry's global text-map propagator (default W3C
    /// trace context and baggage; env: `OTEL_PROPAGATORS`). An empty list installs none.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.code.propagators = Some(propagators.into_iter().collect());
        self
    }
}

impl Config {
    /// Sends finished spans to `exporter` (any OpenTelemetry `SpanExporter`) instead of OTLP:
    /// it runs on godtrace's export thread, fed by the same bounded queue as the OTLP
    /// exporter (so [`Config::max_queue_size`], [`Config::max_export_batch_size`],
    /// [`Config::schedule_delay`] and [`Config::export_timeout`] apply, and a slow exporter
    /// never blocks a traced call). OTLP trace settings are then ignored (metrics still use
    /// them), and the local tree is off unless asked for. [`Guard::flush`](crate::Guard::flush)
    /// returns once the exporter has been handed every span finished before it; dropping the
    /// guard shuts the exporter down. The `init` that uses this `Config` (or a clone of it)
    /// takes the exporter.
    ///
    /// ```
    /// use opentelemetry_sdk::error::OTelSdkResult;
    /// use opentelemetry_sdk::trace::{SpanData, SpanExporter};
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// /// Keeps the names of the spans it is sent, and whether it was shut down.
    /// #[derive(Debug, Default, Clone)]
    /// struct Names {
    ///     sent: Arc<Mutex<Vec<String>>>,
    ///     shut_down: Arc<Mutex<bool>>,
    /// }
    ///
    /// impl SpanExporter for Names {
    ///     async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
    ///         let mut sent = self.sent.lock().unwrap();
    ///         sent.extend(batch.iter().map(|span| span.name.to_string()));
    ///         Ok(())
    ///     }
    ///
    ///     fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
    ///         *self.shut_down.lock().unwrap() = true;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let names = Names::default();
    /// let config = godtrace_runtime::Config::new("svc").span_exporter(names.clone());
    /// let guard = godtrace_runtime::init(config).unwrap();
    /// {
    ///     let _span = godtrace_runtime::span("checkout");
    /// }
    /// guard.flush();
    /// assert_eq!(*names.sent.lock().unwrap(), ["checkout"]);
    /// drop(guard);
    /// assert!(*names.shut_down.lock().unwrap());
    /// ```
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub fn span_exporter(
        mut self,
        exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
    ) -> Self {
        self.span_exporter = Some(crate::export::custom::ExporterSlot::new(exporter));
        self
    }

    /// Metrics exporters and limits: the Prometheus endpoint, OTLP push, cardinality limits
    /// and histogram buckets (see [`MetricsConfig`](crate::MetricsConfig)). The environment
    /// read by [`Config::with_env`] also fills its unset values.
    pub fn metrics(mut self, metrics: crate::metrics::MetricsConfig) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics settings, checked, with the trace export they default to.
    pub(crate) fn metrics_settings(
        &self,
        settings: &Settings,
    ) -> Result<crate::metrics::MetricsSettings, crate::InitError> {
        let env = match &self.env {
            Some(vars) => env::parse(vars)?,
            None => Layer::default(),
        };
        self.metrics.resolve(
            self.env.as_deref(),
            &self.code.otlp,
            &env.otlp,
            settings.export.as_ref(),
            settings.batch.export_timeout,
        )
    }
}

#[cfg(test)]
mod tests;
