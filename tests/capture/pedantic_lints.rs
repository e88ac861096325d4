//! Code under Clippy's pedantic lints stays quiet when traced: the expansion's own statements
//! (moving and recording parameters the user named `_x`, the statements put before the body)
//! are not blamed on the user's code. `cargo clippy --all-targets -- -D warnings`
//! (`scripts/test`) checks it; the tests check what the forms record.
#![warn(clippy::pedantic)]
// An `#[expect]` on a traced function that the expansion leaves unfulfilled fails the build.
#![deny(unfulfilled_lint_expectations)]

use crate::shapes::futures_block_on;
use godtrace::otel::Value;
use godtrace::testing;
use godtrace::traced;

const MOD: &str = "capture::pedantic_lints";

#[traced(include_args)]
fn sync_unused(used: u32, _unused: u32, (a, _b): (u32, u32)) -> u32 {
    used + a
}

#[traced(include_args)]
async fn async_unused(used: u32, _unused: String, (a, _b): (u32, u32)) -> u32 {
    used + a
}

#[traced(include_args, fields(extra = used))]
fn sync_unused_with_fields(used: u32, _unused: u32) -> u32 {
    used
}

fn length(s: &str) -> usize {
    s.len()
}

/// A returned closure that calls a function or a method with its parameter: passed to the
/// helper that gives it its signature, it must not read as a closure Clippy would drop.
#[traced]
fn returns_a_closure_calling_a_function() -> impl Fn(&str) -> usize {
    |s| length(s)
}

#[traced]
fn returns_a_closure_calling_a_method() -> impl Fn(&str) -> usize {
    |s| s.len()
}

#[traced]
fn items_first(x: u32) -> u32 {
    const K: u32 = 3;
    fn helper(v: u32) -> u32 {
        v * 2
    }
    helper(x) + K
}

#[traced]
async fn async_items_first(x: u32) -> u32 {
    use std::ops::Add as _;
    fn helper(v: u32) -> u32 {
        v * 2
    }
    helper(x).add(1)
}

#[traced]
fn macro_first(x: u32) -> u32 {
    macro_rules! double {
        ($e:expr) => {
            $e * 2
        };
    }
    fn helper(v: u32) -> u32 {
        double!(v)
    }
    const K: u32 = 1;
    helper(x) + double!(K)
}

#[traced]
async fn async_macro_first(x: String) -> usize {
    // Reads the parameter where the macro stands: after the expansion's moves, as untraced.
    macro_rules! length {
        () => {
            x.len()
        };
    }
    fn helper(v: usize) -> usize {
        v + 1
    }
    helper(length!())
}

#[test]
fn underscore_parameters_are_recorded_without_lints() {
    let c = testing::capture();
    assert_eq!(sync_unused(1, 2, (3, 4)), 4);
    assert_eq!(futures_block_on(async_unused(1, "u".to_owned(), (3, 4))), 4);
    assert_eq!(sync_unused_with_fields(5, 6), 5);
    // Recorded as any other parameter: `include_args` is the user's opt-in to all of them.
    let sync = c.span(&format!("{MOD}::sync_unused"));
    assert_eq!(sync.attr("_unused"), Some(&Value::I64(2)));
    assert_eq!(sync.attr("_b"), Some(&Value::I64(4)));
    let future = c.span(&format!("{MOD}::async_unused"));
    assert_eq!(future.attr("_unused"), Some(&Value::from("u")));
    assert_eq!(future.attr("_b"), Some(&Value::I64(4)));
    let fields = c.span(&format!("{MOD}::sync_unused_with_fields"));
    assert_eq!(fields.attr("_unused"), Some(&Value::I64(6)));
    assert_eq!(fields.attr("extra"), Some(&Value::I64(5)));
}

#[test]
fn items_leading_the_body_are_in_scope_as_before() {
    let c = testing::capture();
    assert_eq!(items_first(2), 7);
    assert_eq!(futures_block_on(async_items_first(2)), 5);
    assert_eq!(macro_first(3), 8);
    assert_eq!(futures_block_on(async_macro_first("abc".to_owned())), 4);
    c.span(&format!("{MOD}::macro_first"));
    c.span(&format!("{MOD}::async_macro_first"));
    c.span(&format!("{MOD}::items_first"));
    c.span(&format!("{MOD}::async_items_first"));
}

#[test]
fn returned_closures_calling_functions_work() {
    let c = testing::capture();
    assert_eq!(returns_a_closure_calling_a_function()("abc"), 3);
    assert_eq!(returns_a_closure_calling_a_method()("ab"), 2);
    c.span(&format!("{MOD}::returns_a_closure_calling_a_function"));
    c.span(&format!("{MOD}::returns_a_closure_calling_a_method"));
}

/// Lints the function as written has and the expansion does not give it (an `async fn`
/// without an `.await` is a function returning a future; every parameter is read): their
/// expectations are not warnings of their own, before or after `#[traced]`, and in a
/// `cfg_attr`.
#[expect(clippy::unused_async, reason = "the signature callers expect")]
#[traced]
async fn async_without_await(x: u32) -> u32 {
    x + 1
}

#[traced]
#[expect(unused_variables)]
fn sync_with_an_unused_parameter(used: u32, unused: u32) -> u32 {
    used
}

#[traced]
#[cfg_attr(all(), expect(clippy::needless_pass_by_value, unused_variables))]
fn takes_by_value(s: String, unused: u32) -> usize {
    s.len()
}

#[traced]
#[cfg_attr(true, cfg_attr(all(), expect(unused_variables)))]
fn nested_and_literal_conditions(used: u32, unused: u32) -> u32 {
    used
}

/// The same on a traced impl block.
#[expect(unused_variables)]
#[traced]
impl Gate {
    fn open(&self, used: u32, unused: u32) -> u32 {
        used + self.0
    }
}

struct Gate(u32);

#[traced]
fn expected_on_a_parameter(used: u32, #[expect(unused_variables)] unused: u32) -> u32 {
    used
}

#[test]
fn expectations_of_lints_the_expansion_hides_are_not_warnings() {
    let c = testing::capture();
    assert_eq!(futures_block_on(async_without_await(1)), 2);
    assert_eq!(sync_with_an_unused_parameter(1, 2), 1);
    assert_eq!(takes_by_value("abc".to_owned(), 2), 3);
    assert_eq!(nested_and_literal_conditions(4, 5), 4);
    assert_eq!(Gate(1).open(6, 7), 7);
    assert_eq!(expected_on_a_parameter(8, 9), 8);
    c.span(&format!("{MOD}::Gate::open"));
    for name in [
        "async_without_await",
        "sync_with_an_unused_parameter",
        "takes_by_value",
        "nested_and_literal_conditions",
    ] {
        c.span(&format!("{MOD}::{name}"));
    }
}
