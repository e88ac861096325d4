use godtrace::traced;

struct Keypair {
    _secret: [u8; 32],
}

#[traced(include_args)]
fn sign(message: &str, keypair: &Keypair) -> usize {
    message.len() + keypair._secret.len()
}

fn main() {}
