//! Function forms beside the common ones: `self: Pin<..>` and `self: Arc<..>`, borrowed
//! results, `dyn` parameters, `where` clauses, `async unsafe fn`, returned closures and
//! iterators, functions made by `macro_rules!` or nested in a function, `async fn` in a trait.
#![deny(warnings)]
use godtrace::traced;
use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;

struct S {
    v: Vec<u8>,
}

impl S {
    #[traced(include_args)]
    fn pinned(self: Pin<&mut Self>, n: u8) -> usize {
        self.get_mut().v.push(n);
        1
    }

    #[traced(include_args)]
    async fn arc(self: Arc<Self>, n: u8) -> usize {
        self.v.len() + n as usize
    }

    #[traced(include_args, include_result)]
    fn first(&self, items: &[u8]) -> &u8 {
        &self.v[items.len()]
    }

    #[traced]
    fn new() -> Self {
        S { v: vec![] }
    }

    // An elided output lifetime is `self`'s, for a typed receiver holding `&Self` too: no
    // lint about lifetimes named elsewhere.
    #[traced]
    async fn pinned_borrow(self: Pin<&mut Self>, _other: &str) -> &[u8] {
        &self.get_mut().v
    }

    #[traced]
    #[allow(clippy::needless_arbitrary_self_type)]
    async fn typed_borrow(self: &Self, _other: &str) -> &[u8] {
        &self.v
    }

    // The same with the type named (`&S`, not `&Self`): the compiler reads it as `self`'s
    // borrow all the same.
    #[traced]
    async fn named_borrow(self: &S, _other: &str) -> &[u8] {
        &self.v
    }

    #[traced]
    async fn named_pinned_borrow(self: Pin<&mut S>, _other: &str) -> &[u8] {
        &self.get_mut().v
    }
}

pub trait Lookup<'a> {
    fn find(&self, key: &'a str) -> &'a str;
}

// The lifetimes a `for<'a>` binds are not the inputs': the output's is `x`'s.
#[traced]
async fn higher_ranked(x: &str, _by: Box<dyn for<'a> Lookup<'a> + Send>) -> &str {
    x
}

#[traced]
async fn higher_ranked_fn(x: &str, _f: Box<dyn for<'a> Fn(&'a str) -> &'a str + Send>) -> &str {
    x
}

#[traced(include_args)]
fn dynamic(x: &dyn Debug, b: Box<dyn Debug + Send>) -> String {
    format!("{x:?}{b:?}")
}

#[traced(include_args)]
fn generic_where<T>(x: T) -> T
where
    T: Debug + Clone,
{
    x.clone()
}

#[traced(include_args)]
async unsafe fn async_unsafe(p: *const u8) -> u8 {
    unsafe { *p }
}

#[traced]
fn iter() -> impl Iterator<Item = u32> {
    0..3
}

#[traced(include_args)]
fn capture_closure<'a, T: Debug + 'a>(x: &'a T) -> impl Fn() -> String + 'a {
    move || format!("{x:?}")
}

#[traced(include_result)]
fn boxed_err() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

macro_rules! make_traced {
    ($name:ident) => {
        #[traced(include_args)]
        fn $name(x: u32) -> u32 {
            x + 1
        }
    };
}
make_traced!(from_macro);

trait Api {
    async fn fetch(&self, id: u32) -> u32;
}

impl Api for S {
    #[traced(include_args)]
    async fn fetch(&self, id: u32) -> u32 {
        id + self.v.len() as u32
    }
}

fn main() {
    fn nested() -> u32 {
        #[traced(include_args)]
        fn inner(a: u32) -> u32 {
            a
        }
        inner(1)
    }
    let mut s = S::new();
    let _ = Pin::new(&mut s).pinned(1);
    let _ = s.first(&[]);
    let _ = Arc::new(S::new()).arc(1);
    let _ = dynamic(&1, Box::new(2));
    let _ = generic_where(3);
    let x = 5u8;
    let _ = unsafe { async_unsafe(&x) };
    let _ = iter().count();
    let _ = capture_closure(&7)();
    let _ = boxed_err();
    let _ = from_macro(1) + nested();
    let _ = s.fetch(1);
    let _ = (s.named_borrow("x"), Pin::new(&mut S::new()).named_pinned_borrow("x"));
    let _ = higher_ranked("x", Box::new(Finder));
    let _ = higher_ranked_fn("x", Box::new(|k| k));
}

struct Finder;

impl<'a> Lookup<'a> for Finder {
    fn find(&self, key: &'a str) -> &'a str {
        key
    }
}
