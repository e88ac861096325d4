// A runtime's attribute must see the `async fn` first: `#[traced]` goes below it.
use godtrace::traced;

#[traced]
#[tokio::main(flavor = "current_thread")]
async fn main() {}

#[cfg(test)]
mod never_built {}

#[traced]
#[tokio::test]
async fn a_test() {}

#[traced(include_args)]
#[test]
async fn a_plain_test(n: u32) {
    let _ = n;
}

// Below it, or on a sync fn, nothing is said.
#[tokio::main(flavor = "current_thread")]
#[traced]
async fn below() {}

#[traced]
#[test]
fn sync_test() {}
