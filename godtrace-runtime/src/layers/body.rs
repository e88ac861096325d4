//! The response body of a traced exchange: the exchange (and its span) lives until the body
//! has been sent or dropped, so the duration covers the whole response and gRPC statuses sent
//! in trailers (or, for gRPC-Web, in the body's trailer frame) are read.
use super::exchange::Exchange;
use bytes::Buf as _;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project_lite::pin_project! {
    /// A response body that ends its request's span when it ends (see [`crate::layers`]).
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        exchange: Option<Exchange>,
        // Whether polling the body may run the application's code (see `new`).
        streams: bool,
        // What the response's `Content-Length` leaves to send, when it has one.
        unsent: Option<u64>,
    }

    // Dropped before `inner` and `exchange` (in that order): a panic in the body's own `Drop`
    // is then told from one that was unwinding already.
    impl<B> PinnedDrop for TracedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(exchange) = this.exchange {
                // All the length it declared was sent (and nothing failed): the response is
                // whole, as its client reads it (an HTTP/2 client closes the stream there;
                // hyper then drops the body before its end), but for a gRPC call's, whose
                // status the trailers still owed carry.
                if *this.unsent == Some(0) && !exchange.awaits_trailers() {
                    exchange.on_body_end();
                }
                exchange.on_drop();
            }
        }
    }
}

/// The length a response's body is sent with, as its headers tell.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Length {
    /// Its `Content-Length` (`None`: none that can be read, or it is sent chunked).
    Declared(Option<u64>),
    /// Neither header: the body's exact size when it knows it, which hyper's server then
    /// declares itself (and its HTTP/1 server stops there, trailers or not).
    OfBody,
}

impl<B: Body> TracedBody<B> {
    /// Wraps `inner`, whose response is sent with `length`; an already finished body ends
    /// the exchange at once.
    ///
    /// A body whose exact length is known before it is sent is in memory (a `String`, a
    /// `Full`, axum's bodies made of them): polling it runs no application code, so its
    /// polls do not make the span current (that would cost more than the poll). A body of
    /// unknown length (a stream) may run the application's code as it is polled: its polls
    /// are under the span, so that spans started there nest under the request's.
    ///
    /// A body that has sent the length its response declared is over, whatever it says: an
    /// HTTP/1 server stops polling it there and drops it without reading its end (a stream
    /// sent with a `Content-Length`, a file tower-http serves). Not a gRPC body: its status
    /// comes in the trailers, after the declared length (HTTP/2 allows both, and hyper's
    /// server declares the length of any body whose size it knows). A gRPC-Web body is over
    /// there as an HTTP body: its status is in its bytes (its trailer frame).
    pub(crate) fn new(inner: B, mut exchange: Exchange, length: Length) -> TracedBody<B> {
        // The body's code (a panic there is the request's).
        let (ended, exact) =
            exchange.marks_panics(|| (inner.is_end_stream(), inner.size_hint().exact()));
        let streams = exact.is_none();
        let unsent = match length {
            Length::Declared(declared) => declared,
            Length::OfBody => exact,
        };
        let exchange = if ended {
            exchange.on_body_end();
            None
        } else {
            Some(exchange)
        };
        TracedBody {
            inner,
            exchange,
            streams,
            unsent,
        }
    }

    /// Wraps `inner` with no exchange (the future was polled again after completing).
    pub(crate) fn finished(inner: B) -> TracedBody<B> {
        TracedBody {
            inner,
            exchange: None,
            streams: false,
            unsent: None,
        }
    }
}

// SAFETY: through `&TracedBody` only `inner` (`Sync` itself, asked here), whether
// `exchange` is there, and the exchange's `panicked` flag, an `AtomicBool`, are reached: the
// `&self` methods (`is_end_stream`, `size_hint`, `Debug`) read nothing else, and everything
// else of the exchange (the span's `Cell`s and record pointer, which make it `!Sync`) is
// only used through `Pin<&mut Self>` (`poll_frame`) and `Drop`. Sharing the body between
// threads shares nothing of the span. (`Sync` lets a traced body be boxed as
// `http_body_util::BoxBody` or wrapped by reqwest, which ask it.)
unsafe impl<B: Sync> Sync for TracedBody<B> {}

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
        if let Some(exchange) = this.exchange.as_mut() {
            exchange.on_body_polled();
        }
        let frame = match &mut *this.exchange {
            // A streaming body runs the application's code: keep its spans under ours.
            Some(exchange) if *this.streams => {
                ready!(exchange.in_scope(|| inner.as_mut().poll_frame(cx)))
            }
            exchange => ready!(body_code(exchange.as_ref(), || inner
                .as_mut()
                .poll_frame(cx))),
        };
        // Trailers are a body's last frame (http-body): servers stop polling after them, and
        // a body made of a stream does not say it is over.
        let end_stream = matches!(&frame, Some(Ok(frame)) if frame.is_trailers())
            || body_code(this.exchange.as_ref(), || inner.is_end_stream());
        let mut failed = matches!(frame, Some(Err(_)));
        if let Some(exchange) = this.exchange {
            if let Some(Ok(frame)) = &frame {
                if let Some(trailers) = frame.trailers_ref() {
                    exchange.on_trailer_frame(trailers);
                } else if frame.is_data() {
                    exchange.on_body_data();
                }
                if let Some(data) = frame.data_ref()
                    && exchange.reads_body()
                {
                    read_body_bytes(exchange, data);
                }
                if let (Some(data), Some(unsent)) = (frame.data_ref(), this.unsent.as_mut()) {
                    let sent = u64::try_from(data.remaining()).unwrap_or(u64::MAX);
                    // More than the response declared: the server fails the response
                    // (HTTP/2) or sends it cut (HTTP/1).
                    failed |= sent > *unsent;
                    *unsent = unsent.saturating_sub(sent);
                }
            }
            // Over before the length its response declared: the client gets it cut.
            let over = frame.is_none() || end_stream;
            failed |= over && this.unsent.is_some_and(|unsent| unsent > 0);
            if failed {
                exchange.on_body_error();
            }
        }
        // Ends the exchange as soon as the body is known to be over: servers stop polling a
        // body that says so (or that sent its declared length, unless trailers follow it), and
        // may keep it around for a while before dropping it.
        let length_sent = *this.unsent == Some(0)
            && (this.exchange.as_ref()).is_some_and(Exchange::ends_at_length);
        if frame.is_none() || failed || end_stream || length_sent {
            // Taken in every case: dropping the exchange ends it.
            let ended = this.exchange.take();
            if let Some(mut exchange) = ended
                && !failed
            {
                exchange.on_body_end();
            }
        }
        Poll::Ready(frame)
    }

    // The body's code, which the server calls too.
    fn is_end_stream(&self) -> bool {
        body_code(self.exchange.as_ref(), || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        body_code(self.exchange.as_ref(), || self.inner.size_hint())
    }
}

/// Hands the bytes of `data` to `exchange`, when they can be read where they are (a few
/// slices, as `Bytes` and chains of them are); else says they cannot.
fn read_body_bytes(exchange: &mut Exchange, data: &impl bytes::Buf) {
    let mut slices = [std::io::IoSlice::new(&[]); 8];
    let count = data.chunks_vectored(&mut slices);
    let slices = &slices[..count];
    if slices.iter().map(|slice| slice.len()).sum::<usize>() != data.remaining() {
        return exchange.on_body_bytes(None);
    }
    for slice in slices {
        exchange.on_body_bytes(Some(slice));
    }
}

/// Runs `f`, the body's code outside the span: a panic there is the request's, while it has
/// an `exchange`.
fn body_code<R>(exchange: Option<&Exchange>, f: impl FnOnce() -> R) -> R {
    match exchange {
        Some(exchange) => exchange.marks_panics(f),
        None => f(),
    }
}
