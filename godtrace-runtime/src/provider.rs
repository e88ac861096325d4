//! The one global provider: [`init`], its [`Guard`], and the switch the hot path reads.
use crate::config::{Config, Propagator, Settings};
use crate::error::InitError;
use crate::export;
use crate::export::sdk::SdkProcessor;
use crate::span::sampling::RatioSampler;
use crate::span::sink::{self, Pipeline, Sink};
use crate::span::switches;
use opentelemetry::KeyValue;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use crate::span::switches::is_enabled;

/// Whether `init` installed an OTLP trace exporter.
static EXPORTING: AtomicBool = AtomicBool::new(false);
static STATE: OnceLock<Installed> = OnceLock::new();

/// What `init` (or the test capture) installed, for the guard.
struct Installed {
    provider: SdkTracerProvider,
    /// Bounds the shutdown when the guard drops.
    shutdown_timeout: Duration,
}

/// Set once the installed provider's settings are all in place.
static READY: AtomicBool = AtomicBool::new(false);

/// Set when the guard `init` returned is dropped: godtrace is off for good.
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Whether the guard `init` returned was dropped (tracing is then off for good), as opposed
/// to tracing configured off.
pub(crate) fn is_shut_down() -> bool {
    SHUT_DOWN.load(Ordering::Relaxed)
}

/// Whether a provider is installed (by `init` or the test capture); when one is being
/// installed by another thread, waits until it is in place, so that a caller that goes on to
/// trace sees its settings.
pub(crate) fn is_installed() -> bool {
    if STATE.get().is_none() {
        return false;
    }
    while !READY.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    true
}

/// Whether finished spans are exported over OTLP (an endpoint or protocol was configured, in
/// code or in the environment), rather than printed as local trees. Examples use it to decide
/// whether a Jaeger link is worth printing.
///
/// ```
/// assert!(!godtrace_runtime::links::is_exporting()); // before `init`
/// ```
pub fn is_exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Installs godtrace for this process and returns the guard that flushes it.
///
/// With an OTLP endpoint or protocol configured (in code or through `OTEL_*` variables, see
/// [`Config`]), finished spans are batched off the application's threads and exported; with
/// none, each finished trace is printed to stderr. Also installs the configured text-map
/// propagators (W3C trace context and baggage by default). The provider becomes
/// OpenTelemetry's global one, so other OpenTelemetry-instrumented code joins the same traces.
///
/// `init` never waits for the network: an unreachable collector shows up later in
/// [`crate::stats`](fn@crate::stats), not here. It returns [`InitError::InvalidValue`] for a bad setting and
/// [`InitError::AlreadyInitialized`] on a second call. Calls from several threads at once
/// install exactly one configuration, the first to get there; the others return
/// `AlreadyInitialized`. An `init` that fails (a Prometheus port in use, say) stops whatever
/// it had started and installs nothing, so a later call may succeed.
///
/// ```
/// let guard = godtrace_runtime::init(godtrace_runtime::Config::new("quickstart")).unwrap();
/// // ... traced work ...
/// drop(guard); // flushes every finished span, then shuts down
/// ```
pub fn init(config: Config) -> Result<Guard, InitError> {
    let settings = config.resolve()?;
    let metrics = config.metrics_settings(&settings)?;
    // Held until the provider is installed or everything this call started is stopped: a
    // concurrent `init` waits here, then finds the winner's provider.
    let _installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if STATE.get().is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    let resource = resource(&settings);
    let metrics_resource: Vec<KeyValue> = resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let builder = SdkTracerProvider::builder()
        .with_sampler(settings.sampler)
        .with_span_limits(sdk_span_limits(settings.span_limits))
        .with_resource(resource.clone());
    // The capture first: it takes a copy, the last sink the span itself.
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(crate::testing::sink::CaptureSink)];
    let (queue, exporting) = if settings.enabled {
        exporter(&config, &settings, resource)?
    } else {
        (None, false)
    };
    sinks.extend(queue);
    let pipeline = Pipeline::new(sinks);
    let mut metrics = if settings.enabled {
        match crate::metrics::start(metrics, metrics_resource) {
            Ok(started) => Some(started),
            Err(e) => {
                // Joins the export thread: a failed `init` leaves no thread behind.
                let _ = pipeline.shutdown(STOP_UNUSED);
                return Err(e);
            }
        }
    } else {
        None
    };
    let installed = install_with(
        builder,
        pipeline,
        Switches {
            sampler: settings.sampler,
            max_attribute_len: settings.max_attribute_len,
            enabled: settings.enabled,
            otel_context: settings.otel_context,
            shutdown_timeout: settings.batch.export_timeout,
            by_capture: false,
        },
        // The rest of the configuration, in place before the first span or measurement: a
        // thread recording while `init` runs gets the configured limits, buckets and formats.
        || {
            if let Some(metrics) = metrics.take() {
                metrics.publish();
            }
            EXPORTING.store(exporting, Ordering::Relaxed);
            crate::config::limits::set(settings.span_limits);
            crate::config::http_methods::install(settings.known_http_methods.as_deref());
            crate::links::set_from_init(settings.jaeger_ui.clone());
            opentelemetry::global::set_text_map_propagator(propagator(&settings.propagators));
            crate::propagation::carry(&settings.propagators);
        },
    );
    if let Err(e) = installed {
        if let Some(metrics) = metrics {
            metrics.stop();
        }
        return Err(e);
    }
    Ok(Guard { _private: () })
}

/// Held while a provider is being installed, by `init` or the test capture.
static INSTALLING: Mutex<()> = Mutex::new(());

/// How long a failed `init` waits for the export thread it started, which has nothing queued.
const STOP_UNUSED: Duration = Duration::from_secs(5);

/// The batch queue the configuration asks for, if any: its exporter is the user's own, OTLP,
/// or none, and the local tree prints from it when asked for. And whether spans are exported.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn exporter(
    config: &Config,
    settings: &Settings,
    resource: Resource,
) -> Result<(Option<Box<dyn Sink>>, bool), InitError> {
    let custom = config.span_exporter.as_ref().and_then(|slot| slot.take());
    let target = settings.export.clone();
    let exporting = custom.is_some() || target.is_some();
    if !exporting && !settings.local_tree {
        return Ok((None, false));
    }
    crate::span::set_max_returned(settings.batch.max_queue_size);
    let options = |request_timeout, destination| export::worker::ExportSetup {
        request_timeout,
        destination,
        resource: resource.clone(),
    };
    let tree = settings.local_tree.then_some(settings.verbose);
    let processor = match (custom, target) {
        (Some(custom), _) => start_queue(
            settings.batch,
            options(
                settings.batch.export_timeout,
                "the configured span exporter".into(),
            ),
            tree,
            move || Ok(custom),
        )?,
        (None, Some(target)) => start_queue(
            settings.batch,
            options(target.timeout, target.endpoint.clone()),
            tree,
            move || export::otlp::build(&target),
        )?,
        (None, None) => start_queue(
            export::local::console::batch_settings(settings),
            options(settings.batch.export_timeout, "stderr".into()),
            tree,
            || Ok(export::local::console::NoExporter),
        )?,
    };
    Ok((Some(Box::new(processor)), exporting))
}

/// Starts the batch queue and its export thread with the exporter `make` builds, wrapped to
/// print the local tree too when `tree` is `Some(verbose)`.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn start_queue<E: export::worker::Exporter>(
    batch: crate::config::BatchSettings,
    options: export::worker::ExportSetup,
    tree: Option<bool>,
    make: impl FnOnce() -> Result<E, String> + Send + 'static,
) -> Result<export::batch::BatchProcessor, InitError> {
    use export::batch::BatchProcessor;
    use export::local::console::WithTree;
    let counters = &crate::stats::COUNTERS;
    match tree {
        Some(verbose) => BatchProcessor::start(batch, counters, options, move || {
            make().map(|inner| WithTree::around(inner, verbose))
        }),
        None => BatchProcessor::start(batch, counters, options, make),
    }
}

/// Without the export thread, the local tree is a sink with a thread of its own (see
/// `export::local::sink`).
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn exporter(
    _config: &Config,
    settings: &Settings,
    _resource: Resource,
) -> Result<(Option<Box<dyn Sink>>, bool), InitError> {
    // `Config::resolve` rejects an exporter this build cannot provide.
    if !settings.local_tree {
        return Ok((None, false));
    }
    let tree = export::local::sink::TreeSink::start(
        std::io::stderr(),
        settings.verbose,
        settings.batch.max_queue_size,
        settings.batch.export_timeout,
        &crate::stats::COUNTERS,
    )
    .map_err(|e| InitError::Exporter(format!("could not start the local tree's thread: {e}")))?;
    Ok((Some(Box::new(tree)), false))
}

/// `telemetry.sdk.*`, `host.name`, `process.pid`, then the configured attributes (which
/// include `service.name` and `service.version`). The SDK is godtrace: it records and exports
/// the spans itself, and the resource conventions reserve the name `opentelemetry` for
/// OpenTelemetry's own SDKs ("a fork or a vendor-provided implementation ... MUST NOT" use it).
fn resource(settings: &Settings) -> Resource {
    let mut builder = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("telemetry.sdk.name", "godtrace"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ])
        .with_attribute(KeyValue::new("process.pid", i64::from(std::process::id())));
    if let Some(host) = host_name() {
        builder = builder.with_attribute(KeyValue::new("host.name", host));
    }
    builder.with_attributes(settings.resource.clone()).build()
}

#[cfg(unix)]
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec())
        .ok()
        .filter(|s| !s.is_empty())
}

#[cfg(not(unix))]
fn host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty())
}

fn propagator(list: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = list
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                // godtrace's own parser, so that OpenTelemetry-instrumented code sees the
                // same rules (random flag, Level 2 tracestate, hostile-input counters).
                Propagator::TraceContext => {
                    Box::new(crate::propagation::W3cPropagator::trace_context_only())
                }
                // godtrace's own W3C Baggage codec too (see `crate::propagation`).
                Propagator::Baggage => Box::new(crate::propagation::W3cPropagator::baggage_only()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

/// Installs a provider whose spans go nowhere but the test capture, with the code settings of
/// `config` (the test capture's path: no environment, no exporter).
pub(crate) fn install_capture_only(config: &Config) -> Result<(), InitError> {
    let _installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let propagators = config.code.propagators.as_deref();
    let propagators = propagators.unwrap_or(&Propagator::DEFAULT);
    crate::propagation::carry(propagators);
    // Every root kept and the default limits, set here: the SDK's builder would read them from
    // the environment, which the capture does not.
    let builder = SdkTracerProvider::builder()
        .with_sampler(RatioSampler::ALWAYS_ON)
        .with_span_limits(sdk_span_limits(crate::config::limits::SpanLimits::default()));
    install_with(
        builder,
        Pipeline::new(vec![Box::new(crate::testing::sink::CaptureSink)]),
        Switches {
            sampler: RatioSampler::ALWAYS_ON,
            max_attribute_len: config
                .code
                .max_attribute_len
                .unwrap_or(crate::value::DEFAULT_MAX_ATTRIBUTE_LEN),
            enabled: config.code.enabled.unwrap_or(true),
            otel_context: config.code.otel_context.unwrap_or(false),
            shutdown_timeout: crate::config::BatchSettings::default().export_timeout,
            by_capture: true,
        },
        // As `init` does: other OpenTelemetry code injects and extracts as godtrace does.
        || opentelemetry::global::set_text_map_propagator(propagator(propagators)),
    )
}

/// godtrace's count limits as the SDK takes them, for spans of other OpenTelemetry code
/// (its builder would otherwise read the environment itself). Attributes are kept up to the
/// most any limit may be: the SDK counts a key set again, or an empty one, against its limit,
/// so godtrace's limit is applied once they are one per key (`export::sdk`). Links' attributes
/// keep the SDK's default.
fn sdk_span_limits(
    limits: crate::config::limits::SpanLimits,
) -> opentelemetry_sdk::trace::SpanLimits {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let attributes = count(crate::config::limits::MAX_COUNT_LIMIT);
    opentelemetry_sdk::trace::SpanLimits {
        max_events_per_span: count(limits.events),
        max_attributes_per_span: attributes,
        max_links_per_span: count(limits.links),
        max_attributes_per_event: attributes,
        ..Default::default()
    }
}

/// The settings the installed provider's hot path and shutdown read.
struct Switches {
    sampler: RatioSampler,
    max_attribute_len: usize,
    enabled: bool,
    otel_context: bool,
    shutdown_timeout: Duration,
    by_capture: bool,
}

/// Installs the provider; `configure` sets up the rest once it is installed, before recording
/// is switched on.
fn install_with(
    builder: opentelemetry_sdk::trace::TracerProviderBuilder,
    pipeline: Pipeline,
    switches: Switches,
    configure: impl FnOnce(),
) -> Result<(), InitError> {
    let Switches {
        sampler,
        max_attribute_len,
        enabled,
        otel_context,
        shutdown_timeout,
        by_capture,
    } = switches;
    // Before the provider is published: calibrating the clock takes a moment.
    crate::span::warm_up();
    if STATE.get().is_some() {
        // Ours is not installed: release what it holds without touching the running one.
        let _ = pipeline.shutdown(Duration::from_secs(1));
        return Err(InitError::AlreadyInitialized);
    }
    // Installed once (under `INSTALLING`, with `STATE` below), for the life of the process.
    let pipeline = match sink::install(pipeline) {
        Ok(installed) => installed,
        Err(refused) => {
            let _ = refused.shutdown(Duration::from_secs(1));
            return Err(InitError::AlreadyInitialized);
        }
    };
    let provider = builder.with_span_processor(SdkProcessor(pipeline)).build();
    let _ = STATE.set(Installed {
        provider: provider.clone(),
        shutdown_timeout,
    });
    // Before `READY`: a later `init` reads it through its error's message.
    crate::error::INSTALLED_BY_CAPTURE.store(by_capture, Ordering::Relaxed);
    crate::span::sampling::install(sampler);
    crate::value::set_max_attribute_len(max_attribute_len);
    switches::set_attaches_otel_context(otel_context);
    opentelemetry::global::set_tracer_provider(crate::global_tracer::GlobalProvider(provider));
    configure();
    switches::set_enabled(enabled);
    watch_for_fork();
    READY.store(true, Ordering::Release);
    Ok(())
}

/// Has a child that `fork` makes of this process record nothing and wait for nothing: the
/// export and metrics threads are not copied into it, and a lock one of them held at the
/// fork would stay held for ever (see `switches::set_forked`).
fn watch_for_fork() {
    #[cfg(unix)]
    {
        extern "C" fn in_child() {
            switches::set_forked();
            crate::metrics::close_listener_in_forked_child();
        }
        // SAFETY: `in_child` is a plain function that lives for the whole process and only
        // makes atomic reads and stores and a `close`, which a forked child of a threaded
        // process may make before `exec`. Registered once: `init` installs its provider once
        // per process.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        if registered != 0 {
            crate::stderr::say(format!(
                "godtrace: could not watch for fork (error {registered}); a forked child that \
                 records may hang"
            ));
        }
    }
}

/// Keeps godtrace running; dropping it flushes every finished span and shuts the exporters
/// down, within the export timeout ([`Config::export_timeout`]) whatever the backend does.
/// Keep it alive in `main` (`let _guard = godtrace::init(...)?;`). It may be dropped
/// anywhere, including inside async code on any tokio runtime.
#[must_use = "dropping the guard shuts godtrace down at once"]
#[derive(Debug)]
pub struct Guard {
    _private: (),
}

impl Guard {
    /// Exports every span finished so far, now, without shutting down. Returns once they are
    /// delivered, or when the export timeout ([`Config::export_timeout`]) runs out; a failure
    /// shows in [`crate::stats`](fn@crate::stats). It blocks the calling thread meanwhile:
    /// from async code, call it through `tokio::task::spawn_blocking`.
    pub fn flush(&self) {
        // A forked child has no export thread to wait for (its parent exports).
        if switches::in_forked_child() {
            return;
        }
        let metrics = crate::metrics::flush_begin();
        if let Some(state) = STATE.get() {
            let _ = state.provider.force_flush();
        }
        metrics.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        SHUT_DOWN.store(true, Ordering::Relaxed);
        switches::set_enabled(false);
        if switches::in_forked_child() {
            return;
        }
        let metrics = crate::metrics::shutdown_begin();
        if let Some(state) = STATE.get() {
            let _ = state.provider.shutdown_with_timeout(state.shutdown_timeout);
        }
        metrics.wait();
        // The last reports (dropped and failed spans) are seen before the process exits,
        // unless stderr is not read.
        crate::stderr::drain(STDERR_DRAIN);
    }
}

/// How long dropping the guard waits, at most, for godtrace's last lines to reach stderr.
const STDERR_DRAIN: Duration = Duration::from_secs(1);
