//! What a traced function does with its parameters is what the untraced function does: the
//! same patterns compile, and the arguments are dropped at the same moment, in the same order.
use crate::shapes::futures_block_on;
use godtrace::otel::Value;
use godtrace::testing;
use godtrace::traced;
use std::cell::RefCell;

const MOD: &str = "capture::parameters";

thread_local! {
    /// What happened on this thread, in order: each test runs on a thread of its own.
    static EVENTS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn event(what: &'static str) {
    EVENTS.with(|e| e.borrow_mut().push(what));
}

fn events() -> Vec<&'static str> {
    EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

/// Logs its name when dropped.
#[derive(Debug)]
struct D(&'static str);

impl Drop for D {
    fn drop(&mut self) {
        event(self.0);
    }
}

struct W(String, u32);

#[traced]
async fn by_ref(ref x: String) -> usize {
    x.len()
}

#[traced]
async fn by_ref_in_struct(W(ref s, n): W) -> usize {
    s.len() + n as usize
}

#[traced]
async fn by_ref_mut((ref mut v, n): (Vec<u32>, u32)) -> usize {
    v.push(n);
    v.len()
}

#[traced(include_args)]
async fn by_ref_recorded((n, ref s): (u32, String), whole @ (a, _): (u8, u8)) -> usize {
    s.len() + n as usize + whole.0 as usize + a as usize
}

#[derive(Debug)]
struct Point {
    x: i32,
    y: i32,
}

/// Each kind of pattern, read by the recording before the future exists.
#[traced(include_args)]
async fn patterns_recorded(
    [first, .., last]: [u8; 4],
    &r: &u8,
    Point { x, y: mut why }: Point,
    (mut m, _): (u32, String),
) -> i64 {
    why += 1;
    m += 1;
    i64::from(first + last + r) + i64::from(x + why) + i64::from(m)
}

#[test]
fn ref_bindings_in_async_parameters() {
    let c = testing::capture();
    assert_eq!(futures_block_on(by_ref("abc".to_owned())), 3);
    assert_eq!(futures_block_on(by_ref_in_struct(W("ab".to_owned(), 1))), 3);
    assert_eq!(futures_block_on(by_ref_mut((vec![1], 2))), 2);
    assert_eq!(
        futures_block_on(by_ref_recorded((7, "ab".to_owned()), (1, 2))),
        11
    );
    assert_eq!(
        futures_block_on(patterns_recorded(
            [1, 2, 3, 4],
            &5,
            Point { x: 6, y: 7 },
            (8, String::new())
        )),
        1 + 4 + 5 + 6 + 8 + 9
    );
    let patterns = c.span(&format!("{MOD}::patterns_recorded"));
    for (key, value) in [
        ("first", 1),
        ("last", 4),
        ("r", 5),
        ("x", 6),
        ("why", 7),
        ("m", 8),
    ] {
        assert_eq!(patterns.attr(key), Some(&Value::I64(value)), "{key}");
    }
    c.span(&format!("{MOD}::by_ref"));
    // Recorded as they would be from a plain parameter: by value, with their own types.
    let recorded = c.span(&format!("{MOD}::by_ref_recorded"));
    assert_eq!(recorded.attr("n"), Some(&Value::I64(7)));
    assert_eq!(recorded.attr("s"), Some(&Value::from("ab")));
    assert_eq!(recorded.attr("a"), Some(&Value::I64(1)));
    assert!(recorded.attr("whole").is_some());
}

async fn async_untraced(a: D, (b, _): (D, D)) {
    let _local = D("local");
    let _ = (&a, &b);
    event("body");
}

#[traced]
async fn async_plain(a: D, (b, _): (D, D)) {
    let _local = D("local");
    let _ = (&a, &b);
    event("body");
}

#[traced(include_args)]
async fn async_args(a: D, (b, _): (D, D)) {
    let _local = D("local");
    let _ = (&a, &b);
    event("body");
}

type BoxedUnit = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

async fn async_untraced_mixed((b, _): (D, D), _: D, mut a: D) {
    a = D(a.0);
    let _ = (&a, &b);
    event("body");
}

#[traced]
async fn async_plain_mixed((b, _): (D, D), _: D, mut a: D) {
    a = D(a.0);
    let _ = (&a, &b);
    event("body");
}

#[traced(include_args)]
async fn async_args_mixed((b, _): (D, D), _: D, mut a: D) {
    a = D(a.0);
    let _ = (&a, &b);
    event("body");
}

struct Receiver;

impl Drop for Receiver {
    fn drop(&mut self) {
        event("self");
    }
}

impl Receiver {
    async fn untraced(self, _a: D, _b: D) {}

    #[traced]
    async fn traced(self, _a: D, _b: D) {}
}

/// A future dropped before it is polled drops what it took in the order the untraced one
/// does: `self`, then each argument.
#[test]
fn an_unpolled_futures_self_and_arguments_drop_in_the_untraced_order() {
    let _c = testing::capture();
    drop(Receiver.untraced(D("a"), D("b")));
    let untraced = events();
    assert_eq!(untraced, ["self", "a", "b"], "the language's order changed");
    drop(Receiver.traced(D("a"), D("b")));
    assert_eq!(events(), untraced);
}

/// A destructured parameter before plain ones, a `_` one, a `mut` one.
#[test]
fn async_parameters_of_every_kind_are_dropped_in_the_untraced_order() {
    let _c = testing::capture();
    let run = |f: &dyn Fn((D, D), D, D) -> BoxedUnit| {
        let future = f((D("b"), D("b_wild")), D("wild"), D("a"));
        event("created");
        futures_block_on(future);
        events()
    };
    let untraced = run(&|b, w, a| Box::pin(async_untraced_mixed(b, w, a)));
    assert_eq!(
        untraced,
        ["created", "a", "body", "a", "wild", "b", "b_wild"],
        "the language's order changed"
    );
    assert_eq!(
        run(&|b, w, a| Box::pin(async_plain_mixed(b, w, a))),
        untraced
    );
    assert_eq!(
        run(&|b, w, a| Box::pin(async_args_mixed(b, w, a))),
        untraced
    );
}

#[test]
fn async_parameters_are_dropped_with_the_future_in_the_untraced_order() {
    let _c = testing::capture();
    let run = |f: &dyn Fn(D, (D, D)) -> BoxedUnit| {
        let future = f(D("a"), (D("b"), D("b_wild")));
        event("created");
        futures_block_on(future);
        events()
    };
    let untraced = run(&|a, b| Box::pin(async_untraced(a, b)));
    assert_eq!(
        untraced,
        ["created", "body", "local", "b", "b_wild", "a"],
        "the language's order changed"
    );
    assert_eq!(run(&|a, b| Box::pin(async_plain(a, b))), untraced);
    assert_eq!(run(&|a, b| Box::pin(async_args(a, b))), untraced);
}

fn sync_untraced(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

#[traced]
fn sync_plain(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

#[traced(include_args)]
fn sync_args(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

#[traced(include_args, skip(b))]
fn sync_args_skip(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

/// The body uses a field of `p` only, and never names `unused`.
#[traced]
fn sync_partly_used(p: (D, D), unused: D, c: D) {
    let _local = D("local");
    let _ = (&p.1, &c);
    event("body");
}

#[traced]
async fn async_three(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

/// Runs `f` with `a`, `b`, `c`, returns what happened.
fn three(f: impl FnOnce(D, D, D)) -> Vec<&'static str> {
    f(D("a"), D("b"), D("c"));
    events()
}

/// What the untraced function drops, in order.
const LAST_FIRST: [&str; 5] = ["body", "local", "c", "b", "a"];

#[test]
fn sync_parameters_are_dropped_last_first() {
    let _c = testing::capture();
    assert_eq!(
        three(sync_untraced),
        LAST_FIRST,
        "the language's order changed"
    );
    assert_eq!(three(sync_plain), LAST_FIRST);
    // Held whole, as the function holds it, though the body uses a field only.
    assert_eq!(
        three(|a, b, c| sync_partly_used((a, b), D("unused"), c)),
        ["body", "local", "c", "unused", "a", "b"],
    );
}

#[test]
fn sync_recorded_parameters_are_dropped_last_first() {
    let _c = testing::capture();
    assert_eq!(three(sync_args), LAST_FIRST);
}

#[test]
fn sync_skipped_parameters_are_dropped_in_place() {
    let _c = testing::capture();
    assert_eq!(three(sync_args_skip), LAST_FIRST);
}

#[test]
fn async_parameters_are_dropped_last_first() {
    let _c = testing::capture();
    assert_eq!(
        three(|a, b, c| futures_block_on(async_untraced_three(a, b, c))),
        LAST_FIRST,
        "the language's order changed"
    );
    assert_eq!(
        three(|a, b, c| futures_block_on(async_three(a, b, c))),
        LAST_FIRST
    );
}

async fn async_untraced_three(a: D, b: D, c: D) {
    let _local = D("local");
    let _ = (&a, &b, &c);
    event("body");
}

fn wild_untraced(a: D, _: D, c: D) {
    let _local = D("local");
    let _ = (&a, &c);
    event("body");
}

#[traced]
fn wild_plain(a: D, _: D, c: D) {
    let _local = D("local");
    let _ = (&a, &c);
    event("body");
}

#[traced(include_args)]
fn wild_args(a: D, _: D, c: D) {
    let _local = D("local");
    let _ = (&a, &c);
    event("body");
}

#[traced(include_args, skip(c))]
fn wild_returns_future(a: D, _: D, c: D) -> impl std::future::Future<Output = ()> {
    let _local = D("local");
    let _ = (&a, &c);
    event("body");
    std::future::ready(())
}

/// A `_` parameter of a sync fn is dropped in its place among the others, and never recorded.
#[test]
fn sync_wild_parameters_are_dropped_in_place() {
    let c = testing::capture();
    assert_eq!(
        three(wild_untraced),
        LAST_FIRST,
        "the language's order changed"
    );
    assert_eq!(three(wild_plain), LAST_FIRST);
    assert_eq!(three(wild_args), LAST_FIRST);
    assert_eq!(
        three(|a, b, c| futures_block_on(wild_returns_future(a, b, c))),
        LAST_FIRST
    );
    let recorded = c.span(&format!("{MOD}::wild_args"));
    let keys: Vec<&str> = recorded
        .attributes
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.starts_with("code."))
        .collect();
    assert_eq!(keys, ["a", "c"]);
}

// The form under test, which Clippy would have written otherwise.
#[allow(clippy::toplevel_ref_arg)]
fn ref_untraced(a: D, ref b: D, ref mut c: D) {
    let _local = D("local");
    let _ = (&a, b, &c);
    event("body");
}

#[traced]
fn ref_plain(a: D, ref b: D, ref mut c: D) {
    let _local = D("local");
    let _ = (&a, b, &c);
    event("body");
}

#[traced(include_args)]
fn ref_args(a: D, ref b: D, ref mut c: D) {
    let _local = D("local");
    c.0 = "c";
    let _ = (&a, b);
    event("body");
}

#[traced(include_args, skip(a))]
fn ref_returns_future(a: D, ref b: D, ref mut c: D) -> impl std::future::Future<Output = ()> {
    let _local = D("local");
    let _ = (&a, b, &c);
    event("body");
    std::future::ready(())
}

/// A `ref x` parameter of a sync fn is dropped in its place among the others, and recorded
/// under its name.
#[test]
fn sync_ref_parameters_are_dropped_in_place() {
    let c = testing::capture();
    assert_eq!(
        three(ref_untraced),
        LAST_FIRST,
        "the language's order changed"
    );
    assert_eq!(three(ref_plain), LAST_FIRST);
    assert_eq!(three(ref_args), LAST_FIRST);
    assert_eq!(
        three(|a, b, c| futures_block_on(ref_returns_future(a, b, c))),
        LAST_FIRST
    );
    let recorded = c.span(&format!("{MOD}::ref_args"));
    assert_eq!(recorded.attr("b"), Some(&Value::from("D(\"b\")")));
    assert_eq!(recorded.attr("c"), Some(&Value::from("D(\"c\")")));
}

struct Owner(D);

impl Owner {
    async fn untraced_by_value(self, b: D, (c, _): (D, D)) {
        let _ = (&self.0, &b, &c);
        event("body");
    }

    #[traced]
    async fn by_value(self, b: D, (c, _): (D, D)) {
        let _ = (&self.0, &b, &c);
        event("body");
    }

    #[traced(include_args)]
    fn sync_by_value(self, b: D, c: D) {
        let _ = (&self.0, &b, &c);
        event("body");
    }
}

/// `self` is the first parameter: dropped last.
#[test]
fn self_by_value_is_dropped_last() {
    let _c = testing::capture();
    let wild = || (D("c"), D("c_wild"));
    futures_block_on(Owner(D("self")).untraced_by_value(D("b"), wild()));
    let untraced = events();
    assert_eq!(untraced, ["body", "c", "c_wild", "b", "self"]);
    futures_block_on(Owner(D("self")).by_value(D("b"), wild()));
    assert_eq!(events(), untraced);
    Owner(D("self")).sync_by_value(D("b"), D("c"));
    assert_eq!(events(), ["body", "c", "b", "self"]);
}

/// A `self` by value whose `Drop` reads a field a `mut self` method sets (a transaction's
/// `commit`, a guard's `disarm`).
struct Txn {
    committed: bool,
}

impl Drop for Txn {
    fn drop(&mut self) {
        event(if self.committed {
            "committed"
        } else {
            "rolled back"
        });
    }
}

// rustc takes a write to a field of a value a closure captured by value for a write nobody
// reads, though the value's `Drop` reads it (README, "The attribute"): the traced methods get
// a warning the untraced one does not.
#[allow(unused_assignments)]
impl Txn {
    fn untraced_commit(mut self) {
        self.committed = true;
    }

    #[traced]
    fn commit(mut self) {
        self.committed = true;
    }

    #[traced(include_args)]
    fn commit_recording(mut self, attempt: u32) -> u32 {
        self.committed = true;
        attempt
    }

    #[traced]
    fn commit_later(mut self) -> impl std::future::Future<Output = ()> {
        self.committed = true;
        async {}
    }
}

/// Two fields dropped in their declared order, the body reading the second.
struct Conn {
    _socket: D,
    permit: D,
}

impl Conn {
    fn untraced_close(self) {
        let _ = &self.permit;
    }

    #[traced]
    fn close(self) {
        let _ = &self.permit;
    }
}

/// A sync method's `self` by value is the one the function holds, whole: writes to its
/// fields reach its `Drop`, and its fields are dropped together, in their order.
#[test]
fn a_sync_methods_self_by_value_is_taken_whole() {
    let _c = testing::capture();
    Txn { committed: false }.untraced_commit();
    assert_eq!(events(), ["committed"], "the language changed");
    Txn { committed: false }.commit();
    assert_eq!(events(), ["committed"], "#[traced]");
    assert_eq!(Txn { committed: false }.commit_recording(3), 3);
    assert_eq!(events(), ["committed"], "#[traced(include_args)]");
    futures_block_on(Txn { committed: false }.commit_later());
    assert_eq!(events(), ["committed"], "a sync fn returning a future");
    let conn = || Conn {
        _socket: D("socket"),
        permit: D("permit"),
    };
    conn().untraced_close();
    let untraced = events();
    assert_eq!(
        untraced,
        ["socket", "permit"],
        "the language's order changed"
    );
    conn().close();
    assert_eq!(events(), untraced);
}

/// A `self` taken by value with a field the body does not read.
struct Job {
    _permit: D,
    id: u32,
}

impl Job {
    async fn untraced_reads_id(self) -> u32 {
        event("body");
        self.id
    }

    #[traced]
    async fn reads_id(self) -> u32 {
        event("body");
        self.id
    }

    #[traced]
    async fn reads_nothing(self) {
        event("body");
    }

    #[traced]
    async fn boxed_reads_id(self: Box<Self>) -> u32 {
        event("body");
        self.id
    }
}

fn job() -> Job {
    Job {
        _permit: D("permit"),
        id: 7,
    }
}

/// Makes the future with `make`, notes it, and runs it: the events, and what it returned.
fn made<F: std::future::Future>(make: impl FnOnce() -> F) -> (Vec<&'static str>, F::Output) {
    let fut = make();
    event("made");
    let out = futures_block_on(fut);
    (events(), out)
}

/// What a `self` by value holds goes with the future, whatever the body reads of it: a
/// permit is not released before the body runs.
#[test]
fn self_by_value_is_held_by_the_future_whatever_the_body_reads() {
    let _c = testing::capture();
    let untraced = made(|| job().untraced_reads_id());
    assert_eq!(untraced, (vec!["made", "body", "permit"], 7));
    assert_eq!(made(|| job().reads_id()), untraced);
    assert_eq!(made(|| job().reads_nothing()).0, untraced.0);
    assert_eq!(made(|| Box::new(job()).boxed_reads_id()), untraced);
}
