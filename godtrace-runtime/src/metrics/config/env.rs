//! The metrics variables of the environment, read with the one reader of
//! [`crate::config::env`]: `GODTRACE_PROMETHEUS_LISTEN`, `GODTRACE_METRICS_CARDINALITY_LIMIT`,
//! `OTEL_EXPORTER_PROMETHEUS_HOST` and `_PORT`, `OTEL_METRICS_EXPORTER`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT` and the metrics' own OTLP
//! variables (`OTEL_EXPORTER_OTLP_METRICS_*`, the temporality preference
//! included). An empty value counts as unset.
use crate::InitError;
use crate::config::env::Vars;
use crate::config::otlp::{Named, OtlpLayer, Signal};
use std::time::Duration;

/// What the environment says about metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvLayer {
    /// `GODTRACE_PROMETHEUS_LISTEN`: the endpoint's address, which turns it on.
    pub(crate) prometheus_listen: Option<String>,
    /// `OTEL_EXPORTER_PROMETHEUS_HOST` and `_PORT` as one address (each defaulting as the
    /// specification says): where the endpoint listens when `OTEL_METRICS_EXPORTER` turns
    /// it on; `None` when neither is set.
    pub(crate) prometheus_host_port: Option<String>,
    /// `OTEL_METRICS_EXPORTER`: whether it lists `otlp`, and `prometheus`.
    pub(crate) exporters: Option<(bool, bool)>,
    /// `OTEL_EXPORTER_OTLP_METRICS_*`, with `OTEL_METRIC_EXPORT_TIMEOUT` as the timeout when
    /// it is the sooner.
    pub(crate) otlp: OtlpLayer,
    pub(crate) interval: Option<Duration>,
    pub(crate) cardinality_limit: Option<usize>,
}

pub(crate) fn parse(vars: &[(String, Result<String, String>)]) -> Result<EnvLayer, InitError> {
    let vars = Vars(vars);
    let mut layer = EnvLayer {
        otlp: vars.otlp(Some(Signal::Metrics))?,
        interval: vars.duration("OTEL_METRIC_EXPORT_INTERVAL")?,
        cardinality_limit: vars.count("GODTRACE_METRICS_CARDINALITY_LIMIT")?,
        ..EnvLayer::default()
    };
    // A push is one request: it ends at the sooner of the push's bound and the request
    // timeout of the metrics' OTLP variables, when both are set.
    if let Some(timeout) = vars.timeout("OTEL_METRIC_EXPORT_TIMEOUT")? {
        let request = layer.otlp.timeout.as_ref().map(|t| t.value);
        if request.is_none_or(|request| timeout < request) {
            layer.otlp.timeout = Some(Named::new(timeout, "OTEL_METRIC_EXPORT_TIMEOUT"));
        }
    }
    // godtrace pushes cumulative points only: a backend asked for deltas must not get them
    // silently (it would read every push as a new increment).
    if let Some(v) = vars.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")?
        && crate::config::env::enum_name(v) != "cumulative"
    {
        return Err(InitError::invalid(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            v,
            "cumulative (godtrace's OTLP metrics are cumulative; delta and lowmemory are not \
             supported)",
        ));
    }
    // Explicit buckets only: a backend set up for exponential histograms must not get
    // explicit ones in silence either.
    if let Some(v) = vars.get("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION")?
        && crate::config::env::enum_name(v) != "explicit_bucket_histogram"
    {
        return Err(InitError::invalid(
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            v,
            "explicit_bucket_histogram (godtrace's histograms have explicit buckets; \
             base2_exponential_bucket_histogram is not supported)",
        ));
    }
    if let Some(v) = vars.get("GODTRACE_PROMETHEUS_LISTEN")? {
        check_listen("GODTRACE_PROMETHEUS_LISTEN", v)?;
        layer.prometheus_listen = Some(v.to_owned());
    }
    layer.prometheus_host_port = prometheus_host_port(&vars)?;
    if let Some(v) = vars.get("OTEL_METRICS_EXPORTER")? {
        let names = crate::config::env::exporter_names(
            "OTEL_METRICS_EXPORTER",
            v,
            &["otlp", "prometheus"],
            "a comma-separated list of otlp, prometheus, or none alone",
        )?;
        layer.exporters = Some((names.contains(&"otlp"), names.contains(&"prometheus")));
    }
    Ok(layer)
}

/// The address `OTEL_EXPORTER_PROMETHEUS_HOST` and `OTEL_EXPORTER_PROMETHEUS_PORT` name, when
/// either is set: the host defaults to the specification's `localhost`, as `127.0.0.1` (a
/// name may resolve to `::1` first, which a scrape of `127.0.0.1` would not reach), and the
/// port to 9464; an IPv6 host may come with or without brackets.
fn prometheus_host_port(vars: &Vars<'_>) -> Result<Option<String>, InitError> {
    const HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
    const PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";
    let host = vars.get(HOST)?;
    let port = vars.get(PORT)?;
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let host = match host.unwrap_or("127.0.0.1") {
        v6 if v6.contains(':') && !v6.starts_with('[') => format!("[{v6}]"),
        host => host.to_owned(),
    };
    if !is_host(&host) {
        return Err(InitError::invalid(
            HOST,
            vars.get(HOST)?.unwrap_or_default(),
            "a host name or IP address to listen on, such as 0.0.0.0 or localhost",
        ));
    }
    let port = match port {
        None => 9464,
        Some(v) => v.parse::<u16>().map_err(|_| {
            InitError::invalid(PORT, v, "a port number from 0 to 65535 (0: any free port)")
        })?,
    };
    Ok(Some(format!("{host}:{port}")))
}

/// `host:port` or `[v6]:port`, with a numeric port.
pub(crate) fn check_listen(name: &str, value: &str) -> Result<(), InitError> {
    let ok = value
        .rsplit_once(':')
        .is_some_and(|(host, port)| is_host(host) && port.parse::<u16>().is_ok());
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

/// An IPv4 address, an IPv6 one in brackets, or a DNS name (what binding resolves): anything
/// else is an invalid value here, not a failed lookup when the endpoint starts.
fn is_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let label = |l: &str| {
        (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host.parse::<std::net::Ipv4Addr>().is_ok() || (host.len() <= 253 && host.split('.').all(label))
}
