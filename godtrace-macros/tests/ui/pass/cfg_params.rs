//! Parameters under `#[cfg(..)]`: a parameter the condition removes is neither moved nor
//! recorded, one it keeps is, in every shape.
#![deny(warnings)]
use godtrace::traced;

#[traced]
async fn cfg_param_async(#[cfg(target_pointer_width = "16")] hidden: u32, shown: u32) -> u32 {
    shown
}

#[traced]
fn cfg_param_sync(#[cfg(target_pointer_width = "16")] hidden: u32, #[cfg(not(target_pointer_width = "16"))] shown: u32) -> u32 {
    shown
}

#[traced(include_args)]
fn cfg_args_sync(#[cfg(target_pointer_width = "16")] hidden: u32, #[cfg(not(target_pointer_width = "16"))] shown: u32, _: u8) -> u32 {
    shown
}

#[traced(include_args)]
async fn cfg_args_async(#[cfg(target_pointer_width = "16")] hidden: u32, #[cfg(not(target_pointer_width = "16"))] mut shown: u32, #[cfg(target_pointer_width = "16")] _: u8) -> u32 {
    shown += 1;
    shown
}

fn main() {
    let _ = cfg_param_async(2);
    let _ = cfg_param_sync(2);
    let _ = cfg_args_sync(2, 0);
    let _ = cfg_args_async(2);
}
