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
    /// When its first span held now came in.
    since: Instant,
    spans: Vec<TreeSpan>,
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
            since: Instant::now(),
            spans: Vec::new(),
        });
        if trace.age == age {
            self.by_age.insert(age, trace_id);
            self.next_age += 1;
        }
        let root = span.span_id;
        trace.spans.push(span);
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

    /// Pushes onto `ready` each trace held for [`MAX_HOLD`] or more by `now`, oldest first.
    pub(crate) fn take_held_since(&mut self, now: Instant, ready: &mut Vec<Vec<TreeSpan>>) {
        while let Some((_, &oldest)) = self.by_age.first_key_value() {
            let since = self.traces.get(&oldest).map(|t| t.since);
            if since.is_some_and(|since| now.duration_since(since) < MAX_HOLD) {
                break;
            }
            ready.extend(self.remove(oldest));
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
        let parents: HashMap<SpanId, SpanId> = trace
            .spans
            .iter()
            .map(|s| (s.span_id, s.parent_span_id))
            .collect();
        // Whether a span's chain of held parents reaches `root`; at most as many steps as
        // spans held (a cycle, which ids drawn at random do not make, ends there too).
        let under_root = |mut id: SpanId| {
            for _ in 0..=parents.len() {
                if id == root {
                    return true;
                }
                match parents.get(&id) {
                    Some(&parent) => id = parent,
                    None => return false,
                }
            }
            false
        };
        let (tree, rest): (Vec<TreeSpan>, Vec<TreeSpan>) = std::mem::take(&mut trace.spans)
            .into_iter()
            .partition(|s| under_root(s.span_id));
        if rest.is_empty() {
            return self.remove_whole(trace_id, tree);
        }
        trace.spans = rest;
        self.held -= tree.len();
        Some(tree)
    }

    /// Drops the entry of `trace_id`, whose spans were taken out as `spans`.
    fn remove_whole(&mut self, trace_id: TraceId, spans: Vec<TreeSpan>) -> Option<Vec<TreeSpan>> {
        let trace = self.traces.remove(&trace_id)?;
        self.by_age.remove(&trace.age);
        self.held -= spans.len();
        Some(spans)
    }

    fn remove(&mut self, trace_id: TraceId) -> Option<Vec<TreeSpan>> {
        let trace = self.traces.remove(&trace_id)?;
        self.by_age.remove(&trace.age);
        self.held -= trace.spans.len();
        Some(trace.spans)
    }
}
