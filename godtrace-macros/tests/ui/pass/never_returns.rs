//! Sync functions that never return (`-> !`), in every form of the attribute.
#![deny(warnings)]
use godtrace::traced;

#[traced]
fn never_plain() -> ! {
    panic!("no")
}

#[traced(include_args, include_result)]
fn never_with_args(mut code: i32) -> ! {
    code += 1;
    std::process::exit(code)
}

#[traced(fields(attempt = n + 1))]
fn never_with_fields(n: u32) -> ! {
    loop {
        if n > 100 {
            panic!("{n}");
        }
    }
}

struct Server;

#[traced]
impl Server {
    fn serve(&self) -> ! {
        loop {
            std::thread::park();
        }
    }
}

fn main() {
    if std::env::args().count() > 5 {
        never_plain();
    }
    if std::env::args().count() > 6 {
        never_with_args(1);
    }
    if std::env::args().count() > 7 {
        never_with_fields(1);
    }
    if std::env::args().count() > 8 {
        Server.serve();
    }
}
