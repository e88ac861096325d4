//! `kind = ..`, `fields(...)` and `#[traced]` on impl blocks, as the capture sees them: the span
//! kind, the computed attributes (typed, evaluated at the call) and one span per traced method.
use godtrace::otel::Value;
use godtrace::testing::{self, Capture, FinishedSpan};
use godtrace::{SpanKind, traced, untraced};
use std::sync::atomic::{AtomicUsize, Ordering};

const MOD: &str = "capture::kinds_fields_impls";

fn span(capture: &Capture, name: &str) -> FinishedSpan {
    capture.span(&format!("{MOD}::{name}"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[traced(kind = server)]
fn serve() {}

#[traced(kind = client)]
async fn call() {}

#[traced(kind = producer)]
fn publish() {}

#[traced(kind = consumer)]
fn consume() {}

#[traced(kind = internal)]
fn explicit_internal() {}

#[traced]
fn plain() {}

#[test]
fn kind_is_the_span_kind() {
    let c = testing::capture();
    serve();
    block_on(call());
    publish();
    consume();
    explicit_internal();
    plain();
    assert_eq!(span(&c, "serve").kind, SpanKind::Server);
    assert_eq!(span(&c, "call").kind, SpanKind::Client);
    assert_eq!(span(&c, "publish").kind, SpanKind::Producer);
    assert_eq!(span(&c, "consume").kind, SpanKind::Consumer);
    assert_eq!(span(&c, "explicit_internal").kind, SpanKind::Internal);
    assert_eq!(span(&c, "plain").kind, SpanKind::Internal);
}

#[test]
fn manual_spans_take_a_kind_from_the_builder() {
    let c = testing::capture();
    drop(
        godtrace::span_builder("manual.client")
            .kind(SpanKind::Client)
            .start(),
    );
    drop(godtrace::span_builder("manual.default").start());
    drop(godtrace::span("manual.plain"));
    assert_eq!(c.span("manual.client").kind, SpanKind::Client);
    assert_eq!(c.span("manual.default").kind, SpanKind::Internal);
    assert_eq!(c.span("manual.plain").kind, SpanKind::Internal);
}

#[test]
fn a_built_span_nests_like_span() {
    let c = testing::capture();
    {
        let _outer = godtrace::span("manual.outer");
        let _inner = godtrace::span_builder("manual.inner")
            .kind(SpanKind::Server)
            .start();
        serve();
    }
    let outer = c.span("manual.outer");
    let inner = c.span("manual.inner");
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
    assert_eq!(span(&c, "serve").parent_span_id, Some(inner.span_id));
}

#[derive(Debug)]
struct User {
    id: u64,
    name: String,
}

#[traced(fields(user.id = user.id, user.name = user.name, user.tag = user, doubled = n * 2, ratio = 0.5))]
fn typed_fields(user: &User, mut n: i64) -> i64 {
    n += 100;
    n
}

#[test]
fn fields_are_typed_attributes_computed_before_the_body() {
    let c = testing::capture();
    let user = User {
        id: 7,
        name: "ada".into(),
    };
    assert_eq!(typed_fields(&user, 3), 103);
    let s = span(&c, "typed_fields");
    assert_eq!(s.attr("user.id"), Some(&Value::I64(7)));
    assert_eq!(s.attr("user.name"), Some(&Value::from("ada")));
    assert_eq!(s.attr("user.tag"), Some(&Value::from(format!("{user:?}"))));
    // The body changed `n` afterwards: the field saw it as passed.
    assert_eq!(s.attr("doubled"), Some(&Value::I64(6)));
    assert_eq!(s.attr("ratio"), Some(&Value::F64(0.5)));
    assert!(s.attr("user").is_none() && s.attr("n").is_none());
}

#[traced(include_args, fields(items.count = items.len()))]
async fn async_fields(mut items: Vec<u32>, label: String) -> usize {
    items.push(1);
    tokio::task::yield_now().await;
    items.len() + label.len()
}

#[test]
fn async_fields_are_read_at_the_call_and_the_parameters_still_move_in() {
    let c = testing::capture();
    let future = async_fields(vec![1, 2], "ab".into());
    assert_eq!(block_on(future), 5);
    let s = span(&c, "async_fields");
    assert_eq!(s.attr("items.count"), Some(&Value::I64(2)));
    assert_eq!(s.attr("label"), Some(&Value::from("ab")));
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn count_evaluation() -> u32 {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    1
}

#[traced(sample_rate = 0.0, fields(costly = count_evaluation()))]
fn sampled_out_fields() -> u32 {
    2
}

#[traced(fields(costly = count_evaluation()))]
fn sampled_in_fields() -> u32 {
    2
}

#[test]
fn fields_are_evaluated_once_and_only_for_spans_sampled_in() {
    let c = testing::capture();
    assert_eq!(sampled_out_fields(), 2);
    assert_eq!(EVALUATED.load(Ordering::SeqCst), 0);
    assert!(c.spans().is_empty(), "{:?}", c.spans());
    assert_eq!(sampled_in_fields(), 2);
    assert_eq!(EVALUATED.load(Ordering::SeqCst), 1);
    assert_eq!(
        span(&c, "sampled_in_fields").attr("costly"),
        Some(&Value::I64(1))
    );
}

#[traced(fields(first = items[0], count = items.len()))]
fn total(items: &[u32]) -> u32 {
    items.iter().sum()
}

#[traced(fields(first = items[0]))]
async fn async_total(items: Vec<u32>) -> u32 {
    items.iter().sum()
}

/// A `fields(..)` expression is evaluated only when the span records (the untraced function
/// never runs it): one that panics is recorded as a marker, and the call runs and returns as
/// untraced. It used to make the call panic, sampled in only, before the body ran.
#[test]
fn a_field_whose_expression_panics_is_recorded_as_a_marker_and_the_call_runs() {
    let c = testing::capture();
    assert_eq!(total(&[]), 0);
    assert_eq!(block_on(async_total(Vec::new())), 0);
    let s = span(&c, "total");
    assert_eq!(s.attr("first"), Some(&Value::from("<field panicked>")));
    assert_eq!(s.attr("count"), Some(&Value::I64(0)));
    assert!(!s.is_error(), "{s:?}");
    let s = span(&c, "async_total");
    assert_eq!(s.attr("first"), Some(&Value::from("<field panicked>")));
}

struct Ledger {
    id: u64,
}

#[traced(kind = server, include_args, skip(secret), fields(ledger.id = self.id))]
impl Ledger {
    fn read(&self, key: &str) -> usize {
        key.len()
    }

    fn login(&self, user: &str, secret: &str) -> bool {
        user.len() == secret.len()
    }

    async fn fetch(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n + 1
    }

    #[traced(kind = client, operation = "ledger.push")]
    fn push(&self, n: u32) -> u32 {
        n
    }

    #[untraced]
    fn hot(&self) -> u64 {
        self.id
    }
}

#[test]
fn an_impl_block_traces_each_method_with_its_options() {
    let c = testing::capture();
    let ledger = Ledger { id: 9 };
    assert_eq!(ledger.read("key"), 3);
    assert!(ledger.login("ab", "cd"));
    assert_eq!(block_on(ledger.fetch(1)), 2);
    assert_eq!(ledger.push(4), 4);
    assert_eq!(ledger.hot(), 9);

    let read = span(&c, "Ledger::read");
    assert_eq!(read.kind, SpanKind::Server);
    assert_eq!(read.attr("key"), Some(&Value::from("key")));
    assert_eq!(read.attr("ledger.id"), Some(&Value::I64(9)));

    let login = span(&c, "Ledger::login");
    assert_eq!(login.attr("user"), Some(&Value::from("ab")));
    assert!(login.attr("secret").is_none(), "skipped on the block");

    let fetch = span(&c, "Ledger::fetch");
    assert_eq!(fetch.kind, SpanKind::Server);
    assert_eq!(fetch.attr("n"), Some(&Value::I64(1)));

    // The method's own options win where they are written; the block's others still apply.
    let push = c.span("ledger.push");
    assert_eq!(push.kind, SpanKind::Client);
    assert_eq!(push.attr("n"), Some(&Value::I64(4)));
    assert_eq!(push.attr("ledger.id"), Some(&Value::I64(9)));

    assert!(c.spans_named(&format!("{MOD}::Ledger::hot")).is_empty());
    assert_eq!(c.spans().len(), 4, "{:?}", c.spans());
}

trait Store {
    fn get(&self, n: u32) -> u32;
}

#[traced(kind = consumer)]
impl Store for Ledger {
    fn get(&self, n: u32) -> u32 {
        n
    }
}

#[async_trait::async_trait]
trait Remote {
    async fn call(&self, n: u32) -> u32;
}

#[traced(kind = client, include_args)]
#[async_trait::async_trait]
impl Remote for Ledger {
    async fn call(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n + 1
    }
}

struct Mirror;

#[async_trait::async_trait]
#[traced(kind = client, include_args)]
impl Remote for Mirror {
    async fn call(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n + 2
    }
}

#[test]
fn trait_impl_blocks_and_async_trait_in_either_order() {
    let c = testing::capture();
    let ledger = Ledger { id: 1 };
    assert_eq!(ledger.get(5), 5);
    assert_eq!(block_on(ledger.call(1)), 2);
    assert_eq!(block_on(Mirror.call(1)), 3);

    assert_eq!(span(&c, "Ledger::get").kind, SpanKind::Consumer);
    let spans = c.spans();
    let calls: Vec<&FinishedSpan> = spans
        .iter()
        .filter(|s| s.name.ends_with("::call"))
        .collect();
    assert_eq!(calls.len(), 2, "{:?}", spans);
    for s in calls {
        assert_eq!(s.kind, SpanKind::Client, "{}", s.name);
        assert_eq!(s.attr("n"), Some(&Value::I64(1)), "{}", s.name);
        // The span covers the future: it is not a zero-length span around building it.
        assert!(s.duration > std::time::Duration::ZERO, "{}", s.name);
    }
}

/// A trait's default `async fn`, whose future captures two lifetimes (`self`'s and `key`'s):
/// the desugared signature must be one a trait's method may have.
trait Lookup {
    fn base(&self) -> usize;

    #[traced]
    async fn lookup(&self, key: &str) -> usize {
        tokio::task::yield_now().await;
        self.base() + key.len()
    }
}

impl Lookup for Ledger {
    fn base(&self) -> usize {
        self.id as usize
    }
}

#[test]
fn a_default_async_trait_method_borrowing_two_lifetimes_is_traced() {
    let c = testing::capture();
    assert_eq!(block_on(Ledger { id: 2 }.lookup("abc")), 5);
    let lookup = span(&c, "Lookup::lookup");
    assert!(lookup.duration > std::time::Duration::ZERO);
}

struct Vault;

#[traced(include_args, skip(secret))]
impl Vault {
    /// Turns `include_args` off: the block's `skip` just does not apply.
    #[traced(include_args = false)]
    fn quiet(&self, secret: u32) -> u32 {
        secret
    }

    /// Its own `skip` adds to the block's: neither is recorded.
    #[traced(skip(token))]
    fn login(&self, user: &str, secret: &str, token: &str) -> usize {
        user.len() + secret.len() + token.len()
    }

    /// Skips the block's name again: the same.
    #[traced(skip(secret, token))]
    fn again(&self, secret: &str, token: &str, n: u32) -> u32 {
        (secret.len() + token.len()) as u32 + n
    }

    /// Has no `secret`: the block's `skip` does not concern it.
    fn open(&self, n: u32) -> u32 {
        n
    }
}

#[test]
fn a_methods_skip_adds_to_the_blocks() {
    let c = testing::capture();
    let vault = Vault;
    assert_eq!(vault.quiet(3), 3);
    assert_eq!(vault.login("ab", "cd", "ef"), 6);
    assert_eq!(vault.again("a", "b", 1), 3);
    assert_eq!(vault.open(4), 4);

    assert!(span(&c, "Vault::quiet").attr("secret").is_none());
    let login = span(&c, "Vault::login");
    assert_eq!(login.attr("user"), Some(&Value::from("ab")));
    assert!(login.attr("secret").is_none(), "skipped on the block");
    assert!(login.attr("token").is_none(), "skipped on the method");
    let again = span(&c, "Vault::again");
    assert_eq!(again.attr("n"), Some(&Value::I64(1)));
    assert!(again.attr("secret").is_none() && again.attr("token").is_none());
    assert_eq!(span(&c, "Vault::open").attr("n"), Some(&Value::I64(4)));
}

/// A trait with inherent methods on its trait objects (`impl dyn Shape`).
trait Shape {
    fn area(&self) -> u32;
}

struct Square;

impl Shape for Square {
    fn area(&self) -> u32 {
        4
    }
}

impl dyn Shape {
    #[traced]
    fn described(&self) -> u32 {
        self.area()
    }
}

impl dyn Shape + Send {
    #[traced]
    fn described_send(&self) -> u32 {
        self.area()
    }
}

/// A method of `impl dyn Trait` is named under the trait, as a method of a type is under the
/// type.
#[test]
fn methods_of_trait_objects_are_named_by_their_trait() {
    let c = testing::capture();
    let shape: &dyn Shape = &Square;
    assert_eq!(shape.described(), 4);
    let shape: &(dyn Shape + Send) = &Square;
    assert_eq!(shape.described_send(), 4);
    for method in ["described", "described_send"] {
        let name = format!("capture::kinds_fields_impls::Shape::{method}");
        let s = c.span(&name);
        assert_eq!(
            s.attr("code.function.name"),
            Some(&Value::from(name.clone()))
        );
    }
}

struct Scoped;

// Impl blocks inside items, as derive macros emit them (`const _: () = { .. }`) and as a
// function's body may hold them: the method's path names the type, not the enclosing item.
const _: () = {
    impl Shape for Scoped {
        #[traced]
        fn area(&self) -> u32 {
            9
        }
    }
};

fn with_an_impl_block_inside() -> u32 {
    struct Local;
    impl Local {
        #[traced]
        fn inner(&self) -> u32 {
            Scoped.area() + 1
        }
    }
    Local.inner()
}

#[test]
fn methods_of_impl_blocks_inside_items_are_named_by_their_type() {
    let c = testing::capture();
    assert_eq!(with_an_impl_block_inside(), 10);
    let inner = span(&c, "with_an_impl_block_inside::Local::inner");
    assert_eq!(span(&c, "Scoped::area").parent_span_id, Some(inner.span_id));
}

struct Conditional;

/// `#[traced]` and `#[untraced]` under a condition on a method of a traced block: the
/// method's options join the block's when the condition holds, and the block's alone apply
/// when it does not.
#[traced(include_args)]
impl Conditional {
    #[cfg_attr(all(), traced(kind = client))]
    fn when_true(&self, n: u32) -> u32 {
        n
    }

    #[cfg_attr(any(), traced(kind = client))]
    fn when_false(&self, n: u32) -> u32 {
        n
    }

    #[cfg_attr(all(), untraced)]
    fn left_alone(&self) -> u32 {
        3
    }

    #[cfg_attr(all(), traced(kind = server), inline)]
    #[cfg_attr(any(), untraced)]
    fn two_conditions(&self, n: u32) -> u32 {
        n
    }

    #[cfg_attr(all(), cfg_attr(all(), traced(kind = producer, skip(n))))]
    fn nested_condition(&self, n: u32) -> u32 {
        n
    }

    // `true` and `false` (stable since 1.88) are conditions too.
    #[cfg_attr(true, traced(kind = consumer))]
    fn when_literally_true(&self, n: u32) -> u32 {
        n
    }

    #[cfg_attr(false, traced(kind = consumer))]
    fn when_literally_false(&self, n: u32) -> u32 {
        n
    }

    #[cfg_attr(true, untraced)]
    fn left_alone_literally(&self) -> u32 {
        6
    }
}

#[test]
fn conditional_traced_and_untraced_on_methods_of_a_traced_block() {
    let c = testing::capture();
    let it = Conditional;
    assert_eq!(
        it.when_true(1) + it.when_false(2) + it.left_alone() + it.two_conditions(4),
        10
    );
    for (name, kind, n) in [
        ("when_true", SpanKind::Client, 1),
        ("when_false", SpanKind::Internal, 2),
        ("two_conditions", SpanKind::Server, 4),
    ] {
        let s = span(&c, &format!("Conditional::{name}"));
        assert_eq!(s.kind, kind, "{name}");
        assert_eq!(s.attr("n"), Some(&Value::I64(n)), "{name}");
    }
    assert!(
        c.spans_named(&format!("{MOD}::Conditional::left_alone"))
            .is_empty()
    );
    assert_eq!(
        it.when_literally_true(7) + it.when_literally_false(8) + it.left_alone_literally(),
        21
    );
    assert_eq!(
        span(&c, "Conditional::when_literally_true").kind,
        SpanKind::Consumer
    );
    assert_eq!(
        span(&c, "Conditional::when_literally_false").kind,
        SpanKind::Internal
    );
    assert!(
        c.spans_named(&format!("{MOD}::Conditional::left_alone_literally"))
            .is_empty()
    );
    assert_eq!(it.nested_condition(5), 5);
    let nested = span(&c, "Conditional::nested_condition");
    assert_eq!(nested.kind, SpanKind::Producer);
    assert!(nested.attr("n").is_none());
}
