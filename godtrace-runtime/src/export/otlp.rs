//! The OTLP span exporter: each batch encoded by [`super::encode`] into one reused buffer and
//! sent as it is, over the transport every signal shares ([`crate::otlp::transport`]: a
//! gRPC call framed by hand on a tonic channel, or reqwest with a protobuf body). Built on the export thread, inside its
//! runtime: the gRPC channel and the HTTP client belong to that runtime.
use super::batch::Queued;
use super::encode::RequestEncoder;
use super::worker::Exporter;
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
        encoder: RefCell::new(RequestEncoder::new(&Resource::builder_empty().build())),
        transport,
    })
}

impl Exporter for OtlpExporter {
    /// Two: the next batch is encoded, and the receiver decodes one, while another is sent.
    const IN_FLIGHT: usize = 2;
    type Request = Vec<u8>;

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = RefCell::new(RequestEncoder::new(resource));
    }

    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    fn prepare(&self, batch: &mut Vec<Queued>, emptied: &mut Vec<Box<Live>>) -> Vec<u8> {
        let mut encoder = self.encoder.borrow_mut();
        encoder.encode(batch, emptied);
        encoder.take_request()
    }

    async fn send(&self, request: Vec<u8>) -> Result<(), String> {
        self.transport.send(request).await
    }

    fn shutdown(&mut self, _timeout: Duration) {}
}
