use godtrace::traced;

#[traced(kind = sever)]
fn misspelt() {}

#[traced(kind = "server")]
fn quoted() {}

#[traced(kind)]
fn without_value() {}

fn main() {}
