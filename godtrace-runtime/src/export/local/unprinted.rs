//! The spans of traces not printed yet, grouped by trace, with a fixed bound on how many are
//! held in all and on how long: a root that never ends (a server loop) or many traces at once
//! cannot grow it, nor hide the spans ended under it.
use super::tree_span::TreeSpan;
use opentelemetry::trace::{SpanId, TraceId};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The longest a trace's spans are held for its local root: past it, what is held is printed
/// as it stands, and later spans make a continued tree (a root that runs longer, a server
/// loop, shows its children within this; work a request leaves behind, once it ends).
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(2);

/// The most spans held for traces whose local root has not ended, across all of them (about
/// 1 MiB of tree lines, plus attribute values in verbose mode). Past it, the oldest trace is
/// printed as it stands; the rest of its spans make a continued tree later.
pub(crate) const MAX_HELD_SPANS: usize = 4096;

/// Unprinted traces, oldest first, and how many spans they hold.
#[derive(Debug)]
pub(crate) struct UnprintedTraces {
    traces: HashMap<TraceId, Unprinted>,
    /// Trace ids by the order their first span came in: the oldest is printed first.
    by_age: BTreeMap<u64, TraceId>,
    next_age: u64,
    held: usize,
    max_held: usize,
}

/// The spans of one trace so far.
#[derive(Debug)]
struct Unprinted {
    age: u64,
    spans: Vec<TreeSpan>,
    /// When each span came in, in the same order: the first is the one held longest.
    arrived: Vec<Instant>,
}

impl UnprintedTraces {
    /// Holds at most `max_held` spans (at least one).
    pub(crate) fn new(max_held: usize) -> Self {
        UnprintedTraces {
            traces: HashMap::new(),
            by_age: BTreeMap::new(),
            next_age: 0,
            held: 0,
            max_held: max_held.max(1),
        }
    }

    /// Spans held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Adds `span`; pushes onto `ready` each trace to print now: its own when it is its
    /// trace's local root, and the oldest ones while more than the bound are held.
    pub(crate) fn add(&mut self, span: TreeSpan, ready: &mut Vec<Vec<TreeSpan>>) {
        let trace_id = span.trace_id;
        let complete = span.is_local_root;
        let age = self.next_age;
        let trace = self.traces.entry(trace_id).or_insert_with(|| Unprinted {
            age,
            spans: Vec::new(),
            arrived: Vec::new(),
        });
        if trace.age == age {
            self.by_age.insert(age, trace_id);
            self.next_age += 1;
        }
        let root = span.span_id;
        trace.spans.push(span);
        trace.arrived.push(Instant::now());
        self.held += 1;
        if complete {
            ready.extend(self.remove_tree(trace_id, root));
        }
        while self.held > self.max_held {
            let Some((_, oldest)) = self.by_age.first_key_value() else {
                break;
            };
            let oldest = *oldest;
            ready.extend(self.remove(oldest));
        }
    }

    /// Pushes onto `ready` the spans held for [`MAX_HOLD`] or more by `now`, a tree per
    /// trace, oldest first; the spans of those traces that came in since stay held (another
    /// request of the trace, shorter than that). Every trace is looked at (at most one per
    /// span held): a trace another local root took spans from holds the rest since they came.
    pub(crate) fn take_held_since(&mut self, now: Instant, ready: &mut Vec<Vec<TreeSpan>>) {
        let due: Vec<TraceId> = self
            .by_age
            .values()
            .filter(|id| {
                let first = self.traces.get(id).and_then(|t| t.arrived.first());
                first.is_none_or(|&at| now.duration_since(at) >= MAX_HOLD)
            })
            .copied()
            .collect();
        for trace_id in due {
            let Some(trace) = self.traces.get_mut(&trace_id) else {
                continue;
            };
            // Arrivals are in order: the due ones are a prefix.
            let young = trace
                .arrived
                .iter()
                .position(|&at| now.duration_since(at) < MAX_HOLD);
            match young {
                None => ready.extend(self.remove(trace_id)),
                Some(from) => {
                    let rest = trace.spans.split_off(from);
                    let due_spans = std::mem::replace(&mut trace.spans, rest);
                    trace.arrived.drain(..from);
                    self.held -= due_spans.len();
                    ready.push(due_spans);
                }
            }
        }
    }

    /// Pushes every trace onto `ready`, oldest first, and holds none.
    pub(crate) fn take_all(&mut self, ready: &mut Vec<Vec<TreeSpan>>) {
        let ids: Vec<TraceId> = self.by_age.values().copied().collect();
        for trace_id in ids {
            ready.extend(self.remove(trace_id));
        }
    }

    /// The spans of `trace_id` under its local root `root` (which ended), taken out; the
    /// trace's other spans stay held (another request of the same trace to this process, whose
    /// own root has not ended; work whose parent has not ended), its age kept.
    fn remove_tree(&mut self, trace_id: TraceId, root: SpanId) -> Option<Vec<TreeSpan>> {
        let trace = self.traces.get_mut(&trace_id)?;
        let under_root = under(root, &trace.spans);
        let mut tree = Vec::new();
        let (mut rest, mut rest_arrived) = (Vec::new(), Vec::new());
        let spans = std::mem::take(&mut trace.spans).into_iter();
        for (span, arrived) in spans.zip(std::mem::take(&mut trace.arrived)) {
            if under_root.get(&span.span_id).copied().unwrap_or(false) {
                tree.push(span);
            } else {
                rest.push(span);
                rest_arrived.push(arrived);
            }
        }
        if rest.is_empty() {
            trace.spans = tree;
            return self.remove(trace_id);
        }
        trace.spans = rest;
        trace.arrived = rest_arrived;
        self.held -= tree.len();
        Some(tree)
    }

    fn remove(&mut self, trace_id: TraceId) -> Option<Vec<TreeSpan>> {
        let trace = self.traces.remove(&trace_id)?;
        self.by_age.remove(&trace.age);
        self.held -= trace.spans.len();
        Some(trace.spans)
    }
}

/// Whether each of `spans` has `root` in its chain of parents held here (`root` itself
/// included): each chain is walked once, what it found noted for every span on it, so the work
/// is linear in the spans held however deep they nest (a cycle, which ids drawn at random do
/// not make, ends the walk too).
fn under(root: SpanId, spans: &[TreeSpan]) -> HashMap<SpanId, bool> {
    let parents: HashMap<SpanId, SpanId> = spans
        .iter()
        .map(|s| (s.span_id, s.parent_span_id))
        .collect();
    let mut found: HashMap<SpanId, bool> = HashMap::with_capacity(spans.len() + 1);
    found.insert(root, true);
    let mut path = Vec::new();
    for span in spans {
        let mut id = span.span_id;
        let reaches = loop {
            if let Some(&known) = found.get(&id) {
                break known;
            }
            if path.len() > parents.len() {
                break false;
            }
            path.push(id);
            match parents.get(&id) {
                Some(&parent) => id = parent,
                None => break false,
            }
        };
        for on_path in path.drain(..) {
            found.insert(on_path, reaches);
        }
    }
    found
}
