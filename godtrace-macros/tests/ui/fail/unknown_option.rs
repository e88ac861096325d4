use godtrace::traced;

#[traced(inclde_args)]
fn near_miss(a: u32) -> u32 {
    a
}

#[traced(include_duraton = false)]
fn measured() {}

#[traced(verbose)]
fn far_miss() {}

// `tracing::instrument`'s options say what godtrace writes instead.
#[traced(ret, err, level = "info", skip_all)]
fn from_tracing() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
