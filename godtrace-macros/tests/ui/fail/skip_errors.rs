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

#[derive(Debug)]
struct Creds {
    user: String,
    pw: String,
}

// `creds` holds `pw`: recorded whole, it would show what `skip(pw)` means to hide.
#[traced(include_args, skip(pw))]
fn login(creds @ &Creds { ref pw, .. }: &Creds) -> usize {
    creds.user.len() + pw.len()
}

// Skipping the outer binding too is fine.
#[traced(include_args, skip(pw, creds))]
fn login_skipped(creds @ &Creds { ref pw, .. }: &Creds) -> usize {
    creds.user.len() + pw.len()
}

fn main() {
    let _ = Vault;
}
