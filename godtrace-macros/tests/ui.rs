//! Compile-time behaviour of `#[traced]`: every misuse is a precise error (`tests/ui/fail`,
//! with the expected compiler output checked in beside each case), and every option and
//! function shape compiles (`tests/ui/pass`). Regenerate expectations after an intended
//! message change with `TRYBUILD=overwrite cargo test -p godtrace-macros --test ui`, then
//! review the diff.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
