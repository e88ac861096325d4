use godtrace::traced;

#[traced]
#[traced(include_args)]
fn twice(n: u32) -> u32 {
    n
}

#[traced]
#[godtrace::traced]
async fn twice_async() {}

fn main() {}
