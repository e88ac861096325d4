use godtrace::traced;

#[traced]
#[track_caller]
fn check(value: u32) -> u32 {
    assert!(value > 0, "value must be positive");
    value
}

struct Checks;

#[traced]
impl Checks {
    #[track_caller]
    fn positive(&self, value: u32) -> u32 {
        value
    }

    #[godtrace::untraced]
    #[track_caller]
    fn untraced_positive(&self, value: u32) -> u32 {
        value
    }
}

fn main() {
    let _ = check(1) + Checks.positive(1) + Checks.untraced_positive(1);
}
