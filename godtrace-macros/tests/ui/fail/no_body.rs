use godtrace::traced;

trait Scanner {
    #[traced]
    fn scan(&self) -> u32;
}

unsafe extern "C" {
    #[traced]
    fn abs(input: i32) -> i32;
}

fn main() {}
