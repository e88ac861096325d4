// A traced future is `Sync` (and unwind safe) only when its body's future is.
use godtrace::traced;
use std::cell::Cell;

#[traced]
async fn holds_a_cell(n: u32) -> u32 {
    let count = Cell::new(n);
    std::future::ready(()).await;
    count.get()
}

fn assert_sync<T: Sync>(_: &T) {}
fn assert_ref_unwind_safe<T: std::panic::RefUnwindSafe>(_: &T) {}

fn main() {
    let future = holds_a_cell(1);
    assert_sync(&future);
    assert_ref_unwind_safe(&future);
}
