use godtrace::traced;

#[traced(parent = None)]
fn under_the_current_span() {}

#[traced(parent = None, include_args)]
async fn also_async(_n: u32) {}

fn main() {}
