use godtrace::traced;

// The traced future wraps the returned one: bounds beyond the auto traits are not carried.
#[traced]
fn cloneable(x: u8) -> impl std::future::Future<Output = u8> + Clone {
    std::future::ready(x)
}

#[traced]
fn debuggable(x: u8) -> impl std::future::Future<Output = u8> + Send + std::fmt::Debug {
    std::future::ready(x)
}

// Carried: these compile.
#[traced]
fn carried(x: u8) -> impl std::future::Future<Output = u8> + Send + Sync + Unpin + 'static {
    std::future::ready(x)
}

// Bounds every type meets pass: a `Captures<'a>` trait (edition 2021's way to name a captured
// lifetime), `Sized`, `Any`.
pub trait Captures<'a> {}
impl<T: ?Sized> Captures<'_> for T {}

#[traced]
fn captures<'a>(x: &'a u8) -> impl std::future::Future<Output = u8> + Captures<'a> + 'a {
    let v = *x;
    async move { v }
}

#[traced]
fn sized() -> impl std::future::Future<Output = u8> + Sized + std::any::Any {
    std::future::ready(1)
}

fn main() {}
