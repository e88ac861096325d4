//! The body of an export request as it goes on the wire: the encoded request, gzipped when
//! asked, behind the gRPC frame's head over gRPC.
//!
//! Nothing is copied that need not be: an uncompressed request is written by the encoder
//! behind the room the frame's head needs, and handed over as it is; a compressed one is
//! written by a compressor kept for the transport's life ([`super::gzip`]: its table is
//! allocated once, not per request) into a new buffer, behind the frame's head, and the
//! encoder keeps its own buffer for the next request.
use super::gzip::{Gzip, Record};
use std::cell::RefCell;

/// Bytes of a gRPC frame's head: the compressed flag and the message's big-endian length.
pub(crate) const GRPC_HEAD: usize = 5;

/// The most room left for the next request after an uncompressed one is taken: one batch of
/// huge spans does not keep its memory for the next ones (the span encoder's own bound).
const MAX_KEPT_ROOM: usize = 8 << 20;

/// Turns encoded requests into bodies, for one transport.
pub(crate) struct BodyWriter {
    /// Bytes in front of the message: [`GRPC_HEAD`] over gRPC, none over HTTP.
    frame_head: usize,
    /// The gzip compressor, when requests are compressed. Borrowed only while a body is
    /// written, never across an await.
    gzip: Option<RefCell<Gzip>>,
}

impl BodyWriter {
    /// A writer of gRPC frames (`grpc`) or of plain HTTP bodies, gzipped when `gzip`.
    pub(crate) fn new(grpc: bool, gzip: bool) -> Self {
        BodyWriter {
            frame_head: if grpc { GRPC_HEAD } else { 0 },
            gzip: gzip.then(|| RefCell::new(Gzip::new())),
        }
    }

    /// Whether bodies are gzipped.
    pub(crate) fn compresses(&self) -> bool {
        self.gzip.is_some()
    }

    /// Bytes an encoded request leaves free at its start, for [`BodyWriter::body`] to fill.
    pub(crate) fn head_room(&self) -> usize {
        if self.gzip.is_some() {
            0
        } else {
            self.frame_head
        }
    }

    /// The body of `request`, an encoded request behind [`BodyWriter::head_room`] free
    /// bytes. Uncompressed, it is `request` itself (moved out: an empty buffer of the same
    /// capacity, up to a bound, is left); compressed, a new buffer, and `request` is left as
    /// it was, for reuse. `records`: where the request's spans are and their call sites,
    /// which the compressor compares with each other (see [`Gzip::compress`]); any records
    /// give a correct body.
    pub(crate) fn body(
        &self,
        request: &mut Vec<u8>,
        records: &[Record],
    ) -> Result<Vec<u8>, String> {
        let mut body = match &self.gzip {
            Some(gzip) => {
                let mut gzip = gzip.try_borrow_mut().map_err(|_| "gzip: compressor busy")?;
                let mut body = vec![0; self.frame_head];
                gzip.compress(request, records, &mut body);
                body
            }
            // The next request is about the size of this one: room for it, so that it is not
            // written into a buffer that keeps growing (and copying) from empty.
            None => {
                let room = request.capacity().min(MAX_KEPT_ROOM);
                std::mem::replace(request, Vec::with_capacity(room))
            }
        };
        if self.frame_head == GRPC_HEAD {
            let length = u32::try_from(body.len() - GRPC_HEAD)
                .map_err(|_| format!("a request of {} bytes is too large", body.len()))?;
            body[0] = u8::from(self.gzip.is_some());
            body[1..GRPC_HEAD].copy_from_slice(&length.to_be_bytes());
        }
        Ok(body)
    }

    /// The body of `request`, an encoded request without head room (one copy when the
    /// body needs some: for the occasional request, such as a metrics push).
    pub(crate) fn body_of(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut request = request;
        let room = self.head_room();
        if room > 0 {
            request.splice(0..0, std::iter::repeat_n(0, room));
        }
        self.body(&mut request, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::gzip::tests::gunzip;

    /// Bytes that compress badly (the output outgrows the first guess) or well.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if seed.is_multiple_of(2) {
                    x as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect()
    }

    #[test]
    fn gzip_bodies_decode_to_each_request_with_the_compressor_reused() {
        let writer = BodyWriter::new(false, true);
        // Large then small: a reused compressor must not carry anything over.
        for (len, seed) in [(200_000, 2), (10, 4), (70_000, 3), (0, 6), (5_000, 8)] {
            let request = sample(len, seed);
            let mut buffer = request.clone();
            let body = writer.body(&mut buffer, &[]).expect("compressed");
            assert_eq!(gunzip(&body), request, "len {len}");
            assert_eq!(buffer, request, "the request is left for reuse");
        }
    }

    #[test]
    fn grpc_frames_say_compressed_and_length_and_hold_the_message() {
        for gzip in [false, true] {
            let writer = BodyWriter::new(true, gzip);
            for (len, seed) in [(100_000, 2), (3, 5)] {
                let request = sample(len, seed);
                let mut buffer = vec![0xAA; writer.head_room()];
                buffer.extend_from_slice(&request);
                let body = writer.body(&mut buffer, &[]).expect("a frame");
                assert_eq!(body[0], u8::from(gzip));
                let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
                assert_eq!(length, body.len() - GRPC_HEAD);
                let message = &body[GRPC_HEAD..];
                let plain = if gzip {
                    gunzip(message)
                } else {
                    message.to_vec()
                };
                assert_eq!(plain, request, "gzip {gzip} len {len}");
                let via_copy = writer.body_of(request.clone()).expect("a frame");
                assert_eq!(via_copy, body, "with or without head room, the same frame");
            }
        }
    }

    #[test]
    fn plain_http_bodies_are_the_request_itself() {
        let writer = BodyWriter::new(false, false);
        assert_eq!(writer.head_room(), 0);
        let request = sample(1000, 3);
        let mut buffer = request.clone();
        let pointer = buffer.as_ptr();
        let body = writer.body(&mut buffer, &[]).expect("a body");
        assert_eq!(body, request);
        assert_eq!(body.as_ptr(), pointer, "moved, not copied");
        assert!(buffer.is_empty() && buffer.capacity() >= request.len());
    }
}
