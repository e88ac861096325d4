//! `#[traced]` on impl blocks: inherent and trait impls, `#[async_trait]` in either order,
//! a method's own options over the block's, `#[untraced]`, and a block with no methods.
use godtrace::{traced, untraced};

struct Ledger {
    id: u64,
}

#[traced(kind = server, include_args, skip(secret), fields(ledger.id = self.id))]
impl Ledger {
    const LIMIT: u32 = 3;

    fn read(&self, key: &str) -> usize {
        key.len()
    }

    fn login(&self, user: &str, secret: &str) -> bool {
        user.len() == secret.len()
    }

    async fn fetch(&self, n: u32) -> u32 {
        n + Self::LIMIT
    }

    #[traced(kind = client, operation = "ledger.push")]
    fn push(&self, n: u32) -> u32 {
        n
    }

    #[untraced]
    fn hot(&self) -> u64 {
        self.id
    }

    const fn limit() -> u32 {
        Self::LIMIT
    }
}

trait Store {
    fn get(&self, n: u32) -> u32;
}

#[traced]
impl Store for Ledger {
    fn get(&self, n: u32) -> u32 {
        n
    }
}

#[async_trait::async_trait]
trait Remote {
    async fn call(&self, n: u32) -> u32;
}

#[traced(kind = client)]
#[async_trait::async_trait]
impl Remote for Ledger {
    async fn call(&self, n: u32) -> u32 {
        n
    }
}

struct Other;

#[async_trait::async_trait]
#[traced(kind = client)]
impl Remote for Other {
    async fn call(&self, n: u32) -> u32 {
        n
    }
}

struct Empty;

#[traced]
impl Empty {}

fn main() {
    let ledger = Ledger { id: 1 };
    ledger.read("k");
    ledger.login("u", "p");
    let _ = ledger.fetch(1);
    ledger.push(1);
    ledger.hot();
    Ledger::limit();
    ledger.get(1);
    let _ = ledger.call(1);
    let _ = Other.call(1);
    let _ = Empty;
}
