//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 (which carries exemplars).
use super::names::{Families, family_name, label_name};
use crate::metrics::registry::registry;
use crate::metrics::report;
use crate::metrics::snapshot::DURATION_METRIC;
use crate::metrics::{Exemplar, HistogramPoint, MetricData, MetricPoints, MetricsSnapshot};
use opentelemetry::{Array, KeyValue, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};
use std::time::UNIX_EPOCH;

/// The metrics rendered for one request: what to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrometheusExposition {
    /// The `Content-Type` header to send: `text/plain; version=0.0.4; charset=utf-8` or
    /// `application/openmetrics-text; version=1.0.0; charset=utf-8`.
    pub content_type: &'static str,
    /// The metrics in that format.
    pub body: String,
}

/// Every metric in the Prometheus exposition format that a request's `Accept` header asks
/// for: OpenMetrics 1.0 (with exemplars) when it prefers `application/openmetrics-text`, else
/// the text format 0.0.4. This is what the built-in endpoint
/// ([`MetricsConfig::prometheus_listen`](crate::MetricsConfig::prometheus_listen)) answers, for
/// serving `/metrics` from the application's own HTTP server instead (behind its
/// authentication, say), with or without the built-in endpoint running.
///
/// ```
/// use godtrace_runtime::Config;
/// use godtrace_runtime::metrics::{prometheus_exposition, record_counter};
///
/// let _guard = godtrace_runtime::init(Config::new("docs")).unwrap();
/// record_counter("orders.placed", 1, &[]);
/// // In the handler of `GET /metrics`, with the request's `Accept` header:
/// let accept = Some("application/openmetrics-text; version=1.0.0");
/// let exposition = prometheus_exposition(accept);
/// // Answer with status 200, this `Content-Type` and this body.
/// assert!(exposition.content_type.starts_with("application/openmetrics-text"));
/// assert!(exposition.body.contains("\norders_placed_total{otel_scope_name=\"godtrace\","));
/// assert!(exposition.body.ends_with("# EOF\n"));
/// ```
///
/// In a child that `fork` made of a process recording, the exposition is empty (OpenMetrics'
/// `# EOF` alone): a thread of the parent may have held the registry's locks at the fork, and
/// the child records nothing.
pub fn prometheus_exposition(accept: Option<&str>) -> PrometheusExposition {
    let format = negotiate(accept);
    let body = if crate::span::switches::in_forked_child() {
        match format {
            Format::OpenMetrics => "# EOF\n".to_owned(),
            Format::Text => String::new(),
        }
    } else {
        render_registry(format)
    };
    PrometheusExposition {
        content_type: format.content_type(),
        body,
    }
}

/// Who holds which family in what this process exposes; the duration histogram's family is
/// reserved for it from the start.
static FAMILIES: LazyLock<Mutex<Families>> = LazyLock::new(|| Mutex::new(with_duration()));

/// No family taken but the duration histogram's and `target_info`'s.
fn with_duration() -> Families {
    let mut families = Families::default();
    let _ = families.claim(
        DURATION_METRIC,
        &family_name(DURATION_METRIC, "s", false),
        false,
    );
    // OpenMetrics names the info family `target`, its one series `target_info`.
    families.reserve(
        "the resource (target_info)",
        &["target", "target_info", "target_info_total"],
    );
    families
}

/// The resource `init` configured (service name, version, host…), exposed as `target_info`.
static RESOURCE: RwLock<Vec<KeyValue>> = RwLock::new(Vec::new());

/// Sets the resource the exposition's `target_info` carries.
pub(crate) fn set_resource(resource: Vec<KeyValue>) {
    *RESOURCE.write().unwrap_or_else(|e| e.into_inner()) = resource;
}

/// The process's metrics in `format`, after the resource's `target_info`.
pub(crate) fn render_registry(format: Format) -> String {
    render_registry_unless(format, &AtomicBool::new(false)).unwrap_or_default()
}

/// [`render_registry`], given up (`None`) once `stop` is set, checked between metrics: the
/// endpoint stops within a metric's rendering (its series bounded by the cardinality limit),
/// not a whole exposition's.
pub(crate) fn render_registry_unless(format: Format, stop: &AtomicBool) -> Option<String> {
    let snapshot = registry().collect();
    let mut out = target_info(&RESOURCE.read().unwrap_or_else(|e| e.into_inner()), format);
    let mut families = FAMILIES.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str(&render_unless(&snapshot, format, &mut families, stop)?);
    Some(out)
}

/// The resource's attributes as the labels of one `target_info` series of value 1, as
/// OpenTelemetry's Prometheus compatibility rules have an SDK's endpoint expose them (an info
/// metric in OpenMetrics, a gauge in the text format); nothing for no resource.
fn target_info(resource: &[KeyValue], format: Format) -> String {
    if resource.is_empty() {
        return String::new();
    }
    let (family, kind) = match format {
        Format::Text => ("target_info", "gauge"),
        Format::OpenMetrics => ("target", "info"),
    };
    // In the order of their keys, as a series' attributes are: the resource comes in no
    // order of its own, and two keys that make one label have their values joined in the
    // order of the original keys (the compatibility rules'), the same on every start.
    let mut sorted = resource.to_vec();
    sorted.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let labels = labels(&sorted, Series::Resource, None);
    format!("# HELP {family} Target metadata\n# TYPE {family} {kind}\ntarget_info{labels} 1\n")
}

/// OpenMetrics when the `Accept` header prefers it to the text format, else text. The text
/// format's weight is that of the most specific range naming it (RFC 9110, 12.5.1:
/// `text/plain;q=0.2, */*` gives it 0.2), and a range with parameters names it only when they
/// are its own (`version=0.0.4`, `charset=utf-8`; Prometheus's `escaping` is read as any):
/// `text/plain;version=1.0.0` is another format. OpenMetrics counts only when named (any
/// version: 0.0.1 and 1.0.0 differ in nothing godtrace writes). A range whose weight is not
/// one (outside 0 to 1) is left out.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut openmetrics = 0.0f64;
    // (How specific the range is, its weight.)
    let mut text = (0u8, 0.0f64);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = Some(1.0);
        // Whether the range's parameters other than `q` are the text format's, and any.
        let (mut text_params, mut has_params) = (true, false);
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            // Parameter names are case-insensitive (RFC 9110): `Q=0` too.
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name.eq_ignore_ascii_case("q") {
                q = value
                    .parse::<f64>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
                continue;
            }
            has_params = true;
            text_params &= match name.to_ascii_lowercase().as_str() {
                "version" => value == "0.0.4",
                "charset" => value.eq_ignore_ascii_case("utf-8"),
                "escaping" => true,
                _ => false,
            };
        }
        let Some(q) = q else { continue };
        let specific = match media.as_str() {
            "application/openmetrics-text" => {
                openmetrics = openmetrics.max(q);
                continue;
            }
            "text/plain" if !text_params => continue,
            "text/plain" if has_params => 4,
            "text/plain" => 3,
            "text/*" => 2,
            "*/*" => 1,
            _ => continue,
        };
        if specific > text.0 || (specific == text.0 && q > text.1) {
            text = (specific, q);
        }
    }
    if openmetrics > 0.0 && openmetrics >= text.1 {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`, with exemplars.
    OpenMetrics,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// [`render_unless`], never given up.
#[cfg(test)]
pub(crate) fn render(
    snapshot: &MetricsSnapshot,
    format: Format,
    families: &mut Families,
) -> String {
    render_unless(snapshot, format, families, &AtomicBool::new(false)).unwrap_or_default()
}

/// The whole snapshot in `format`, but for each metric whose family (or one of its series)
/// `families` gives to another instrument: that one is left out and reported once. Given up
/// (`None`) once `stop` is set, checked between metrics.
fn render_unless(
    snapshot: &MetricsSnapshot,
    format: Format,
    families: &mut Families,
    stop: &AtomicBool,
) -> Option<String> {
    let mut out = String::new();
    for metric in snapshot.metrics() {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let counter = matches!(metric.points, MetricPoints::Counter(_));
        let name = family_name(&metric.name, &metric.unit, counter);
        if let Err(owner) = families.claim(&metric.name, &name, counter) {
            report::once_for(report::Topic::Exposition, &metric.name, || {
                format!(
                    "metric {:?} is not exposed to Prometheus: its family {name} (or one of its \
                     series) is taken by {owner:?}; rename one of them",
                    metric.name
                )
            });
            continue;
        }
        family(&mut out, metric, &name, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    Some(out)
}

fn family(out: &mut String, metric: &MetricData, name: &str, format: Format) {
    let counter = matches!(metric.points, MetricPoints::Counter(_));
    // A snapshot holds no metric without points (see `Registry::collect`).
    let kind = if counter { "counter" } else { "histogram" };
    // The text format names a counter's family with its `_total` suffix; OpenMetrics without.
    let meta_name = match (counter, format) {
        (true, Format::Text) => format!("{name}_total"),
        _ => name.to_owned(),
    };
    if !metric.description.is_empty() {
        let help = metric
            .description
            .replace('\\', "\\\\")
            .replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {meta_name} {help}");
    }
    let _ = writeln!(out, "# TYPE {meta_name} {kind}");
    if format == Format::OpenMetrics && name.ends_with("_seconds") && metric.unit == "s" {
        let _ = writeln!(out, "# UNIT {meta_name} seconds");
    }
    match &metric.points {
        MetricPoints::Counter(points) => {
            let labelled = |i: usize| labels(&points[i].attributes, Series::Counter, None);
            let values = points.iter().map(|p| p.value);
            let add = |sum: &mut f64, v: f64| *sum = (*sum + v).min(f64::MAX);
            for (labels, value) in merged(values, labelled, add) {
                let _ = writeln!(out, "{name}_total{labels} {}", number(value));
            }
        }
        MetricPoints::Histogram(points) => {
            let labelled = |i: usize| labels(&points[i].attributes, Series::Histogram, None);
            for (_, p) in merged(points.iter().map(Cow::Borrowed), labelled, merge_histogram) {
                histogram(out, name, &p, format);
            }
        }
    }
}

/// `points` with those whose labels (`labelled(index)`) render the same merged into the first
/// of them: `code=200` and `code="200"`, or keys `http.route` and `http_route`, are distinct
/// attribute sets but one series to Prometheus, which keeps one sample per series and scrape
/// (OpenMetrics: a family's label sets are unique).
fn merged<P>(
    points: impl Iterator<Item = P>,
    labelled: impl Fn(usize) -> String,
    merge: impl Fn(&mut P, P),
) -> Vec<(String, P)> {
    let mut out: Vec<(String, P)> = Vec::new();
    // Label text by its hash, to the entries of `out` that have it.
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, point) in points.enumerate() {
        let labels = labelled(i);
        let hash = {
            let mut h = DefaultHasher::new();
            labels.hash(&mut h);
            h.finish()
        };
        let same = seen.entry(hash).or_default();
        match same.iter().find(|&&at| out[at].0 == labels) {
            Some(&at) => merge(&mut out[at].1, point),
            None => {
                same.push(out.len());
                out.push((labels, point));
            }
        }
    }
    out
}

/// Adds `other`'s measurements to `into` (one metric: the same bounds), keeping each bucket's
/// latest exemplar.
fn merge_histogram(into: &mut Cow<'_, HistogramPoint>, other: Cow<'_, HistogramPoint>) {
    let into = into.to_mut();
    for (count, add) in into.bucket_counts.iter_mut().zip(&other.bucket_counts) {
        *count += add;
    }
    into.count += other.count;
    into.sum = (into.sum + other.sum).min(f64::MAX);
    for (kept, other) in into.exemplars.iter_mut().zip(&other.exemplars) {
        if let Some(other) = other
            && kept.as_ref().is_none_or(|kept| kept.time < other.time)
        {
            *kept = Some(*other);
        }
    }
}

fn histogram(out: &mut String, name: &str, p: &HistogramPoint, format: Format) {
    let mut cumulative = 0u64;
    for (i, count) in p.bucket_counts.iter().enumerate() {
        cumulative += count;
        let le = p
            .bounds
            .get(i)
            .map_or_else(|| "+Inf".to_owned(), |b| number(*b));
        let labels = labels(&p.attributes, Series::Histogram, Some(&le));
        let _ = write!(out, "{name}_bucket{labels} {cumulative}");
        if format == Format::OpenMetrics
            && let Some(Some(ex)) = p.exemplars.get(i)
        {
            exemplar(out, ex);
        }
        out.push('\n');
    }
    let labels = labels(&p.attributes, Series::Histogram, None);
    let _ = writeln!(out, "{name}_sum{labels} {}", number(p.sum));
    let _ = writeln!(out, "{name}_count{labels} {}", p.count);
}

fn exemplar(out: &mut String, ex: &Exemplar) {
    let time = ex.time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let _ = write!(
        out,
        " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {}.{:03}",
        ex.trace_id,
        ex.span_id,
        number(ex.value),
        time.as_secs(),
        time.subsec_millis()
    );
}

/// The labels every metric's series carries after its attributes: the instrumentation scope
/// (the OTLP push's), as OpenTelemetry's Prometheus compatibility rules require.
const SCOPE_LABELS: [(&str, &str); 2] = [
    ("otel_scope_name", "godtrace"),
    ("otel_scope_version", env!("CARGO_PKG_VERSION")),
];

/// What a line's labels belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Series {
    Counter,
    Histogram,
    /// `target_info`: the resource's attributes and nothing else.
    Resource,
}

/// `{a="x",b="y"}` (the attributes' labels sorted by name, then the scope's labels, and `le`
/// last when given), or nothing for no labels. Sorted by the labels' names, not the keys: sets
/// whose keys sanitize to the same labels (`x.y` and `x_a`, `x_y` and `x_a`) render alike, so
/// that [`merged`] makes them one series. Two attributes whose keys sanitize to the same label
/// have their values joined with `;`, in their keys' order; an attribute `le`, `quantile`,
/// `otel_scope_name` or `otel_scope_version` is labelled with a `key_` prefix (see
/// [`attribute_label`]). An attribute whose value is empty is left out: Prometheus reads a
/// label with an empty value as no label (`{k=""}` is the series `{}`, whose sample it would
/// replace).
fn labels(attributes: &[KeyValue], series: Series, le: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(attributes.len() + 3);
    for kv in attributes {
        add_label(
            &mut pairs,
            attribute_label(kv.key.as_str()),
            &label_value(&kv.value),
        );
    }
    // Stable: the scope's labels and `le` go after, in their own order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if series != Series::Resource {
        for (name, value) in SCOPE_LABELS {
            add_label(&mut pairs, name.to_owned(), value);
        }
    }
    if let Some(le) = le {
        pairs.push(("le".to_owned(), le.to_owned()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape(value));
    }
    out.push('}');
    out
}

/// The label of attribute `key`. Prometheus reads `le` as a bucket's bound and `quantile` as a
/// summary's on any series (`promtool` refuses them elsewhere), and queries pick godtrace's
/// series by the scope's labels: an attribute named like one of these has a label of its own.
fn attribute_label(key: &str) -> String {
    let mut name = label_name(key);
    let reserved = ["le", "quantile"]
        .into_iter()
        .chain(SCOPE_LABELS.map(|(label, _)| label))
        .any(|label| label == name);
    if reserved {
        name.insert_str(0, "key_");
    }
    name
}

/// Adds the label `name` with `value` to `pairs`: joined with `;` to the value of a label of
/// the same name already there; nothing for an empty value.
fn add_label(pairs: &mut Vec<(String, String)>, name: String, value: &str) {
    if value.is_empty() {
        return;
    }
    match pairs.iter_mut().find(|(n, _)| *n == name) {
        Some((_, v)) => {
            v.push(';');
            v.push_str(value);
        }
        None => pairs.push((name, value.to_owned())),
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A label's text: as OpenTelemetry writes the value, but floats (alone or in an array) as
/// [`number`] writes them, so that no value is longer than its bound
/// (`series::rendered_line_bound`), and an array of strings as JSON (the attribute
/// specification's form of a non-string value: `["a\"b"]`, each string escaped).
fn label_value(value: &Value) -> Cow<'_, str> {
    match value {
        Value::F64(v) => Cow::Owned(number(*v)),
        Value::Array(Array::F64(values)) => {
            let numbers: Vec<String> = values.iter().map(|v| number(*v)).collect();
            Cow::Owned(format!("[{}]", numbers.join(",")))
        }
        Value::Array(Array::String(values)) => {
            let mut json = String::from("[");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json_string(&mut json, value.as_str());
            }
            json.push(']');
            Cow::Owned(json)
        }
        other => other.as_str(),
    }
}

/// Appends `text` as a JSON string (RFC 8259: quote, backslash and control characters
/// escaped).
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `v` as the exposition formats write numbers: the shortest digits that read back the same,
/// with an exponent outside 1e-7 to 1e21 (plainly written, `f64::MIN_POSITIVE` would take 300
/// characters), at most [`MAX_NUMBER_LEN`](crate::metrics::series::MAX_NUMBER_LEN)
/// characters.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v == 0.0 || (1e-7..1e21).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests;
