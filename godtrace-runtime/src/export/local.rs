//! The zero-setup view: each finished trace printed to stderr as an indented tree.
use crate::span::sink::Sink;
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Traces whose local root has not ended yet are held here; past this many, the oldest is
/// printed as it stands so memory stays bounded when a root never ends.
const MAX_PENDING_TRACES: usize = 1024;

/// Buffers the spans of each trace and prints the tree when the trace's local root ends.
#[derive(Debug)]
pub(crate) struct TreePrinter {
    verbose: bool,
    pending: Mutex<UnprintedTraces>,
}

/// The spans of traces whose local root has not ended yet, oldest trace first.
#[derive(Debug, Default)]
struct UnprintedTraces {
    traces: HashMap<TraceId, Vec<SpanData>>,
    order: std::collections::VecDeque<TraceId>,
}

impl TreePrinter {
    pub(crate) fn new(verbose: bool) -> Self {
        TreePrinter {
            verbose,
            pending: Mutex::new(UnprintedTraces::default()),
        }
    }

    fn print(&self, spans: Vec<SpanData>) {
        let text = render(spans, self.verbose);
        // One write per trace keeps trees of concurrent traces from interleaving.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// The tree printer as a sink: it wants every span as `SpanData`.
impl Sink for TreePrinter {
    fn on_end(&self, span: SpanData) {
        let trace_id = span.span_context.trace_id();
        let is_local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let ready = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let pending = &mut *pending;
            if !pending.traces.contains_key(&trace_id) {
                pending.order.push_back(trace_id);
            }
            pending.traces.entry(trace_id).or_default().push(span);
            let mut ready = Vec::new();
            if is_local_root {
                pending.order.retain(|t| *t != trace_id);
                ready.extend(pending.traces.remove(&trace_id));
            }
            while pending.order.len() > MAX_PENDING_TRACES {
                let oldest = pending.order.pop_front().expect("len checked");
                ready.extend(pending.traces.remove(&oldest));
            }
            ready
        };
        for spans in ready {
            self.print(spans);
        }
    }

    fn flush(&self) -> OTelSdkResult {
        let all: Vec<_> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.order.clear();
            pending.traces.drain().map(|(_, v)| v).collect()
        };
        for spans in all {
            self.print(spans);
        }
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        self.flush()
    }
}

/// Renders one trace: roots first (spans whose parent is not in the batch), children in
/// start order under their parent.
pub(crate) fn render(mut spans: Vec<SpanData>, verbose: bool) -> String {
    spans.sort_by_key(|s| s.start_time);
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let ids: std::collections::HashSet<SpanId> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if ids.contains(&s.parent_span_id) {
            children.entry(s.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let mut out = String::new();
    let trace_id = spans
        .first()
        .map(|s| s.span_context.trace_id())
        .unwrap_or(TraceId::INVALID);
    let _ = writeln!(out, "trace {trace_id}");
    let count = roots.len();
    for (n, &root) in roots.iter().enumerate() {
        write_span(
            &mut out,
            &spans,
            &children,
            root,
            "",
            n + 1 == count,
            verbose,
        );
    }
    out
}

fn write_span(
    out: &mut String,
    spans: &[SpanData],
    children: &HashMap<SpanId, Vec<usize>>,
    index: usize,
    prefix: &str,
    last: bool,
    verbose: bool,
) {
    let span = &spans[index];
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(
        out,
        "{prefix}{branch}{}  {}",
        span.name,
        format_duration(duration)
    );
    if let Status::Error { description } = &span.status {
        let _ = write!(out, "  ✗ {description}");
    }
    let cancelled = span
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "godtrace.cancelled");
    if cancelled {
        let _ = write!(out, "  (cancelled)");
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    if verbose {
        for kv in span
            .attributes
            .iter()
            .filter(|kv| !kv.key.as_str().starts_with("code."))
        {
            let _ = writeln!(out, "{child_prefix}  · {} = {}", kv.key, kv.value);
        }
        for event in span.events.iter() {
            let _ = writeln!(out, "{child_prefix}  ! {}", event.name);
        }
    }
    let kids = children
        .get(&span.span_context.span_id())
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
