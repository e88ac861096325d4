//! A body that opens with inner attributes (`#![allow(..)]`): they stay inside and cover it,
//! sync and async; a `todo!()` body compiles.
#![deny(warnings)]
use godtrace::traced;

#[traced]
fn inner_attr() -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    2
}

#[traced(include_args)]
async fn inner_attr_async(n: u32) -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    n
}

#[traced]
fn todo_body(n: u32) -> Vec<u8> {
    let _ = n;
    todo!()
}

fn main() {
    let _ = inner_attr();
    let _ = inner_attr_async(1);
    if std::env::args().count() > 9 {
        let _ = todo_body(1);
    }
}
