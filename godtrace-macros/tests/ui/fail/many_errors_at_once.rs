use godtrace::traced;

#[traced(operation = "", inclde_result, include_args = 1, skip(nope))]
fn everything_wrong(a: u32) -> u32 {
    a
}

fn main() {}
