use godtrace::traced;

#[traced(include_args, skip(pasword))]
fn typo(user: &str, password: &str) -> usize {
    user.len() + password.len()
}

#[traced(include_args, skip(password, password))]
fn twice(password: &str) -> usize {
    password.len()
}

struct Vault;

impl Vault {
    #[traced(include_args, skip(self))]
    fn open(&self, code: u32) -> u32 {
        code
    }
}

#[traced(include_args, skip(anything))]
fn no_params() {}

#[traced(include_args, skip(_))]
fn wild(_: u32) {}

fn main() {
    let _ = Vault;
}
