//! The response body of a traced exchange: the exchange (and its span) lives until the body
//! has been sent or dropped, so the duration covers the whole response and gRPC statuses sent
//! in trailers are read.
use super::exchange::Exchange;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project_lite::pin_project! {
    /// A response body that ends its request's span when it ends (see [`crate::layers`]).
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        exchange: Option<Exchange>,
    }
}

impl<B: Body> TracedBody<B> {
    /// Wraps `inner`; an already finished body ends the exchange at once.
    pub(crate) fn new(inner: B, exchange: Exchange) -> TracedBody<B> {
        let exchange = (!inner.is_end_stream()).then_some(exchange);
        TracedBody { inner, exchange }
    }

    /// Wraps `inner` with no exchange (the future was polled again after completing).
    pub(crate) fn finished(inner: B) -> TracedBody<B> {
        TracedBody {
            inner,
            exchange: None,
        }
    }
}

impl<B> std::fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedBody")
            .field("in_flight", &self.exchange.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let frame = match this.exchange {
            // A streaming body runs the application's code: keep its spans under ours.
            Some(exchange) => ready!(exchange.in_scope(|| inner.as_mut().poll_frame(cx))),
            None => ready!(inner.as_mut().poll_frame(cx)),
        };
        if let Some(exchange) = this.exchange {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        exchange.on_trailers(trailers);
                    }
                }
                Some(Err(_)) => exchange.on_body_error(),
                None => {}
            }
        }
        // Ends the exchange as soon as the body is known to be over: servers stop polling a
        // body that says so, and may keep it around for a while before dropping it.
        if frame.is_none() || matches!(frame, Some(Err(_))) || inner.is_end_stream() {
            this.exchange.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
