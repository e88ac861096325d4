//! The OTLP span exporter: each batch encoded by [`super::encode`] into one reused buffer and
//! sent as it is (or gzipped from it), over the transport every signal shares
//! ([`crate::otlp::transport`]: a gRPC call framed by hand on h2's client, or an HTTP/1.1 POST of a
//! protobuf body). Built on the export thread, inside its runtime: the gRPC connection and the
//! HTTP client belong to that runtime.
use super::encode::RequestEncoder;
use super::lanes::Queued;
use super::worker::{Accepted, Exporter, Pace, ShutdownBegun};
use crate::config::OtlpTarget;
use crate::otlp::transport::{self, Transport};
use crate::span::Live;
use opentelemetry_sdk::Resource;
use std::cell::RefCell;
use std::time::Duration;

/// Encodes and sends batches to one OTLP receiver.
pub(crate) struct OtlpExporter {
    /// Used by the export thread only, between sends.
    encoder: RefCell<RequestEncoder>,
    transport: Transport,
}

/// Builds the exporter. Endpoint, timeout, compression, headers and TLS all come from
/// `target`; nothing here reads the environment.
pub(crate) fn build(target: &OtlpTarget) -> Result<OtlpExporter, String> {
    // The message may quote the endpoint: never with its credentials.
    let transport = Transport::new(target, transport::TRACES).map_err(|e| {
        crate::config::url::scrub(
            &format!("OTLP exporter for {}: {e}", target.endpoint),
            &target.endpoint,
        )
    })?;
    Ok(OtlpExporter {
        // Replaced with the configured resource's before the first batch.
        encoder: RefCell::new(encoder_for(&Resource::builder_empty().build(), &transport)),
        transport,
    })
}

/// An encoder of `resource`'s spans for `transport`: the room it leaves for the frame's head,
/// and where the spans are kept for the compressor when it compresses.
fn encoder_for(resource: &Resource, transport: &Transport) -> RequestEncoder {
    let mut encoder = RequestEncoder::new(resource);
    encoder.set_head_room(transport.head_room());
    if transport.compresses() {
        encoder.keep_span_ranges();
    }
    encoder
}

impl Exporter for OtlpExporter {
    /// Two: the next batch is encoded, and the receiver decodes one, while another is sent.
    const IN_FLIGHT: usize = 2;
    /// Encoded requests are compact, and encoding the next batches while two are sent frees
    /// the queue's slots for the spans recorded meanwhile.
    const PREPARE_AHEAD: bool = true;
    /// The body as it goes on the wire (compressed, framed), or why there is none.
    type Request = Result<Vec<u8>, String>;

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = RefCell::new(encoder_for(resource, &self.transport));
    }

    /// Encodes the batch and, on this thread before the send starts, compresses or frames it.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(
        &self,
        batch: &mut Vec<Queued>,
        emptied: &mut Vec<Box<Live>>,
    ) -> Result<Vec<u8>, String> {
        let mut encoder = self.encoder.borrow_mut();
        encoder.encode(batch, emptied);
        let (request, spans) = encoder.request_mut();
        self.transport.body(request, spans)
    }

    async fn send(
        &self,
        body: Result<Vec<u8>, String>,
        closing: ShutdownBegun,
    ) -> Result<Accepted, String> {
        Ok(
            match self.transport.send_body(body?, closing.wait()).await? {
                None => Accepted::All,
                Some(rejected) => Accepted::AllBut {
                    rejected: rejected.count,
                    reason: rejected.message,
                },
            },
        )
    }

    fn pace(&self) -> Pace {
        Pace {
            not_before: self.transport.paused_until(),
            one_at_a_time: self.transport.failing(),
            unanswered: self.transport.unanswered(),
        }
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}
