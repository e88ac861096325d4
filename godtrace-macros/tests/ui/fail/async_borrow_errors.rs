// A borrow error in a traced async fn is refused, and the lifetime it is about is shown at
// the user's parameter, where it is defined. rustc reports the error itself at the returned
// future, which the attribute writes: the attribute is the error's primary location, where
// untraced it is the returned expression (README: the sentence "A lifetime
// error in a traced `async fn`").
use godtrace::traced;

struct Store(u32);

#[traced]
async fn outlives(x: &u32) -> &'static u32 {
    x
}

impl Store {
    #[traced]
    async fn leak(&self) -> &'static u32 {
        &self.0
    }
}

fn main() {}
