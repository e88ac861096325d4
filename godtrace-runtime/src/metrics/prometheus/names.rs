//! OpenTelemetry names in Prometheus form: `godtrace.operation.duration` with unit `s` becomes
//! `godtrace_operation_duration_seconds`, attribute `error.type` becomes label `error_type`.

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

/// A label name for attribute `key`: sanitized; `key_` first when it would start with a digit.
pub(crate) fn label_name(key: &str) -> String {
    let out = sanitize(key, false);
    match out.strip_prefix('_') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("key_{rest}"),
        _ => out,
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
        assert_eq!(label_name("otel.metric.overflow"), "otel_metric_overflow");
    }
}
