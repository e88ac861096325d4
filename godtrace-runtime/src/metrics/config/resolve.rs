//! Code over environment over defaults, with the trace export's endpoint as the metrics'
//! default; the OTLP target itself is resolved as the spans' is ([`crate::config::otlp`]).
use super::env::{EnvLayer, check_listen};
use super::{DEFAULT_INTERVAL, DEFAULT_PROMETHEUS_LISTEN, MetricsConfig};
use crate::InitError;
use crate::config::otlp::{self, Fallback, Named, OtlpLayer, Signal, Sources};
use crate::config::{OtlpTarget, Protocol, bounded_duration};
use crate::metrics::limits::Limits;
use std::time::Duration;

/// What `init` starts for metrics.
#[derive(Debug, Clone)]
pub(crate) struct MetricsSettings {
    /// The address the Prometheus endpoint binds, if on.
    pub(crate) prometheus: Option<String>,
    /// Where metrics are pushed over OTLP, if on.
    pub(crate) otlp: Option<OtlpTarget>,
    pub(crate) interval: Duration,
    pub(crate) limits: Limits,
    /// The longest the guard's flush and shutdown wait for metrics.
    pub(crate) bound: Duration,
}

/// The generic OTLP settings (code and environment) metrics share with spans.
pub(crate) struct Generic<'a> {
    pub(crate) code: &'a OtlpLayer,
    pub(crate) env: &'a OtlpLayer,
}

pub(crate) fn resolve(
    code: &MetricsConfig,
    env: &EnvLayer,
    generic: &Generic<'_>,
    traces: Option<&OtlpTarget>,
    bound: Duration,
) -> Result<MetricsSettings, InitError> {
    let prometheus = match (&code.prometheus_listen, &env.prometheus_listen) {
        (Some(addr), _) => {
            check_listen("prometheus_listen", addr)?;
            Some(addr.clone())
        }
        (None, Some(addr)) => Some(addr.clone()),
        (None, None) if env.exporters.is_some_and(|(_, prom)| prom) => Some(
            env.prometheus_host_port
                .clone()
                .unwrap_or_else(|| DEFAULT_PROMETHEUS_LISTEN.to_owned()),
        ),
        (None, None) => None,
    };
    // The environment's values were checked, with their own names, as they were read.
    let interval = match code.export_interval {
        Some(interval) => bounded_duration(interval, "export_interval")?,
        None => env.interval.unwrap_or(DEFAULT_INTERVAL),
    };
    if let Some(timeout) = code.export_timeout {
        bounded_duration(timeout, "export_timeout")?;
    }
    let code_signal = code_layer(code);
    let sources = Sources {
        code_signal: &code_signal,
        code: generic.code,
        env_signal: &env.otlp,
        env: generic.env,
    };
    let otlp_on = code.otlp.unwrap_or_else(|| match env.exporters {
        Some((otlp, _)) => otlp,
        None => traces.is_some() || sources.asks_for_export(),
    });
    let otlp = if otlp_on {
        Some(target(&sources, traces, bound)?)
    } else {
        // Checked even when nothing is pushed: a bad value is reported, not ignored.
        otlp::check_unused(&sources)?;
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

/// The metrics' own OTLP settings given in code.
fn code_layer(code: &MetricsConfig) -> OtlpLayer {
    OtlpLayer {
        endpoint: code
            .otlp_endpoint
            .clone()
            .map(|url| Named::new(url, "otlp_endpoint")),
        protocol: code.otlp_protocol.map(|p| Named::new(p, "otlp_protocol")),
        timeout: code.export_timeout.map(|t| Named::new(t, "export_timeout")),
        ..OtlpLayer::default()
    }
}

/// The metrics target; with no endpoint set for metrics or generically, the trace export's
/// (HTTP: `/v1/traces` becomes `/v1/metrics`).
fn target(
    sources: &Sources<'_>,
    traces: Option<&OtlpTarget>,
    bound: Duration,
) -> Result<OtlpTarget, InitError> {
    let derive = |protocol: Protocol| match traces {
        Some(t) => metrics_url(&t.endpoint, t.protocol, protocol),
        None => otlp::default_endpoint(protocol, Signal::Metrics),
    };
    // Metrics with no endpoint of their own (nor a generic one) follow the trace export, its
    // protocol included; otherwise the protocol's default is the specification's.
    let own_endpoint = [
        sources.code_signal,
        sources.code,
        sources.env_signal,
        sources.env,
    ]
    .iter()
    .any(|layer| layer.endpoint.is_some());
    let fallback = Fallback {
        protocol: traces.filter(|_| !own_endpoint).map(|t| t.protocol),
        endpoint: Some(&derive),
    };
    let mut target = otlp::resolve(Signal::Metrics, sources, fallback)?;
    // A request timeout not set for metrics is kept within the flush bound: a push that
    // hangs longer would only delay the next one.
    let own_timeout = sources.code_signal.timeout.is_some() || sources.env_signal.timeout.is_some();
    if !own_timeout {
        target.timeout = target.timeout.min(bound);
    }
    Ok(target)
}

/// The metrics URL beside a traces URL: over HTTP `/v1/traces` (or `/v1/traces/`) at the end
/// of the path becomes `/v1/metrics`, the query kept after it; over gRPC the endpoint is
/// shared. Across transports, the scheme, user-info and host are kept, and a port given is
/// the metrics protocol's usual one (a port serves one of the two: the OpenTelemetry
/// Collector's, Jaeger's, Tempo's 4317 gRPC and 4318 HTTP): `http://c:4317` over gRPC gives
/// `http://c:4318/v1/metrics` over HTTP. Without a port (the scheme's, which a vendor's
/// endpoint serves both on), none is added.
fn metrics_url(traces_url: &str, traces_protocol: Protocol, protocol: Protocol) -> String {
    // Only the path is rewritten: the suffix is looked for before the query (endpoints have
    // no fragment, `init` refuses one), and `from_base` puts the query back after the path.
    let (head, query) = traces_url.split_at(traces_url.find('?').unwrap_or(traces_url.len()));
    let base = if traces_protocol == protocol {
        let head = head.trim_end_matches('/');
        format!("{}{query}", head.strip_suffix("/v1/traces").unwrap_or(head))
    } else {
        // e.g. gRPC traces on :4317 but HTTP metrics: the same host, on :4318, path
        // /v1/metrics.
        let scheme_end = head.find("://").map_or(0, |i| i + 3);
        let authority_end = head[scheme_end..]
            .find('/')
            .map_or(head.len(), |i| scheme_end + i);
        let authority = &head[..authority_end];
        // The port is after the last `:` past the user-info and past an IPv6 host's `]`.
        let host_from = authority.rfind(['@', ']']).map_or(scheme_end, |i| i + 1);
        match authority[host_from..].rfind(':') {
            Some(colon) => {
                let port = match protocol {
                    Protocol::Grpc => GRPC_PORT,
                    Protocol::HttpProtobuf => HTTP_PORT,
                };
                format!("{}:{port}", &authority[..host_from + colon])
            }
            None => authority.to_owned(),
        }
    };
    crate::config::url::from_base(&base, protocol, "/v1/metrics")
}

/// The OTLP ports the specification's default endpoints name, over gRPC and over HTTP.
const GRPC_PORT: u16 = 4317;
const HTTP_PORT: u16 = 4318;

#[cfg(test)]
mod tests;
