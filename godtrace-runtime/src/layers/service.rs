//! The tower service every layer builds: it starts an [`Exchange`] for each request, keeps its
//! span current while the inner service runs, and hands the exchange on to the response body.
use super::body::{Length, TracedBody};
use super::exchange::Exchange;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower_service::Service;

/// How a layer starts the exchange of a request (reading, and for clients writing, its
/// headers): one per kind of layer.
pub(crate) type Start = fn(&mut http::request::Parts) -> Exchange;

/// A service traced by one of the [`crate::layers`] layers.
#[derive(Clone)]
pub struct TracedService<S> {
    inner: S,
    start: Start,
}

impl<S> TracedService<S> {
    pub(crate) fn new(inner: S, start: Start) -> TracedService<S> {
        TracedService { inner, start }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for TracedService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TracedService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    // Read by type for its `error.type` (a boxed error is named by its cause).
    S::Error: 'static,
    ResBody: http_body::Body,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let mut exchange = (self.start)(&mut parts);
        exchange.on_request(parts.version, &parts.method, &parts.headers);
        let request = Request::from_parts(parts, body);
        // Services may do their work in `call` already: that too is under the span.
        let inner = exchange.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            exchange: Some(exchange),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of a [`TracedService`]. Dropped before it completes (the client
    /// went away, an outer timeout fired), it ends a server span as failed with `error.type`
    /// `cancelled`, and a client span (the caller gave up) with its status unset and
    /// `godtrace.cancelled = true`.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        exchange: Option<Exchange>,
    }

    // Dropped before `inner` and `exchange` (in that order): a panic in the inner future's
    // own `Drop` (a guard the handler holds) is then told from one that was unwinding already.
    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(exchange) = this.project().exchange {
                exchange.on_drop();
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    E: 'static,
{
    type Output = Result<Response<TracedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let result = match this.exchange.as_mut() {
            Some(exchange) => ready!(exchange.in_scope(|| inner.as_mut().poll(cx))),
            // Polled after completion: the inner future's own contract applies.
            None => ready!(inner.poll(cx)),
        };
        let Some(mut exchange) = this.exchange.take() else {
            return Poll::Ready(result.map(|r| r.map(TracedBody::finished)));
        };
        Poll::Ready(match result {
            Ok(response) => {
                exchange.on_response(response.status(), response.version(), response.headers());
                let length = sent_length(&exchange, &response);
                Ok(response.map(|body| TracedBody::new(body, exchange, length)))
            }
            Err(e) => {
                exchange.on_service_error(&e);
                Err(e)
            }
        })
    }
}

/// The length `response`'s body is sent with (see [`Length`]): none for a response without
/// a body (to a `HEAD`, a 204 or 304: a `Content-Length` there is the one a `GET` would have
/// had) or sent chunked; its `Content-Length` (RFC 9110, 8.6: a list of one value repeated
/// is that value); else, as hyper's server then declares it, the body's exact size.
fn sent_length<B>(exchange: &Exchange, response: &Response<B>) -> Length {
    if !exchange.response_has_body(response.status()) {
        return Length::Declared(None);
    }
    let headers = response.headers();
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|value| {
        let mut values = value
            .to_str()
            .ok()?
            .split(',')
            .map(|v| v.trim().parse::<u64>());
        let first = values.next()?.ok()?;
        values.all(|v| v == Ok(first)).then_some(first)
    });
    match declared {
        Some(length) => Length::Declared(Some(length)),
        // Sent chunked whatever its size: no length to stop at.
        None if headers.contains_key(http::header::TRANSFER_ENCODING) => Length::Declared(None),
        // No `Content-Length` hyper can read either: it declares the body's own.
        None => Length::OfBody,
    }
}
