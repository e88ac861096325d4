//! A traced function made by a `macro_rules!` of this file, its name written here: what
//! `code.file.path` and `code.line.number` give for it (tests/capture/capture_rules.rs).

/// Defines `made_by_macro() -> u32` where it is called.
macro_rules! traced_by_macro {
    () => {
        #[godtrace::traced]
        fn made_by_macro() -> u32 {
            1
        }
    };
}
pub(crate) use traced_by_macro;
