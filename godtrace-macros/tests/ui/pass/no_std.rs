//! A `#![no_std]` crate, which cannot name `std`, traces every shape with every option: the
//! expansion reaches what it needs of `alloc` through the runtime.
#![no_std]
#![deny(warnings)]
// The harness's `main` needs std linked (its panic handler and start), but not named: `::std`
// stays unknown here, as in a `#![no_std]` library.
extern crate alloc;
extern crate std as _;

use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;
use godtrace::traced;

#[traced]
fn plain(x: u8) -> u8 {
    x
}

// The arguments handed to the body by value.
#[traced(include_args, include_result)]
fn args(x: u8) -> Result<u8, u8> {
    Ok(x)
}

// The arguments lent to the recording, with a field.
#[traced(include_args, fields(double = u16::from(*x) * 2))]
fn args_by_ref(x: &u8) -> u8 {
    *x
}

#[traced(include_args)]
async fn args_async(x: u8) -> u8 {
    x
}

#[traced(include_args)]
fn boxed_future(x: u8) -> Pin<Box<dyn Future<Output = u8> + Send>> {
    Box::pin(async move { x })
}

#[traced(include_args)]
fn unboxed_future(x: u8) -> impl Future<Output = u8> {
    async move { x }
}

struct Counter(u8);

#[traced(include_args)]
impl Counter {
    fn get(&self, by: u8) -> u8 {
        self.0 + by
    }
}

fn main() {
    assert_eq!(plain(1) + args(1).unwrap_or(0) + args_by_ref(&1), 3);
    assert_eq!(Counter(1).get(1), 2);
    drop((args_async(1), boxed_future(1), unboxed_future(1)));
}
