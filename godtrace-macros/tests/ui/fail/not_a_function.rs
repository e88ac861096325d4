use godtrace::traced;

#[traced]
struct Wallet;

#[traced]
const LIMIT: u32 = 3;

#[traced]
static NAME: &str = "scanner";

#[traced]
mod inner {}

#[traced]
trait Balance {}

fn main() {}
