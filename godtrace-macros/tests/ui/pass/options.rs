//! Each option alone and combined, flags written bare or as `= true/false`.
use godtrace::traced;

#[traced]
fn bare() {}

#[traced(operation = "nft.mint")]
fn named() {}

#[traced(include_args)]
fn args(a: u32, b: &str) -> usize {
    a as usize + b.len()
}

#[traced(include_result)]
fn result() -> Result<u32, String> {
    Ok(1)
}

#[traced(include_args = true, include_result = false, include_duration = false, sample_rate = 0.5)]
fn explicit_flags(a: u32) -> u32 {
    a
}

#[traced(include_args, skip(secret))]
fn skipped(user: &str, secret: &str) -> usize {
    user.len() + secret.len()
}

#[traced(operation = "all.together", include_args, include_result, skip(key), include_duration = true)]
async fn combined(id: u64, key: String) -> Result<u64, std::io::Error> {
    Ok(id + key.len() as u64)
}

#[traced(parent = godtrace::otel::Context::current())]
fn with_parent() {}

#[traced(parent = None::<godtrace::otel::Context>, include_args)]
async fn with_optional_parent(a: u8) -> u8 {
    a
}

#[traced(kind = server)]
fn serving() {}

#[traced(kind = client, fields(peer.name = host, attempt = n + 1))]
async fn calling(host: &str, n: u32) -> u32 {
    n
}

mod renamed {
    use godtrace as gt;

    #[gt::traced(crate = gt, include_args)]
    pub fn through_a_renamed_crate(a: u8) -> u8 {
        a
    }
}

fn main() {
    bare();
    named();
    args(1, "x");
    let _ = result();
    explicit_flags(1);
    skipped("a", "b");
    let _ = combined(1, "k".into());
    renamed::through_a_renamed_crate(1);
    with_parent();
    let _ = with_optional_parent(1);
    serving();
    let _ = calling("ledger", 1);
}
