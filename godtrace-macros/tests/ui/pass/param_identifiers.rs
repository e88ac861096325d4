//! Recorded parameters whose type cannot be named (`impl Trait`, bindings of a destructuring
//! pattern) keep their own identifiers: raw ones (`r#type`), and those a `macro_rules!` passes
//! in, which resolve with the macro's hygiene.
#![deny(warnings)]
use godtrace::traced;
use std::fmt::Debug;

#[traced(include_args)]
fn raw_impl(r#type: impl Debug) -> usize {
    format!("{type:?}", type = r#type).len()
}

#[traced(include_args)]
fn raw_destructured((r#match, y): (u32, u32)) -> u32 {
    r#match + y
}

#[traced(include_args)]
async fn raw_async((r#fn, y): (u32, u32), r#in: impl Debug) -> usize {
    format!("{:?}", r#in).len() + (r#fn + y) as usize
}

macro_rules! named_by_macro {
    ($n:ident) => {
        #[traced(include_args)]
        fn from_macro($n: impl Debug) -> usize {
            format!("{:?}", $n).len()
        }

        #[traced(include_args)]
        fn from_macro_destructured(($n, other): (u32, u32)) -> u32 {
            $n + other
        }

        #[traced(include_args)]
        async fn from_macro_async($n: impl Debug) -> usize {
            format!("{:?}", $n).len()
        }
    };
}
named_by_macro!(val);

// Whole items a `macro_rules!` wraps: the return type carries that macro's hygiene.
macro_rules! traced_items {
    ($($item:item)*) => {
        $(#[godtrace::traced] $item)*
    };
}
traced_items! {
    fn wrapped() -> u32 {
        1
    }
    async fn wrapped_async(n: u32) -> u32 {
        n
    }
}

// Names like those of the expansion's own items are the user's: the site's items are out of
// the body's sight, and the lifetimes an `async fn`'s desugaring adds avoid the signature's.
#[traced(include_args)]
#[allow(non_snake_case)]
fn site_named(__GODTRACE_SITE: u32, __godtrace_path: u32, __godtrace_site: u32) -> u32 {
    __GODTRACE_SITE + __godtrace_path + __godtrace_site
}

#[traced]
#[allow(non_snake_case)]
async fn site_named_async(__GODTRACE_SITE: u32, __godtrace_path: u32) -> u32 {
    __GODTRACE_SITE + __godtrace_path
}

#[traced]
async fn lifetime_named<'__godtrace_l0>(a: &'__godtrace_l0 str, b: &str) -> usize {
    a.len() + b.len()
}

fn main() {
    let _ = site_named(1, 2, 3);
    let _ = (site_named_async(1, 2), lifetime_named("a", "b"));
    let _ = raw_impl(1) + raw_destructured((1, 2)) as usize + from_macro(2);
    let _ = from_macro_destructured((1, 2));
    let _ = (raw_async((1, 2), "x"), from_macro_async(3));
    let _ = (wrapped(), wrapped_async(1));
}
