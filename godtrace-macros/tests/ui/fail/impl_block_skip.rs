use godtrace::traced;

struct Ledger;

// `skip` on a block needs `include_args`, on the block or on one of its methods.
#[traced(skip(password))]
impl Ledger {
    fn login(&self, password: &str) {}
}

#[traced(skip(password))]
impl Ledger {
    // Compiles: the method records, without `password`.
    #[traced(include_args)]
    fn login_recorded(&self, user: &str, password: &str) {}
}

#[traced(include_args, skip(password))]
impl Ledger {
    // The method's own misuse is still its own.
    #[traced(skip(passwd))]
    fn renamed(&self, password: &str) {}
}

fn main() {}
