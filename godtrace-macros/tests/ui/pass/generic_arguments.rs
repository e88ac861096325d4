//! Commas inside generic arguments do not split options, and redundant brackets around
//! `parent` draw no warning; comparisons and shifts in `fields(..)` still end at their comma.
#![deny(warnings)]
use godtrace::otel::Context;
use godtrace::traced;
use std::collections::HashMap;

fn pick<A, B>() -> Context {
    Context::current()
}

trait Source<A, B> {
    fn cx() -> Context;
}

struct S;

impl Source<u8, u16> for S {
    fn cx() -> Context {
        Context::current()
    }
}

#[traced(parent = pick::<u8, u16>(), include_args)]
fn turbofish(a: u8) -> u8 {
    a
}

#[traced(parent = &<S as Source<u8, u16>>::cx(), include_result)]
async fn qualified() -> u8 {
    1
}

#[traced(parent = pick::<fn(u8, u16) -> u8, Vec<Vec<u8>>>(), operation = "op")]
fn nested() {}

#[traced(parent = (&Context::current()), include_args)]
fn parenthesised(a: u8) -> u8 {
    a
}

#[traced(parent = { Context::current() })]
fn braced() {}

#[traced(fields(small = n < 5, shifted = n << 1, both = n > 1, g = n.min(2) < 3, h = (n) < 3), include_args)]
fn compared(n: u32) -> Option<u32> {
    Some(n)
}

/// Casts to generic types in a field's value: the grammar, not a guess, ends the value.
#[traced(fields(p = m as *const HashMap<u8, u8>, c = p2 as *const Vec<u8> < q, d = 1))]
fn casts(m: &HashMap<u8, u8>, p2: *const Vec<u8>, q: *const Vec<u8>) {}

#[traced(parent = <S as Source<u8, u16>>::cx(), fields(m = std::mem::size_of::<HashMap<u8, u16>>()))]
fn sizes() {}

fn main() {
    casts(&HashMap::new(), std::ptr::null(), std::ptr::null());
    sizes();
    let _ = turbofish(1);
    let _ = qualified();
    nested();
    let _ = parenthesised(2);
    braced();
    let _ = compared(3);
}
