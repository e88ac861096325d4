//! OpenTelemetry names in Prometheus form: `godtrace.operation.duration` with unit `s` becomes
//! `godtrace_operation_duration_seconds`, attribute `error.type` becomes label `error_type`.
//! Several names can map to one family (`orders.placed`, `orders_placed`); [`Families`] keeps
//! the exposition valid by giving each family, and the names of its series, to one instrument.
use std::collections::HashMap;

/// Replaces every character Prometheus does not allow with `_` (runs of `_` collapse), and
/// prefixes `_` when the name would start with a digit. `colons` allows `:` (metric names).
fn sanitize(name: &str, colons: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let keep = c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
        let c = if keep { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus word for a UCUM unit, if it has one worth a suffix.
fn unit_suffix(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "1" | "" => return None,
        _ => return None,
    })
}

/// The family name of a metric: sanitized, with its unit's suffix, and for a counter without
/// the `_total` suffix (the text format adds it back to the family, OpenMetrics to samples).
pub(crate) fn family_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out = sanitize(name, true);
    if counter && let Some(stripped) = out.strip_suffix("_total") {
        out = stripped.to_owned();
    }
    if let Some(suffix) = unit_suffix(unit)
        && !out.ends_with(&format!("_{suffix}"))
    {
        out.push('_');
        out.push_str(suffix);
    }
    out
}

/// A label name for attribute `key`: sanitized; `key` first when it would start with `_`
/// (OpenMetrics reserves those names, and `__name__` is Prometheus's own) or with a digit
/// (`key_1st`).
pub(crate) fn label_name(key: &str) -> String {
    let out = sanitize(key, false);
    if out.starts_with('_') {
        format!("key{out}")
    } else {
        out
    }
}

/// The names a family of this kind takes in an exposition: its own and its series'. An
/// OpenMetrics parser rejects a second family that takes any of them (`_created` included,
/// though godtrace does not write it).
fn taken_names(family: &str, counter: bool) -> impl Iterator<Item = String> + '_ {
    let suffixes: &[&str] = if counter {
        &["", "_total", "_created"]
    } else {
        &["", "_bucket", "_sum", "_count", "_created"]
    };
    suffixes
        .iter()
        .map(move |suffix| format!("{family}{suffix}"))
}

/// Which instrument each family name and series name belongs to. The first instrument to
/// claim a name keeps it for as long as this lives, so what a scraper sees under a name never
/// changes hands.
#[derive(Debug, Default)]
pub(crate) struct Families {
    /// Name in the exposition -> the OpenTelemetry name of the instrument it belongs to.
    owners: HashMap<String, String>,
}

impl Families {
    /// Gives the exact names `names` to `owner` (no suffixes): for what is not an instrument,
    /// such as `target_info`.
    pub(crate) fn reserve(&mut self, owner: &str, names: &[&str]) {
        for name in names {
            self.owners.insert((*name).to_owned(), owner.to_owned());
        }
    }

    /// Gives `family` (of a counter or a histogram) to `instrument`; `Err` with the instrument
    /// that already holds one of its names. Claiming again what one holds succeeds.
    pub(crate) fn claim(
        &mut self,
        instrument: &str,
        family: &str,
        counter: bool,
    ) -> Result<(), String> {
        for name in taken_names(family, counter) {
            if let Some(owner) = self.owners.get(&name)
                && owner != instrument
            {
                return Err(owner.clone());
            }
        }
        for name in taken_names(family, counter) {
            self.owners.insert(name, instrument.to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        assert_eq!(
            family_name("godtrace.operation.duration", "s", false),
            "godtrace_operation_duration_seconds"
        );
        assert_eq!(family_name("nft.mints.total", "", true), "nft_mints");
        assert_eq!(
            family_name("royalties.distributed", "", true),
            "royalties_distributed"
        );
        assert_eq!(
            family_name("nft.mint.duration_ms", "", false),
            "nft_mint_duration_ms"
        );
        assert_eq!(family_name("a..b/c-d", "", false), "a_b_c_d");
        assert_eq!(label_name("error.type"), "error_type");
        assert_eq!(label_name("operation"), "operation");
        assert_eq!(label_name("1st"), "key_1st");
        // OpenMetrics reserves label names starting with `_`.
        assert_eq!(label_name("__name__"), "key_name_");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("ünï.cødé"), "key_n_c_d_");
        assert_eq!(label_name("otel.metric.overflow"), "otel_metric_overflow");
    }

    /// Claims `(name, counter)` in order; the names refused.
    fn refused(instruments: &[(&str, bool)]) -> Vec<String> {
        let mut families = Families::default();
        let mut refused = Vec::new();
        for &(name, counter) in instruments {
            if families
                .claim(name, &family_name(name, "", counter), counter)
                .is_err()
            {
                refused.push(name.to_owned());
            }
        }
        refused
    }

    #[test]
    fn a_family_or_series_name_belongs_to_one_instrument() {
        // Same family after sanitizing, or after a counter's `_total` is stripped.
        assert_eq!(
            refused(&[
                ("orders.placed", true),
                ("orders_placed", true),
                ("orders.placed.total", true),
                ("orders-placed", false)
            ]),
            ["orders_placed", "orders.placed.total", "orders-placed"]
        );
        // A family named like another's series, either way round.
        assert_eq!(
            refused(&[
                ("latency", false),
                ("latency.count", true),
                ("latency.bucket", false),
                ("latency.sum", false),
                ("latency.created", true),
                ("hits", true),
                ("hits.total", false),
                ("hits.created", false),
            ]),
            [
                "latency.count",
                "latency.bucket",
                "latency.sum",
                "latency.created",
                "hits.total",
                "hits.created"
            ]
        );
        // Claiming again what one holds is fine; names that differ stay apart.
        assert!(
            refused(&[
                ("a.b", true),
                ("a.b", true),
                ("a.bc", true),
                ("a.b.c", false)
            ])
            .is_empty()
        );
    }
}
