use godtrace::traced;

#[traced]
const fn answer() -> u32 {
    42
}

// A naked function's body is one `naked_asm!`: nothing can be put around it.
#[traced]
#[unsafe(naked)]
extern "C" fn naked() {
    core::arch::naked_asm!("ret")
}

fn main() {}
