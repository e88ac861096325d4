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

// A fn returning a boxed future, as `#[async_trait]` makes of an `async fn`: `#[instrument]`
// instruments the `Box::pin(async move ..)` it finds, which `#[traced]` would have rewritten.
#[traced]
#[tracing::instrument]
fn boxed(
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {})
}

#[traced]
#[tracing::instrument]
fn unboxed() -> impl std::future::Future<Output = u8> {
    async move { 1 }
}

#[async_trait::async_trait]
trait Scorer {
    async fn score(&self) -> u8;
}

struct S;

#[async_trait::async_trait]
impl Scorer for S {
    #[traced]
    #[tracing::instrument(skip(self))]
    async fn score(&self) -> u8 {
        1
    }
}
