//! The one global provider: [`init`], its [`Guard`], and the switch the hot path reads.
use crate::config::Config;
use crate::error::InitError;
use crate::export;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Read on every traced call: false before `init`, when disabled, and after shutdown.
static ENABLED: AtomicBool = AtomicBool::new(false);
static STATE: OnceLock<State> = OnceLock::new();

struct State {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

/// Whether traced calls currently record spans.
#[inline(always)]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    STATE.get().map(|s| &s.tracer)
}

/// Installs godtrace for this process and returns the guard that flushes it.
///
/// The provider also becomes OpenTelemetry's global one, so other OpenTelemetry-instrumented
/// code joins the same traces. A second call returns [`InitError::AlreadyInitialized`].
///
/// ```
/// let guard = godtrace_runtime::init(godtrace_runtime::Config::new("quickstart")).unwrap();
/// // ... traced work ...
/// drop(guard); // flushes every finished span, then shuts down
/// ```
pub fn init(config: Config) -> Result<Guard, InitError> {
    if !(0.0..=1.0).contains(&config.sample_ratio) {
        return Err(InitError::invalid(
            "sample_ratio",
            &config.sample_ratio.to_string(),
            "a number from 0 to 1",
        ));
    }
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .with_span_processor(crate::testing::CaptureRouter);
    if config.local_tree {
        builder = builder.with_span_processor(export::local::TreePrinter::new(config.verbose));
    }
    install(builder.build(), &config)?;
    Ok(Guard { _private: () })
}

/// Installs `provider` as the process's one provider.
pub(crate) fn install(provider: SdkTracerProvider, config: &Config) -> Result<(), InitError> {
    let tracer = provider.tracer("godtrace");
    let mut fresh = false;
    STATE.get_or_init(|| {
        fresh = true;
        State {
            provider: provider.clone(),
            tracer,
        }
    });
    if !fresh {
        // Ours was not installed: release what it holds without touching the running one.
        let _ = provider.shutdown_with_timeout(Duration::from_secs(1));
        return Err(InitError::AlreadyInitialized);
    }
    crate::value::set_max_attribute_len(config.max_attribute_len);
    opentelemetry::global::set_tracer_provider(provider);
    ENABLED.store(config.enabled, Ordering::Relaxed);
    Ok(())
}

/// Keeps godtrace running; dropping it flushes every finished span and shuts the exporters
/// down. Keep it alive in `main` (`let _guard = godtrace::init(...)?;`).
#[must_use = "dropping the guard shuts godtrace down at once"]
pub struct Guard {
    _private: (),
}

impl Guard {
    /// Exports every finished span now, without shutting down.
    pub fn flush(&self) {
        if let Some(state) = STATE.get() {
            let _ = state.provider.force_flush();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Some(state) = STATE.get() {
            let _ = state.provider.shutdown();
        }
    }
}
