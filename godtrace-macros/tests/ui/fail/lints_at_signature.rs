//! Lints that point at a function's signature point at the user's signature, for every shape
//! `#[traced]` rewrites: not at the attribute.
#![deny(missing_docs)]
use godtrace::traced;

#[traced]
pub fn sync_fn(x: u32) -> u32 {
    x
}

#[traced]
pub async fn async_fn(x: u32) -> u32 {
    x
}

#[traced]
pub async fn async_unit() {}

#[traced]
pub async unsafe fn async_unsafe(x: &str) -> usize {
    x.len()
}

/// Runs them.
fn main() {
    let _ = sync_fn(1);
    drop(async_fn(1));
    drop(async_unit());
    drop(unsafe { async_unsafe("") });
}
