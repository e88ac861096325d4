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

    #[untraced]
    #[untraced]
    fn twice(&self) {}
}

// Both under conditions: an error only where both hold (`g`), none where they exclude each
// other (`h`).
#[traced]
impl Ledger {
    #[cfg_attr(all(), untraced)]
    #[cfg_attr(all(), traced(kind = client))]
    fn g(&self) {}

    #[cfg_attr(all(), untraced)]
    #[cfg_attr(not(all()), traced(kind = client))]
    fn h(&self) {}
}

// An error in the block's options: its methods still get the rest of them (`m`'s `skip`
// is not reported as lacking `include_args`).
#[traced(include_args, bogus)]
impl Ledger {
    #[traced(skip(w))]
    fn m(&self, x: u32, w: u32) -> u32 {
        x + w
    }
}

// `include_args` with a value it does not take: one error, at it; the `skip`s are taken as
// meant, not reported as lacking `include_args`.
#[traced(kind = server, include_args = maybe)]
impl Ledger {
    #[traced(skip(a))]
    fn n(&self, a: u32) -> u32 {
        a
    }
}

#[traced(include_args = maybe, skip(p))]
impl Ledger {
    fn o(&self, p: u32) -> u32 {
        p
    }
}

#[traced(include_args = maybe, skip(q))]
fn flagged(q: u32) -> u32 {
    q
}

#[traced(include_args =, skip(r))]
fn flag_without_value(r: u32) -> u32 {
    r
}

#[traced(skip(s))]
impl Ledger {
    #[traced(include_args = maybe)]
    fn p(&self, s: u32) -> u32 {
        s
    }
}

#[traced(kind = Server)]
fn capitalised() {}

#[untraced]
fn outside_a_block() {}

fn main() {}
