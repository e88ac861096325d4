//! The targets (issue 6's, and issue 18's for the calling thread), each judged on this run's
//! figures. Targets in ns are stated as ratios to `Instant::now()` measured in the same run:
//! absolute ns move by 2× from run to run on a shared machine, ratios much less.
use crate::figures::{View, fmt_delta, fmt_ns, fmt_opt, fmt_ratio, num};

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**NOT met**",
        None => "not measured",
    }
}

/// `ok(a, b)` when both figures were measured.
fn both(a: Option<f64>, b: Option<f64>, ok: fn(f64, f64) -> bool) -> Option<bool> {
    Some(ok(a?, b?))
}

/// One line per target: its verdict, the figures it was judged on.
pub fn targets(v: &View<'_>, counted: bool) -> Vec<String> {
    let mut lines = Vec::new();
    off_path(v, &mut lines);
    sampled_out(v, counted, &mut lines);
    versus_fastrace(v, &mut lines);
    allocations(v, counted, &mut lines);
    two_threads(v, &mut lines);
    bounds(v, &mut lines);
    histogram_and_throughput(v, &mut lines);
    versus_autometrics(v, &mut lines);
    lines
}

/// The off paths (not initialised, disabled) against the plain call and tracing.
fn off_path(v: &View<'_>, lines: &mut Vec<String>) {
    let ns = |id: &str| v.ns(id);
    for flavor in ["sync", "async"] {
        let plain = ns(&format!("plain/{flavor}"));
        for state in ["uninit", "disabled"] {
            let g = ns(&format!("godtrace/{state}/{flavor}"));
            lines.push(format!(
                "{}: {state}, {flavor} within 1 ns of the plain call: {} ns vs {} ns ({} ns)",
                verdict(both(g, plain, |g, p| g - p <= 1.0)),
                fmt_ns(g),
                fmt_ns(plain),
                fmt_delta(g.zip(plain).map(|(g, p)| g - p)),
            ));
        }
    }
    let tracing_async = ns("tracing/no-subscriber/async");
    for state in ["uninit", "disabled"] {
        let g = ns(&format!("godtrace/{state}/async"));
        lines.push(format!(
            "{}: {state}, async no slower than tracing without a subscriber: {} ns vs {} ns",
            verdict(both(g, tracing_async, |g, t| g <= t)),
            fmt_ns(g),
            fmt_ns(tracing_async),
        ));
    }
}

/// The sampling decision alone, at most half an `Instant::now()` and allocation-free.
fn sampled_out(v: &View<'_>, counted: bool, lines: &mut Vec<String>) {
    let ns = |id: &str| v.ns(id);
    let clock = ns("reference/Instant::now");
    // The decision is judged without the duration histogram, whose own cost has its own
    // target below; the default (histogram on) is shown beside it.
    for flavor in ["sync", "async"] {
        let id = format!("godtrace/sampled-out/no-duration/{flavor}");
        let g = ns(&id);
        let with_histogram = ns(&format!("godtrace/sampled-out/{flavor}"));
        let allocs = v.mean(&id, "allocs_thread");
        let ok =
            both(g, clock, |g, c| g <= 0.5 * c).map(|ok| ok && (!counted || allocs == Some(0.0)));
        lines.push(format!(
            "{}: sampled out ({flavor}), the decision ≤ 0.5× `Instant::now()`, zero allocations: \
             {} ns = {} `Instant::now()` ({} ns), {} allocations per call (with the duration \
             histogram, the default: {} ns)",
            verdict(ok),
            fmt_ns(g),
            fmt_ratio(g, clock),
            fmt_ns(clock),
            if counted {
                fmt_opt(allocs, 2)
            } else {
                "not counted".into()
            },
            fmt_ns(with_histogram),
        ));
    }
}

/// fastrace's three shapes (a root per call, 100 and 1000 children per root), sync and async.
const SHAPES: [(&str, &str); 3] = [
    ("sampled-in", "root-per-call"),
    ("100-children-per-root", "100-children-per-root"),
    ("1000-children-per-root", "1000-children-per-root"),
];

/// A kept span, by default and with `otel_context(true)`, against fastrace with its reporter
/// in the same shape (its discarding reporter keeps up: so do the `/kept/` cases' queues).
fn versus_fastrace(v: &View<'_>, lines: &mut Vec<String>) {
    for (ours, theirs) in SHAPES {
        for flavor in ["sync", "async"] {
            let peer_id = format!("fastrace/{theirs}/{flavor}");
            let default_id = format!("godtrace/{ours}/kept/{flavor}");
            let on_id = format!("godtrace/{ours}/kept/otel-context/{flavor}");
            let (peer, default, on) = (v.cpu_ns(&peer_id), v.cpu_ns(&default_id), v.cpu_ns(&on_id));
            lines.push(format!(
                "{}: kept span ≤ fastrace, {theirs} ({flavor}), default configuration, on the \
                 calling thread's CPU clock: {} ns vs {} ns ({}; wall clock {} vs {} ns); with \
                 otel_context(true): {} ns ({}, {})",
                verdict(both(default, peer, |g, f| g <= f)),
                fmt_ns(default),
                fmt_ns(peer),
                fmt_ratio(default, peer),
                fmt_ns(v.ns(&default_id)),
                fmt_ns(v.ns(&peer_id)),
                fmt_ns(on),
                fmt_ratio(on, peer),
                verdict(both(on, peer, |g, f| g <= f)),
            ));
        }
    }
}

/// Allocations per kept span on the calling thread in the default configuration: none, in
/// every shape. (With `otel_context(true)` OpenTelemetry builds a `Context` per span.)
fn allocations(v: &View<'_>, counted: bool, lines: &mut Vec<String>) {
    let worst = SHAPES
        .iter()
        .flat_map(|(ours, _)| ["sync", "async"].map(|f| format!("godtrace/{ours}/kept/{f}")))
        .filter_map(|id| v.mean(&id, "allocs_thread"))
        .reduce(f64::max);
    // "0" as printed with two decimals: a warm-up leftover (a pool refill) may amortise to a
    // few per million calls.
    lines.push(format!(
        "{}: kept span, 0 allocations on the calling thread (default configuration), every \
         shape, sync and async: {}",
        verdict(if counted {
            worst.map(|a| a < 0.005)
        } else {
            None
        }),
        if counted {
            format!("at most {} per span", fmt_opt(worst, 3))
        } else {
            "not counted (GODTRACE_BENCH_ALLOC=1)".into()
        }
    ));
}

/// Two threads recording at once, each call at most 1.2× one thread's, on the timed thread's
/// CPU clock: with two cores shared by two recording threads, the export thread and the
/// receiver, the wall clock also counts the time the timed thread waits for a core; its CPU
/// clock counts what the calls cost it, contended cache lines included.
fn two_threads(v: &View<'_>, lines: &mut Vec<String>) {
    for twin in [
        "sampled-out/sync",
        "sampled-in-no-exporter/sync",
        "sampled-in/kept/sync",
    ] {
        let two_id = format!("godtrace/two-threads/{twin}");
        let one_id = format!("godtrace/{twin}");
        let (two, one) = (v.cpu_ns(&two_id), v.cpu_ns(&one_id));
        let dropping = match (v.runs_dropping(&two_id), v.runs_dropping(&one_id)) {
            (0, 0) => String::new(),
            (two, one) => format!(
                "; runs left out for dropping spans while timed: {two} (two threads), {one} \
                 (one)"
            ),
        };
        lines.push(format!(
            "{}: two threads recording at once ≤ 1.2× one thread per call ({twin}), thread CPU \
             clock: {} ns vs {} ns ({}); wall clock {} vs {} ns ({}){dropping}",
            verdict(both(two, one, |t, o| t <= 1.2 * o)),
            fmt_ns(two),
            fmt_ns(one),
            fmt_ratio(two, one),
            fmt_ns(v.ns(&two_id)),
            fmt_ns(v.ns(&one_id)),
            fmt_ratio(v.ns(&two_id), v.ns(&one_id)),
        ));
    }
}

/// What must stay bounded: memory over 2 M spans, include_args, 100 MB inputs.
fn bounds(v: &View<'_>, lines: &mut Vec<String>) {
    let ns = |id: &str| v.ns(id);
    let mem = "memory/godtrace/sampled-in";
    // The worst run: a bound must hold every time.
    let growth = (1..=v.rounds)
        .filter_map(|r| {
            let f = v.fields(mem, r)?;
            Some((num(f, "rss_peak_kib")? - num(f, "rss_base_kib")?) / 1024.0)
        })
        .reduce(f64::max);
    lines.push(format!(
        "{}: sampled in, peak memory bounded by the queue over {} spans: +{} MiB over the \
         RSS before the loop in the worst run, judged bounded at ≤ 32 MiB (the 2048-span queue, \
         one batch in flight, the allocator's slack); run 1: {} dropped, {} queued",
        verdict(growth.map(|g| g <= 32.0)),
        crate::cases::MEMORY_SPANS,
        fmt_opt(growth, 1),
        fmt_opt(v.first(mem, "dropped"), 0),
        fmt_opt(v.first(mem, "queued"), 0),
    ));
    let with = ns("godtrace/sampled-in-no-exporter/3-args-include_args/sync");
    let without = ns("godtrace/sampled-in-no-exporter/3-args/sync");
    lines.push(format!(
        "{}: include_args with three arguments (int, &str, bool) ≤ 2× the same call without \
         (sampled in, no exporter): {} ns vs {} ns ({})",
        verdict(both(with, without, |w, o| w <= 2.0 * o)),
        fmt_ns(with),
        fmt_ns(without),
        fmt_ratio(with, without),
    ));
    for (case, what) in [
        ("100MB-str-arg", "a 100 MB &str argument"),
        ("100MB-bytes-arg", "a 100 MB &[u8] argument"),
        ("100MB-error", "a 100 MB error message"),
    ] {
        let huge = ns(&format!("godtrace/sampled-in-no-exporter/{case}/sync"));
        lines.push(format!(
            "{}: recording {what} costs O(max_attribute_len), judged ≤ 50 µs a call (sampled \
             in, no exporter): {} ns",
            verdict(huge.map(|t| t <= 50_000.0)),
            fmt_ns(huge),
        ));
    }
}

/// The duration histogram's cost, and the export throughput reported.
fn histogram_and_throughput(v: &View<'_>, lines: &mut Vec<String>) {
    let ns = |id: &str| v.ns(id);
    let clock = ns("reference/Instant::now");
    for flavor in ["sync", "async"] {
        let on = ns(&format!("godtrace/sampled-out/{flavor}"));
        let off = ns(&format!("godtrace/sampled-out/no-duration/{flavor}"));
        let added = on.zip(off).map(|(a, b)| a - b);
        lines.push(format!(
            "{}: the duration histogram adds ≤ 0.3× `Instant::now()` (sampled out, {flavor}): \
             {} ns vs {} ns without: {} ns = {} `Instant::now()`",
            // Below zero, the two cases' noise exceeds what is judged: no verdict.
            verdict(both(added, clock, |a, c| a <= 0.3 * c).filter(|_| added >= Some(0.0))),
            fmt_ns(on),
            fmt_ns(off),
            fmt_delta(added),
            fmt_ratio(added, clock),
        ));
    }
    let on = ns("godtrace/sampled-in-no-exporter/sync");
    let off = ns("godtrace/sampled-in-no-exporter/no-duration/sync");
    lines.push(format!(
        "(shown) the duration histogram sampled in (no exporter): {} ns vs {} ns ({} ns)",
        fmt_ns(on),
        fmt_ns(off),
        fmt_delta(on.zip(off).map(|(a, b)| a - b)),
    ));
    let sustained = v.first("throughput/godtrace/otlp-grpc", "sustained");
    lines.push(format!(
        "{}: export throughput over OTLP/gRPC to a loopback receiver, no drops at the default \
         queue size, reported: {} spans/s",
        verdict(sustained.map(|s| s > 0.0)),
        fmt_opt(sustained, 0),
    ));
}

/// The metrics of a call godtrace does not trace (sampled out: its duration histogram, whose
/// count is the call count) against autometrics' counter and histogram for the same call.
fn versus_autometrics(v: &View<'_>, lines: &mut Vec<String>) {
    let ns = |id: &str| v.ns(id);
    for flavor in ["sync", "async"] {
        let g = ns(&format!("godtrace/sampled-out/{flavor}"));
        let a = ns(&format!("autometrics/{flavor}"));
        lines.push(format!(
            "{}: a call's metrics ≤ autometrics' ({flavor}): godtrace sampled out with its \
             duration histogram {} ns vs `#[autometrics]` {} ns ({})",
            verdict(both(g, a, |g, a| g <= a)),
            fmt_ns(g),
            fmt_ns(a),
            fmt_ratio(g, a),
        ));
    }
}
