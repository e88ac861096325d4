//! `#[traced]` in an edition 2021 crate: `async fn`s are desugared to `fn -> impl Future`,
//! which in edition 2021 captures only the lifetimes it names, so the macro names them all.
use godtrace::traced;
use std::fmt::Debug;

pub struct Ledger {
    pub entries: Vec<u8>,
}

impl Ledger {
    #[traced(include_args)]
    pub async fn total(&self, label: &str, extra: &[u8]) -> usize {
        self.entries.len() + label.len() + extra.len()
    }

    #[traced]
    pub async fn first(&self) -> Option<&u8> {
        self.entries.first()
    }

    #[traced]
    pub async fn describe(&mut self, x: impl Debug + Send) -> String {
        self.entries.push(0);
        format!("{x:?}")
    }
}

#[traced]
pub async fn pick<'a>(a: &'a str, b: &str) -> &'a str {
    let _ = b;
    a
}

pub trait Source {
    #[allow(async_fn_in_trait)]
    async fn read(&self, key: &str) -> usize;

    /// A default method whose future captures two lifetimes (`self`'s and `key`'s).
    #[allow(async_fn_in_trait)]
    #[traced]
    async fn read_twice(&self, key: &str) -> usize {
        self.read(key).await * 2
    }
}

impl Source for Ledger {
    #[traced]
    async fn read(&self, key: &str) -> usize {
        key.len() + self.entries.len()
    }
}

/// A type borrowing for the impl's lifetime `'i`, which a method's future captures through
/// `self` or an argument without the method naming it.
pub struct View<'i> {
    pub text: &'i str,
}

impl<'i> View<'i> {
    #[traced]
    pub async fn owned(self) -> usize {
        self.text.len()
    }

    #[traced]
    pub async fn merged(self, other: Self, extra: &str) -> usize {
        self.text.len() + other.text.len() + extra.len()
    }

    #[traced]
    pub async fn measure(view: View<'i>) -> usize {
        view.text.len()
    }

    #[traced]
    pub async fn boxed(self: Box<Self>) -> usize {
        self.text.len()
    }

    /// The impl's lifetime named only inside `Fn(..)`'s parentheses.
    #[traced]
    pub async fn apply(f: Box<dyn Fn(&'i str) -> usize + Send>, text: &'i str) -> usize {
        f(text)
    }

    #[traced]
    pub async fn produce(f: Box<dyn FnOnce() -> &'i str + Send>) -> usize {
        f().len()
    }
}

/// Tail expressions whose temporaries borrow an owned parameter (a lock's guard): in edition
/// 2021 they are dropped at the end of the enclosing statement, which must come before the
/// parameter's binding is dropped, as it does without the attribute.
#[traced]
pub async fn locked(m: std::sync::Mutex<u32>) -> u32 {
    *m.lock().unwrap()
}

#[traced(include_args)]
pub fn locked_recorded(m: std::sync::Mutex<u32>) -> u32 {
    *m.lock().unwrap()
}

#[traced(include_args)]
pub async fn locked_recorded_async(m: std::sync::Mutex<u32>, (a, _b): (u8, u8)) -> u32 {
    *m.lock().unwrap() + u32::from(a)
}

/// # Safety
/// `p` must be valid for reads.
#[traced]
pub unsafe fn peek(p: *const u8) -> u8 {
    *p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_shape_traces_in_edition_2021() {
        let capture = godtrace::testing::capture();
        let mut ledger = Ledger { entries: vec![7] };
        assert_eq!(ledger.total("ab", &[1]).await, 4);
        assert_eq!(ledger.first().await, Some(&7));
        assert_eq!(ledger.describe(3).await, "3");
        assert_eq!(pick("x", "y").await, "x");
        assert_eq!(ledger.read("key").await, 5);
        assert_eq!(ledger.read_twice("key").await, 10);
        assert_eq!(unsafe { peek(&9) }, 9);
        assert_eq!(locked(std::sync::Mutex::new(4)).await, 4);
        assert_eq!(locked_recorded(std::sync::Mutex::new(5)), 5);
        assert_eq!(
            locked_recorded_async(std::sync::Mutex::new(5), (1, 2)).await,
            6
        );
        let text = String::from("abc");
        let view = || View { text: &text };
        assert_eq!(view().owned().await, 3);
        assert_eq!(view().merged(view(), "de").await, 8);
        assert_eq!(View::measure(view()).await, 3);
        assert_eq!(Box::new(view()).boxed().await, 3);
        assert_eq!(View::apply(Box::new(|s: &str| s.len()), &text).await, 3);
        assert_eq!(View::produce(Box::new(|| "abc")).await, 3);
        let names: Vec<String> = capture.spans().into_iter().map(|s| s.name).collect();
        for name in [
            "Ledger::total",
            "Ledger::first",
            "Ledger::describe",
            "pick",
            "Ledger::read",
            "Source::read_twice",
            "peek",
            "locked",
            "locked_recorded",
            "locked_recorded_async",
            "View::owned",
            "View::merged",
            "View::measure",
            "View::boxed",
            "View::apply",
            "View::produce",
        ] {
            let full = format!("godtrace_edition_2021::{name}");
            assert!(names.contains(&full), "{full} missing from {names:?}");
        }
    }
}

/// Clippy's `must_use_candidate` (pedantic) cannot see a traced body's effects (it runs in a
/// closure) and would call a function that changes a static pure: the expansion allows it.
/// `cargo clippy --workspace --all-targets -- -D warnings` checks it.
pub mod side_effects {
    #![warn(clippy::must_use_candidate)]
    use std::sync::atomic::{AtomicU32, Ordering};

    static CALLS: AtomicU32 = AtomicU32::new(0);

    #[godtrace::traced]
    pub fn count(by: u32) -> u32 {
        CALLS.fetch_add(by, Ordering::Relaxed)
    }
}
