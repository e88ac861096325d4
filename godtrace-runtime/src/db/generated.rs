//! A stream whose items an async block hands over one at a time ([`Generated`]): what lets a
//! traced query own its pooled connection (and its span) while the caller reads its rows.
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

/// The slot one item waits in until the stream hands it out.
type Slot<T> = Arc<Mutex<Option<T>>>;

/// Hands items from the producer to the stream (see [`Generated::new`]).
pub(crate) struct Yielder<T> {
    slot: Slot<T>,
}

impl<T> Yielder<T> {
    /// Hands `item` to the stream; resolves once the stream has handed it out and is polled
    /// again.
    pub(crate) fn send(&self, item: T) -> impl Future<Output = ()> + use<T> {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(item);
        YieldOnce { yielded: false }
    }
}

/// Pending once (without waking anyone: the stream returns the item at once), then ready.
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            Poll::Pending
        }
    }
}

/// A stream driven by a producer future that sends items through a [`Yielder`] and finally
/// returns one last item or none (an error that ends the stream).
pub(crate) struct Generated<'a, T> {
    slot: Slot<T>,
    producer: Option<Pin<Box<dyn Future<Output = Option<T>> + Send + 'a>>>,
}

impl<'a, T> Generated<'a, T> {
    /// The stream of what `produce` sends.
    pub(crate) fn new<F>(produce: impl FnOnce(Yielder<T>) -> F) -> Generated<'a, T>
    where
        F: Future<Output = Option<T>> + Send + 'a,
    {
        let slot = Slot::default();
        let producer = produce(Yielder { slot: slot.clone() });
        Generated {
            slot,
            producer: Some(Box::pin(producer)),
        }
    }

    fn take(&self) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<T> futures_core::Stream for Generated<'_, T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(producer) = self.producer.as_mut() else {
            return Poll::Ready(None);
        };
        match producer.as_mut().poll(cx) {
            Poll::Ready(last) => {
                self.producer = None;
                Poll::Ready(self.take().or(last))
            }
            Poll::Pending => match self.take() {
                Some(item) => Poll::Ready(Some(item)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_core::Stream;
    use std::task::Waker;

    fn collect<T>(mut stream: Generated<'_, T>) -> Vec<T> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut items = Vec::new();
        loop {
            match Pin::new(&mut stream).poll_next(&mut cx) {
                Poll::Ready(Some(item)) => items.push(item),
                Poll::Ready(None) => return items,
                Poll::Pending => panic!("nothing here waits"),
            }
        }
    }

    #[test]
    fn items_arrive_in_order_then_the_last_one() {
        let stream = Generated::new(|y| async move {
            for i in 0..3 {
                y.send(i).await;
            }
            Some(99)
        });
        assert_eq!(collect(stream), [0, 1, 2, 99]);
        let empty = Generated::new(|_: Yielder<u8>| async move { None });
        assert!(collect(empty).is_empty());
    }

    #[test]
    fn dropping_the_stream_drops_the_producer() {
        let owned = Arc::new(());
        let held = owned.clone();
        let mut stream = Generated::new(move |y| async move {
            let _held = held;
            y.send(1).await;
            y.send(2).await;
            None
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            Pin::new(&mut stream).poll_next(&mut cx),
            Poll::Ready(Some(1))
        );
        drop(stream);
        assert_eq!(Arc::strong_count(&owned), 1);
    }
}
