#![deny(unused_variables)]
use godtrace::traced;

#[traced]
async fn unused_local() -> u32 {
    let forgotten = 5;
    1
}

fn main() {
    let _ = unused_local();
}
