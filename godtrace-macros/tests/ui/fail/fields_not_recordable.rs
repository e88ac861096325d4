use godtrace::traced;

struct Secret;

#[traced(fields(secret = Secret, size = n))]
fn not_debug(n: u32) {}

#[traced(fields(missing = no_such_name))]
async fn unknown_name() {}

fn main() {}
