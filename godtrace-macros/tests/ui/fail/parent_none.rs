use godtrace::traced;

#[traced(parent = None)]
fn under_the_current_span() {}

#[traced(parent = None, include_args)]
async fn also_async(_n: u32) {}

#[traced(parent = Option::None)]
fn by_its_path() {}

#[traced(parent = (::std::option::Option::None))]
fn by_its_full_path_in_parentheses() {}

#[traced(parent = { None })]
fn in_braces() {}

fn main() {}

#[traced(parent = &None)]
fn behind_a_reference() {}

#[traced(parent = unsafe { None })]
fn in_an_unsafe_block() {}
