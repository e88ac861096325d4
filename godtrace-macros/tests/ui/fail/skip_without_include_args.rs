use godtrace::traced;

#[traced(skip(password))]
fn login(password: &str) -> usize {
    password.len()
}

fn main() {}
