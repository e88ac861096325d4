// A borrow error in a traced async fn points at the user's parameter, as it does untraced,
// not at the attribute.
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
