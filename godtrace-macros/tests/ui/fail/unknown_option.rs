use godtrace::traced;

#[traced(inclde_args)]
fn near_miss(a: u32) -> u32 {
    a
}

#[traced(include_duraton = false)]
fn measured() {}

#[traced(verbose)]
fn far_miss() {}

fn main() {}
