#![deny(dead_code)]
use godtrace::traced;

#[traced]
fn never_called() {}

#[traced]
async fn never_awaited() {}

fn main() {}
