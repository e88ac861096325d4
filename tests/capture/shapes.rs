//! Every function shape `#[traced]` accepts compiles and records one span per call, with the
//! right name and parent.
use godtrace::testing::{self, Capture};
use godtrace::traced;
use std::future::Future;
use std::pin::Pin;

const MOD: &str = "capture::shapes";

fn only(capture: &Capture, name: &str) -> godtrace::testing::FinishedSpan {
    capture.span(&format!("{MOD}::{name}"))
}

#[traced]
fn free_sync(x: u32) -> u32 {
    x + 1
}

#[traced]
async fn free_async(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x + 1
}

#[test]
fn free_functions() {
    let c = testing::capture();
    assert_eq!(free_sync(1), 2);
    assert_eq!(futures_block_on(free_async(1)), 2);
    only(&c, "free_sync");
    only(&c, "free_async");
}

struct Wallet {
    balance: u64,
}

impl Wallet {
    #[traced]
    fn new(balance: u64) -> Self {
        Wallet { balance }
    }
    #[traced]
    fn by_ref(&self) -> u64 {
        self.balance
    }
    #[traced]
    fn by_mut(&mut self, add: u64) {
        self.balance += add;
    }
    #[traced]
    fn by_value(self) -> u64 {
        self.balance
    }
    #[traced]
    fn boxed(self: Box<Self>) -> u64 {
        self.balance
    }
    #[traced]
    fn pinned(self: Pin<&mut Self>) -> u64 {
        self.balance
    }
    #[traced]
    async fn async_ref(&self, extra: &u64) -> u64 {
        tokio::task::yield_now().await;
        self.balance + extra
    }
    #[traced]
    async fn async_mut(&mut self) {
        tokio::task::yield_now().await;
        self.balance += 1;
    }
}

#[test]
fn methods_with_every_receiver() {
    let c = testing::capture();
    let mut w = Wallet::new(10);
    assert_eq!(w.by_ref(), 10);
    w.by_mut(5);
    let mut pinned = Wallet::new(3);
    assert_eq!(Pin::new(&mut pinned).pinned(), 3);
    assert_eq!(Box::new(Wallet::new(2)).boxed(), 2);
    assert_eq!(futures_block_on(w.async_ref(&1)), 16);
    futures_block_on(w.async_mut());
    assert_eq!(w.by_value(), 16);
    for name in [
        "by_ref",
        "by_mut",
        "by_value",
        "boxed",
        "pinned",
        "async_ref",
        "async_mut",
    ] {
        only(&c, &format!("Wallet::{name}"));
    }
    assert_eq!(c.spans_named(&format!("{MOD}::Wallet::new")).len(), 3);
}

trait Scorer {
    fn score(&self, input: i64) -> i64;

    #[traced]
    fn describe(&self) -> String {
        format!("score of 1 is {}", self.score(1))
    }

    #[traced]
    async fn score_later(&self, input: i64) -> i64 {
        tokio::task::yield_now().await;
        self.score(input)
    }
}

struct Doubler;

impl Scorer for Doubler {
    #[traced]
    fn score(&self, input: i64) -> i64 {
        input * 2
    }
}

#[test]
fn trait_impl_and_default_methods() {
    let c = testing::capture();
    assert_eq!(Doubler.describe(), "score of 1 is 2");
    assert_eq!(futures_block_on(Doubler.score_later(4)), 8);
    let describe = only(&c, "Scorer::describe");
    let scores = c.spans_named(&format!("{MOD}::Doubler::score"));
    assert_eq!(scores.len(), 2);
    assert!(
        scores
            .iter()
            .any(|s| s.parent_span_id == Some(describe.span_id))
    );
    only(&c, "Scorer::score_later");
}

/// Implemented for every `Scorer`: a blanket impl, whose type is a parameter.
trait Summary {
    fn summary(&self) -> String;
}

impl<T: Scorer> Summary for T {
    #[traced]
    fn summary(&self) -> String {
        format!("{}", self.score(2))
    }
}

#[test]
fn a_blanket_impls_method_is_named_under_its_trait() {
    let c = testing::capture();
    assert_eq!(Doubler.summary(), "4");
    let summary = only(&c, "Summary::summary");
    assert_eq!(
        summary.attr("code.function.name"),
        Some(&format!("{MOD}::Summary::summary").into())
    );
}

/// Implemented for types that are not paths: each method is named under its type as Rust
/// writes that type's path.
trait Arity {
    fn arity(&self) -> usize;
}

impl Arity for fn(u8) -> u8 {
    #[traced]
    fn arity(&self) -> usize {
        1
    }
}

impl Arity for (u8, <u8 as std::ops::Add>::Output) {
    #[traced]
    fn arity(&self) -> usize {
        2
    }
}

#[test]
fn a_method_of_a_type_that_is_no_path_is_named_as_rust_writes_the_type() {
    let c = testing::capture();
    let double: fn(u8) -> u8 = |x| x * 2;
    assert_eq!(Arity::arity(&double), 1);
    assert_eq!((1u8, 2u8).arity(), 2);
    c.span("<fn(u8) -> u8>::arity");
    c.span("(u8, <u8 as core::ops::arith::Add>::Output)::arity");
}

#[traced]
fn generic_where<'a, T, U>(items: &'a [T], extra: U) -> Option<&'a T>
where
    T: PartialOrd + std::fmt::Debug,
    U: Into<usize>,
{
    let _ = extra.into();
    items.iter().fold(None, |best: Option<&T>, x| match best {
        Some(b) if b >= x => Some(b),
        _ => Some(x),
    })
}

#[traced]
async fn generic_async<'a, T: Clone + Send + Sync>(items: &'a [T], _unused: &str) -> Vec<T> {
    tokio::task::yield_now().await;
    items.to_vec()
}

#[traced]
fn impl_trait_in_and_out(values: impl IntoIterator<Item = u8>) -> impl Iterator<Item = u8> {
    values
        .into_iter()
        .map(|v| v * 2)
        .collect::<Vec<_>>()
        .into_iter()
}

#[test]
fn generics_lifetimes_and_impl_trait() {
    let c = testing::capture();
    assert_eq!(generic_where(&[1, 5, 3], 2u8), Some(&5));
    assert_eq!(futures_block_on(generic_async(&["a"], "x")), vec!["a"]);
    assert_eq!(
        impl_trait_in_and_out([1, 2]).collect::<Vec<_>>(),
        vec![2, 4]
    );
    only(&c, "generic_where");
    only(&c, "generic_async");
    only(&c, "impl_trait_in_and_out");
}

struct Point {
    x: i32,
    y: i32,
}

#[traced(include_args)]
fn patterns((a, b): (i32, i32), Point { x, y }: Point, mut acc: Vec<i32>, _: u8) -> Vec<i32> {
    acc.extend([a, b, x, y]);
    acc
}

#[traced(include_args)]
async fn async_patterns((a, b): (i32, i32), mut acc: Vec<i32>, _: u8) -> Vec<i32> {
    tokio::task::yield_now().await;
    acc.push(a + b);
    acc
}

#[test]
fn destructuring_and_mut_parameters() {
    let c = testing::capture();
    assert_eq!(
        patterns((1, 2), Point { x: 3, y: 4 }, vec![0], 9),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(futures_block_on(async_patterns((1, 2), vec![], 0)), vec![3]);
    let s = only(&c, "patterns");
    for (k, v) in [("a", 1), ("b", 2), ("x", 3), ("y", 4)] {
        assert_eq!(s.attr(k), Some(&godtrace::otel::Value::I64(v)), "{k}");
    }
    // Recorded as the call got it, before the body pushed onto it.
    assert_eq!(s.attr("acc"), Some(&godtrace::otel::Value::from("[0]")));
    let s = only(&c, "async_patterns");
    assert_eq!(s.attr("a"), Some(&godtrace::otel::Value::I64(1)));
}

#[traced(include_args)]
fn give_up(code: u32) -> ! {
    panic!("gave up with {code}")
}

/// A function that never returns (`-> !`) is traced: its span ends with the panic that left
/// it, its argument recorded.
#[test]
fn a_function_that_never_returns_is_traced() {
    let c = testing::capture();
    let unwound = std::panic::catch_unwind(|| give_up(3));
    assert!(unwound.is_err());
    let s = only(&c, "give_up");
    assert_eq!(s.attr("code"), Some(&godtrace::otel::Value::I64(3)));
    assert_eq!(s.attr("error.type"), Some(&"panic".into()));
    assert_eq!(s.error_message(), Some("gave up with 3"));
}

/// # Safety
/// `p` must be valid for reads.
#[traced]
unsafe fn read_raw(p: *const u32) -> u32 {
    // SAFETY: the caller guarantees `p` is valid for reads.
    unsafe { *p }
}

#[test]
fn unsafe_fn() {
    let c = testing::capture();
    let v = 7u32;
    // SAFETY: `&v` is a valid pointer to a live `u32`.
    assert_eq!(unsafe { read_raw(&v) }, 7);
    only(&c, "read_raw");
}

#[derive(Debug)]
struct Invalid;
impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid input")
    }
}

fn parse(s: &str) -> Result<u32, Invalid> {
    s.parse().map_err(|_| Invalid)
}

#[traced]
fn early_return_and_question_mark(s: &str) -> Result<u32, Invalid> {
    if s.is_empty() {
        return Ok(0);
    }
    let n = parse(s)?;
    Ok(n + 1)
}

#[traced]
async fn async_question_mark(s: &str) -> Result<u32, Invalid> {
    tokio::task::yield_now().await;
    if s == "early" {
        return Ok(100);
    }
    Ok(parse(s)? * 2)
}

#[test]
fn early_return_and_try_operator() {
    let c = testing::capture();
    assert_eq!(early_return_and_question_mark("").unwrap(), 0);
    assert_eq!(early_return_and_question_mark("4").unwrap(), 5);
    assert!(early_return_and_question_mark("x").is_err());
    assert_eq!(futures_block_on(async_question_mark("early")).unwrap(), 100);
    assert!(futures_block_on(async_question_mark("y")).is_err());
    let spans = c.spans_named(&format!("{MOD}::early_return_and_question_mark"));
    assert_eq!(spans.iter().filter(|s| s.is_error()).count(), 1);
    let spans = c.spans_named(&format!("{MOD}::async_question_mark"));
    assert_eq!(spans.iter().filter(|s| s.is_error()).count(), 1);
}

#[traced]
fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[traced]
async fn countdown(n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        Box::pin(countdown(n - 1)).await + 1
    }
}

#[test]
fn recursion_nests_each_call_under_its_caller() {
    let c = testing::capture();
    assert_eq!(fib(4), 3);
    assert_eq!(futures_block_on(countdown(3)), 3);
    let fibs = c.spans_named(&format!("{MOD}::fib"));
    assert_eq!(fibs.len(), 9);
    assert_eq!(
        fibs.iter().filter(|s| s.parent_span_id.is_none()).count(),
        1
    );
    let counts = c.spans_named(&format!("{MOD}::countdown"));
    assert_eq!(counts.len(), 4);
    // A chain: every span but the root is the child of another countdown span.
    let ids: Vec<_> = counts.iter().map(|s| s.span_id).collect();
    assert_eq!(
        counts
            .iter()
            .filter(|s| s.parent_span_id.is_some_and(|p| ids.contains(&p)))
            .count(),
        3
    );
}

#[traced]
fn returns_impl_future(x: u32) -> impl Future<Output = u32> {
    async move {
        tokio::task::yield_now().await;
        free_sync(x)
    }
}

#[traced]
fn returns_boxed_future<'a>(name: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        free_sync(1);
        name.len()
    })
}

/// An error with `Debug` only (not `std::error::Error`).
#[derive(Debug)]
struct NotANumber;

impl From<std::num::ParseIntError> for NotANumber {
    fn from(_: std::num::ParseIntError) -> Self {
        NotANumber
    }
}

#[traced]
fn parse_opaque(s: &str) -> Result<impl std::fmt::Debug, NotANumber> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[traced]
async fn parse_opaque_async(s: &str) -> Result<impl std::fmt::Debug, NotANumber> {
    let n: u32 = s.parse()?;
    Ok(n)
}

/// `?` in a body returning `Result<impl Trait, E>`: the error type is known to the expansion
/// (it used to be left to inference, which picked the `std::error::Error` rule and failed to
/// compile for an `E` without it), and an `Err` is recorded by its `Debug`.
#[test]
fn an_err_beside_an_impl_trait_ok_is_recorded() {
    let c = testing::capture();
    assert!(parse_opaque("x").is_err());
    assert!(futures_block_on(parse_opaque_async("y")).is_err());
    assert!(parse_opaque("7").is_ok());
    let failed: Vec<_> = c
        .spans()
        .into_iter()
        .filter(|s| s.name.contains("parse_opaque") && s.is_error())
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for s in failed {
        assert_eq!(s.error_message(), Some("NotANumber"), "{}", s.name);
        assert!(
            s.attr("error.type")
                .is_some_and(|t| t.as_str().ends_with("NotANumber")),
            "{}",
            s.name
        );
    }
}

/// The `futures` crate's alias, spelled as it defines it.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[traced(include_args)]
fn returns_box_future_alias(n: usize) -> BoxFuture<'static, usize> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        free_sync(1);
        n
    })
}

/// Parentheses change nothing in these types: the future is still seen.
#[traced]
#[allow(unused_parens)]
fn returns_parenthesized_impl() -> (impl Future<Output = u32>) {
    async {
        tokio::task::yield_now().await;
        free_sync(1) + returns_parenthesized_box().await
    }
}

#[traced]
#[allow(unused_parens)]
fn returns_parenthesized_box() -> Pin<Box<(dyn Future<Output = u32> + Send)>> {
    Box::pin(async {
        tokio::task::yield_now().await;
        free_sync(4)
    })
}

#[test]
fn functions_returning_futures_span_the_whole_future() {
    let c = testing::capture();
    assert_eq!(futures_block_on(returns_impl_future(1)), 2);
    assert_eq!(futures_block_on(returns_boxed_future("abc")), 3);
    assert_eq!(futures_block_on(returns_box_future_alias(4)), 4);
    assert_eq!(futures_block_on(returns_parenthesized_impl()), 7);
    let a = only(&c, "returns_impl_future");
    let b = only(&c, "returns_boxed_future");
    let alias = only(&c, "returns_box_future_alias");
    let parens = only(&c, "returns_parenthesized_impl");
    let parens_box = only(&c, "returns_parenthesized_box");
    let inner = c.spans_named(&format!("{MOD}::free_sync"));
    assert_eq!(inner.len(), 5);
    // The work done while the future is polled nests under the function's span.
    for outer in [&a, &b, &alias, &parens, &parens_box] {
        assert!(
            inner
                .iter()
                .any(|s| s.parent_span_id == Some(outer.span_id)),
            "{}",
            outer.name
        );
    }
}

#[async_trait::async_trait]
trait Detector {
    async fn detect(&self, wallet: &str) -> Result<f64, String>;
    #[traced]
    async fn detect_twice(&self, wallet: &str) -> f64 {
        self.detect(wallet).await.unwrap_or(0.0) * 2.0
    }
}

struct Pattern;

#[async_trait::async_trait]
impl Detector for Pattern {
    #[traced(include_args, include_result)]
    async fn detect(&self, wallet: &str) -> Result<f64, String> {
        tokio::task::yield_now().await;
        if wallet.is_empty() {
            return Err("empty wallet".into());
        }
        Ok(0.5)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_methods() {
    let c = testing::capture();
    assert_eq!(Pattern.detect_twice("w1").await, 1.0);
    assert!(Pattern.detect("").await.is_err());
    let outer = only(&c, "Detector::detect_twice");
    let detects = c.spans_named(&format!("{MOD}::Pattern::detect"));
    assert_eq!(detects.len(), 2);
    let ok = detects.iter().find(|s| !s.is_error()).unwrap();
    assert_eq!(ok.parent_span_id, Some(outer.span_id));
    assert_eq!(ok.attr("wallet"), Some(&"w1".into()));
    assert_eq!(ok.attr("result"), Some(&godtrace::otel::Value::F64(0.5)));
    let err = detects.iter().find(|s| s.is_error()).unwrap();
    assert_eq!(err.error_message(), Some("empty wallet"));
}

#[async_trait::async_trait]
trait Login {
    async fn login(&self, user: &str, token: String, pair: (u32, u32)) -> u32;
}

struct Gate;

/// `#[async_trait]` renames a parameter written as a pattern (`_`, `(a, b)`) by its position
/// before `#[traced]` sees it.
#[async_trait::async_trait]
#[traced(include_args, skip(b))]
impl Login for Gate {
    async fn login(&self, user: &str, _: String, (a, b): (u32, u32)) -> u32 {
        user.len() as u32 + a + b
    }
}

/// Those parameters are not recorded (a `_` never is; the pattern's names are out of the
/// attribute's sight), and a `skip` of a name in such a pattern is not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_parameters_written_as_patterns_are_not_recorded() {
    let c = testing::capture();
    assert_eq!(Gate.login("ann", "secret".to_owned(), (1, 2)).await, 6);
    let s = only(&c, "Gate::login");
    assert_eq!(s.attr("user"), Some(&"ann".into()));
    let keys: Vec<&str> = s.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        !keys.iter().any(|k| k.starts_with("__arg")),
        "positional parameters recorded: {keys:?}"
    );
}

/// A parameter of the user's own named like async_trait's positional ones is recorded.
#[traced(include_args)]
#[allow(clippy::used_underscore_binding)]
fn named_like_a_position(__arg1: u32) -> u32 {
    __arg1
}

#[test]
fn a_parameter_named_like_async_traits_outside_it_is_recorded() {
    let c = testing::capture();
    assert_eq!(named_like_a_position(4), 4);
    let s = only(&c, "named_like_a_position");
    assert_eq!(s.attr("__arg1"), Some(&godtrace::otel::Value::I64(4)));
}

/// A minimal executor, so the shape tests do not depend on a runtime being entered.
pub(crate) fn futures_block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[traced]
fn outer_sync() -> u32 {
    #[traced]
    fn nested_in_sync() -> u32 {
        1
    }
    nested_in_sync()
}

#[traced]
async fn outer_async() -> u32 {
    #[traced]
    fn nested_in_async() -> u32 {
        1
    }
    nested_in_async()
}

struct Borrowing<'a, T, const N: usize>(&'a [T; N]);

impl<T, const N: usize> Borrowing<'_, T, N> {
    #[traced]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A name shows no generic arguments (lifetimes, consts) and no closure of the enclosing
/// traced function: `type_name` gives `Borrowing<'_, _, N>` and `outer_sync::{{closure}}`.
#[test]
fn names_read_without_generics_nor_closures() {
    let c = testing::capture();
    assert_eq!(outer_sync(), 1);
    assert_eq!(futures_block_on(outer_async()), 1);
    assert_eq!(Borrowing(&[1u8, 2]).len(), 2);
    only(&c, "outer_sync::nested_in_sync");
    only(&c, "outer_async::nested_in_async");
    only(&c, "Borrowing::len");
}

#[traced]
fn length_of() -> impl Fn(&String) -> usize {
    |s| s.len()
}

#[traced(include_args)]
fn at_least(min: u32) -> impl FnMut(&(u32, u32)) -> bool + Send + 'static {
    move |pair| pair.0 >= min
}

#[traced]
async fn echo() -> impl Fn(&str) -> &str {
    |s| s
}

/// Lifetimes the bound itself declares, or elides among its parameters: not the function's.
#[traced]
fn trim() -> impl for<'a> Fn(&'a str) -> &'a str {
    |s| s.trim()
}

#[traced]
fn formatted() -> impl Fn(std::fmt::Arguments<'_>) -> String {
    |a| a.to_string()
}

/// A lifetime bound on the closure (`+ 'a`, `+ '_`) names the function's lifetime, but does
/// not shape the closure's signature.
#[traced]
fn equal_to<'a>(p: &'a str) -> impl Fn(&str) -> bool + 'a {
    move |s| s == p
}

#[traced]
fn prefix_of(p: &str) -> impl Fn(&str) -> bool + '_ {
    move |s| s.starts_with(p)
}

/// A closure returned as `impl Fn(..)` takes its parameter types from the declared return
/// type, as without the attribute (the body's own closure does not have it in sight).
#[test]
fn a_returned_closure_takes_its_signature_from_the_return_type() {
    let c = testing::capture();
    assert_eq!(length_of()(&"four".to_owned()), 4);
    let mut keep = at_least(2);
    assert!(keep(&(3, 0)) && !keep(&(1, 0)));
    assert_eq!(crate::shapes::futures_block_on(echo())("x"), "x");
    assert_eq!(trim()(" y "), "y");
    assert_eq!(formatted()(format_args!("{}", 7)), "7");
    let equal = equal_to("z");
    assert!(equal("z") && !equal("y"));
    assert!(prefix_of("ab")("abc"));
    let names = ["length_of", "at_least", "echo", "trim", "formatted"];
    for name in names.into_iter().chain(["equal_to", "prefix_of"]) {
        c.span(&format!("capture::shapes::{name}"));
    }
}

/// A tail coerced to the declared type (`Box<io::Error>` unsized to `Box<dyn Error>`), with
/// the arguments recorded as without.
#[traced(include_args)]
fn refused(reason: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(std::io::Error::other(reason.to_owned())))
}

#[traced]
fn refused_unrecorded(reason: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(std::io::Error::other(reason.to_owned())))
}

#[test]
fn a_tail_is_coerced_to_the_declared_type_with_arguments_recorded() {
    let c = testing::capture();
    assert_eq!(refused("full").unwrap_err().to_string(), "full");
    assert_eq!(refused_unrecorded("late").unwrap_err().to_string(), "late");
    let span = c.span("capture::shapes::refused");
    assert_eq!(span.attr("reason"), Some(&"full".into()));
    assert!(span.is_error());
    assert!(c.span("capture::shapes::refused_unrecorded").is_error());
}

#[traced]
fn in_a_block() -> impl Fn(&str) -> usize {
    let n = 1;
    {
        let m = n + 1;
        move |s| s.len() + m
    }
}

#[traced]
fn in_a_tuple() -> (impl Fn(&str) -> usize, u8, [impl Fn(u8) -> u8; 1]) {
    (|s| s.len(), 1, [(|x| x + 1)])
}

#[traced(include_args)]
fn returned_early(words: &[&str]) -> impl Fn(&str) -> usize {
    for word in words {
        if word.is_empty() {
            return |s| s.len();
        }
    }
    panic!("no empty word")
}

#[traced(include_args)]
fn returned_last(long: bool) -> impl Fn(&str) -> usize {
    assert!(long, "only long ones");
    return move |s| s.len() * 2;
}

#[traced]
fn in_an_unsafe_block() -> impl Fn(&str) -> usize {
    // SAFETY: the bytes are ASCII, which is UTF-8.
    unsafe {
        let n = std::str::from_utf8_unchecked(b"ab").len();
        move |s| s.len() + n
    }
}

#[traced]
async fn out_of_a_loop() -> impl Fn(&str) -> usize {
    let mut n = 0;
    loop {
        n += 1;
        if n == 3 {
            break move |s| s.len() + n;
        }
    }
}

/// Without the attribute, rustc asks for the types of these closures' parameters.
#[traced(include_args)]
fn by_branch(kind: u8) -> impl Fn(&str) -> usize {
    if kind == 0 {
        |s| s.len()
    } else {
        match kind {
            1 => |s| s.len() + 1,
            _ => |s| s.len() + 2,
        }
    }
}

/// A closure in a nested tail (a block, a tuple or array element, a branch or an arm), in a
/// `return` or in a `break` out of the loop the function returns, takes its parameter types
/// from the declared return type too.
#[test]
fn a_nested_returned_closure_takes_its_signature_from_the_return_type() {
    let c = testing::capture();
    assert_eq!(in_a_block()("ab"), 4);
    let (len, one, [next]) = in_a_tuple();
    assert_eq!((len("ab"), one, next(1)), (2, 1, 2));
    assert_eq!(returned_early(&["a", ""])("ab"), 2);
    assert_eq!(returned_last(true)("ab"), 4);
    assert_eq!(in_an_unsafe_block()("ab"), 4);
    assert_eq!(futures_block_on(out_of_a_loop())("ab"), 5);
    assert_eq!([0, 1, 2].map(|kind| by_branch(kind)("ab")), [2, 3, 4]);
    for name in [
        "in_a_block",
        "in_a_tuple",
        "returned_early",
        "returned_last",
        "in_an_unsafe_block",
        "out_of_a_loop",
    ] {
        only(&c, name);
    }
    assert_eq!(c.spans_named(&format!("{MOD}::by_branch")).len(), 3);
}

/// A user type named as the helper's type parameter was (`F`) is still the user's in the
/// returned closure's signature.
pub struct F(u32);

#[traced]
fn reads_f() -> impl Fn(F) -> u32 {
    |f| f.0 + 1
}

#[test]
fn a_user_type_named_f_in_a_returned_closure_stays_the_users() {
    let c = testing::capture();
    assert_eq!(reads_f()(F(1)), 2);
    only(&c, "reads_f");
}

/// A function whose types a `macro_rules!` writes as `$t:ty` fragments (each in an invisible
/// group).
macro_rules! traced_fn {
    ($name:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $body:block) => {
        #[traced(include_args)]
        fn $name($($arg: $ty),*) -> $ret $body
    };
}

traced_fn!(future_through_a_macro, (x: u32) -> impl Future<Output = u32>, {
    async move {
        tokio::task::yield_now().await;
        free_sync(x)
    }
});
traced_fn!(closure_through_a_macro, () -> impl Fn(&str) -> usize, { |s| s.len() });
traced_fn!(never_through_a_macro, (code: u32) -> !, { panic!("gave up with {code}") });
traced_fn!(str_through_a_macro, (name: &str) -> usize, { name.len() });

/// A fragment nested in a type the attribute reads (`Pin<Box<$t>>`), and one behind a
/// reference whose bounds the group kept together (`&$t`, `$t` = `dyn Debug + Send`).
macro_rules! traced_nested {
    ($name:ident, $future:ty, $shown:ty) => {
        #[traced(include_args)]
        fn $name<'a>(x: u32, shown: &'a $shown) -> Pin<Box<$future>> {
            let _ = shown;
            Box::pin(async move {
                tokio::task::yield_now().await;
                free_sync(x)
            })
        }
    };
}

traced_nested!(
    boxed_through_a_macro,
    dyn Future<Output = u32> + Send + 'a,
    dyn std::fmt::Debug + Sync
);

/// The same in a traced impl block's methods, and behind a nested fn's `->`.
macro_rules! traced_methods {
    ($shown:ty) => {
        pub struct Shown;

        #[traced(include_args, skip(make, pointer))]
        impl Shown {
            pub fn show(&self, shown: &$shown) -> String {
                format!("{shown:?}")
            }

            pub fn no_makers(
                &self,
                make: Option<&dyn Fn() -> $shown>,
                pointer: Option<fn() -> $shown>,
            ) -> bool {
                make.is_none() && pointer.is_none()
            }
        }
    };
}

traced_methods!(dyn std::fmt::Debug + Send);

/// Types from a `macro_rules!` fragment are read as written: the future's span covers its
/// polls, the closure takes its signature, `!` compiles, and a `&str` is recorded as a string.
#[test]
fn types_written_by_a_declarative_macro_are_read_as_written() {
    let c = testing::capture();
    assert_eq!(futures_block_on(future_through_a_macro(1)), 2);
    let future = only(&c, "future_through_a_macro");
    let inner = c.spans_named(&format!("{MOD}::free_sync"));
    assert!(
        inner
            .iter()
            .any(|s| s.parent_span_id == Some(future.span_id)),
        "the future's polls run under its span"
    );
    assert_eq!(closure_through_a_macro()("four"), 4);
    only(&c, "closure_through_a_macro");
    assert!(std::panic::catch_unwind(|| never_through_a_macro(3)).is_err());
    let never = only(&c, "never_through_a_macro");
    assert_eq!(never.error_message(), Some("gave up with 3"));
    assert_eq!(str_through_a_macro("ab"), 2);
    let s = only(&c, "str_through_a_macro");
    assert_eq!(s.attr("name"), Some(&godtrace::otel::Value::from("ab")));
    assert_eq!(futures_block_on(boxed_through_a_macro(3, &"x")), 4);
    let boxed = only(&c, "boxed_through_a_macro");
    assert!(
        c.spans_named(&format!("{MOD}::free_sync"))
            .iter()
            .any(|s| s.parent_span_id == Some(boxed.span_id)),
        "the boxed future's polls run under its span"
    );
    assert_eq!(
        boxed.attr("shown"),
        Some(&godtrace::otel::Value::from("\"x\""))
    );
    assert_eq!(Shown.show(&7), "7");
    assert!(Shown.no_makers(None, None));
    let shown = only(&c, "Shown::show");
    assert_eq!(shown.attr("shown"), Some(&godtrace::otel::Value::from("7")));
}

/// A module whose own items are named like the primitive and prelude types the expansion
/// could name (`str`, `bool`, `Option`, `Result`…): the expansion names none of them as
/// written, so their meaning here changes nothing.
mod shadowed_names {
    #![allow(non_camel_case_types, dead_code)]
    use godtrace::traced;

    pub type str = [u8];
    pub type bool = u8;
    pub type usize = u8;
    pub type u32 = u8;
    pub struct Option;
    pub struct Result;
    pub struct Some;
    pub struct Ok;
    pub struct Box;
    pub struct String;
    pub struct Vec;
    pub struct Drop;

    #[traced]
    pub fn sync_call(bytes: &str) -> usize {
        bytes[0]
    }

    #[traced(include_args, include_result)]
    pub fn recorded(flag: bool) -> ::core::result::Result<u32, ::std::fmt::Error> {
        ::core::result::Result::Ok(flag)
    }

    #[traced]
    pub async fn async_call(n: u32) -> u32 {
        n
    }
}

#[test]
fn items_named_like_primitive_and_prelude_types_change_nothing() {
    let c = testing::capture();
    assert_eq!(shadowed_names::sync_call(&[7]), 7);
    assert_eq!(shadowed_names::recorded(3), Ok(3));
    assert_eq!(futures_block_on(shadowed_names::async_call(5)), 5);
    for name in ["sync_call", "recorded", "async_call"] {
        only(&c, &format!("shadowed_names::{name}"));
    }
    assert_eq!(
        only(&c, "shadowed_names::recorded").attr("flag"),
        Some(&godtrace::otel::Value::I64(3))
    );
}

/// Borrows handed out of the body: a `&mut` into an argument or into `self`, an iterator of
/// them. The body's closure takes each reference whole and runs once: what it returns may
/// live as long as the reference it came from.
mod lent_out {
    use godtrace::traced;

    #[traced]
    pub fn first_mut(v: &mut Vec<u32>) -> &mut u32 {
        v.push(1);
        &mut v[0]
    }

    pub struct Items(pub Vec<u32>);

    impl Items {
        #[traced]
        pub fn get_mut(&mut self, i: usize) -> &mut u32 {
            &mut self.0[i]
        }

        #[traced(include_args)]
        pub fn get_mut_recording(&mut self, i: usize) -> &mut u32 {
            &mut self.0[i]
        }

        #[traced]
        pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut u32> {
            self.0.iter_mut()
        }
    }
}

#[test]
fn references_into_arguments_and_self_are_handed_out() {
    let c = testing::capture();
    let mut v = Vec::new();
    *lent_out::first_mut(&mut v) += 4;
    assert_eq!(v, [5]);
    let mut items = lent_out::Items(vec![1, 2]);
    *items.get_mut(0) += 10;
    *items.get_mut_recording(1) += 20;
    items.iter_mut().for_each(|x| *x += 1);
    assert_eq!(items.0, [12, 23]);
    for name in [
        "first_mut",
        "Items::get_mut",
        "Items::get_mut_recording",
        "Items::iter_mut",
    ] {
        only(&c, &format!("lent_out::{name}"));
    }
}

#[derive(Debug)]
struct BoxedFailure;

impl std::fmt::Display for BoxedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boxed failure")
    }
}

impl std::error::Error for BoxedFailure {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// Tails that compile only as a coercion to the declared type (an unsizing inside a
// constructor, an arm, a tuple, a `vec!`), in `async fn`s with parameters.
#[traced]
async fn boxed_error(id: u64) -> Result<u64, BoxError> {
    if id == 0 {
        Err(Box::new(BoxedFailure))
    } else {
        Ok(id)
    }
}

#[traced]
async fn boxed_closure(n: u32) -> Result<Box<dyn Fn() -> u32 + Send>, ()> {
    Ok(Box::new(move || n))
}

#[traced]
async fn unsized_reference(_n: u32) -> Option<&'static (dyn std::fmt::Debug + Sync)> {
    Some(&5)
}

#[traced]
async fn boxed_in_a_vec_and_a_tuple(
    n: u8,
) -> (
    Vec<Box<dyn std::fmt::Debug + Send>>,
    Box<dyn std::fmt::Debug + Send>,
) {
    (vec![Box::new(n)], Box::new(n))
}

struct Lookup;

impl Lookup {
    #[traced]
    async fn find(&self, id: u64) -> Result<u64, BoxError> {
        match id {
            0 => Err(Box::new(BoxedFailure)),
            _ => Ok(id),
        }
    }
}

/// An `async fn`'s tail is coerced to the declared output as without the attribute.
#[tokio::test]
async fn an_async_tail_is_coerced_to_the_declared_output() {
    let c = testing::capture();
    assert_eq!(
        boxed_error(0).await.unwrap_err().to_string(),
        "boxed failure"
    );
    assert_eq!(boxed_error(7).await.unwrap(), 7);
    assert_eq!(boxed_closure(3).await.unwrap()(), 3);
    assert_eq!(format!("{:?}", unsized_reference(1).await), "Some(5)");
    assert_eq!(
        format!("{:?}", boxed_in_a_vec_and_a_tuple(4).await),
        "([4], 4)"
    );
    assert!(Lookup.find(0).await.is_err());
    let calls = c.spans_named(&format!("{MOD}::boxed_error"));
    assert_eq!(calls.iter().filter(|s| s.is_error()).count(), 1);
    assert!(c.span("capture::shapes::Lookup::find").is_error());
}

/// A unit struct named in a parameter's pattern: the pattern matches it, binding nothing.
#[derive(Debug, Clone, Copy)]
struct Marker;

#[allow(non_snake_case)]
#[traced(include_args)]
fn marked(Marker: Marker, n: u32) -> u32 {
    n + 1
}

#[allow(non_snake_case)]
#[traced(include_args)]
async fn marked_async(Marker: Marker, n: u32) -> u32 {
    n + 2
}

#[test]
fn a_unit_struct_pattern_parameter_compiles_and_records_the_rest() {
    let c = testing::capture();
    assert_eq!(marked(Marker, 1), 2);
    assert_eq!(futures_block_on(marked_async(Marker, 1)), 3);
    for name in ["capture::shapes::marked", "capture::shapes::marked_async"] {
        let span = c.span(name);
        assert_eq!(span.attr("Marker"), Some(&"Marker".into()), "{name}");
        assert_eq!(span.attr("n"), Some(&1i64.into()), "{name}");
    }
}
