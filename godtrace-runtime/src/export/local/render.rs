//! A trace's spans as an indented tree, one line per span.
use super::tree_span::TreeSpan;
use opentelemetry::trace::{SpanId, TraceId};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

/// Renders one trace onto `out`: roots first (spans whose parent is not among `spans`),
/// children in start order under their parent.
pub(crate) fn render(mut spans: Vec<TreeSpan>, verbose: bool, out: &mut String) {
    spans.sort_by_key(|s| s.start);
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if ids.contains(&s.parent_span_id) {
            children.entry(s.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let trace_id = spans
        .first()
        .map(|s| s.trace_id)
        .unwrap_or(TraceId::INVALID);
    let _ = writeln!(out, "trace {trace_id}");
    let count = roots.len();
    for (n, &root) in roots.iter().enumerate() {
        write_span(out, &spans, &children, root, "", n + 1 == count, verbose);
    }
}

fn write_span(
    out: &mut String,
    spans: &[TreeSpan],
    children: &HashMap<SpanId, Vec<usize>>,
    index: usize,
    prefix: &str,
    last: bool,
    verbose: bool,
) {
    let span = &spans[index];
    let duration = span.end.duration_since(span.start).unwrap_or_default();
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(
        out,
        "{prefix}{branch}{}  {}",
        span.name,
        format_duration(duration)
    );
    if let Some(description) = &span.error {
        let _ = write!(out, "  ✗ {description}");
    }
    if span.cancelled {
        let _ = write!(out, "  (cancelled)");
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    if verbose {
        for kv in &span.attributes {
            let _ = writeln!(out, "{child_prefix}  · {} = {}", kv.key, kv.value);
        }
        for event in &span.events {
            let _ = writeln!(out, "{child_prefix}  ! {event}");
        }
    }
    let kids = children
        .get(&span.span_id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (n, &kid) in kids.iter().enumerate() {
        write_span(
            out,
            spans,
            children,
            kid,
            &child_prefix,
            n + 1 == kids.len(),
            verbose,
        );
    }
}

fn format_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}
