use godtrace::{traced, untraced};

struct Ledger;

#[traced(verbose)]
impl Ledger {
    fn a(&self) {}
}

#[traced(operation = "ledger.all")]
impl Ledger {
    fn b(&self) {}
}

#[traced(include_args, skip(password))]
impl Ledger {
    fn c(&self, user: &str) {}
}

#[traced]
impl Ledger {
    #[untraced(skip)]
    fn d(&self) {}

    #[untraced]
    #[traced(kind = client)]
    fn e(&self) {}

    #[traced(kind = sever)]
    fn f(&self) {}
}

#[untraced]
fn outside_a_block() {}

fn main() {}
