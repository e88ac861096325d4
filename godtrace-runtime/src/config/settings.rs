//! Code over environment over defaults: the settings `init` acts on.
use super::limits::{MAX_COUNT_LIMIT, SpanLimits};
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
    pub(crate) propagators: Vec<Propagator>,
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
    let export = resolve_export(code, env)?;
    let console = env.traces_exporter.is_some_and(|e| e.console);
    Ok(Settings {
        enabled: code.enabled.or(env.enabled).unwrap_or(true),
        resource: resolve_resource(code, env),
        sampler,
        max_attribute_len: code
            .max_attribute_len
            .or(env.max_attribute_len)
            .unwrap_or(crate::value::DEFAULT_MAX_ATTRIBUTE_LEN),
        span_limits: resolve_span_limits(env)?,
        local_tree: code.local_tree.unwrap_or(match env.traces_exporter {
            Some(_) => console,
            None => export.is_none(),
        }),
        verbose: code.verbose.unwrap_or(false),
        otel_context: code.otel_context.or(env.otel_context).unwrap_or(true),
        export,
        batch: resolve_batch(code, env)?,
        propagators: code
            .propagators
            .clone()
            .or_else(|| env.propagators.clone())
            .unwrap_or_else(|| vec![Propagator::TraceContext, Propagator::Baggage]),
    })
}

fn resolve_resource(code: &Layer, env: &Layer) -> Vec<KeyValue> {
    let mut attrs: Vec<(String, Value)> = Vec::new();
    let set = |attrs: &mut Vec<(String, Value)>, key: &str, value: Value| match attrs
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some(slot) => slot.1 = value,
        None => attrs.push((key.to_owned(), value)),
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
    if let Some(name) = &code.service_name {
        set(&mut attrs, "service.name", name.clone().into());
    }
    if let Some(version) = &code.service_version {
        set(&mut attrs, "service.version", version.clone().into());
    }
    if !attrs.iter().any(|(k, _)| k == "service.name") {
        set(&mut attrs, "service.name", "unknown_service".into());
    }
    attrs
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
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

/// The span count limits: each from 1 to [`MAX_COUNT_LIMIT`].
fn resolve_span_limits(env: &Layer) -> Result<SpanLimits, InitError> {
    let d = SpanLimits::default();
    let limit = |value: Option<usize>, name: &str, default: usize| match value {
        Some(n) if n > MAX_COUNT_LIMIT => Err(InitError::invalid(
            name,
            &n.to_string(),
            &format!("a whole number from 1 to {MAX_COUNT_LIMIT}"),
        )),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    let l = env.span_limits;
    Ok(SpanLimits {
        attributes: limit(
            l.attributes,
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            d.attributes,
        )?,
        events: limit(l.events, "OTEL_SPAN_EVENT_COUNT_LIMIT", d.events)?,
        event_attributes: limit(
            l.event_attributes,
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            d.event_attributes,
        )?,
    })
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
mod tests {
    use crate::config::{Compression, Protocol};
    use crate::{Config, InitError};

    fn settings(config: Config) -> super::Settings {
        config.resolve().unwrap()
    }

    #[test]
    fn no_endpoint_anywhere_means_no_exporter_and_the_local_tree() {
        let s = settings(Config::new("svc").with_env_vars([("OTEL_SERVICE_NAME", "x")]));
        assert!(s.export.is_none());
        assert!(s.local_tree);
    }

    #[test]
    #[cfg_attr(
        not(all(feature = "otlp-grpc", feature = "otlp-http")),
        ignore = "needs the otlp-grpc and otlp-http features"
    )]
    fn the_same_base_endpoint_means_the_same_url_in_code_and_env() {
        for protocol in ["http/protobuf", "grpc"] {
            let from_env = settings(Config::new("svc").with_env_vars([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ]));
            let from_code = settings(
                Config::new("svc")
                    .endpoint("http://c:4318")
                    .with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]),
            );
            assert_eq!(from_env.export, from_code.export, "{protocol}");
        }
        let http = settings(Config::new("svc").endpoint("http://c:4318"));
        assert_eq!(http.export.unwrap().endpoint, "http://c:4318/v1/traces");
        let full = settings(Config::new("svc").with_env_vars([
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
        ]));
        assert_eq!(full.export.unwrap().endpoint, "http://c:9/custom");
    }

    #[test]
    #[cfg_attr(
        not(all(feature = "otlp-grpc", feature = "otlp-http")),
        ignore = "needs the otlp-grpc and otlp-http features"
    )]
    fn defaults_follow_the_protocol() {
        let grpc = settings(Config::new("svc").protocol(Protocol::Grpc));
        assert_eq!(grpc.export.unwrap().endpoint, "http://localhost:4317");
        let http = settings(Config::new("svc").protocol(Protocol::HttpProtobuf));
        let http = http.export.unwrap();
        assert_eq!(http.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(http.timeout.as_millis(), 10_000);
    }

    #[test]
    #[cfg_attr(
        not(all(feature = "otlp-grpc", feature = "otlp-http")),
        ignore = "needs the otlp-grpc and otlp-http features"
    )]
    fn code_wins_over_env_whatever_the_call_order() {
        let env = [
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=env,x-env=1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "100"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_SDK_DISABLED", "true"),
        ];
        let before = Config::new("from-code")
            .endpoint("http://code:4317")
            .traces_endpoint("http://code:1")
            .header("Authorization", "code")
            .timeout(std::time::Duration::from_millis(7))
            .compression(Compression::None)
            .sample_ratio(0.5)
            .max_queue_size(20)
            .enabled(true);
        let s = settings(before.clone().with_env_vars(env));
        let after = settings(
            Config::default()
                .with_env_vars(env)
                .service_name("from-code"),
        );
        assert_eq!(after.resource[0].value.as_str(), "from-code");
        assert!(s.enabled);
        assert_eq!(s.sampler.ratio, 0.5);
        assert!(
            !s.sampler.parent_based,
            "env's always_off still says not parent-based"
        );
        assert_eq!(s.batch.max_queue_size, 20);
        let name = s
            .resource
            .iter()
            .find(|kv| kv.key.as_str() == "service.name");
        assert_eq!(name.unwrap().value.as_str(), "from-code");
        let e = s.export.unwrap();
        assert_eq!(e.endpoint, "http://code:1");
        assert_eq!(e.protocol, Protocol::Grpc);
        assert_eq!(e.timeout.as_millis(), 7);
        assert_eq!(e.compression, Compression::None);
        assert_eq!(
            e.headers,
            [
                ("x-env".to_owned(), "1".to_owned()),
                ("authorization".to_owned(), "code".to_owned())
            ]
        );
    }

    #[test]
    #[cfg_attr(
        not(all(feature = "otlp-grpc", feature = "otlp-http")),
        ignore = "needs the otlp-grpc and otlp-http features"
    )]
    fn batch_settings_are_checked_together() {
        let err = Config::new("svc")
            .with_env_vars([
                ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
            ])
            .resolve()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            r#"OTEL_BSP_MAX_EXPORT_BATCH_SIZE="200": expected at most the queue size (100)"#
        );
        let small = settings(Config::new("svc").max_queue_size(8));
        assert_eq!(small.batch.max_export_batch_size, 8);
        let err = Config::new("svc").sample_ratio(1.5).resolve().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"sample_ratio="1.5": expected a number from 0 to 1"#
        );
        let err = Config::new("svc")
            .endpoint("localhost:4317")
            .resolve()
            .unwrap_err();
        assert!(err.to_string().starts_with("endpoint=\"localhost:4317\""));
    }

    #[test]
    fn durations_past_an_hour_are_rejected_by_name() {
        use std::time::Duration;
        let huge = "18446744073709551615";
        let cases = [
            (
                Config::new("s").export_timeout(Duration::MAX),
                "export_timeout",
            ),
            (
                Config::new("s").schedule_delay(Duration::MAX),
                "schedule_delay",
            ),
            (Config::new("s").timeout(Duration::MAX), "timeout"),
            (
                Config::new("s").export_timeout(Duration::from_millis(3_600_001)),
                "export_timeout",
            ),
            (
                Config::new("s").with_env_vars([("OTEL_BSP_EXPORT_TIMEOUT", huge)]),
                "OTEL_BSP_EXPORT_TIMEOUT",
            ),
            (
                Config::new("s").with_env_vars([("OTEL_BSP_SCHEDULE_DELAY", huge)]),
                "OTEL_BSP_SCHEDULE_DELAY",
            ),
            (
                Config::new("s").with_env_vars([("OTEL_EXPORTER_OTLP_TIMEOUT", "3600001")]),
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
        ];
        for (config, expected_name) in cases {
            match config.resolve().unwrap_err() {
                InitError::InvalidValue { name, expected, .. } => {
                    assert_eq!(name, expected_name);
                    assert!(expected.contains("1 hour"), "{name}: {expected}");
                }
                other => panic!("{expected_name}: {other:?}"),
            }
        }
        let hour = Duration::from_secs(3600);
        let s = settings(
            Config::new("s")
                .export_timeout(hour)
                .schedule_delay(hour)
                .with_env_vars([("OTEL_EXPORTER_OTLP_TIMEOUT", "3600000")]),
        );
        assert_eq!(
            (s.batch.export_timeout, s.batch.schedule_delay),
            (hour, hour)
        );
    }

    #[test]
    fn the_queue_size_has_an_upper_bound() {
        let over = (super::MAX_QUEUE_SIZE + 1).to_string();
        for (config, expected_name) in [
            (
                Config::new("s").max_queue_size(super::MAX_QUEUE_SIZE + 1),
                "max_queue_size",
            ),
            (
                Config::new("s").max_queue_size(usize::MAX),
                "max_queue_size",
            ),
            (
                Config::new("s").with_env_vars([("OTEL_BSP_MAX_QUEUE_SIZE", over.as_str())]),
                "OTEL_BSP_MAX_QUEUE_SIZE",
            ),
            (
                Config::new("s").with_env_vars([("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", over.as_str())]),
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            ),
        ] {
            match config.resolve().unwrap_err() {
                InitError::InvalidValue { name, expected, .. } => {
                    assert_eq!(name, expected_name);
                    assert!(expected.contains("1048576"), "{name}: {expected}");
                }
                other => panic!("{expected_name}: {other:?}"),
            }
        }
        let max = settings(Config::new("s").max_queue_size(super::MAX_QUEUE_SIZE));
        assert_eq!(max.batch.max_queue_size, 1 << 20);
    }

    #[test]
    fn builder_header_values_and_endpoint_credentials_never_appear_in_errors() {
        let err = Config::new("s")
            .header("authorization", "Bearer s3cr3t\r\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(r#"header="authorization=<redacted>""#),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        for config in [
            Config::new("s").endpoint("https://u:s3cr3t@c:0"),
            Config::new("s").traces_endpoint("http://u:s3cr3t@c:99999/v1/traces"),
        ] {
            let err = config.resolve().unwrap_err().to_string();
            assert!(!err.contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    #[cfg_attr(
        not(all(feature = "otlp-grpc", feature = "otlp-http")),
        ignore = "needs the otlp-grpc and otlp-http features"
    )]
    fn upper_case_schemes_are_sent_in_lower_case_on_both_signals() {
        let s = settings(Config::new("s").endpoint("HTTP://c:4318"));
        let traces = s.export.clone().unwrap();
        assert_eq!(traces.endpoint, "http://c:4318/v1/traces");
        let config = Config::new("s")
            .endpoint("HTTP://c:4318")
            .metrics(crate::MetricsConfig::new().otlp_endpoint("Http://m:4318/v1/metrics"));
        let metrics = config.metrics_settings(&s).unwrap().otlp.unwrap();
        assert_eq!(metrics.endpoint, "http://m:4318/v1/metrics");
        let derived = Config::new("s").metrics_settings(&s).unwrap().otlp.unwrap();
        assert_eq!(derived.endpoint, "http://c:4318/v1/metrics");
    }

    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    fn both(vars: &[(&str, &str)]) -> (super::OtlpTarget, super::OtlpTarget) {
        let config = Config::new("s").with_env_vars(vars.iter().copied());
        let spans = settings(config.clone());
        let metrics = config.metrics_settings(&spans).unwrap().otlp.unwrap();
        (spans.export.unwrap(), metrics)
    }

    // Both transports are built in (the default features).
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    #[test]
    fn each_signal_reads_its_own_variables_over_the_generic_ones() {
        let (traces, metrics) = both(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-generic=1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-metrics=2"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3000"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        // Traces: their own protocol; the generic base endpoint, used as is over gRPC.
        assert_eq!(traces.protocol, Protocol::Grpc);
        assert_eq!(traces.endpoint, "http://base:4318");
        assert_eq!(traces.headers, [("x-generic".to_owned(), "1".to_owned())]);
        assert_eq!(traces.timeout.as_millis(), 2000);
        assert_eq!(traces.compression, Compression::None);
        // Metrics: their own endpoint as is, their own headers instead of the generic ones.
        assert_eq!(metrics.protocol, Protocol::HttpProtobuf);
        assert_eq!(metrics.endpoint, "http://m:9/custom");
        assert_eq!(metrics.headers, [("x-metrics".to_owned(), "2".to_owned())]);
        assert_eq!(metrics.timeout.as_millis(), 3000);
        assert_eq!(metrics.compression, Compression::Gzip);
    }

    // Both transports are built in (the default features).
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    #[test]
    fn a_generic_base_endpoint_gets_each_signals_path_over_http() {
        let (traces, metrics) = both(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318/otel/")]);
        assert_eq!(traces.endpoint, "https://c:4318/otel/v1/traces");
        assert_eq!(metrics.endpoint, "https://c:4318/otel/v1/metrics");
        let (traces, metrics) = both(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/v1/traces"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4317"),
        ]);
        assert_eq!(traces.endpoint, "http://t:1/v1/traces");
        assert_eq!(metrics.endpoint, "http://base:4317");
    }

    // Both transports are built in (the default features).
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    #[test]
    fn schemeless_grpc_endpoints_follow_insecure() {
        let secure = settings(Config::new("s").with_env_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        assert_eq!(secure.export.unwrap().endpoint, "https://collector:4317");
        let insecure = settings(Config::new("s").with_env_vars([
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ]));
        assert_eq!(insecure.export.unwrap().endpoint, "http://collector:4317");
        let http = Config::new("s")
            .with_env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")])
            .resolve()
            .unwrap_err();
        assert!(http.to_string().contains("http://"), "{http}");
    }

    // Both transports are built in (the default features).
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    #[test]
    fn otel_traces_exporter_chooses_otlp_console_or_none() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        let none =
            settings(Config::new("s").with_env_vars([endpoint, ("OTEL_TRACES_EXPORTER", "none")]));
        assert!(none.export.is_none() && !none.local_tree);
        let console =
            settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "console")]));
        assert!(console.export.is_none() && console.local_tree);
        let otlp = settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "otlp")]));
        assert_eq!(
            otlp.export.unwrap().endpoint,
            "http://localhost:4318/v1/traces"
        );
        assert!(!otlp.local_tree);
        let both =
            settings(Config::new("s").with_env_vars([("OTEL_TRACES_EXPORTER", "otlp,console")]));
        assert!(both.export.is_some() && both.local_tree);
        // An endpoint set in code wins over the environment's "none".
        let code = settings(
            Config::new("s")
                .endpoint("http://c:4318")
                .with_env_vars([("OTEL_TRACES_EXPORTER", "none")]),
        );
        assert!(code.export.is_some());
    }

    #[test]
    fn span_limits_come_from_the_environment() {
        let s = settings(Config::new("s").with_env_vars([
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2"),
        ]));
        assert_eq!(s.max_attribute_len, 64);
        let limits = s.span_limits;
        assert_eq!(
            (limits.attributes, limits.events, limits.event_attributes),
            (10, 3, 2)
        );
        let code = settings(
            Config::new("s")
                .max_attribute_len(100)
                .with_env_vars([("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64")]),
        );
        assert_eq!(code.max_attribute_len, 100);
        assert_eq!(settings(Config::new("s")).span_limits.attributes, 128);
    }

    #[test]
    fn resource_merges_env_then_code() {
        let s = settings(
            Config::new("svc")
                .service_version("1.2.3")
                .resource_attribute("region", "eu")
                .resource_attribute("shards", 4_i64)
                .with_env_vars([("OTEL_RESOURCE_ATTRIBUTES", "region=us,environment=prod")]),
        );
        let get = |k: &str| {
            s.resource
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get("region").unwrap().as_str(), "eu");
        assert_eq!(get("environment").unwrap().as_str(), "prod");
        assert_eq!(get("shards"), Some(opentelemetry::Value::I64(4)));
        assert_eq!(get("service.version").unwrap().as_str(), "1.2.3");
    }
}
