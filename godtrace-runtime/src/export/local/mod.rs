//! The zero-setup view: each finished trace printed to stderr as an indented tree.
//!
//! With an export thread (the OTLP features), the tree is printed there (`console`): the
//! application's threads queue their span records as for OTLP, and a blocked stderr stalls the
//! export thread only (its queue fills and further spans are dropped and counted). Without
//! one, `sink` hands each span to a printing thread of its own through a bounded channel.
//! Either way the spans
//! held for unfinished traces are bounded ([`unprinted::MAX_HELD_SPANS`]).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod console;
mod printer;
mod render;
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) mod sink;
mod tree_span;
mod unprinted;

#[cfg(test)]
mod tests;
