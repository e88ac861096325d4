use godtrace::traced;

#[traced]
#[traced(include_args)]
fn twice(n: u32) -> u32 {
    n
}

#[traced]
#[godtrace::traced]
async fn twice_async() {}

// Under another name: the attribute names do not tell, the body does.
use godtrace::traced as trace;

#[trace]
#[trace(include_args)]
fn renamed_twice(n: u32) -> u32 {
    n
}

struct Y;

#[trace(include_args)]
impl Y {
    #[trace(kind = client)]
    fn in_a_block(&self, n: u32) -> u32 {
        n
    }
}

fn main() {}
