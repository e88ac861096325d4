//! A trace's spans as an indented tree, one line per span.
use super::tree_span::TreeSpan;
use crate::text::push_one_line;
use opentelemetry::trace::{SpanId, TraceId};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

/// A span waiting to be written: its place in `spans`, the length of the prefix its line
/// starts with, and whether it is the last of its siblings.
struct Pending {
    index: usize,
    prefix_len: usize,
    last: bool,
}

/// Renders one trace onto `out`: roots first (spans whose parent is not among `spans`),
/// children in start order under their parent.
///
/// Depth first with a stack of its own, not by recursion: the export thread's stack is not the
/// main thread's, and a trace may nest as deep as the spans held.
pub(crate) fn render(mut spans: Vec<TreeSpan>, verbose: bool, out: &mut String) {
    spans.sort_by_key(|s| s.start);
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if ids.contains(&s.parent_span_id) {
            children.entry(s.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let trace_id = spans.first().map_or(TraceId::INVALID, |s| s.trace_id);
    let _ = writeln!(out, "trace {trace_id}");
    let mut stack = Vec::new();
    push_siblings(&mut stack, &roots, 0);
    // The prefix of the line being written; a span's descendants only ever lengthen it.
    let mut prefix = String::new();
    while let Some(Pending {
        index,
        prefix_len,
        last,
    }) = stack.pop()
    {
        prefix.truncate(prefix_len);
        let span = &spans[index];
        write_line(out, &prefix, span, last);
        prefix.push_str(if last { "   " } else { "│  " });
        if verbose {
            write_details(out, &prefix, span);
        }
        if let Some(kids) = children.get(&span.span_id) {
            push_siblings(&mut stack, kids, prefix.len());
        }
    }
}

/// Pushes `siblings` so that the first is popped first.
fn push_siblings(stack: &mut Vec<Pending>, siblings: &[usize], prefix_len: usize) {
    let count = siblings.len();
    for (n, &index) in siblings.iter().enumerate().rev() {
        stack.push(Pending {
            index,
            prefix_len,
            last: n + 1 == count,
        });
    }
}

/// The span's own line: name, duration, error and cancellation.
fn write_line(out: &mut String, prefix: &str, span: &TreeSpan, last: bool) {
    let duration = span.end.duration_since(span.start).unwrap_or_default();
    let branch = if last { "└─ " } else { "├─ " };
    // Names and errors are the program's data (a URL, a server's message): escaped, they
    // cannot forge lines of the tree or recolour the terminal.
    let _ = write!(out, "{prefix}{branch}");
    push_one_line(out, &span.name);
    let _ = write!(out, "  {}", format_duration(duration));
    if let Some(description) = &span.error {
        out.push_str("  ✗");
        if !description.is_empty() {
            out.push(' ');
            push_one_line(out, description);
        }
    }
    if span.cancelled {
        out.push_str("  (cancelled)");
    }
    out.push('\n');
}

/// Verbose mode's lines under the span: its attributes, then its events.
fn write_details(out: &mut String, prefix: &str, span: &TreeSpan) {
    for kv in &span.attributes {
        let _ = write!(out, "{prefix}  · ");
        push_one_line(out, &format!("{} = {}", kv.key, kv.value));
        out.push('\n');
    }
    for event in &span.events {
        let _ = write!(out, "{prefix}  ! ");
        push_one_line(out, event);
        out.push('\n');
    }
}

/// `d` in the unit that shows it best, compared after rounding (999.6 µs is `1.00 ms`, not
/// `1000 µs`; 999.996 ms is `1.00 s`).
fn format_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros.round() < 1000.0 {
        format!("{micros:.0} µs")
    } else if (micros / 10.0).round() < 1e5 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;
    use std::time::Duration;

    #[test]
    fn a_duration_is_shown_in_the_unit_it_rounds_to() {
        let at = |micros: f64| format_duration(Duration::from_secs_f64(micros / 1e6));
        assert_eq!(at(999.4), "999 µs");
        assert_eq!(at(999.6), "1.00 ms");
        assert_eq!(at(999_994.0), "999.99 ms");
        assert_eq!(at(999_996.0), "1.00 s");
    }
}
