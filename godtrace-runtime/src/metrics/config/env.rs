//! The metrics variables of the environment: `GODTRACE_PROMETHEUS_LISTEN`,
//! `GODTRACE_METRICS_CARDINALITY_LIMIT`, `OTEL_METRICS_EXPORTER`, `OTEL_METRIC_EXPORT_INTERVAL`,
//! `OTEL_METRIC_EXPORT_TIMEOUT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`. An empty value counts as unset.
use super::resolve::check_listen;
use crate::InitError;
use crate::config::Protocol;
use std::time::Duration;

/// What the environment says about metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvLayer {
    pub(crate) prometheus_listen: Option<String>,
    /// `OTEL_METRICS_EXPORTER`: whether it lists `otlp`, and `prometheus`.
    pub(crate) exporters: Option<(bool, bool)>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_protocol: Option<Protocol>,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cardinality_limit: Option<usize>,
}

pub(crate) fn parse(vars: &[(String, Result<String, String>)]) -> Result<EnvLayer, InitError> {
    let get = |name: &str| -> Result<Option<&str>, InitError> {
        match vars.iter().rev().find(|(key, _)| key == name) {
            None => Ok(None),
            Some((_, Ok(value))) if value.trim().is_empty() => Ok(None),
            Some((_, Ok(value))) => Ok(Some(value.trim())),
            Some((_, Err(lossy))) => Err(InitError::invalid(name, lossy, "valid UTF-8 text")),
        }
    };
    let millis = |name: &str| -> Result<Option<Duration>, InitError> {
        let Some(v) = get(name)? else { return Ok(None) };
        crate::config::parse_millis(name, v).map(Some)
    };
    let mut layer = EnvLayer::default();
    if let Some(v) = get("GODTRACE_PROMETHEUS_LISTEN")? {
        check_listen("GODTRACE_PROMETHEUS_LISTEN", v)?;
        layer.prometheus_listen = Some(v.to_owned());
    }
    if let Some(v) = get("OTEL_METRICS_EXPORTER")? {
        let (mut otlp, mut prometheus) = (false, false);
        for name in v.split(',').map(str::trim) {
            match name {
                "otlp" => otlp = true,
                "prometheus" => prometheus = true,
                "none" => {}
                _ => {
                    return Err(InitError::invalid(
                        "OTEL_METRICS_EXPORTER",
                        v,
                        "a comma-separated list of otlp, prometheus or none",
                    ));
                }
            }
        }
        layer.exporters = Some((otlp, prometheus));
    }
    if let Some(v) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")? {
        layer.otlp_endpoint = Some(super::resolve::check_url(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            v,
        )?);
    }
    if let Some(v) = get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")? {
        layer.otlp_protocol = Some(match v {
            "grpc" => Protocol::Grpc,
            "http/protobuf" => Protocol::HttpProtobuf,
            _ => {
                return Err(InitError::invalid(
                    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                    v,
                    "grpc or http/protobuf (http/json is not supported)",
                ));
            }
        });
    }
    layer.interval = millis("OTEL_METRIC_EXPORT_INTERVAL")?;
    layer.timeout = millis("OTEL_METRIC_EXPORT_TIMEOUT")?;
    if let Some(v) = get("GODTRACE_METRICS_CARDINALITY_LIMIT")? {
        match v.parse::<usize>() {
            Ok(n) if n > 0 => layer.cardinality_limit = Some(n),
            _ => {
                return Err(InitError::invalid(
                    "GODTRACE_METRICS_CARDINALITY_LIMIT",
                    v,
                    "a whole number greater than 0",
                ));
            }
        }
    }
    Ok(layer)
}
