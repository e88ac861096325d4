use godtrace::traced;

#[traced(include_args = "yes")]
fn string_value(a: u32) -> u32 {
    a
}

#[traced(include_result(true))]
fn list_value() -> u32 {
    1
}

fn main() {}
