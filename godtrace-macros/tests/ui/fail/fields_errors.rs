use godtrace::traced;

#[traced(fields(user.id = id, user.id = 2))]
fn duplicate(id: u64) {}

#[traced(fields("user" = 1))]
fn quoted_name() {}

#[traced(fields(user::id = 1))]
fn path_name() {}

#[traced(fields(user.id))]
fn without_value() {}

// At the `=`, whether the list ends there or goes on.
#[traced(fields(user.id = ))]
fn empty_value_last() {}

#[traced(fields(user.id = , attempt = 1))]
fn empty_value() {}

#[traced(fields = 1)]
fn not_a_list() {}

#[traced(include_args, fields(id = id + 1))]
fn shadows_an_argument(id: u64) {}

// Compared as recorded: the parameter `r#type` is recorded as `type`.
#[traced(include_args, fields(r#type = 3))]
fn raw_name(r#type: u32) {}

// Every bad entry of one list, each at its place.
#[traced(fields(a.b = 1, a.b = 2, c = , d, "e" = 1, f = 2))]
fn all_at_once() {}

// A value that ends at a comma, and one followed by a stray token.
#[traced(fields(a = 1 +, b = 2 3, c = 4))]
fn incomplete() {}

fn main() {}
