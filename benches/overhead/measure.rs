//! Timing, allocation counting and memory readings, inside one case's child process.
//!
//! Timing is a hand-rolled loop rather than divan: each case runs in a process of its own
//! (global state), and all the harness needs from inside that process is one number per
//! sample. The loop is the usual one: warm up, size a batch of calls so that one sample lasts
//! about `SAMPLE_TARGET`, time many such samples with `Instant`, and keep the median of the
//! per-call times. Inputs and outputs go through `black_box` so the call is neither hoisted
//! nor removed; the loop itself (an increment and a compare) is included in every case alike,
//! including the plain-function baseline.
//!
//! Each sample is also read on the timed thread's own CPU clock: what the calls cost that
//! thread, without the time it spent descheduled while the export thread, a receiver or a
//! second recording thread ran on the two cores (cache lines shared with them still count).
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How long one timing sample lasts, roughly (but in `Budget::short` of several threads).
const SAMPLE_TARGET: Duration = Duration::from_millis(2);

/// How long to time a case, and how long to warm it up first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub warmup: Duration,
    pub measure: Duration,
    /// How long one sample lasts, roughly.
    pub sample: Duration,
}

impl Budget {
    /// For cases that must not record more spans than their queue holds (about a million),
    /// recorded by `threads` threads at once. One thread's export thread drains the queue
    /// while it records; with two threads recording on this machine's two cores it hardly
    /// runs, so each of them gets about a third of the time, in samples half as long (at
    /// ~60 ns a kept span, about 400,000 spans each).
    pub fn short(threads: u32) -> Budget {
        if threads > 1 {
            return Budget {
                warmup: Duration::from_millis(5),
                measure: Duration::from_millis(15),
                sample: SAMPLE_TARGET / 2,
            };
        }
        Budget {
            warmup: Duration::from_millis(30),
            measure: Duration::from_millis(60),
            sample: SAMPLE_TARGET,
        }
    }

    pub fn from_env() -> Budget {
        if std::env::var_os("GODTRACE_BENCH_QUICK").is_some() {
            Budget {
                warmup: Duration::from_millis(50),
                measure: Duration::from_millis(200),
                sample: SAMPLE_TARGET,
            }
        } else {
            Budget {
                warmup: Duration::from_millis(300),
                measure: Duration::from_millis(1200),
                sample: SAMPLE_TARGET,
            }
        }
    }
}

/// The per-call times of one case.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Median of the samples, ns per call.
    pub median: f64,
    /// Median of the samples on the thread's CPU clock, ns per call.
    pub cpu_median: f64,
    pub p10: f64,
    pub p90: f64,
    pub samples: usize,
    /// Calls per sample.
    pub batch: u64,
}

/// Times `op`, which performs `calls_per_op` traced calls per invocation.
pub fn time(op: &mut impl FnMut(u64) -> u64, calls_per_op: u64, budget: Budget) -> Timing {
    let mut input = 0u64;
    let mut run = |n: u64| {
        let cpu_start = thread_cpu_ns();
        let start = Instant::now();
        for _ in 0..n {
            black_box(op(black_box(input)));
            input = input.wrapping_add(1);
        }
        (start.elapsed(), thread_cpu_ns() - cpu_start)
    };
    let warm_end = Instant::now() + budget.warmup;
    while Instant::now() < warm_end {
        run(64);
    }
    let mut batch = 1u64;
    while run(batch).0 < budget.sample && batch < 1 << 30 {
        batch *= 2;
    }
    let calls = (batch * calls_per_op) as f64;
    let (mut per_call, mut cpu_per_call) = (Vec::new(), Vec::new());
    let end = Instant::now() + budget.measure;
    while per_call.len() < 15 || (Instant::now() < end && per_call.len() < 5000) {
        let (elapsed, cpu) = run(batch);
        per_call.push(elapsed.as_nanos() as f64 / calls);
        cpu_per_call.push(cpu as f64 / calls);
    }
    per_call.sort_by(f64::total_cmp);
    cpu_per_call.sort_by(f64::total_cmp);
    let at = |q: f64| per_call[((per_call.len() - 1) as f64 * q).round() as usize];
    Timing {
        median: at(0.5),
        cpu_median: cpu_per_call[cpu_per_call.len() / 2],
        p10: at(0.1),
        p90: at(0.9),
        samples: per_call.len(),
        batch,
    }
}

/// The calling thread's CPU time so far, ns (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec` for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if rc != 0 {
        return 0;
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Polls a future that never waits (every traced async fn here completes on its first poll)
/// to completion on the calling thread, with a no-op waker: the cheapest possible executor,
/// so that an async case measures the instrumentation and not a runtime. The context is
/// handed to each poll as a runtime's is (through `black_box`): otherwise the compiler may
/// leave it out where it sees that no poll reads it, in some builds and not in others.
#[inline(always)]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let cx = std::hint::black_box(&mut cx);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return output;
        }
    }
}

/// The global allocator of the bench binary: the system allocator, counting allocations
/// (`alloc`, `alloc_zeroed`, `realloc`) while [`counting`] is on. Off (always, unless
/// `GODTRACE_BENCH_ALLOC=1`), it costs one relaxed load per allocation.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALL_THREADS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

impl CountingAlloc {
    #[inline(always)]
    fn count() {
        if COUNTING.load(Ordering::Relaxed) {
            ALL_THREADS.fetch_add(1, Ordering::Relaxed);
            let _ = THIS_THREAD.try_with(|c| c.set(c.get() + 1));
        }
    }
}

// SAFETY: every method forwards to `System` unchanged; counting touches no allocation.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations per traced call: on the calling thread, and in the whole process (export
/// and collector threads included, i.e. amortised per span).
#[derive(Debug, Clone, Copy)]
pub struct Allocs {
    pub this_thread: f64,
    pub all_threads: f64,
}

/// Whether this run counts allocations (`GODTRACE_BENCH_ALLOC=1`).
pub fn alloc_counting_requested() -> bool {
    std::env::var("GODTRACE_BENCH_ALLOC").is_ok_and(|v| v != "0" && !v.is_empty())
}

/// Runs `op` `ops` times with counting on (after the timing pass, so in the same steady
/// state) and divides.
pub fn count_allocs(op: &mut impl FnMut(u64) -> u64, calls_per_op: u64, ops: u64) -> Allocs {
    let mine_before = THIS_THREAD.with(Cell::get);
    let all_before = ALL_THREADS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    for i in 0..ops {
        black_box(op(black_box(i)));
    }
    COUNTING.store(false, Ordering::SeqCst);
    let calls = (ops * calls_per_op) as f64;
    Allocs {
        this_thread: (THIS_THREAD.with(Cell::get) - mine_before) as f64 / calls,
        all_threads: (ALL_THREADS.load(Ordering::Relaxed) - all_before) as f64 / calls,
    }
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`); 0 where there is no procfs.
pub fn proc_status_kib(field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The calling thread's (voluntary, involuntary) context switches so far; zeros where there is
/// no procfs.
pub fn context_switches() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    let get = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        get("voluntary_ctxt_switches"),
        get("nonvoluntary_ctxt_switches"),
    )
}
