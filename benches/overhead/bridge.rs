//! Issue 15: the cost of one `tracing` span recorded through godtrace's layer
//! (`godtrace::tracing::layer()`), beside the same span through tracing-opentelemetry's layer
//! and the SDK, in the same run.
//!
//! ```text
//! cargo bench --bench overhead -- bridge/                           # the two cases
//! GODTRACE_BENCH_ALLOC=1 cargo bench --bench overhead -- bridge/    # + allocations per span
//! ```
use crate::cases::{Case, Kept, Setup, kept, time};
use crate::figures::{View, fmt_ns, fmt_opt, fmt_ratio};
use std::fmt::Write as _;

const GODTRACE: &str = "bridge/godtrace-layer/2-fields/sync";
const TRACING_OTEL: &str = "bridge/tracing-otel-layer/2-fields/sync";

/// One `tracing` span per call: created with two fields, entered, exited and closed.
#[inline(never)]
fn op_span_with_two_fields(x: u64) -> u64 {
    let span = tracing::info_span!("work", n = x, wallet = "7xKXtg2CW87d97TX");
    let _entered = span.enter();
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// The two cases: every span kept by each (a queue that never fills, a discarding exporter).
pub fn cases() -> Vec<Case> {
    vec![
        kept(
            GODTRACE,
            Setup::GodtraceCustom(set_up),
            op_span_with_two_fields,
        ),
        time(
            TRACING_OTEL,
            Setup::TracingOtel { ratio: 1.0 },
            op_span_with_two_fields,
        ),
    ]
}

/// godtrace recording every span into a discarding exporter (as the peer's SDK does), with a
/// queue that never fills, and its layer as the process's subscriber.
pub fn set_up(kept: &mut Kept) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let config = godtrace::Config::new("godtrace-bench")
        .local_tree(false)
        .span_exporter(crate::cases::DiscardExporter)
        .max_queue_size(1 << 20);
    kept.godtrace = Some(godtrace::init(config).expect("init"));
    let subscriber = tracing_subscriber::registry().with(godtrace::tracing::layer());
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber of this process");
}

/// The bridge's cost per span beside tracing-opentelemetry's, and the issue's target.
pub fn report(out: &mut String, v: &View<'_>) {
    let (ours, theirs) = (v.ns(GODTRACE), v.ns(TRACING_OTEL));
    if ours.is_none() && theirs.is_none() {
        return;
    }
    let _ = write!(
        out,
        "\n### `tracing` spans through godtrace's layer (issue 15)\n\n\
         One `info_span!` with two fields, entered, exited and closed, per call.\n\n\
         | layer | ns per span | allocations per span (this thread) |\n|---|---|---|\n"
    );
    for (name, id) in [
        ("godtrace::tracing::layer()", GODTRACE),
        ("tracing-opentelemetry + SDK", TRACING_OTEL),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {} | {} |",
            fmt_ns(v.ns(id)),
            fmt_opt(v.mean(id, "allocs_thread"), 2)
        );
    }
    let ratio = ours.zip(theirs).map(|(a, b)| a / b);
    let verdict = match ratio {
        Some(r) if r <= 0.5 => "met",
        Some(_) => "NOT met",
        None => "not measured",
    };
    let _ = writeln!(
        out,
        "\n- godtrace ÷ tracing-opentelemetry: {} (target ≤ 0.5×: {verdict})",
        fmt_ratio(ours, theirs)
    );
}
