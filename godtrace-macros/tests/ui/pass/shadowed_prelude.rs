//! The expansion names what it uses by absolute path: a crate that shadows the prelude's
//! names (and `core`, `std`) still compiles every shape.
#![deny(warnings)]
#![allow(dead_code)]
struct Option;
struct Some;
struct None;
struct Result;
struct Ok;
struct Err;
struct Vec;
struct Box;
struct String;
trait FnOnce {}
trait Debug {}
mod core {}
mod std {}

#[godtrace::traced(include_args, include_result)]
fn shadowed(a: u32, b: &str) -> u32 {
    a + b.len() as u32
}

#[godtrace::traced(include_args, fields(n = a + 1))]
async fn shadowed_async(a: u32) -> u32 {
    a
}

#[godtrace::traced(include_args)]
fn never_shadowed(a: i32) -> ! {
    ::std::process::exit(a)
}

fn main() {
    let _ = shadowed(1, "x");
    let _ = shadowed_async(1);
    if ::std::env::args().count() > 9 {
        never_shadowed(0);
    }
}
