use godtrace::traced;

#[traced(crate = "godtrace")]
fn quoted() {}

#[traced(crate)]
fn without_value() {}

fn main() {}
