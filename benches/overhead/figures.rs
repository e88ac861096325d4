//! Reading a run's results and printing its figures: what the report and every section's
//! table share.
use crate::Fields;
use crate::cases::Case;

/// Every case's fields, per round.
pub type Results = [(Case, u32, Fields)];

pub fn num(fields: &Fields, key: &str) -> Option<f64> {
    fields.get(key)?.parse().ok()
}

pub struct View<'a> {
    results: &'a Results,
    pub rounds: u32,
}

impl<'a> View<'a> {
    pub fn new(results: &'a Results, rounds: u32) -> Self {
        View { results, rounds }
    }

    pub fn fields(&self, id: &str, round: u32) -> Option<&Fields> {
        self.results
            .iter()
            .find(|(c, r, _)| c.id == id && *r == round)
            .map(|(_, _, f)| f)
    }

    /// The lowest of the runs' medians, ns per call: on a shared machine, other processes
    /// only ever add time, so the quieter run is the better estimate of the code's cost.
    /// A `/kept/` case counts only its runs that kept every span (see [`View::keeps`]).
    pub fn ns(&self, id: &str) -> Option<f64> {
        self.lowest(id, "ns")
    }

    /// The lowest of the runs' medians on the timed thread's CPU clock, ns per call (runs as
    /// for [`View::ns`]).
    pub fn cpu_ns(&self, id: &str) -> Option<f64> {
        self.lowest(id, "cpu_ns")
    }

    fn lowest(&self, id: &str, key: &str) -> Option<f64> {
        (1..=self.rounds)
            .filter(|&r| self.keeps(id, r))
            .filter_map(|r| num(self.fields(id, r)?, key))
            .reduce(f64::min)
    }

    /// Whether run `round` of `id` measured what it is meant to: a `/kept/` case whose export
    /// thread fell behind dropped spans while timed, and a dropped span costs less than a
    /// kept one, so such a run would flatter it.
    pub fn keeps(&self, id: &str, round: u32) -> bool {
        !id.contains("/kept/")
            || self
                .fields(id, round)
                .and_then(|f| num(f, "dropped_timed"))
                .is_none_or(|dropped| dropped == 0.0)
    }

    /// How many runs of `id` dropped spans while timed (see [`View::keeps`]).
    pub fn runs_dropping(&self, id: &str) -> usize {
        (1..=self.rounds)
            .filter(|&r| self.fields(id, r).is_some() && !self.keeps(id, r))
            .count()
    }

    /// A field of the first run that has it.
    pub fn first(&self, id: &str, key: &str) -> Option<f64> {
        (1..=self.rounds).find_map(|r| num(self.fields(id, r)?, key))
    }

    /// The mean over the runs of a field.
    pub fn mean(&self, id: &str, key: &str) -> Option<f64> {
        let runs: Vec<f64> = (1..=self.rounds)
            .filter_map(|r| num(self.fields(id, r)?, key))
            .collect();
        (!runs.is_empty()).then(|| runs.iter().sum::<f64>() / runs.len() as f64)
    }
}

pub fn fmt_ns(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "–".into(),
    }
}

pub fn fmt_delta(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:+.2}"))
}

pub fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

pub fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}
