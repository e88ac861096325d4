//! The spans of traces not printed yet, grouped by trace, with a fixed bound on how many are
//! held in all: a root that never ends (a server loop) or many traces at once cannot grow it.
use super::tree_span::TreeSpan;
use opentelemetry::trace::TraceId;
use std::collections::{BTreeMap, HashMap};

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
        });
        if trace.age == age {
            self.by_age.insert(age, trace_id);
            self.next_age += 1;
        }
        trace.spans.push(span);
        self.held += 1;
        if complete {
            ready.extend(self.remove(trace_id));
        }
        while self.held > self.max_held {
            let Some((_, oldest)) = self.by_age.first_key_value() else {
                break;
            };
            let oldest = *oldest;
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

    fn remove(&mut self, trace_id: TraceId) -> Option<Vec<TreeSpan>> {
        let trace = self.traces.remove(&trace_id)?;
        self.by_age.remove(&trace.age);
        self.held -= trace.spans.len();
        Some(trace.spans)
    }
}
