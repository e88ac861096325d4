//! Option values handed in by `macro_rules!` fragments (which the compiler wraps in invisible
//! groups), and options and kinds written as raw identifiers.
#![deny(warnings)]
use godtrace::traced;

macro_rules! traced_expr {
    ($name:ident, $kind:expr, $op:expr, $rate:expr, $flag:expr, $v:expr) => {
        #[traced(kind = $kind, operation = $op, sample_rate = $rate, include_args = $flag, fields(v = $v))]
        fn $name(a: u32) -> u32 {
            a
        }
    };
}
traced_expr!(from_exprs, server, "fragments.expr", 0.5, true, 1 + 2);

macro_rules! traced_literal {
    ($name:ident, $op:literal, $rate:literal, $flag:literal) => {
        #[traced(operation = $op, sample_rate = $rate, include_result = $flag)]
        fn $name(a: u32) -> u32 {
            a
        }
    };
}
traced_literal!(from_literals, "fragments.literal", 1, true);

macro_rules! traced_path {
    ($name:ident, $krate:path, $kind:ident) => {
        #[traced(crate = $krate, kind = $kind)]
        fn $name() {}
    };
}
traced_path!(from_a_path, godtrace, client);

#[traced(r#include_args, kind = r#server)]
fn raw_identifiers(a: u32) -> u32 {
    a
}

fn main() {
    let _ = from_exprs(1);
    let _ = from_literals(1);
    from_a_path();
    let _ = raw_identifiers(1);
}
