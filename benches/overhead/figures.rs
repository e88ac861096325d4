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
    pub fn ns(&self, id: &str) -> Option<f64> {
        (1..=self.rounds)
            .filter_map(|r| num(self.fields(id, r)?, "ns"))
            .reduce(f64::min)
    }

    /// The lowest of the runs' medians on the timed thread's CPU clock, ns per call.
    pub fn cpu_ns(&self, id: &str) -> Option<f64> {
        (1..=self.rounds)
            .filter_map(|r| num(self.fields(id, r)?, "cpu_ns"))
            .reduce(f64::min)
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
