use godtrace::traced;

#[traced(fields(code.function.name = "spoofed", error.type = "nope", godtrace.cancelled = true))]
fn spoofs_godtraces_keys() -> Result<u32, String> {
    Err("e".into())
}

#[traced(include_result, fields(result = 99))]
fn field_under_the_result(x: u32) -> u32 {
    x
}

#[traced(include_args, include_result)]
fn parameter_under_the_result(result: u32) -> u32 {
    result + 1
}

#[traced(include_args, include_result)]
fn raw_parameter_under_the_result(r#result: u32) -> u32 {
    r#result
}

// Free: `result` without `include_result`, a skipped `result` parameter, other `code.` keys.
#[traced(fields(result = 1, code.namespace = "n"))]
fn free_keys() {}

#[traced(include_args, include_result, skip(result))]
fn skipped_result(result: u32) -> u32 {
    result
}

#[traced(include_args, include_result, skip(r#result))]
fn skipped_raw_result(r#result: u32) -> u32 {
    r#result
}

fn main() {}
