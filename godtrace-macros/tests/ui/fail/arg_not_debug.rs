use godtrace::traced;

struct Keypair {
    _secret: [u8; 32],
}

#[traced(include_args)]
fn sign(message: &str, keypair: &Keypair) -> usize {
    message.len() + keypair._secret.len()
}


// Under the type of a destructured or `impl Trait` parameter too, sync and async.
#[traced(include_args)]
fn destructured((keypair, n): (Keypair, u32)) -> u32 {
    let _ = keypair;
    n
}

#[traced(include_args)]
fn opaque(it: impl Iterator<Item = u32>) -> u32 {
    it.sum()
}

#[traced(include_args)]
async fn opaque_async(it: impl Iterator<Item = u32>) -> u32 {
    it.sum()
}

fn main() {}
