//! `parent = ` a field of a parameter is read by reference, as a bare parameter is: the
//! parameter still moves whole into the body (or the future), as untraced.
#![deny(warnings)]
use godtrace::otel::Context;
use godtrace::traced;

struct Request {
    cx: Context,
    payload: String,
}

#[traced(parent = request.cx)]
fn field_then_another(request: Request) -> usize {
    request.payload.len()
}

#[traced(parent = request.cx)]
fn body_ignores_it(request: Request) {
    let _ = request;
}

#[traced(parent = request.cx)]
async fn in_an_async_fn(request: Request) -> usize {
    request.payload.len()
}

#[traced(parent = pair.0.cx)]
fn tuple_field(pair: (Request, u8)) -> u8 {
    pair.1
}

struct Handler {
    request: Request,
}

impl Handler {
    #[traced(parent = self.request.cx)]
    fn of_self(self) -> usize {
        self.request.payload.len()
    }
}

fn main() {
    let request = || Request {
        cx: Context::current(),
        payload: "p".into(),
    };
    let _ = field_then_another(request());
    body_ignores_it(request());
    let _ = in_an_async_fn(request());
    let _ = tuple_field((request(), 1));
    let _ = Handler { request: request() }.of_self();
}
