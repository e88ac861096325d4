//! A crate that forbids rustc's lints the expansion could trip (dead branches, imports,
//! bindings) still compiles every form: the expansion writes no `#[allow]` of a rustc lint,
//! which a `forbid` refuses (E0453), and gives none of them cause to fire.
#![forbid(unreachable_code, unused_imports, unused_variables)]
#![deny(warnings)]
use godtrace::traced;
use std::fmt::Debug;

#[traced]
fn plain(x: u32) -> u32 {
    x + 1
}

#[traced]
fn unit() {}

#[traced(include_args)]
fn recorded(x: u32, _quiet: u32, unused_by_body: &str, (a, _b): (u32, u32)) -> u32 {
    x + a
}

#[traced(include_args)]
fn recorded_impl(value: impl Debug, ref text: String, ref mut count: u32) -> usize {
    *count += 1;
    format!("{value:?}{text}").len()
}

#[traced(include_args, skip(secret), include_result)]
fn skipped(user: &str, secret: &str) -> Result<usize, std::fmt::Error> {
    Ok(user.len() + secret.len())
}

#[traced(include_result)]
fn result_only(n: u32) -> Option<u32> {
    n.checked_add(1)
}

#[traced(fields(doubled = n * 2, label = "fixed"))]
fn with_fields(n: u32) -> u32 {
    n
}

#[traced(include_args, fields(len = items.len()))]
fn args_and_fields(items: Vec<u8>, (p, q): (u8, u8)) -> usize {
    items.len() + usize::from(p) + usize::from(q)
}

#[traced(include_args)]
async fn async_recorded(x: u32, unused_by_body: String, (a, _b): (u32, u32), (c, d): (u8, u8)) -> u32 {
    x + a + u32::from(c)
}

#[traced(include_args, include_result)]
async fn async_result(x: u32, value: impl Debug + Send) -> Result<u32, String> {
    Ok(x + format!("{value:?}").len() as u32)
}

#[traced(include_args, fields(extra = x + 1))]
async fn async_fields(x: u32, (p, _q): (u8, u8)) -> u32 {
    x + u32::from(p)
}

#[traced]
fn returns_future(x: u32) -> impl std::future::Future<Output = u32> {
    async move { x }
}

#[traced]
fn never_returns() -> ! {
    panic!("never")
}

struct Account {
    id: u32,
}

#[traced(include_args)]
impl Account {
    fn deposit(&mut self, delta: u32, _note: &str) -> u32 {
        self.id += delta;
        self.id
    }

    async fn settle(&self, fee: u32) -> Result<u32, String> {
        Ok(self.id + fee)
    }
}

impl Account {
    #[traced(include_args, include_result)]
    fn close(self, code: u32) -> Result<u32, String> {
        Ok(self.id + code)
    }
}

fn main() {
    let mut account = Account { id: 1 };
    let _ = plain(1)
        + recorded(1, 2, "x", (3, 4))
        + recorded_impl(5, String::new(), 0) as u32
        + skipped("a", "b").unwrap_or(0) as u32
        + result_only(1).unwrap_or(0)
        + with_fields(2)
        + args_and_fields(vec![1], (2, 3)) as u32
        + account.deposit(2, "n");
    unit();
    let _ = (
        async_recorded(1, String::new(), (2, 3), (4, 5)),
        async_result(1, "v"),
        async_fields(1, (2, 3)),
        returns_future(1),
        account.settle(1),
    );
    let _ = account.close(3);
    if false {
        never_returns();
    }
}
