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

fn main() {}
