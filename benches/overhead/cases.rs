//! The cases: one tiny function, instrumented by each crate, and how each crate is set up.
//!
//! Every instrumented function has the same body as the plain one and is `#[inline(never)]`,
//! so each case pays for one real call plus its instrumentation.
use crate::measure::block_on;
use crate::receiver::Receiver;
use godtrace::traced;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use std::sync::OnceLock;

/// The work every case does: a multiply and a rotate.
macro_rules! body {
    ($x:expr) => {
        ($x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
    };
}

#[inline(never)]
fn plain(x: u64) -> u64 {
    body!(x)
}

#[inline(never)]
async fn plain_async(x: u64) -> u64 {
    body!(x)
}

// `skip_all`: godtrace records no arguments unless asked (`include_args`), so neither does
// the tracing peer.
#[tracing::instrument(skip_all)]
#[inline(never)]
fn tracing_work(x: u64) -> u64 {
    body!(x)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
async fn tracing_work_async(x: u64) -> u64 {
    body!(x)
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_work(x: u64) -> u64 {
    body!(x)
}

#[fastrace::trace]
#[inline(never)]
async fn fastrace_work_async(x: u64) -> u64 {
    body!(x)
}

// The metrics peer: a call counter and a duration histogram per function, on autometrics'
// default backend (prometheus-client). godtrace's like for like is a call it samples out:
// its duration histogram (whose count is the call count) and no span.
#[autometrics::autometrics]
#[inline(never)]
fn autometrics_work(x: u64) -> u64 {
    body!(x)
}

#[autometrics::autometrics]
#[inline(never)]
async fn autometrics_work_async(x: u64) -> u64 {
    body!(x)
}

#[traced]
#[inline(never)]
fn godtrace_work(x: u64) -> u64 {
    body!(x)
}

#[traced]
#[inline(never)]
async fn godtrace_work_async(x: u64) -> u64 {
    body!(x)
}

#[traced(include_duration = false)]
#[inline(never)]
fn godtrace_work_no_duration(x: u64) -> u64 {
    body!(x)
}

#[traced(include_duration = false)]
#[inline(never)]
async fn godtrace_work_no_duration_async(x: u64) -> u64 {
    body!(x)
}

#[traced]
#[inline(never)]
fn godtrace_three(n: i64, wallet: &str, deep: bool) -> u64 {
    body!(n as u64 ^ wallet.len() as u64 ^ u64::from(deep))
}

#[traced(include_args)]
#[inline(never)]
fn godtrace_three_recorded(n: i64, wallet: &str, deep: bool) -> u64 {
    body!(n as u64 ^ wallet.len() as u64 ^ u64::from(deep))
}

#[traced]
#[inline(never)]
async fn godtrace_three_async(n: i64, wallet: &str, deep: bool) -> u64 {
    body!(n as u64 ^ wallet.len() as u64 ^ u64::from(deep))
}

#[traced(include_args)]
#[inline(never)]
async fn godtrace_three_recorded_async(n: i64, wallet: &str, deep: bool) -> u64 {
    body!(n as u64 ^ wallet.len() as u64 ^ u64::from(deep))
}

const WALLET: &str = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";

// --- the operations the harness times: `fn(u64) -> u64`, one or more traced calls each ---

fn op_plain(x: u64) -> u64 {
    plain(x)
}
fn op_plain_async(x: u64) -> u64 {
    block_on(plain_async(x))
}
/// References for the duration histogram's cost: one monotonic, one TSC-based (fastant, the
/// clock fastrace uses) and one wall-clock reading.
fn op_instant_now(x: u64) -> u64 {
    let now = std::time::Instant::now();
    x ^ std::hint::black_box(&now) as *const _ as u64
}
fn op_fastant_now(x: u64) -> u64 {
    let now = fastant::Instant::now();
    x ^ std::hint::black_box(&now) as *const _ as u64
}
fn op_system_time_now(x: u64) -> u64 {
    let now = std::time::SystemTime::now();
    x ^ std::hint::black_box(&now) as *const _ as u64
}

fn op_tracing(x: u64) -> u64 {
    tracing_work(x)
}
fn op_tracing_async(x: u64) -> u64 {
    block_on(tracing_work_async(x))
}

fn op_autometrics(x: u64) -> u64 {
    autometrics_work(x)
}
fn op_autometrics_async(x: u64) -> u64 {
    block_on(autometrics_work_async(x))
}

static OTEL_TRACER: OnceLock<SdkTracer> = OnceLock::new();

fn op_otel_in_span(x: u64) -> u64 {
    let tracer = OTEL_TRACER.get().expect("set up before timing");
    tracer.in_span("work", |_cx| body!(x))
}

/// godtrace starts a new trace for each call that has no parent; so does this: a root span
/// per call with the `#[trace]` function under it (two fastrace spans per call).
fn op_fastrace_root(x: u64) -> u64 {
    let root = fastrace::Span::root("call", fastrace::collector::SpanContext::random());
    let _parent = root.set_local_parent();
    fastrace_work(x)
}

fn op_fastrace_root_async(x: u64) -> u64 {
    let root = fastrace::Span::root("call", fastrace::collector::SpanContext::random());
    let _parent = root.set_local_parent();
    block_on(fastrace_work_async(x))
}

/// fastrace's cheapest shape: `N` calls under one root (its cost amortised).
const FASTRACE_CHILDREN: u64 = 100;
/// The same shape with ten times the children.
const MANY_CHILDREN: u64 = 1000;

fn op_fastrace_children<const N: u64>(x: u64) -> u64 {
    let root = fastrace::Span::root("batch", fastrace::collector::SpanContext::random());
    let _parent = root.set_local_parent();
    let mut acc = 0;
    for i in 0..N {
        acc ^= fastrace_work(std::hint::black_box(x ^ i));
    }
    acc
}

/// `N` async children awaited one after the other under one root, in one `block_on`.
fn op_fastrace_children_async<const N: u64>(x: u64) -> u64 {
    let root = fastrace::Span::root("batch", fastrace::collector::SpanContext::random());
    let _parent = root.set_local_parent();
    block_on(async {
        let mut acc = 0;
        for i in 0..N {
            acc ^= fastrace_work_async(std::hint::black_box(x ^ i)).await;
        }
        acc
    })
}

fn op_godtrace(x: u64) -> u64 {
    godtrace_work(x)
}
/// The same shape as `op_fastrace_children`: `N` traced calls under one traced root.
#[traced]
#[inline(never)]
fn godtrace_batch<const N: u64>(x: u64) -> u64 {
    let mut acc = 0;
    for i in 0..N {
        acc ^= godtrace_work(std::hint::black_box(x ^ i));
    }
    acc
}

fn op_godtrace_children<const N: u64>(x: u64) -> u64 {
    godtrace_batch::<N>(x)
}

/// The same shape as `op_fastrace_children_async`.
#[traced]
#[inline(never)]
async fn godtrace_batch_async<const N: u64>(x: u64) -> u64 {
    let mut acc = 0;
    for i in 0..N {
        acc ^= godtrace_work_async(std::hint::black_box(x ^ i)).await;
    }
    acc
}

fn op_godtrace_children_async<const N: u64>(x: u64) -> u64 {
    block_on(godtrace_batch_async::<N>(x))
}

fn op_godtrace_async(x: u64) -> u64 {
    block_on(godtrace_work_async(x))
}
fn op_godtrace_no_duration(x: u64) -> u64 {
    godtrace_work_no_duration(x)
}
fn op_godtrace_no_duration_async(x: u64) -> u64 {
    block_on(godtrace_work_no_duration_async(x))
}
fn op_godtrace_three(x: u64) -> u64 {
    godtrace_three(x as i64, std::hint::black_box(WALLET), x & 1 == 0)
}
fn op_godtrace_three_recorded(x: u64) -> u64 {
    godtrace_three_recorded(x as i64, std::hint::black_box(WALLET), x & 1 == 0)
}
fn op_godtrace_three_async(x: u64) -> u64 {
    block_on(godtrace_three_async(
        x as i64,
        std::hint::black_box(WALLET),
        x & 1 == 0,
    ))
}
fn op_godtrace_three_recorded_async(x: u64) -> u64 {
    block_on(godtrace_three_recorded_async(
        x as i64,
        std::hint::black_box(WALLET),
        x & 1 == 0,
    ))
}

/// 100 MB, the size of an argument no one should pay for in full: recording it must cost
/// O(max_attribute_len), not O(its size).
const HUGE: usize = 100 << 20;

fn huge_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| "x".repeat(HUGE))
}

fn huge_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| vec![7; HUGE])
}

/// A struct holding a huge string, recorded through its derived `Debug`.
#[derive(Debug)]
struct Upload {
    #[allow(dead_code)]
    body: &'static str,
}

#[traced(include_args)]
#[inline(never)]
fn godtrace_huge_str(x: u64, body: &str) -> u64 {
    body!(x ^ body.len() as u64)
}

#[traced(include_args)]
#[inline(never)]
fn godtrace_huge_bytes(x: u64, body: &[u8]) -> u64 {
    body!(x ^ body.len() as u64)
}

#[traced(include_args)]
#[inline(never)]
fn godtrace_huge_struct(x: u64, upload: &Upload) -> u64 {
    body!(x ^ upload.body.len() as u64)
}

/// Fails with a 100 MB message, the span's status description.
#[traced]
#[inline(never)]
fn godtrace_huge_error(x: u64, message: &'static str) -> Result<u64, &'static str> {
    if std::hint::black_box(true) {
        Err(message)
    } else {
        Ok(body!(x))
    }
}

fn op_godtrace_huge_str(x: u64) -> u64 {
    godtrace_huge_str(x, huge_text())
}
fn op_godtrace_huge_bytes(x: u64) -> u64 {
    godtrace_huge_bytes(x, huge_bytes())
}
fn op_godtrace_huge_struct(x: u64) -> u64 {
    godtrace_huge_struct(x, &Upload { body: huge_text() })
}
fn op_godtrace_huge_error(x: u64) -> u64 {
    godtrace_huge_error(x, huge_text()).unwrap_or(x)
}

/// Attribute sets for `record_counter`: 3 attributes, 10,000 distinct keys, and 10,000 with
/// every key given twice (the last value wins).
fn counter_attributes(kind: usize) -> &'static [opentelemetry::KeyValue] {
    use opentelemetry::KeyValue;
    static SETS: OnceLock<[Vec<KeyValue>; 3]> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        [
            vec![
                KeyValue::new("chain", "solana"),
                KeyValue::new("kind", "mint"),
                KeyValue::new("tier", 3),
            ],
            (0..10_000)
                .map(|i| KeyValue::new(format!("attr.{i}"), i))
                .collect(),
            (0..10_000)
                .map(|i| KeyValue::new(format!("attr.{}", i % 5_000), i))
                .collect(),
        ]
    });
    &sets[kind]
}

fn op_record_counter_3(x: u64) -> u64 {
    godtrace::metrics::record_counter("bench.counter", 1, counter_attributes(0));
    body!(x)
}
fn op_record_counter_10000(x: u64) -> u64 {
    godtrace::metrics::record_counter("bench.counter", 1, counter_attributes(1));
    body!(x)
}
fn op_record_counter_10000_duplicated(x: u64) -> u64 {
    godtrace::metrics::record_counter("bench.counter", 1, counter_attributes(2));
    body!(x)
}

// --- set-ups ---

/// A span exporter that drops every batch: the peers' "discarding exporter".
#[derive(Debug)]
pub struct DiscardExporter;

impl SpanExporter for DiscardExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        drop(batch);
        std::future::ready(Ok(()))
    }
}

/// A fastrace reporter that drops every batch.
struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        drop(spans);
    }
}

/// How a case's process is set up before timing.
#[derive(Debug, Clone, Copy)]
pub enum Setup {
    Nothing,
    /// tracing + tracing-opentelemetry + SDK batch processor (default settings), discarding.
    TracingOtel {
        ratio: f64,
    },
    /// opentelemetry SDK tracer, batch processor (default settings), discarding.
    OtelSdk {
        ratio: f64,
    },
    /// fastrace with a discarding reporter (default collector config).
    Fastrace,
    /// `godtrace::init(Config::new(..).enabled(false))`.
    GodtraceDisabled,
    /// `godtrace::init` with this sample ratio, exporting over OTLP/gRPC (default queue and
    /// batch settings) to a discarding receiver process on loopback.
    GodtraceExport {
        ratio: f64,
        /// `Config::otel_context`: attach each recorded span to OpenTelemetry's context.
        otel_context: bool,
        /// `Config::max_queue_size`; 0 for the default (2048).
        queue: usize,
    },
    /// `godtrace::init` sampling everything, with no exporter and `local_tree(false)`: spans
    /// are recorded, then dropped when they end.
    GodtraceNoExporter,
    /// godtrace set up by the section that owns the case (e.g. `bridge::set_up`: its
    /// `tracing` layer as the subscriber, every span kept).
    GodtraceCustom(fn(&mut Kept)),
}

impl Setup {
    pub fn is_godtrace(self) -> bool {
        matches!(
            self,
            Setup::GodtraceDisabled
                | Setup::GodtraceExport { .. }
                | Setup::GodtraceNoExporter
                | Setup::GodtraceCustom(_)
        )
    }
}

/// What a set-up keeps alive until the process exits.
#[derive(Default)]
pub struct Kept {
    pub receiver: Option<Receiver>,
    pub godtrace: Option<godtrace::Guard>,
    pub provider: Option<SdkTracerProvider>,
}

fn sdk_provider(ratio: f64) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
        .with_span_processor(BatchSpanProcessor::builder(DiscardExporter).build())
        .build()
}

/// The config of the exporting godtrace cases, against `receiver`.
pub fn godtrace_export_config(receiver: &Receiver, ratio: f64) -> godtrace::Config {
    godtrace::Config::new("godtrace-bench")
        .endpoint(receiver.endpoint())
        .protocol(godtrace::Protocol::Grpc)
        .sample_ratio(ratio)
        .local_tree(false)
}

pub fn set_up(setup: Setup) -> Kept {
    let mut kept = Kept::default();
    match setup {
        Setup::Nothing => {}
        Setup::TracingOtel { ratio } => {
            use tracing_subscriber::layer::SubscriberExt as _;
            let provider = sdk_provider(ratio);
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("first subscriber of this process");
            kept.provider = Some(provider);
        }
        Setup::OtelSdk { ratio } => {
            let provider = sdk_provider(ratio);
            let _ = OTEL_TRACER.set(provider.tracer("bench"));
            kept.provider = Some(provider);
        }
        Setup::Fastrace => {
            fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
        }
        Setup::GodtraceDisabled => {
            let config = godtrace::Config::new("godtrace-bench").enabled(false);
            kept.godtrace = Some(godtrace::init(config).expect("init"));
        }
        Setup::GodtraceExport {
            ratio,
            otel_context,
            queue,
        } => {
            let receiver = Receiver::spawn();
            let mut config = godtrace_export_config(&receiver, ratio).otel_context(otel_context);
            if queue > 0 {
                config = config.max_queue_size(queue);
            }
            kept.godtrace = Some(godtrace::init(config).expect("init"));
            kept.receiver = Some(receiver);
        }
        Setup::GodtraceNoExporter => {
            let config = godtrace::Config::new("godtrace-bench").local_tree(false);
            kept.godtrace = Some(godtrace::init(config).expect("init"));
        }
        Setup::GodtraceCustom(set_up) => set_up(&mut kept),
    }
    kept
}

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ns per call (and allocations per call with `GODTRACE_BENCH_ALLOC=1`).
    Time,
    /// Peak RSS while running `ops` operations as fast as possible.
    Memory { ops: u64 },
    /// The highest rate of spans exported over OTLP/gRPC with no drops.
    Throughput,
    /// Spans recorded at a fixed rate and exported: drops, CPU per span (`export.rs`).
    Export,
}

#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub id: &'static str,
    pub kind: Kind,
    pub setup: Setup,
    pub op: fn(u64) -> u64,
    /// Traced calls per `op`.
    pub calls_per_op: u64,
    /// Spans recorded per `op` (fastrace's root-per-call records two).
    pub spans_per_op: u64,
    /// Timed briefly (`Budget::short`), so that a queue of `KEPT_QUEUE` never fills.
    pub short: bool,
    /// Threads recording at once: the timed one, and `threads - 1` running the same operation
    /// in a loop meanwhile (the per-call cost while another thread records).
    pub threads: u32,
}

pub(crate) const fn time(id: &'static str, setup: Setup, op: fn(u64) -> u64) -> Case {
    Case {
        id,
        kind: Kind::Time,
        setup,
        op,
        calls_per_op: 1,
        spans_per_op: 1,
        short: false,
        threads: 1,
    }
}

/// `case` in fastrace's batched shape: `children` traced calls per operation, under one root.
const fn batched(children: u64, case: Case) -> Case {
    Case {
        calls_per_op: children,
        spans_per_op: children + 1,
        ..case
    }
}

/// `case` timed while a second thread runs the same operation.
const fn two_threads(case: Case) -> Case {
    Case { threads: 2, ..case }
}

/// A case timed briefly against a queue that never fills: the cost of a span that is kept.
pub const fn kept(id: &'static str, setup: Setup, op: fn(u64) -> u64) -> Case {
    Case {
        short: true,
        ..time(id, setup, op)
    }
}

pub const SAMPLED_IN: Setup = Setup::GodtraceExport {
    ratio: 1.0,
    otel_context: false,
    queue: 0,
};
pub const SAMPLED_IN_OTEL_CONTEXT: Setup = Setup::GodtraceExport {
    ratio: 1.0,
    otel_context: true,
    queue: 0,
};
pub const SAMPLED_OUT: Setup = Setup::GodtraceExport {
    ratio: 0.0,
    otel_context: false,
    queue: 0,
};
/// A queue larger than every span a short case records (`Case::short`): every span is kept
/// and exported, none dropped, as with the peers' discarding exporters, which keep up. The
/// largest queue `init` accepts (`max_queue_size` is at most 2^20).
const KEPT_QUEUE: usize = 1 << 20;
pub const KEPT: Setup = Setup::GodtraceExport {
    ratio: 1.0,
    otel_context: false,
    queue: KEPT_QUEUE,
};
pub const KEPT_OTEL_CONTEXT: Setup = Setup::GodtraceExport {
    ratio: 1.0,
    otel_context: true,
    queue: KEPT_QUEUE,
};

/// The peers and godtrace's calling-thread, memory and throughput cases, in the order they run
/// and print (the other sections' cases follow them: `all_cases` in `main.rs`).
pub fn calling_thread() -> Vec<Case> {
    [
        peers(),
        godtrace_off_and_sampled_out(),
        godtrace_exported(),
        godtrace_recording(),
        godtrace_two_threads(),
        memory_and_throughput(),
    ]
    .concat()
}

/// The bare call, clock readings for reference, and the peers: tracing, OpenTelemetry,
/// autometrics, fastrace.
fn peers() -> Vec<Case> {
    use Setup::*;
    vec![
        time("plain/sync", Nothing, op_plain),
        time("plain/async", Nothing, op_plain_async),
        time("reference/Instant::now", Nothing, op_instant_now),
        time("reference/SystemTime::now", Nothing, op_system_time_now),
        time("reference/fastant::Instant::now", Nothing, op_fastant_now),
        time("tracing/no-subscriber/sync", Nothing, op_tracing),
        time("tracing/no-subscriber/async", Nothing, op_tracing_async),
        time(
            "tracing-otel/sampled-in/sync",
            TracingOtel { ratio: 1.0 },
            op_tracing,
        ),
        time(
            "tracing-otel/sampled-out/sync",
            TracingOtel { ratio: 0.0 },
            op_tracing,
        ),
        time(
            "otel-sdk/sampled-in/sync",
            OtelSdk { ratio: 1.0 },
            op_otel_in_span,
        ),
        time(
            "otel-sdk/sampled-out/sync",
            OtelSdk { ratio: 0.0 },
            op_otel_in_span,
        ),
        time("autometrics/sync", Nothing, op_autometrics),
        time("autometrics/async", Nothing, op_autometrics_async),
        time("fastrace/root-per-call/sync", Fastrace, op_fastrace_root),
        time(
            "fastrace/root-per-call/async",
            Fastrace,
            op_fastrace_root_async,
        ),
        batched(
            FASTRACE_CHILDREN,
            time(
                "fastrace/100-children-per-root/sync",
                Fastrace,
                op_fastrace_children::<FASTRACE_CHILDREN>,
            ),
        ),
        batched(
            FASTRACE_CHILDREN,
            time(
                "fastrace/100-children-per-root/async",
                Fastrace,
                op_fastrace_children_async::<FASTRACE_CHILDREN>,
            ),
        ),
        batched(
            MANY_CHILDREN,
            time(
                "fastrace/1000-children-per-root/sync",
                Fastrace,
                op_fastrace_children::<MANY_CHILDREN>,
            ),
        ),
        batched(
            MANY_CHILDREN,
            time(
                "fastrace/1000-children-per-root/async",
                Fastrace,
                op_fastrace_children_async::<MANY_CHILDREN>,
            ),
        ),
    ]
}

/// godtrace not initialised, disabled, and sampling calls out.
fn godtrace_off_and_sampled_out() -> Vec<Case> {
    use Setup::*;
    vec![
        time("godtrace/uninit/sync", Nothing, op_godtrace),
        time("godtrace/uninit/async", Nothing, op_godtrace_async),
        time("godtrace/disabled/sync", GodtraceDisabled, op_godtrace),
        time(
            "godtrace/disabled/async",
            GodtraceDisabled,
            op_godtrace_async,
        ),
        time("godtrace/sampled-out/sync", SAMPLED_OUT, op_godtrace),
        time("godtrace/sampled-out/async", SAMPLED_OUT, op_godtrace_async),
        time(
            "godtrace/sampled-out/no-duration/sync",
            SAMPLED_OUT,
            op_godtrace_no_duration,
        ),
        time(
            "godtrace/sampled-out/no-duration/async",
            SAMPLED_OUT,
            op_godtrace_no_duration_async,
        ),
    ]
}

/// godtrace recording and exporting over OTLP/gRPC: default queue, then every span kept.
fn godtrace_exported() -> Vec<Case> {
    vec![
        time("godtrace/sampled-in/sync", SAMPLED_IN, op_godtrace),
        time("godtrace/sampled-in/async", SAMPLED_IN, op_godtrace_async),
        time(
            "godtrace/sampled-in/otel-context/sync",
            SAMPLED_IN_OTEL_CONTEXT,
            op_godtrace,
        ),
        time(
            "godtrace/sampled-in/otel-context/async",
            SAMPLED_IN_OTEL_CONTEXT,
            op_godtrace_async,
        ),
        batched(
            FASTRACE_CHILDREN,
            time(
                "godtrace/100-children-per-root/sync",
                SAMPLED_IN,
                op_godtrace_children::<FASTRACE_CHILDREN>,
            ),
        ),
        batched(
            FASTRACE_CHILDREN,
            time(
                "godtrace/100-children-per-root/otel-context/sync",
                SAMPLED_IN_OTEL_CONTEXT,
                op_godtrace_children::<FASTRACE_CHILDREN>,
            ),
        ),
    ]
    .into_iter()
    .chain(godtrace_kept())
    .collect()
}

/// One of fastrace's shapes: its id, children per root (0 for a root per call), the sync and
/// the async operation.
type Shape = (&'static str, u64, fn(u64) -> u64, fn(u64) -> u64);

/// Every span kept (the comparison with fastrace, whose reporter keeps up), in fastrace's
/// three shapes, sync and async, by default and with `otel_context(true)`.
fn godtrace_kept() -> Vec<Case> {
    let mut cases = Vec::new();
    for (setup, variant) in [(KEPT, ""), (KEPT_OTEL_CONTEXT, "otel-context/")] {
        let shapes: [Shape; 3] = [
            ("sampled-in", 0, op_godtrace, op_godtrace_async),
            (
                "100-children-per-root",
                FASTRACE_CHILDREN,
                op_godtrace_children::<FASTRACE_CHILDREN>,
                op_godtrace_children_async::<FASTRACE_CHILDREN>,
            ),
            (
                "1000-children-per-root",
                MANY_CHILDREN,
                op_godtrace_children::<MANY_CHILDREN>,
                op_godtrace_children_async::<MANY_CHILDREN>,
            ),
        ];
        for (shape, children, sync, asynchronous) in shapes {
            for (flavor, op) in [("sync", sync), ("async", asynchronous)] {
                let id = format!("godtrace/{shape}/kept/{variant}{flavor}");
                // Case ids are `&'static str`: a few dozen bytes, once per process.
                let case = kept(Box::leak(id.into_boxed_str()), setup, op);
                cases.push(if children > 0 {
                    batched(children, case)
                } else {
                    case
                });
            }
        }
    }
    cases
}

/// Two threads recording at once: each case is timed on one thread while another runs the
/// same operation; its one-thread twin is the same id without `two-threads/`.
fn godtrace_two_threads() -> Vec<Case> {
    use Setup::*;
    vec![
        two_threads(time(
            "godtrace/two-threads/sampled-out/sync",
            SAMPLED_OUT,
            op_godtrace,
        )),
        two_threads(time(
            "godtrace/two-threads/sampled-in-no-exporter/sync",
            GodtraceNoExporter,
            op_godtrace,
        )),
        two_threads(kept(
            "godtrace/two-threads/sampled-in/kept/sync",
            KEPT,
            op_godtrace,
        )),
    ]
}

/// godtrace recording with no exporter: arguments, huge inputs, the manual counter.
fn godtrace_recording() -> Vec<Case> {
    use Setup::*;
    vec![
        // The same recording with no export pipeline competing for the two cores: the
        // include_args and duration targets compare per-call recording costs, judged here.
        time(
            "godtrace/sampled-in-no-exporter/sync",
            GodtraceNoExporter,
            op_godtrace,
        ),
        time(
            "godtrace/sampled-in-no-exporter/no-duration/sync",
            GodtraceNoExporter,
            op_godtrace_no_duration,
        ),
        time(
            "godtrace/sampled-in-no-exporter/3-args/sync",
            GodtraceNoExporter,
            op_godtrace_three,
        ),
        time(
            "godtrace/sampled-in-no-exporter/3-args-include_args/sync",
            GodtraceNoExporter,
            op_godtrace_three_recorded,
        ),
        time(
            "godtrace/sampled-in-no-exporter/3-args/async",
            GodtraceNoExporter,
            op_godtrace_three_async,
        ),
        time(
            "godtrace/sampled-in-no-exporter/3-args-include_args/async",
            GodtraceNoExporter,
            op_godtrace_three_recorded_async,
        ),
        // A 100 MB argument or error message: recording costs O(the attribute limit).
        time(
            "godtrace/sampled-in-no-exporter/100MB-str-arg/sync",
            GodtraceNoExporter,
            op_godtrace_huge_str,
        ),
        time(
            "godtrace/sampled-in-no-exporter/100MB-bytes-arg/sync",
            GodtraceNoExporter,
            op_godtrace_huge_bytes,
        ),
        time(
            "godtrace/sampled-in-no-exporter/100MB-error/sync",
            GodtraceNoExporter,
            op_godtrace_huge_error,
        ),
        // The manual counter: the cost grows with the attribute count as O(n log n).
        time(
            "godtrace/record_counter/3-attributes",
            GodtraceNoExporter,
            op_record_counter_3,
        ),
        time(
            "godtrace/record_counter/10000-attributes",
            GodtraceNoExporter,
            op_record_counter_10000,
        ),
        time(
            "godtrace/record_counter/10000-attributes-keys-twice",
            GodtraceNoExporter,
            op_record_counter_10000_duplicated,
        ),
        // The exception: `Debug` of a `str` inside a struct scans the whole string for
        // characters to escape before writing any of it (std's code, ~1 ns a byte).
        time(
            "godtrace/sampled-in-no-exporter/100MB-in-struct-arg/sync",
            GodtraceNoExporter,
            op_godtrace_huge_struct,
        ),
    ]
}

/// Peak memory over many spans, and the export throughput.
fn memory_and_throughput() -> Vec<Case> {
    use Setup::*;
    let memory = |id, setup, op, spans_per_op| Case {
        kind: Kind::Memory {
            ops: MEMORY_SPANS / spans_per_op,
        },
        spans_per_op,
        ..time(id, setup, op)
    };
    vec![
        memory("memory/godtrace/sampled-in", SAMPLED_IN, op_godtrace, 1),
        memory(
            "memory/fastrace/root-per-call",
            Fastrace,
            op_fastrace_root,
            2,
        ),
        memory(
            "memory/otel-sdk/sampled-in",
            OtelSdk { ratio: 1.0 },
            op_otel_in_span,
            1,
        ),
        Case {
            kind: Kind::Throughput,
            ..time("throughput/godtrace/otlp-grpc", SAMPLED_IN, op_godtrace)
        },
    ]
}

/// Spans each memory case records.
pub const MEMORY_SPANS: u64 = 2_000_000;
