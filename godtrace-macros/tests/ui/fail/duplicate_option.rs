use godtrace::traced;

#[traced(include_args, operation = "a", include_args)]
fn twice(a: u32) -> u32 {
    a
}

#[traced(operation = "a", operation = "b")]
fn named_twice() {}

#[traced(include_duration = false, include_duration = true)]
fn measured_twice() {}

fn main() {}
