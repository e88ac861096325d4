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

// `tracing`'s `#[instrument]` on an `async fn` must see it too: its span would end when the
// future is made.
#[traced]
#[tracing::instrument]
async fn instrumented() {}

#[traced]
#[tracing::instrument(err)]
async fn instrumented_err() -> Result<(), String> {
    Ok(())
}

// Below it, or on a sync fn, nothing is said.
#[tracing::instrument]
#[traced]
async fn instrumented_below() {}

#[traced]
#[tracing::instrument]
fn instrumented_sync() {}
