use godtrace::traced;

#[traced("scan")]
fn scan() {}

fn main() {}
