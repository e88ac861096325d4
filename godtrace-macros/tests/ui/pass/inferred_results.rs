//! Bodies whose value the compiler infers: `?` into a `Result<impl Trait, E>` (sync and
//! async), an early `return`, a borrowed `impl Iterator`, a labeled `break` value, and
//! futures whose output only the signature's `impl Future<Output = X>` names (`?` into a
//! boxed error, a `String` error, `.into()`, `Default::default()`), and stubs (`todo!()`)
//! returning `impl Trait`.
#![deny(warnings)]
use godtrace::traced;
use std::fmt::Debug;

#[derive(Debug)]
struct MyErr;
impl From<std::num::ParseIntError> for MyErr {
    fn from(_: std::num::ParseIntError) -> Self {
        MyErr
    }
}

#[traced]
fn question_impl(s: &str) -> Result<impl Debug, MyErr> {
    let v: u32 = s.parse()?;
    Ok(v)
}

#[traced]
async fn question_impl_async(s: &str) -> Result<impl Debug, MyErr> {
    let v: u32 = s.parse()?;
    Ok(v)
}

#[traced(include_result)]
fn recorded_opaque(s: &str) -> Result<impl Debug, MyErr> {
    let v: u32 = s.parse()?;
    Ok(v)
}

#[traced(include_args, include_result)]
async fn recorded_opaque_async(s: &str) -> Result<impl Debug + Send, MyErr> {
    let v: u32 = s.parse()?;
    Ok(v)
}

#[traced(include_args)]
fn question_args(s: &str) -> Result<u32, MyErr> {
    let v: u32 = s.parse()?;
    if v == 0 {
        return Err(MyErr);
    }
    Ok(v)
}

#[traced]
fn borrowed_iter(v: &[u8]) -> impl Iterator<Item = &u8> + '_ {
    v.iter()
}

#[traced]
fn labeled(n: u32) -> u32 {
    'outer: loop {
        for i in 0..n {
            if i == 3 {
                break 'outer i;
            }
        }
        break n;
    }
}

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

async fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[traced]
fn future_boxed_error(x: u32) -> impl std::future::Future<Output = Result<u32, BoxErr>> {
    async move {
        let v = fetch().await?;
        Ok(v + x)
    }
}

#[traced(include_result)]
fn future_string_error(x: u32) -> impl std::future::Future<Output = Result<u32, String>> {
    async move { Ok(x) }
}

#[traced(include_result)]
fn future_into(s: &str) -> impl std::future::Future<Output = String> + '_ {
    async move { s.into() }
}

#[traced]
fn future_default() -> impl std::future::Future<Output = u32> {
    async { Default::default() }
}

#[traced]
fn future_borrowed(s: &str) -> impl std::future::Future<Output = &str> + '_ {
    async move { s.trim() }
}

#[traced]
fn future_opaque_output() -> impl std::future::Future<Output = impl Debug> {
    async { 1u8 }
}

// Stubs: nothing to infer an `impl Trait`'s type from, as in the function as written.
#[traced]
fn stub() -> impl Debug {
    todo!()
}

#[traced(include_result)]
async fn stub_async() -> impl Debug + Send {
    unimplemented!("later")
}

#[traced]
fn stub_display(n: u32) -> impl std::fmt::Display {
    panic!("{n}")
}

fn main() {
    if std::env::args().count() > 99 {
        let _ = (stub(), stub_async(), stub_display(1));
        let _ = (stub_after_statements(1), stub_exits(), stub_loops());
        let _ = (stub_branches(1), stub_async_after_statements(1), stub_by_match(None));
        let _ = stub_by_path(1);
    }
    let _ = (returns_through_a_macro(true), exits_of_its_own(), todo_of_its_own());
    let _ = future_boxed_error(1);
    let _ = future_string_error(1);
    let _ = future_into("a");
    let _ = future_default();
    let _ = future_borrowed(" a ");
    let _ = future_opaque_output();
    let _ = question_impl("1");
    let _ = question_impl_async("1");
    let _ = question_args("1");
    let _ = borrowed_iter(&[1]).count();
    let _ = labeled(5);
    let _ = recorded_opaque("2");
    let _ = recorded_opaque_async("2");
}

// Bodies that never give a value, in other forms than a lone macro: statements before it, a
// loop without a break, the process's end, branches that all panic. Each compiles as the
// function as written does.
#[traced]
fn stub_after_statements(x: u32) -> impl std::fmt::Display {
    let _unused = x;
    todo!()
}

#[traced]
fn stub_exits() -> impl Clone {
    std::process::exit(1)
}

#[traced]
#[allow(clippy::empty_loop)]
fn stub_loops() -> impl Sized {
    loop {}
}

#[traced]
fn stub_branches(x: u32) -> impl Debug {
    if x > 1 {
        panic!("a")
    } else {
        unreachable!()
    }
}

#[traced(include_result)]
async fn stub_async_after_statements(x: u32) -> impl std::fmt::Display {
    let _unused = x;
    todo!()
}

#[traced]
fn stub_by_path(x: u32) -> impl Debug {
    let _unused = x;
    ::core::panic!("named by its path")
}

#[traced]
fn stub_by_match(x: Option<u32>) -> impl Debug {
    match x {
        Some(_) => unimplemented!(),
        None => panic!("none"),
    }
}

// Bodies that look like stubs but may give a value: through a macro of the user's (which may
// hold a `return`), a `process::exit` or a `todo!` of the user's own. Their type is inferred
// as for any body.
macro_rules! give {
    ($e:expr) => {
        return $e
    };
}

#[traced]
fn returns_through_a_macro(c: bool) -> impl std::fmt::Display {
    if c {
        give!(5)
    }
    todo!()
}

mod process {
    pub fn exit(_: i32) -> u8 {
        7
    }
}

#[traced]
fn exits_of_its_own() -> impl std::fmt::Display {
    process::exit(1)
}

mod stubs {
    macro_rules! todo {
        () => {
            5u8
        };
    }
    pub(crate) use todo;
}

#[traced]
fn todo_of_its_own() -> impl std::fmt::Display {
    stubs::todo!()
}
