//! The one reader of the `OTEL_*` and `GODTRACE_*` environment variables, for spans and
//! metrics alike, and the span variables parsed into a [`Layer`].
//!
//! Every value is checked here, so an error names the variable it came from. Values are
//! trimmed; an empty value counts as unset (as the OpenTelemetry specification says).
use super::limits::MAX_COUNT_LIMIT;
use super::otlp::{Named, OtlpLayer, Signal};
use super::settings::MAX_QUEUE_SIZE;
use super::{Compression, EnvValue, Layer, MAX_DURATION, MIN_DURATION, Propagator, Protocol, url};
use crate::InitError;
use std::path::PathBuf;
use std::time::Duration;

const SAMPLERS: &str = "one of always_on, always_off, traceidratio, parentbased_always_on, \
                        parentbased_always_off, parentbased_traceidratio";

/// The variables a `Config` read, with typed, checked getters.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a>(pub(crate) &'a [(String, EnvValue)]);

impl<'a> Vars<'a> {
    /// The trimmed value of `name`; `None` when unset or empty; an error when not UTF-8.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&'a str>, InitError> {
        match self.0.iter().rev().find(|(key, _)| key == name) {
            None => Ok(None),
            Some((_, Ok(value))) if value.trim().is_empty() => Ok(None),
            Some((_, Ok(value))) => Ok(Some(value.trim())),
            // Not shown: the value may be a credential (a header list, an endpoint's
            // user-info) that no check could redact while it is not text.
            Some((_, Err(_))) => Err(InitError::invalid(name, "<not UTF-8>", "valid UTF-8 text")),
        }
    }

    /// `name` parsed by `parse(name, value)`, if set.
    fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str, &'a str) -> Result<T, InitError>,
    ) -> Result<Option<T>, InitError> {
        self.get(name)?.map(|v| parse(name, v)).transpose()
    }

    /// A timeout (the specification's *Timeout*): whole milliseconds up to 1 hour, where 0
    /// means no limit, read as the longest godtrace allows ([`MAX_DURATION`], the "very long
    /// time" the specification lets an implementation stand in for no limit).
    pub(crate) fn timeout(&self, name: &str) -> Result<Option<Duration>, InitError> {
        let millis = self.parsed(name, parse_millis)?;
        Ok(millis.map(|d| if d.is_zero() { MAX_DURATION } else { d }))
    }

    /// A delay or an interval (the specification's *Duration*): whole milliseconds up to 1
    /// hour, 0 (as soon as possible) read as the shortest godtrace allows, 1 ms.
    pub(crate) fn duration(&self, name: &str) -> Result<Option<Duration>, InitError> {
        let millis = self.parsed(name, parse_millis)?;
        Ok(millis.map(|d| d.max(MIN_DURATION)))
    }

    /// A whole number greater than 0.
    pub(crate) fn count(&self, name: &str) -> Result<Option<usize>, InitError> {
        self.parsed(name, |name, v| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(InitError::invalid(name, v, "a whole number greater than 0")),
        })
    }

    /// A whole number from 1 to `max` (a larger one, however long, gets the same message).
    fn count_up_to(&self, name: &str, max: usize) -> Result<Option<usize>, InitError> {
        self.parsed(name, |name, v| match v.parse::<usize>() {
            Ok(n) if n > 0 && n <= max => Ok(n),
            _ => Err(InitError::invalid(
                name,
                v,
                &format!("a whole number from 1 to {max}"),
            )),
        })
    }

    /// A limit of the specification's attribute limits: a whole number from 0 (nothing kept)
    /// to `max`.
    pub(crate) fn limit(&self, name: &str, max: usize) -> Result<Option<usize>, InitError> {
        let expected = match max {
            usize::MAX => "a whole number from 0 (no limit: leave it unset)".to_owned(),
            max => format!("a whole number from 0 to {max}"),
        };
        self.parsed(name, |name, v| match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(InitError::invalid(name, v, &expected)),
        })
    }

    /// The first of `names` that is set, read by [`Vars::limit`]: a model's own limit
    /// (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`) before the general one (`OTEL_ATTRIBUTE_COUNT_LIMIT`),
    /// as the specification orders them.
    /// Every one is checked: a bad value is an error even where another one wins.
    fn first_limit(&self, names: &[&str], max: usize) -> Result<Option<usize>, InitError> {
        let mut first = None;
        for name in names {
            let value = self.limit(name, max)?;
            first = first.or(value);
        }
        Ok(first)
    }

    /// `true` or `false`, in any case.
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, InitError> {
        self.parsed(name, parse_bool)
    }

    /// `grpc` or `http/protobuf`.
    pub(crate) fn protocol(&self, name: &str) -> Result<Option<Protocol>, InitError> {
        self.parsed(name, parse_protocol)
    }

    /// An endpoint URL, normalised when it has a scheme (a gRPC endpoint may come without
    /// one: the target adds it, see `OTEL_EXPORTER_OTLP_INSECURE`).
    pub(crate) fn url(&self, name: &str) -> Result<Option<String>, InitError> {
        self.parsed(name, |name, v| {
            if v.contains("://") {
                url::normalize(name, v, url::EXAMPLE)
            } else {
                Ok(v.to_owned())
            }
        })
    }

    /// A file path.
    fn path(&self, name: &str) -> Result<Option<Named<PathBuf>>, InitError> {
        Ok(self.get(name)?.map(|v| Named::new(PathBuf::from(v), name)))
    }

    /// The OTLP variables of `signal` (`OTEL_EXPORTER_OTLP_TRACES_*`), or the generic ones
    /// (`OTEL_EXPORTER_OTLP_*`) for `None`.
    pub(crate) fn otlp(&self, signal: Option<Signal>) -> Result<OtlpLayer, InitError> {
        let infix = signal.map_or("", Signal::env_infix);
        let var = |field: &str| format!("OTEL_EXPORTER_OTLP_{infix}{field}");
        fn named<T>(name: String) -> impl FnOnce(T) -> Named<T> {
            move |value| Named::new(value, name)
        }
        let headers_name = var("HEADERS");
        Ok(OtlpLayer {
            endpoint: self.url(&var("ENDPOINT"))?.map(named(var("ENDPOINT"))),
            protocol: self.protocol(&var("PROTOCOL"))?.map(named(var("PROTOCOL"))),
            headers: match self.get(&headers_name)? {
                Some(v) => parse_headers(&headers_name, v)?
                    .into_iter()
                    .map(|pair| Named::new(pair, headers_name.clone()))
                    .collect(),
                None => Vec::new(),
            },
            timeout: self.timeout(&var("TIMEOUT"))?.map(named(var("TIMEOUT"))),
            compression: self
                .parsed(&var("COMPRESSION"), parse_compression)?
                .map(named(var("COMPRESSION"))),
            certificate: self.path(&var("CERTIFICATE"))?,
            client_certificate: self.path(&var("CLIENT_CERTIFICATE"))?,
            client_key: self.path(&var("CLIENT_KEY"))?,
            insecure: self.bool(&var("INSECURE"))?.map(named(var("INSECURE"))),
        })
    }
}

/// Parses the span variables godtrace reads; others are ignored.
pub(crate) fn parse(vars: &[(String, EnvValue)]) -> Result<Layer, InitError> {
    let vars = Vars(vars);
    let mut layer = Layer {
        enabled: vars.bool("OTEL_SDK_DISABLED")?.map(|disabled| !disabled),
        service_name: vars.get("OTEL_SERVICE_NAME")?.map(str::to_owned),
        otlp: vars.otlp(None)?,
        traces: vars.otlp(Some(Signal::Traces))?,
        max_queue_size: vars.count_up_to("OTEL_BSP_MAX_QUEUE_SIZE", MAX_QUEUE_SIZE)?,
        max_export_batch_size: vars
            .count_up_to("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", MAX_QUEUE_SIZE)?,
        schedule_delay: vars.duration("OTEL_BSP_SCHEDULE_DELAY")?,
        export_timeout: vars.timeout("OTEL_BSP_EXPORT_TIMEOUT")?,
        otel_context: vars.bool("GODTRACE_OTEL_CONTEXT")?,
        jaeger_ui: vars.parsed(crate::links::JAEGER_UI_ENV, crate::links::parse_jaeger_ui)?,
        known_http_methods: vars.parsed(
            "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS",
            super::http_methods::parse,
        )?,
        // Every text godtrace records belongs to a span (its attributes, events, links'
        // context), so the span limit, when set, is the one limit.
        max_attribute_len: vars.first_limit(
            &[
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ],
            usize::MAX,
        )?,
        span_limits: span_limits(&vars)?,
        ..Layer::default()
    };
    if let Some(v) = vars.get("OTEL_RESOURCE_ATTRIBUTES")? {
        layer.resource = parse_pairs("OTEL_RESOURCE_ATTRIBUTES", v, v)?
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
    }
    if let Some(v) = vars.get("OTEL_TRACES_EXPORTER")? {
        layer.traces_exporter = Some(parse_traces_exporter(v)?);
    }
    parse_sampler(&vars, &mut layer)?;
    if let Some(v) = vars.get("OTEL_PROPAGATORS")? {
        layer.propagators = Some(parse_propagators(v)?);
    }
    Ok(layer)
}

/// The span count limits, each from 0 to [`MAX_COUNT_LIMIT`]; the general
/// `OTEL_ATTRIBUTE_COUNT_LIMIT` stands in for the span's and the event's attribute counts when
/// they are not set.
fn span_limits(vars: &Vars<'_>) -> Result<super::SpanLimitsLayer, InitError> {
    const GENERAL: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
    let attributes = |own: &str| vars.first_limit(&[own, GENERAL], MAX_COUNT_LIMIT);
    // Read for its check only: a link godtrace records carries no attributes.
    vars.limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", MAX_COUNT_LIMIT)?;
    Ok(super::SpanLimitsLayer {
        attributes: attributes("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")?,
        events: vars.limit("OTEL_SPAN_EVENT_COUNT_LIMIT", MAX_COUNT_LIMIT)?,
        event_attributes: attributes("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT")?,
        links: vars.limit("OTEL_SPAN_LINK_COUNT_LIMIT", MAX_COUNT_LIMIT)?,
    })
}

/// `OTEL_TRACES_EXPORTER`: which of OTLP export and the local tree (`console`) are on.
fn parse_traces_exporter(v: &str) -> Result<super::TracesExporter, InitError> {
    let expected = "a comma-separated list of otlp, console (the local tree), or none alone";
    let names = exporter_names("OTEL_TRACES_EXPORTER", v, &["otlp", "console"], expected)?;
    Ok(super::TracesExporter {
        otlp: names.contains(&"otlp"),
        console: names.contains(&"console"),
    })
}

/// The exporters an `OTEL_*_EXPORTER` list names, each one of `known`: none for `none`, which
/// stands alone (the specification's "no exporter": beside another name, one of the two is
/// a mistake).
pub(crate) fn exporter_names(
    var: &str,
    v: &str,
    known: &[&'static str],
    expected: &str,
) -> Result<Vec<&'static str>, InitError> {
    let names = list_names(v);
    if names == ["none"] {
        return Ok(Vec::new());
    }
    names
        .iter()
        .map(|name| known.iter().copied().find(|k| k == name))
        .collect::<Option<Vec<_>>>()
        .filter(|names| !names.is_empty())
        .ok_or_else(|| InitError::invalid(var, v, expected))
}

/// The names of a comma-separated list of enum values ([`enum_name`]), each once, in the order
/// first given (the specification asks for duplicates to be removed); empty items (`a,,b`,
/// a trailing comma) are skipped, as in every other list godtrace reads.
fn list_names(v: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in v.split(',').map(enum_name) {
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `key=value,...` headers, checked; an error shows the names only (values are credentials).
fn parse_headers(name: &str, v: &str) -> Result<Vec<(String, String)>, InitError> {
    let shown = redact_header_values(v);
    let headers = parse_pairs(name, v, &shown)?;
    for (key, value) in &headers {
        super::otlp::check_header(name, &shown, key, value)?;
    }
    Ok(headers)
}

/// A value of an enumerated variable (a sampler, an exporter, a protocol...), trimmed and in
/// lower case: the specification says enum values are read case-insensitively, so
/// `ALWAYS_ON` is `always_on`.
pub(crate) fn enum_name(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

fn parse_compression(name: &str, v: &str) -> Result<Compression, InitError> {
    match enum_name(v).as_str() {
        "gzip" => Ok(Compression::Gzip),
        "none" => Ok(Compression::None),
        _ => Err(InitError::invalid(name, v, "gzip or none")),
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, InitError> {
    match enum_name(v).as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(InitError::invalid(name, v, "true or false")),
    }
}

pub(super) fn parse_protocol(name: &str, v: &str) -> Result<Protocol, InitError> {
    match enum_name(v).as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        _ => Err(InitError::invalid(
            name,
            v,
            "grpc or http/protobuf (http/json is not supported)",
        )),
    }
}

/// A whole number of milliseconds from 0 to [`MAX_DURATION`]'s, as the `OTEL_*` durations and
/// timeouts are given (what 0 means is the caller's: see [`Vars::timeout`] and
/// [`Vars::duration`]); an error quoting the value as given otherwise.
fn parse_millis(name: &str, v: &str) -> Result<Duration, InitError> {
    let max = MAX_DURATION.as_millis();
    match v.trim().parse::<u64>() {
        Ok(ms) if u128::from(ms) <= max => Ok(Duration::from_millis(ms)),
        _ => Err(InitError::invalid(
            name,
            v,
            &format!("a whole number of milliseconds from 0 to {max} (1 hour)"),
        )),
    }
}

fn parse_sampler(vars: &Vars<'_>, layer: &mut Layer) -> Result<(), InitError> {
    let get = |name: &str| vars.get(name);
    // Read by the ratio samplers only (defaulting to 1, as specified); the others ignore it,
    // whatever it holds.
    let ratio = || -> Result<f64, InitError> {
        let Some(v) = get("OTEL_TRACES_SAMPLER_ARG")? else {
            return Ok(1.0);
        };
        match v.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(InitError::invalid(
                "OTEL_TRACES_SAMPLER_ARG",
                v,
                "a number from 0 to 1",
            )),
        }
    };
    let Some(sampler) = get("OTEL_TRACES_SAMPLER")? else {
        // A ratio with no sampler to read it would be ignored: say so instead.
        return match get("OTEL_TRACES_SAMPLER_ARG")? {
            Some(v) => {
                ratio()?;
                Err(InitError::invalid(
                    "OTEL_TRACES_SAMPLER_ARG",
                    v,
                    "OTEL_TRACES_SAMPLER=traceidratio or parentbased_traceidratio beside it \
                     (OTEL_TRACES_SAMPLER is not set, and only those samplers read a ratio)",
                ))
            }
            None => Ok(()),
        };
    };
    let (ratio, parent_based) = match enum_name(sampler).as_str() {
        "always_on" => (1.0, false),
        "always_off" => (0.0, false),
        "traceidratio" => (ratio()?, false),
        "parentbased_always_on" => (1.0, true),
        "parentbased_always_off" => (0.0, true),
        "parentbased_traceidratio" => (ratio()?, true),
        _ => return Err(InitError::invalid("OTEL_TRACES_SAMPLER", sampler, SAMPLERS)),
    };
    layer.sample_ratio = Some(ratio);
    layer.parent_based = Some(parent_based);
    Ok(())
}

fn parse_propagators(v: &str) -> Result<Vec<Propagator>, InitError> {
    let expected = "a comma-separated list of tracecontext and baggage, or none \
                    (b3, jaeger, xray and ottrace are not built in)";
    let names = list_names(v);
    if names == ["none"] {
        return Ok(Vec::new());
    }
    let invalid = || InitError::invalid("OTEL_PROPAGATORS", v, expected);
    if names.is_empty() {
        return Err(invalid());
    }
    names
        .iter()
        .map(|name| match name.as_str() {
            "tracecontext" => Ok(Propagator::TraceContext),
            "baggage" => Ok(Propagator::Baggage),
            _ => Err(invalid()),
        })
        .collect()
}

/// `key=value,key2=value2` with percent-encoded values (W3C baggage style, as
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` use). An error shows `v` as
/// `shown`.
fn parse_pairs(name: &str, v: &str, shown: &str) -> Result<Vec<(String, String)>, InitError> {
    // The bad pair is named by its place (the list may be long, and quoted cut; a header's
    // value is never shown).
    let bad = |place: usize| {
        let expected = format!(
            "comma-separated key=value pairs, values percent-encoded (pair {place} is not)"
        );
        InitError::invalid(name, shown, &expected)
    };
    let mut out = Vec::new();
    let items = v.split(',').map(str::trim).filter(|s| !s.is_empty());
    for (place, item) in (1..).zip(items) {
        let (key, value) = item.split_once('=').ok_or_else(|| bad(place))?;
        let key = key.trim();
        match percent_decode(value.trim()) {
            Some(value) if !key.is_empty() => out.push((key.to_owned(), value)),
            _ => return Err(bad(place)),
        }
    }
    Ok(out)
}

/// A header list as a message may show it: each item as [`super::otlp::shown_header`] shows
/// it, an item that is not a pair as `<redacted>`.
fn redact_header_values(v: &str) -> String {
    v.split(',')
        .map(|item| match item.split_once('=') {
            Some((name, _)) => super::otlp::shown_header(name.trim()),
            None if item.trim().is_empty() => item.to_owned(),
            None => "<redacted>".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `s` percent-decoded, when that is UTF-8 text.
fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(crate::text::percent_decode(s)?).ok()
}

#[cfg(test)]
mod tests;
