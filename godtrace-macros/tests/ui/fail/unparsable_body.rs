use godtrace::traced;

#[traced]
fn half_written(a: u32) -> u32 {
    let b = ;
    a
}

fn main() {}
