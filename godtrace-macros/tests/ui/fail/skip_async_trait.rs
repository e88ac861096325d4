// With `#[async_trait]`, a parameter written as a pattern is renamed by its position before
// `#[traced]` sees it: a `skip` of a name inside the pattern is accepted, a misspelt one is
// still an error, on the method and on the block.
use godtrace::traced;

#[async_trait::async_trait]
trait Auth {
    async fn login(&self, user: &str, password: &str, pair: (u32, u32)) -> bool;
}

struct OnTheMethod;

#[async_trait::async_trait]
impl Auth for OnTheMethod {
    #[traced(include_args, skip(b, pasword))]
    async fn login(&self, user: &str, password: &str, (a, b): (u32, u32)) -> bool {
        !user.is_empty() && !password.is_empty() && a < b
    }
}

struct OnTheBlock;

#[async_trait::async_trait]
#[traced(include_args, skip(b, pasword))]
impl Auth for OnTheBlock {
    async fn login(&self, user: &str, password: &str, (a, b): (u32, u32)) -> bool {
        !user.is_empty() && !password.is_empty() && a < b
    }
}

fn main() {}
