use godtrace::traced;

// `tracing`'s `%` (Display) and `?` (Debug) in `#[instrument(fields(..))]`.
#[traced(fields(user = %name))]
fn display_sigil(name: &str) {}

#[traced(fields(user.id = ?id))]
fn debug_sigil(id: u64) {}

fn main() {}
