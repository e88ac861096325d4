//! The HTTP server histogram's series, kept by request shape (method, scheme, route, status,
//! `error.type`): a request finds its series with one lookup of a few words, hashed without
//! SipHash, instead of building and hashing its attribute set in the metrics registry.
//!
//! Only shapes whose route is kept for the process (or absent) are kept here, and at most
//! [`MAX_SHAPES`] of them; the others are recorded through the registry as any histogram.
use super::semconv;
use crate::metrics::HistogramSeries;
use opentelemetry::KeyValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{LazyLock, RwLock};

/// The most shapes kept (each is one series of `http.server.request.duration`).
const MAX_SHAPES: usize = 4096;

/// What a server request's histogram attributes are made of.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct ServerShape {
    pub(super) method: &'static str,
    pub(super) scheme: &'static str,
    pub(super) route: Option<&'static str>,
    pub(super) version: Option<&'static str>,
    pub(super) status: Option<u16>,
    pub(super) error_type: Option<Cow<'static, str>>,
}

impl ServerShape {
    /// The histogram attributes of this shape, as the conventions name them.
    fn attributes(&self) -> Vec<KeyValue> {
        let mut attributes = vec![
            KeyValue::new("http.request.method", self.method),
            KeyValue::new("url.scheme", self.scheme),
        ];
        if let Some(route) = self.route {
            attributes.push(KeyValue::new("http.route", route));
        }
        if let Some(version) = self.version {
            attributes.push(KeyValue::new("network.protocol.version", version));
        }
        if let Some(status) = self.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if let Some(error_type) = &self.error_type {
            attributes.push(KeyValue::new("error.type", error_type.clone()));
        }
        attributes
    }
}

type Shapes = HashMap<ServerShape, HistogramSeries, BuildHasherDefault<WordHasher>>;

static SHAPES: LazyLock<RwLock<Shapes>> = LazyLock::new(|| RwLock::new(Shapes::default()));

/// Records `seconds` in the series of `shape`, with `exemplar` as its exemplar when sampled.
pub(super) fn record_server(
    shape: ServerShape,
    seconds: f64,
    exemplar: Option<&opentelemetry::trace::SpanContext>,
) {
    let found = SHAPES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&shape)
        .cloned();
    let series = match found {
        Some(series) => series,
        None => {
            let attributes = shape.attributes();
            let Some(series) = HistogramSeries::find(
                semconv::HTTP_SERVER_DURATION,
                &attributes,
                semconv::DURATION_BUCKETS,
                semconv::duration_description(semconv::HTTP_SERVER_DURATION),
            ) else {
                return;
            };
            let mut shapes = SHAPES.write().unwrap_or_else(|e| e.into_inner());
            if shapes.len() < MAX_SHAPES {
                shapes.insert(shape, series.clone());
            }
            series
        }
    };
    series.record(seconds, exemplar);
}

/// A hasher for a few short words (FxHash's multiply-and-rotate): the shapes and route
/// templates are the process's own few, not an attacker's choice of keys (routes are the
/// application's, and both tables are bounded), so a keyed hash would only cost time.
#[derive(Default)]
pub(super) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
