//! Sync functions whose recorded arguments are handed to the body by value: every parameter
//! pattern compiles, and no lint fires that would not fire on the function as written.
#![deny(warnings)]
use godtrace::traced;

#[traced(include_args)]
fn mutated(mut n: u32, label: &str) -> u32 {
    n += label.len() as u32;
    n
}

#[traced(include_args)]
fn unused_but_recorded(n: u32) -> u32 {
    7
}

#[traced(include_args)]
fn destructured((mut a, b): (u32, u32), [c, _]: [u8; 2]) -> u32 {
    a += b;
    a + u32::from(c)
}

#[traced(include_args)]
fn by_reference(ref text: String, ref mut count: u32) -> usize {
    *count += 1;
    text.len() + *count as usize
}

#[traced(include_args)]
fn borrowed<'a>(text: &'a str, _n: u8) -> &'a str {
    text
}

#[traced(include_args, skip(secret))]
fn mixed(mut user: String, mut secret: String) -> usize {
    user.push('x');
    secret.push('y');
    user.len() + secret.len()
}

#[traced(include_args)]
fn generic<T: std::fmt::Debug + Clone>(value: T, items: impl AsRef<[u8]> + std::fmt::Debug) -> usize {
    let _copy = value.clone();
    items.as_ref().len()
}

#[traced(include_args)]
fn moved_into_closure(mut items: Vec<u32>) -> impl Fn() -> usize {
    items.push(1);
    move || items.len()
}

#[traced(include_args)]
#[allow(clippy::too_many_arguments)]
fn many(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: u8, k: u8, l: u8, m: u8, n: u8) -> u32 {
    [a, b, c, d, e, f, g, h, i, j, k, l, m, n].iter().map(|&x| u32::from(x)).sum()
}

struct Account {
    id: u32,
}

impl Account {
    #[traced(include_args)]
    fn deposit(&mut self, mut delta: u32) -> u32 {
        delta += 1;
        self.id += delta;
        self.id
    }

    #[traced(include_args)]
    fn close(self, code: u32) -> u32 {
        self.id + code
    }
}

fn main() {
    let mut account = Account { id: 1 };
    let _ = mutated(1, "x")
        + unused_but_recorded(2)
        + destructured((1, 2), [3, 4])
        + by_reference(String::new(), 0) as u32
        + borrowed("y", 5).len() as u32
        + mixed(String::new(), String::new()) as u32
        + generic(5u8, [1u8, 2]) as u32
        + moved_into_closure(vec![])() as u32
        + many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
        + account.deposit(2)
        + account.close(3);
}
