//! What a traced call records: names, arguments by type, results, errors, panics, code
//! location, and size limits.
use godtrace::otel::Value;
use godtrace::testing;
use godtrace::traced;

#[traced(operation = "wallet.analyze")]
fn named() {}

#[test]
fn operation_names_the_span_and_code_attributes_locate_it() {
    let c = testing::capture();
    named();
    let s = c.span("wallet.analyze");
    assert_eq!(
        s.attr("code.function.name"),
        Some(&Value::from("capture::capture_rules::named"))
    );
    assert_eq!(
        s.attr("code.file.path"),
        Some(&Value::from("tests/capture/capture_rules.rs"))
    );
    // The line of the function's name, not of the attribute or of generated code.
    assert_eq!(s.attr("code.line.number"), Some(&Value::I64(8)));
}

#[derive(Debug)]
#[allow(dead_code)]
struct Order {
    id: u32,
}

#[allow(clippy::too_many_arguments)]
#[traced(include_args)]
fn typed(
    small: i8,
    big: u64,
    ratio: f32,
    ok: bool,
    label: &str,
    owned: String,
    letter: char,
    order: Order,
) {
    let _ = (small, big, ratio, ok, label, owned, letter, order);
}

#[test]
fn arguments_keep_their_types() {
    let c = testing::capture();
    typed(-3, 7, 0.5, true, "abc", "xyz".into(), 'q', Order { id: 9 });
    let s = c.span("capture::capture_rules::typed");
    assert_eq!(s.attr("small"), Some(&Value::I64(-3)));
    assert_eq!(s.attr("big"), Some(&Value::I64(7)));
    assert_eq!(s.attr("ratio"), Some(&Value::F64(0.5)));
    assert_eq!(s.attr("ok"), Some(&Value::Bool(true)));
    assert_eq!(s.attr("label"), Some(&Value::from("abc")));
    assert_eq!(s.attr("owned"), Some(&Value::from("xyz")));
    assert_eq!(s.attr("letter"), Some(&Value::from("q")));
    assert_eq!(s.attr("order"), Some(&Value::from("Order { id: 9 }")));
}

#[traced]
fn no_options(secret: &str) -> usize {
    secret.len()
}

#[traced(include_args, skip(password, api_key))]
fn login(user: &str, password: &str, api_key: String) -> bool {
    !user.is_empty() && !password.is_empty() && !api_key.is_empty()
}

#[traced(include_args)]
fn raw_names(r#type: &str, r#match: u32) -> usize {
    r#type.len() + r#match as usize
}

#[traced(include_args)]
async fn raw_names_async(r#type: &str) -> usize {
    r#type.len()
}

/// A raw identifier is recorded under its name (`type`), as `fields(r#type = ..)` names it.
#[test]
fn raw_identifier_parameters_are_recorded_under_their_names() {
    let c = testing::capture();
    assert_eq!(raw_names("order", 2), 7);
    assert_eq!(crate::shapes::futures_block_on(raw_names_async("nft")), 3);
    let s = c.span("capture::capture_rules::raw_names");
    assert_eq!(s.attr("type"), Some(&Value::from("order")));
    assert_eq!(s.attr("match"), Some(&Value::I64(2)));
    assert!(s.attr("r#type").is_none());
    let s = c.span("capture::capture_rules::raw_names_async");
    assert_eq!(s.attr("type"), Some(&Value::from("nft")));
}

#[traced(include_args, skip(type, r#secret))]
fn raw_skips(r#type: &str, secret: &str, kept: u32) -> usize {
    r#type.len() + secret.len() + kept as usize
}

/// `skip` names a parameter as Rust does: `type` and `r#type` are one name.
#[test]
fn skip_names_raw_identifiers_either_way() {
    let c = testing::capture();
    assert_eq!(raw_skips("a", "bc", 3), 6);
    let s = c.span("capture::capture_rules::raw_skips");
    assert!(s.attr("type").is_none() && s.attr("secret").is_none());
    assert_eq!(s.attr("kept"), Some(&Value::I64(3)));
}

#[traced(include_args)]
fn raw_impl(r#type: impl std::fmt::Debug, (r#match, y): (u32, u32)) -> u32 {
    format!("{type:?}", type = r#type).len() as u32 + r#match + y
}

#[traced(include_args)]
async fn raw_impl_async(r#type: impl std::fmt::Debug, (r#match, y): (u32, u32)) -> u32 {
    format!("{type:?}", type = r#type).len() as u32 + r#match + y
}

/// Raw identifiers whose type is not written (`impl Trait`, a destructuring pattern) are
/// recorded as the others are, under their names.
#[test]
fn raw_identifiers_of_impl_and_destructured_parameters_are_recorded() {
    let c = testing::capture();
    assert_eq!(raw_impl("ab", (1, 2)), 7);
    assert_eq!(
        crate::shapes::futures_block_on(raw_impl_async("ab", (1, 2))),
        7
    );
    for name in ["raw_impl", "raw_impl_async"] {
        let s = c.span(&format!("capture::capture_rules::{name}"));
        // An `impl Debug` value is recorded by its `Debug` text.
        assert_eq!(s.attr("type"), Some(&Value::from("\"ab\"")), "{name}");
        assert_eq!(s.attr("match"), Some(&Value::I64(1)), "{name}");
        assert_eq!(s.attr("y"), Some(&Value::I64(2)), "{name}");
    }
}

/// The line of the macro call just below.
const MACRO_CALL_LINE: i64 = line!() as i64 + 1;
crate::support::traced_macro::traced_by_macro!();

/// A function whose name is written in a `macro_rules!` of another file is located where the
/// macro is called: file and line from the same place.
#[test]
fn a_function_made_by_a_macro_of_another_file_is_located_at_the_call() {
    let c = testing::capture();
    assert_eq!(made_by_macro(), 1);
    let s = c.span("capture::capture_rules::made_by_macro");
    assert_eq!(
        s.attr("code.file.path"),
        Some(&Value::from("tests/capture/capture_rules.rs"))
    );
    // Not a line of tests/support/traced_macro.rs, where the name is written.
    assert_eq!(
        s.attr("code.line.number"),
        Some(&Value::I64(MACRO_CALL_LINE))
    );
}

#[traced(include_args)]
fn cfg_args(
    #[cfg(target_pointer_width = "16")] hidden: u32,
    #[cfg(not(target_pointer_width = "16"))] shown: u32,
) -> u32 {
    shown
}

#[traced(include_args)]
async fn cfg_args_async(
    #[cfg(target_pointer_width = "16")] hidden: u32,
    #[cfg(not(target_pointer_width = "16"))] shown: u32,
) -> u32 {
    shown
}

/// A parameter under `#[cfg(..)]` is recorded when the condition keeps it, and the function
/// compiles when it removes it.
#[test]
fn parameters_under_cfg_are_recorded_when_kept() {
    let c = testing::capture();
    assert_eq!(cfg_args(3), 3);
    assert_eq!(crate::shapes::futures_block_on(cfg_args_async(4)), 4);
    for (name, shown) in [("cfg_args", 3), ("cfg_args_async", 4)] {
        let s = c.span(&format!("capture::capture_rules::{name}"));
        assert_eq!(s.attr("shown"), Some(&Value::I64(shown)), "{name}");
        assert!(s.attr("hidden").is_none(), "{name}");
    }
}

/// One name for two parameters under exclusive conditions (a type per platform), either
/// order: the kept one was recorded by the other's condition (left out, or twice).
#[traced(include_args)]
fn cfg_twin_args(
    #[cfg(target_pointer_width = "16")] path: u8,
    #[cfg(not(target_pointer_width = "16"))] path: &str,
    n: u32,
) -> u32 {
    n + u32::try_from(path.len()).unwrap_or(0)
}

#[traced(include_args)]
fn cfg_twin_args_swapped(
    #[cfg(not(target_pointer_width = "16"))] path: &str,
    #[cfg(target_pointer_width = "16")] path: u8,
    n: u32,
) -> u32 {
    n + u32::try_from(path.len()).unwrap_or(0)
}

#[traced(include_args)]
async fn cfg_twin_args_async(
    #[cfg(target_pointer_width = "16")] path: u8,
    #[cfg(not(target_pointer_width = "16"))] path: &str,
    n: u32,
) -> u32 {
    n + u32::try_from(path.len()).unwrap_or(0)
}

#[test]
fn a_name_under_exclusive_conditions_is_recorded_once() {
    let c = testing::capture();
    assert_eq!(cfg_twin_args("/tmp", 1), 5);
    assert_eq!(cfg_twin_args_swapped("/tmp", 2), 6);
    assert_eq!(
        crate::shapes::futures_block_on(cfg_twin_args_async("/tmp", 3)),
        7
    );
    for name in [
        "cfg_twin_args",
        "cfg_twin_args_swapped",
        "cfg_twin_args_async",
    ] {
        let s = c.span(&format!("capture::capture_rules::{name}"));
        let paths: Vec<_> = s.attributes.iter().filter(|(k, _)| k == "path").collect();
        assert_eq!(paths.len(), 1, "{name}: {:?}", s.attributes);
        assert_eq!(paths[0].1, Value::from("/tmp"), "{name}");
    }
}

/// A `macro_rules!` may write a parameter of the same name as one it is given, each its own
/// (hygiene): the traced function compiled with the `mut` on the wrong one (or not at all),
/// and recorded the name twice.
macro_rules! traced_with_own_param {
    ($name:ident, $given:ident) => {
        #[traced(include_args)]
        fn $name($given: u32, mut a: u32) -> u32 {
            a += 1;
            $given * 100 + a
        }
    };
}

traced_with_own_param!(hygienic_twin, a);

/// The same in an async fn, whose second parameter is a `ref` binding (read by reference
/// where it is recorded): it was taken for the given one, by name.
macro_rules! traced_async_with_own_ref_param {
    ($name:ident, $given:ident) => {
        #[traced(include_args)]
        async fn $name($given: String, ref a: String) -> usize {
            $given.len() * 10 + a.len()
        }
    };
}

traced_async_with_own_ref_param!(hygienic_async_twin, a);

#[test]
fn a_macro_written_parameter_of_a_given_name_is_its_own() {
    let c = testing::capture();
    assert_eq!(hygienic_twin(1, 2), 103);
    let twin = hygienic_async_twin("ab".to_owned(), "xyz".to_owned());
    assert_eq!(crate::shapes::futures_block_on(twin), 23);
    for (name, value) in [
        ("hygienic_twin", Value::I64(1)),
        ("hygienic_async_twin", Value::from("ab")),
    ] {
        let s = c.span(&format!("capture::capture_rules::{name}"));
        let a: Vec<_> = s.attributes.iter().filter(|(k, _)| k == "a").collect();
        assert_eq!(a.len(), 1, "{name}: {:?}", s.attributes);
        assert_eq!(a[0].1, value, "{name}");
    }
}

/// The same conditions through `cfg_attr` (nested, or beside a lint attribute).
#[traced(include_args)]
fn cfg_attr_args(
    #[cfg_attr(not(target_pointer_width = "16"), allow(unused), cfg(any()))] hidden: u32,
    #[cfg_attr(all(), cfg_attr(target_pointer_width = "16", cfg(any())))] shown: u32,
    #[cfg_attr(all(), allow(unused))] other: u32,
    #[cfg_attr(true, cfg(false))] gone: u32,
) -> u32 {
    shown + other
}

#[traced(include_args)]
async fn cfg_attr_args_async(
    #[cfg_attr(not(target_pointer_width = "16"), cfg(any()))] hidden: u32,
    #[cfg_attr(target_pointer_width = "16", cfg(any()))] shown: u32,
) -> u32 {
    shown
}

/// A parameter that a `cfg` inside `cfg_attr` removes is neither read nor recorded.
#[test]
fn parameters_under_cfg_attr_are_recorded_when_kept() {
    let c = testing::capture();
    assert_eq!(cfg_attr_args(3, 1), 4);
    assert_eq!(crate::shapes::futures_block_on(cfg_attr_args_async(4)), 4);
    for (name, shown) in [("cfg_attr_args", 3), ("cfg_attr_args_async", 4)] {
        let s = c.span(&format!("capture::capture_rules::{name}"));
        assert_eq!(s.attr("shown"), Some(&Value::I64(shown)), "{name}");
        assert!(s.attr("hidden").is_none(), "{name}");
    }
}

struct Account;
impl Account {
    #[traced(include_args)]
    fn deposit(&self, amount: u32) -> u32 {
        amount
    }
}

#[test]
fn nothing_is_recorded_without_opting_in_and_skipped_never() {
    let c = testing::capture();
    no_options("hunter2");
    login("ana", "hunter2", "k-123".into());
    Account.deposit(5);
    let s = c.span("capture::capture_rules::no_options");
    assert!(s.attr("secret").is_none());
    assert!(!s.attributes.iter().any(|(_, v)| v.as_str() == "hunter2"));
    let s = c.span("capture::capture_rules::login");
    assert_eq!(s.attr("user"), Some(&Value::from("ana")));
    assert!(s.attr("password").is_none());
    assert!(s.attr("api_key").is_none());
    assert!(
        !s.attributes
            .iter()
            .any(|(_, v)| v.as_str().contains("hunter2") || v.as_str().contains("k-123"))
    );
    let s = c.span("capture::capture_rules::Account::deposit");
    assert!(s.attr("self").is_none());
    assert_eq!(s.attr("amount"), Some(&Value::I64(5)));
}

#[derive(Debug)]
struct Score {
    #[allow(dead_code)]
    value: f64,
}

#[traced(include_result)]
fn scored() -> Result<Score, String> {
    Ok(Score { value: 0.9 })
}

#[traced(include_result)]
fn plain_result() -> i32 {
    42
}

#[traced]
fn result_not_included() -> i32 {
    42
}

#[test]
fn include_result_records_the_value_or_the_ok_value() {
    let c = testing::capture();
    scored().unwrap();
    plain_result();
    result_not_included();
    assert_eq!(
        c.span("capture::capture_rules::scored").attr("result"),
        Some(&Value::from("Score { value: 0.9 }"))
    );
    assert_eq!(
        c.span("capture::capture_rules::plain_result")
            .attr("result"),
        Some(&Value::I64(42))
    );
    assert!(
        c.span("capture::capture_rules::result_not_included")
            .attr("result")
            .is_none()
    );
}

mod errors {
    #[derive(Debug)]
    pub struct RpcError {
        pub code: u16,
    }
    impl std::fmt::Display for RpcError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "rpc failed with {}", self.code)
        }
    }
    #[derive(Debug)]
    pub struct DebugOnly;
}

type Res<T> = Result<T, errors::RpcError>;

#[traced(include_result)]
fn through_alias(fail: bool) -> Res<u32> {
    if fail {
        Err(errors::RpcError { code: 503 })
    } else {
        Ok(1)
    }
}

#[traced]
fn debug_only_error() -> Result<(), errors::DebugOnly> {
    Err(errors::DebugOnly)
}

#[test]
fn errors_set_status_description_and_type_through_aliases() {
    let c = testing::capture();
    assert!(through_alias(true).is_err());
    through_alias(false).unwrap();
    assert!(debug_only_error().is_err());
    let spans = c.spans_named("capture::capture_rules::through_alias");
    let failed = spans.iter().find(|s| s.is_error()).expect("failed span");
    assert_eq!(failed.error_message(), Some("rpc failed with 503"));
    assert_eq!(
        failed.attr("error.type"),
        Some(&Value::from("capture::capture_rules::errors::RpcError"))
    );
    assert!(failed.attr("result").is_none());
    let ok = spans.iter().find(|s| !s.is_error()).expect("ok span");
    assert_eq!(ok.status, godtrace::otel::trace::Status::Unset);
    assert!(ok.attr("error.type").is_none());
    let d = c.span("capture::capture_rules::debug_only_error");
    assert_eq!(d.error_message(), Some("DebugOnly"));
}

#[traced]
fn panics(msg: &'static str) {
    panic!("{}", msg);
}

#[test]
fn a_panic_marks_the_span_and_keeps_unwinding() {
    let c = testing::capture();
    let caught = std::panic::catch_unwind(|| panics("vault sealed"));
    assert!(caught.is_err(), "the panic must reach the caller");
    let s = c.span("capture::capture_rules::panics");
    assert!(s.is_error());
    let e = s.event("exception").expect("exception event");
    assert_eq!(
        e.attr("exception.message"),
        Some(&Value::from("vault sealed"))
    );
    assert!(e.attr("exception.type").is_some());
}

#[traced(include_args)]
fn huge(blob: &str) -> usize {
    blob.len()
}

#[test]
fn long_values_are_truncated_with_a_marker() {
    let c = testing::capture();
    let blob = "ж".repeat(5000);
    huge(&blob);
    let Some(Value::String(v)) = c.span("capture::capture_rules::huge").attr("blob").cloned()
    else {
        panic!("blob not recorded as a string")
    };
    let v = v.as_str();
    assert!(
        v.len() <= godtrace::limits::max_attribute_len() + 20,
        "{} bytes",
        v.len()
    );
    assert!(v.ends_with("[truncated]"));
    assert!(v.starts_with("жжж"));
}

#[test]
fn nested_calls_nest_and_parallel_tests_see_only_their_own_spans() {
    let c = testing::capture();
    login("outer", "x", "y".into());
    let handle = std::thread::spawn(|| {
        let other = testing::capture();
        no_options("other thread");
        other.spans().len()
    });
    assert_eq!(handle.join().unwrap(), 1);
    assert!(
        c.spans_named("capture::capture_rules::no_options")
            .is_empty()
    );
}

#[traced(sample_rate = 0.0)]
fn dropped_root() {
    drop(godtrace::span("manual.inside_dropped_root"));
    named();
}

#[test]
fn children_of_a_root_sampled_out_by_its_rate_are_not_recorded_either() {
    // Everything else here is sampled in: only this operation's own rate drops it.
    let c = testing::capture();
    dropped_root();
    assert!(c.spans().is_empty(), "{:?}", c.spans());
}

/// What the README tells a test to do to see an operation that has a `sample_rate`: the call
/// made under a span of the test's own follows that span's decision.
#[test]
fn an_operation_with_a_sample_rate_is_captured_under_a_span_of_the_tests_own() {
    let c = testing::capture();
    for _ in 0..20 {
        let _test = godtrace::span("capture::capture_rules::test");
        dropped_root();
    }
    assert_eq!(
        c.spans_named("capture::capture_rules::dropped_root").len(),
        20
    );
}

/// A value whose `Debug` and `Display` panic, as a buggy impl in user code might.
struct Explosive;
impl std::fmt::Debug for Explosive {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Debug of Explosive (expected by this test)")
    }
}
impl std::fmt::Display for Explosive {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of Explosive (expected by this test)")
    }
}

#[traced(operation = "capture.explosive_arg", include_args)]
fn explosive_arg(value: &Explosive, n: u32) -> u32 {
    let _ = value;
    n + 1
}

#[traced(operation = "capture.explosive_result", include_result)]
fn explosive_result() -> Explosive {
    Explosive
}

#[traced(operation = "capture.explosive_error")]
fn explosive_error() -> Result<(), Explosive> {
    Err(Explosive)
}

#[traced(operation = "capture.explosive_debug_error")]
fn explosive_debug_error() -> Result<(), std::collections::HashMap<u8, Explosive>> {
    Err([(1, Explosive)].into())
}

/// An error whose `source()` panics.
#[derive(Debug)]
struct ExplosiveSource;
impl std::fmt::Display for ExplosiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("explosive source")
    }
}
impl std::error::Error for ExplosiveSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        panic!("source() of ExplosiveSource (expected by this test)")
    }
}

/// A type-erased error whose `Deref` panics (anyhow-like).
struct ExplosiveDeref;
impl std::ops::Deref for ExplosiveDeref {
    type Target = dyn std::error::Error + Send + Sync;
    fn deref(&self) -> &Self::Target {
        panic!("Deref of ExplosiveDeref (expected by this test)")
    }
}

#[traced(operation = "capture.explosive_source")]
fn explosive_source() -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(ExplosiveSource))
}

#[traced(operation = "capture.explosive_deref")]
async fn explosive_deref() -> Result<u8, ExplosiveDeref> {
    Err(ExplosiveDeref)
}

/// A boxed error's `source()` and an erased error's `Deref` run on every failed call (its
/// `error.type`): their panic is caught, the caller gets the error, and the span is recorded.
#[test]
fn a_panicking_source_or_deref_of_an_erased_error_changes_nothing() {
    let c = testing::capture();
    let boxed = std::panic::catch_unwind(explosive_source).expect("no panic escapes");
    assert_eq!(boxed.unwrap_err().to_string(), "explosive source");
    let erased = std::panic::catch_unwind(|| crate::shapes::futures_block_on(explosive_deref()));
    assert!(erased.expect("no panic escapes").is_err());
    let source = c.span("capture.explosive_source");
    assert_eq!(source.error_message(), Some("<Error panicked>"));
    assert_eq!(source.attr("error.type"), Some(&Value::from("_OTHER")));
    let deref = c.span("capture.explosive_deref");
    assert_eq!(deref.error_message(), Some("<Error panicked>"));
}

#[test]
fn a_panicking_debug_or_display_changes_nothing_but_the_recorded_text() {
    let c = testing::capture();
    // The body runs and the caller gets its value: no panic escapes recording.
    assert_eq!(explosive_arg(&Explosive, 41), 42);
    let _ = explosive_result();
    assert!(explosive_error().is_err());
    assert!(explosive_debug_error().is_err());
    let arg = c.span("capture.explosive_arg");
    assert_eq!(arg.attr("value"), Some(&Value::from("<Debug panicked>")));
    assert_eq!(arg.attr("n"), Some(&Value::I64(41)));
    assert_eq!(
        c.span("capture.explosive_result").attr("result"),
        Some(&Value::from("<Debug panicked>"))
    );
    let failed = c.span("capture.explosive_error");
    assert_eq!(failed.error_message(), Some("<Display panicked>"));
    assert_eq!(
        failed.attr("error.type"),
        Some(&Value::from("capture::capture_rules::Explosive"))
    );
    // The error's Debug, when it has no Display.
    assert_eq!(
        c.span("capture.explosive_debug_error").error_message(),
        Some("<Debug panicked>")
    );
    // Every call is in the duration histogram too.
    let snap = godtrace::metrics::metrics_snapshot();
    assert!(
        snap.operation("capture.explosive_arg")
            .is_some_and(|p| p.count >= 1)
    );
    assert!(
        snap.operation("capture.explosive_result")
            .is_some_and(|p| p.count >= 1)
    );
    let error_type = "capture::capture_rules::Explosive";
    assert!(
        snap.operation_errors("capture.explosive_error", error_type)
            .is_some_and(|p| p.count >= 1)
    );
}

#[derive(Debug)]
#[allow(dead_code)]
struct Document {
    body: String,
}

#[traced(include_args)]
fn store(document: &Document) -> usize {
    document.body.len()
}

#[traced]
fn reject(reason: &str) -> Result<(), String> {
    Err(reason.to_owned())
}

#[test]
fn a_huge_debug_value_or_error_is_cut_at_the_limit() {
    let c = testing::capture();
    let body = "ж".repeat(1 << 20);
    store(&Document { body: body.clone() });
    assert!(reject(&body).is_err());
    let limit = godtrace::limits::max_attribute_len();
    let Some(Value::String(text)) = c
        .span("capture::capture_rules::store")
        .attr("document")
        .cloned()
    else {
        panic!("document not recorded as a string")
    };
    let text = text.as_str();
    assert!(text.starts_with("Document { body: \"жж"), "{text}");
    assert!(text.ends_with("…[truncated]"), "{text}");
    // The marker counts within the limit (cut on a char boundary: up to a byte short).
    assert!((limit - 1..=limit).contains(&text.len()), "{}", text.len());
    let message = c
        .span("capture::capture_rules::reject")
        .error_message()
        .unwrap()
        .to_owned();
    // Cut on a char boundary: 'ж' is two bytes, and the limit less the marker (14 bytes) is
    // even.
    assert_eq!(
        message.strip_suffix("…[truncated]").map(str::len),
        Some(limit - "…[truncated]".len())
    );
}

#[test]
fn keys_and_event_attributes_are_bounded() {
    let c = testing::capture();
    let span = godtrace::span("capture.bounded_keys");
    span.set_attribute("k".repeat(10_000), 1);
    godtrace::set_attribute(format!("é{}", "k".repeat(10_000)), 2);
    span.add_event(
        "many",
        (0..1000).map(|i| (format!("attr.{i}"), Value::I64(i))),
    );
    godtrace::add_event("long.key", [("v".repeat(10_000), Value::from("x"))]);
    span.set_attribute(
        "list",
        Value::Array(vec![godtrace::otel::StringValue::from("abcdefgh"); 100_000].into()),
    );
    drop(span);
    let s = c.span("capture.bounded_keys");
    let max_key = 256; // godtrace::limits::MAX_ATTRIBUTE_KEY_LEN, the documented bound
    assert_eq!(s.attributes[0].0, "k".repeat(max_key));
    // Cut on a char boundary: 'é' is two bytes, so one 'k' fewer fits.
    assert_eq!(s.attributes[1].0, format!("é{}", "k".repeat(max_key - 2)));
    assert_eq!(s.event("many").unwrap().attributes.len(), 128);
    assert_eq!(s.event("many").unwrap().attributes[127].0, "attr.127");
    assert_eq!(s.event("long.key").unwrap().attributes[0].0.len(), max_key);
    let Some(Value::Array(godtrace::otel::Array::String(list))) = s.attr("list") else {
        panic!("list not recorded as a string array")
    };
    let text: usize = list.iter().map(|v| v.as_str().len()).sum();
    assert!(
        text <= godtrace::limits::max_attribute_len() + 20,
        "{text} bytes"
    );
}
