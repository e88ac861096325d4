//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 (which carries exemplars).
use super::names::{family_name, label_name};
use crate::metrics::{Exemplar, HistogramPoint, MetricData, MetricPoints, MetricsSnapshot};
use opentelemetry::KeyValue;
use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

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

/// The whole snapshot in `format`.
pub(crate) fn render(snapshot: &MetricsSnapshot, format: Format) -> String {
    let mut out = String::new();
    for metric in snapshot.metrics() {
        family(&mut out, metric, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn family(out: &mut String, metric: &MetricData, format: Format) {
    let counter = matches!(metric.points, MetricPoints::Counter(_));
    let name = family_name(&metric.name, &metric.unit, counter);
    let (kind, empty) = match &metric.points {
        MetricPoints::Counter(points) => ("counter", points.is_empty()),
        MetricPoints::Histogram(points) => ("histogram", points.is_empty()),
    };
    if empty {
        return;
    }
    // The text format names a counter's family with its `_total` suffix; OpenMetrics without.
    let meta_name = match (counter, format) {
        (true, Format::Text) => format!("{name}_total"),
        _ => name.clone(),
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
            for p in points {
                let labels = labels(&p.attributes, None);
                let _ = writeln!(out, "{name}_total{labels} {}", number(p.value));
            }
        }
        MetricPoints::Histogram(points) => {
            for p in points {
                histogram(out, &name, p, format);
            }
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
        let labels = labels(&p.attributes, Some(&le));
        let _ = write!(out, "{name}_bucket{labels} {cumulative}");
        if format == Format::OpenMetrics
            && let Some(Some(ex)) = p.exemplars.get(i)
        {
            exemplar(out, ex);
        }
        out.push('\n');
    }
    let labels = labels(&p.attributes, None);
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

/// `{a="x",b="y"}` (with `le` last when given), or nothing for no labels. Two attributes
/// whose keys sanitize to the same label have their values joined with `;`.
fn labels(attributes: &[KeyValue], le: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(attributes.len() + 1);
    for kv in attributes {
        let name = label_name(kv.key.as_str());
        let value = kv.value.as_str();
        match pairs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(';');
                v.push_str(&value);
            }
            None => pairs.push((name, value.into_owned())),
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

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests;
