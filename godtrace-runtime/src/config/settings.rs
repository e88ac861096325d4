//! Code over environment over defaults: the settings `init` acts on.
use super::limits::SpanLimits;
use super::otlp::{self, Fallback, OtlpTarget, Signal, Sources};
use super::{Layer, Propagator};
use crate::InitError;
use crate::span::sampling::RatioSampler;
use opentelemetry::{KeyValue, Value};
use std::time::Duration;

/// Everything `init` needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) enabled: bool,
    /// `service.name`, `service.version` and the user's attributes (code over environment).
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) sampler: RatioSampler,
    pub(crate) max_attribute_len: usize,
    pub(crate) span_limits: SpanLimits,
    pub(crate) local_tree: bool,
    pub(crate) verbose: bool,
    pub(crate) otel_context: bool,
    pub(crate) export: Option<OtlpTarget>,
    pub(crate) batch: BatchSettings,
    /// Whether the schedule delay was set (in code or the environment), rather than defaulted:
    /// a queue that feeds the local tree only has a shorter default.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(
            dead_code,
            reason = "only the export thread prints the tree in batches"
        )
    )]
    pub(crate) schedule_delay_given: bool,
    pub(crate) propagators: Vec<Propagator>,
    /// The HTTP methods the framework layers know, when the environment replaces the
    /// conventions' default list.
    pub(crate) known_http_methods: Option<Vec<String>>,
    /// The Jaeger UI's base address the environment gave (`links`).
    pub(crate) jaeger_ui: Option<String>,
}

/// The export queue and its worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BatchSettings {
    pub(crate) max_queue_size: usize,
    pub(crate) max_export_batch_size: usize,
    pub(crate) schedule_delay: Duration,
    /// Bounds each flush and the shutdown.
    pub(crate) export_timeout: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// The longest timeout, delay or interval accepted (one hour): far past any useful value, and
/// far from what an `Instant` deadline can hold, so no setting can make a deadline overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(60 * 60);
/// The shortest duration or timeout godtrace takes (from code or the environment).
pub(crate) const MIN_DURATION: Duration = Duration::from_millis(1);

/// The most spans the export queue may hold (2^20). A queued span of godtrace's own takes a
/// 24-byte queue slot and keeps its pooled 208-byte record, so the queue at this bound holds
/// about 240 MiB plus the spans' attribute values.
pub(crate) const MAX_QUEUE_SIZE: usize = 1 << 20;

/// A value and the name to blame when it is wrong: the builder method or the variable.
fn pick<T: Clone>(
    code: &Option<T>,
    code_name: &'static str,
    env: &Option<T>,
    env_name: &'static str,
) -> Option<(T, &'static str)> {
    match (code, env) {
        (Some(v), _) => Some((v.clone(), code_name)),
        (None, Some(v)) => Some((v.clone(), env_name)),
        (None, None) => None,
    }
}

pub(super) fn resolve(code: &Layer, env: &Layer) -> Result<Settings, InitError> {
    let ratio = code.sample_ratio.or(env.sample_ratio).unwrap_or(1.0);
    if !(0.0..=1.0).contains(&ratio) {
        return Err(InitError::invalid(
            "sample_ratio",
            &ratio.to_string(),
            "a number from 0 to 1",
        ));
    }
    let sampler = RatioSampler {
        ratio,
        parent_based: code.parent_based.or(env.parent_based).unwrap_or(true),
    };
    // The environment's own values were checked as they were read.
    if code.resource.iter().any(|(key, _)| key.is_empty()) {
        return Err(InitError::invalid(
            "resource_attribute",
            "\"\"",
            "a non-empty key",
        ));
    }
    let export = resolve_export(code, env)?;
    let console = env.traces_exporter.is_some_and(|e| e.console);
    let resource = resolve_resource(code, env);
    check_resource_size(&resource)?;
    Ok(Settings {
        enabled: code.enabled.or(env.enabled).unwrap_or(true),
        resource,
        sampler,
        max_attribute_len: code
            .max_attribute_len
            .or(env.max_attribute_len)
            .unwrap_or(crate::value::DEFAULT_MAX_ATTRIBUTE_LEN),
        span_limits: resolve_span_limits(env),
        local_tree: code.local_tree.unwrap_or(match env.traces_exporter {
            Some(_) => console,
            None => export.is_none(),
        }),
        verbose: code.verbose.unwrap_or(false),
        otel_context: code.otel_context.or(env.otel_context).unwrap_or(false),
        export,
        batch: resolve_batch(code, env)?,
        schedule_delay_given: code.schedule_delay.or(env.schedule_delay).is_some(),
        propagators: code
            .propagators
            .clone()
            .or_else(|| env.propagators.clone())
            .unwrap_or_else(|| Propagator::DEFAULT.to_vec()),
        known_http_methods: env.known_http_methods.clone(),
        jaeger_ui: env.jaeger_ui.clone(),
    })
}

fn resolve_resource(code: &Layer, env: &Layer) -> Vec<KeyValue> {
    let mut attrs: Vec<(String, Value)> = Vec::new();
    // Where each key is in `attrs`: a list of many keys costs linear time, not quadratic.
    let mut slots: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut set = |attrs: &mut Vec<(String, Value)>, key: &str, value: Value| {
        // An empty name is no name, wherever it is given (`service.name=` in
        // OTEL_RESOURCE_ATTRIBUTES too): it leaves the name from a lower layer, or the fallback.
        if key == "service.name" && value.as_str().trim().is_empty() {
            return;
        }
        match slots.get(key) {
            Some(&slot) => attrs[slot].1 = value,
            None => {
                slots.insert(key.to_owned(), attrs.len());
                attrs.push((key.to_owned(), value));
            }
        }
    };
    // Later wins: environment attributes, OTEL_SERVICE_NAME, code attributes, code name.
    for (k, v) in &env.resource {
        set(&mut attrs, k, v.clone());
    }
    if let Some(name) = &env.service_name {
        set(&mut attrs, "service.name", name.clone().into());
    }
    for (k, v) in &code.resource {
        set(&mut attrs, k, v.clone());
    }
    // An empty name is no name, as an empty `OTEL_SERVICE_NAME` is: a service is never
    // exported unnamed.
    if let Some(name) = code.service_name.as_ref().filter(|name| !name.is_empty()) {
        set(&mut attrs, "service.name", name.clone().into());
    }
    if let Some(version) = &code.service_version {
        set(&mut attrs, "service.version", version.clone().into());
    }
    if !attrs.iter().any(|(k, _)| k == "service.name") {
        set(&mut attrs, "service.name", unknown_service().into());
    }
    attrs
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
}

/// The most text the resource's attributes may hold, keys and values together: every export
/// request carries them whole (spans and metrics alike), so a resource near the request's
/// bound (1 MiB) would make each request hold one span, and one over a receiver's (4 MiB for
/// gRPC by default) would lose every span. Real resources take a few KiB.
pub(crate) const MAX_RESOURCE_BYTES: usize = 64 * 1024;

/// Refuses a resource whose attributes hold more than [`MAX_RESOURCE_BYTES`] of text, naming
/// the largest attribute (its key cut short) rather than quoting any value.
fn check_resource_size(resource: &[KeyValue]) -> Result<(), InitError> {
    let size = |kv: &KeyValue| kv.key.as_str().len() + kv.value.as_str().len();
    let total: usize = resource.iter().map(size).sum();
    if total <= MAX_RESOURCE_BYTES {
        return Ok(());
    }
    let largest = resource.iter().max_by_key(|kv| size(kv));
    let (key, largest) = largest.map_or((String::new(), 0), |kv| {
        (crate::value::bounded_text(kv.key.as_str(), 64), size(kv))
    });
    Err(InitError::invalid(
        "resource",
        &format!("{} attributes, {total} bytes", resource.len()),
        &format!(
            "attributes (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, `service_name`, \
             `resource_attribute`) of at most {} KiB of keys and values in all, which every \
             export request carries; the largest is `{key}` ({largest} bytes)",
            MAX_RESOURCE_BYTES / 1024
        ),
    ))
}

/// The service name when none is given: `unknown_service:` and the executable's name, as the
/// resource conventions say, so that two unnamed programs are told apart; `unknown_service`
/// when the name cannot be read as text.
fn unknown_service() -> String {
    let executable = std::env::current_exe().ok().and_then(|path| {
        let name = path.file_name()?.to_str()?.to_owned();
        Some(name)
    });
    match executable {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

/// The spans' OTLP target, if spans are exported: an endpoint or protocol set anywhere, or
/// `OTEL_TRACES_EXPORTER=otlp`; not when that variable leaves `otlp` out (unless code sets an
/// endpoint or protocol, which wins).
fn resolve_export(code: &Layer, env: &Layer) -> Result<Option<OtlpTarget>, InitError> {
    let sources = Sources {
        code_signal: &code.traces,
        code: &code.otlp,
        env_signal: &env.traces,
        env: &env.otlp,
    };
    // Checked even when nothing is exported: a bad value is reported, not ignored.
    otlp::check_unused(&sources)?;
    let in_code = code.traces.asks_for_export() || code.otlp.asks_for_export();
    let on = match env.traces_exporter {
        _ if in_code => true,
        Some(listed) => listed.otlp,
        None => sources.asks_for_export(),
    };
    if !on {
        return Ok(None);
    }
    let no_fallback = Fallback {
        protocol: None,
        endpoint: None,
    };
    otlp::resolve(Signal::Traces, &sources, no_fallback).map(Some)
}

/// The span count limits: the environment's (checked as they were read), else the defaults.
fn resolve_span_limits(env: &Layer) -> SpanLimits {
    let d = SpanLimits::default();
    let l = env.span_limits;
    SpanLimits {
        attributes: l.attributes.unwrap_or(d.attributes),
        events: l.events.unwrap_or(d.events),
        event_attributes: l.event_attributes.unwrap_or(d.event_attributes),
        links: l.links.unwrap_or(d.links),
    }
}

fn resolve_batch(code: &Layer, env: &Layer) -> Result<BatchSettings, InitError> {
    let d = BatchSettings::default();
    let queue = pick(
        &code.max_queue_size,
        "max_queue_size",
        &env.max_queue_size,
        "OTEL_BSP_MAX_QUEUE_SIZE",
    );
    let batch = pick(
        &code.max_export_batch_size,
        "max_export_batch_size",
        &env.max_export_batch_size,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    );
    for (n, name) in [&queue, &batch].into_iter().flatten() {
        if *n == 0 || *n > MAX_QUEUE_SIZE {
            return Err(InitError::invalid(
                name,
                &n.to_string(),
                &format!("a whole number from 1 to {MAX_QUEUE_SIZE}"),
            ));
        }
    }
    let max_queue_size = queue.map_or(d.max_queue_size, |q| q.0);
    let max_export_batch_size = match batch {
        Some((b, name)) if b > max_queue_size => {
            return Err(InitError::invalid(
                name,
                &b.to_string(),
                &format!("at most the queue size ({max_queue_size})"),
            ));
        }
        Some((b, _)) => b,
        // The default batch never exceeds a smaller queue.
        None => d.max_export_batch_size.min(max_queue_size),
    };
    let duration =
        |c: &Option<Duration>, cn, e: &Option<Duration>, en, default| match pick(c, cn, e, en) {
            Some((v, name)) => otlp::bounded_duration(v, name),
            None => Ok(default),
        };
    Ok(BatchSettings {
        max_queue_size,
        max_export_batch_size,
        schedule_delay: duration(
            &code.schedule_delay,
            "schedule_delay",
            &env.schedule_delay,
            "OTEL_BSP_SCHEDULE_DELAY",
            d.schedule_delay,
        )?,
        export_timeout: duration(
            &code.export_timeout,
            "export_timeout",
            &env.export_timeout,
            "OTEL_BSP_EXPORT_TIMEOUT",
            d.export_timeout,
        )?,
    })
}

#[cfg(test)]
mod tests;
