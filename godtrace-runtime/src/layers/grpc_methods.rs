//! Which gRPC methods a server defines, as far as its answers show: a gate (tonic's
//! interceptors, inside `GrpcServerLayer`) answers before any routing, so a path it answers is
//! only a path the client sent, not a method to name a span or a series after.
use super::semconv;
use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};

/// Methods this server has answered with a status a method's own handler gives (see
/// [`names_method`]), at most [`MAX_ANSWERED`].
static ANSWERED: LazyLock<RwLock<HashSet<String>>> = LazyLock::new(Default::default);

/// Methods [`ANSWERED`] keeps: a service defines a few dozen.
const MAX_ANSWERED: usize = 1024;

/// gRPC codes a layer or interceptor gives before the call reaches a method (no method by
/// that name, no credentials, no permission, over a quota): answered with one of these, a
/// path is only a path the client sent.
const GATE_CODES: [i64; 4] = [
    semconv::GRPC_UNIMPLEMENTED,
    16, // UNAUTHENTICATED
    7,  // PERMISSION_DENIED
    8,  // RESOURCE_EXHAUSTED
];

/// Whether a server call to `method` answered with `code` (`None`: broken off first) may be
/// named after its method, on its span and in the histogram. An answer that only a method's
/// handler gives shows the method exists: it is named, and remembered. A gate's answer
/// (tonic's interceptors, which sit inside `GrpcServerLayer`, answer UNAUTHENTICATED before
/// any routing), or none at all, names only a method already remembered; else the call is
/// `_OTHER`, so that a client making paths up fills no series. UNIMPLEMENTED never names one.
pub(super) fn names_method(method: &str, code: Option<i64>) -> bool {
    let answered = || {
        ANSWERED
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(method)
    };
    match code {
        Some(semconv::GRPC_UNIMPLEMENTED) => false,
        Some(code) if !GATE_CODES.contains(&code) => {
            if !answered() {
                let mut methods = ANSWERED.write().unwrap_or_else(|e| e.into_inner());
                if methods.len() < MAX_ANSWERED {
                    methods.insert(method.to_owned());
                }
            }
            true
        }
        _ => answered(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gates_answer_names_only_a_method_answered_before() {
        let (real, made_up) = ("grpc.rs.Test/Real", "grpc.rs.Test/MadeUp");
        for gate in [16, 7, 8] {
            assert!(!names_method(made_up, Some(gate)), "{gate}");
        }
        assert!(!names_method(real, None), "broken off, never answered");
        assert!(
            names_method(real, Some(5)),
            "NOT_FOUND comes from a handler"
        );
        assert!(names_method(real, Some(16)), "answered before");
        assert!(names_method(real, None));
        assert!(!names_method(real, Some(semconv::GRPC_UNIMPLEMENTED)));
        assert!(!names_method(made_up, Some(16)));
    }
}
