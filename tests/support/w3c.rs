//! A service under W3C Trace Context test: a traced handler that forwards a request, and the
//! headers it and a traced call nested in it send on (extract → traced call → inject).
use godtrace::otel::Context;
use godtrace::{propagation, traced};
use std::collections::HashMap;

/// The trace id and parent id of the incoming `traceparent` the tests send.
pub const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const SID: &str = "00f067aa0ba902b7";

/// The headers of an outgoing call made from a traced handler under `parent`, and from a
/// traced call nested in it (both must carry the same trace state and flags).
#[traced(operation = "server.forward", parent = &parent)]
pub fn forward(parent: Context) -> [HashMap<String, String>; 2] {
    let mut outgoing = HashMap::new();
    propagation::inject(&mut outgoing);
    [outgoing, nested_call()]
}

/// The headers a traced call sends on from wherever it runs.
#[traced(operation = "server.nested_call")]
pub fn nested_call() -> HashMap<String, String> {
    let mut outgoing = HashMap::new();
    propagation::inject(&mut outgoing);
    outgoing
}
