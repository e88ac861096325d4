//! Code over environment over the trace export's settings over defaults.
use super::env::EnvLayer;
use super::{DEFAULT_INTERVAL, DEFAULT_PROMETHEUS_LISTEN, MetricsConfig};
use crate::InitError;
use crate::config::{Compression, ExportSettings, Protocol, bounded_duration, check_compiled};
use crate::metrics::limits::Limits;
use std::time::Duration;

/// The OTLP request timeout when neither metrics nor traces set one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `init` starts for metrics.
#[derive(Debug, Clone)]
pub(crate) struct MetricsSettings {
    /// The address the Prometheus endpoint binds, if on.
    pub(crate) prometheus: Option<String>,
    /// Where metrics are pushed over OTLP, if on.
    pub(crate) otlp: Option<Target>,
    pub(crate) interval: Duration,
    pub(crate) limits: Limits,
    /// The longest the guard's flush and shutdown wait for metrics.
    pub(crate) bound: Duration,
}

/// An OTLP metrics destination.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) protocol: Protocol,
    /// The URL as the transport uses it (with `/v1/metrics` for HTTP).
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    /// Bounds each push.
    pub(crate) timeout: Duration,
    pub(crate) gzip: bool,
}

pub(crate) fn resolve(
    code: &MetricsConfig,
    env: &EnvLayer,
    traces: Option<&ExportSettings>,
    bound: Duration,
) -> Result<MetricsSettings, InitError> {
    let prometheus = match (&code.prometheus_listen, &env.prometheus_listen) {
        (Some(addr), _) => {
            check_listen("prometheus_listen", addr)?;
            Some(addr.clone())
        }
        (None, Some(addr)) => Some(addr.clone()),
        (None, None) if env.exporters.is_some_and(|(_, prom)| prom) => {
            Some(DEFAULT_PROMETHEUS_LISTEN.to_owned())
        }
        (None, None) => None,
    };
    let code_endpoint = code
        .otlp_endpoint
        .as_deref()
        .map(|url| check_url("otlp_endpoint", url))
        .transpose()?;
    // The environment's values were checked, with their own names, as they were read.
    let interval = match code.export_interval {
        Some(interval) => bounded_duration(interval, "export_interval")?,
        None => env.interval.unwrap_or(DEFAULT_INTERVAL),
    };
    if let Some(timeout) = code.export_timeout {
        bounded_duration(timeout, "export_timeout")?;
    }
    let otlp_on = code.otlp.unwrap_or_else(|| match env.exporters {
        Some((otlp, _)) => otlp,
        None => {
            traces.is_some()
                || code.otlp_endpoint.is_some()
                || env.otlp_endpoint.is_some()
                || code.otlp_protocol.is_some()
                || env.otlp_protocol.is_some()
        }
    });
    let otlp = if otlp_on {
        Some(target(code, code_endpoint, env, traces, bound)?)
    } else {
        None
    };
    Ok(MetricsSettings {
        prometheus,
        otlp,
        interval,
        limits: code.limits(env.cardinality_limit)?,
        bound,
    })
}

/// `code_endpoint` is `code`'s endpoint, checked and normalised.
fn target(
    code: &MetricsConfig,
    code_endpoint: Option<String>,
    env: &EnvLayer,
    traces: Option<&ExportSettings>,
    bound: Duration,
) -> Result<Target, InitError> {
    let (protocol, protocol_name) = match (code.otlp_protocol, env.otlp_protocol, traces) {
        (Some(p), _, _) => (p, "otlp_protocol"),
        (None, Some(p), _) => (p, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
        (None, None, Some(t)) => (t.protocol, "protocol"),
        // gRPC only when it is the one transport built in.
        (None, None, None) if cfg!(feature = "otlp-grpc") && !cfg!(feature = "otlp-http") => {
            (Protocol::Grpc, "protocol")
        }
        (None, None, None) => (Protocol::HttpProtobuf, "protocol"),
    };
    check_compiled(protocol, protocol_name)?;
    let endpoint = match (code_endpoint, &env.otlp_endpoint, traces) {
        (Some(url), _, _) => url,
        (None, Some(url), _) => url.clone(),
        (None, None, Some(t)) => metrics_url(&t.endpoint, t.protocol, protocol),
        (None, None, None) => match protocol {
            Protocol::Grpc => "http://localhost:4317".to_owned(),
            Protocol::HttpProtobuf => "http://localhost:4318/v1/metrics".to_owned(),
        },
    };
    Ok(Target {
        protocol,
        endpoint,
        headers: traces.map(|t| t.headers.clone()).unwrap_or_default(),
        // The traces' request timeout, when inherited, is kept within the flush bound: a push
        // that hangs longer would only delay the next one.
        timeout: code
            .export_timeout
            .or(env.timeout)
            .unwrap_or_else(|| traces.map_or(DEFAULT_TIMEOUT, |t| t.timeout).min(bound)),
        gzip: traces.is_some_and(|t| t.compression == Compression::Gzip),
    })
}

/// The metrics URL beside a traces URL: over HTTP `/v1/traces` becomes `/v1/metrics`; over
/// gRPC the endpoint is shared. Across transports, only the authority is kept.
fn metrics_url(traces_url: &str, traces_protocol: Protocol, protocol: Protocol) -> String {
    let base = traces_url.strip_suffix("/v1/traces").unwrap_or(traces_url);
    let base = if traces_protocol == protocol {
        base.to_owned()
    } else {
        // e.g. gRPC traces on :4317 but HTTP metrics: the same host, path /v1/metrics.
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let authority_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        base[..authority_end].to_owned()
    };
    match protocol {
        Protocol::Grpc => base,
        Protocol::HttpProtobuf => format!("{}/v1/metrics", base.trim_end_matches('/')),
    }
}

/// An `http://` URL with a host and a valid port (no TLS stack is built in), with its scheme
/// in lower case.
pub(crate) fn check_url(name: &str, value: &str) -> Result<String, InitError> {
    crate::config::url::normalize(name, value, "http://localhost:4318/v1/metrics")
}

/// `host:port` or `[v6]:port`, with a numeric port.
pub(crate) fn check_listen(name: &str, value: &str) -> Result<(), InitError> {
    let ok = value
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(InitError::invalid(
            name,
            value,
            "a listen address host:port, such as 0.0.0.0:9464 or 127.0.0.1:9464",
        ))
    }
}

#[cfg(test)]
mod tests;
