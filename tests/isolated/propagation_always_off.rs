//! `OTEL_TRACES_SAMPLER=always_off` under a caller that sampled: nothing is recorded, so the
//! `traceparent` sent on must not say "sampled" — and, since W3C Trace Context lets the
//! `sampled` flag change only with a new parent id, it names a span id of this service.
//! (Its own process: the sampler is chosen once per process, by `init`.)
use godtrace::{Config, propagation, testing};
use std::collections::HashMap;

use crate::support::w3c::{SID, TID, forward};

#[test]
fn always_off_sends_its_own_decision_with_a_new_parent_id() {
    crate::support::own_process!();
    let _guard = godtrace::init(
        Config::new("always-off")
            .local_tree(false)
            .with_env_vars([("OTEL_TRACES_SAMPLER", "always_off")]),
    )
    .expect("init");
    let c = testing::capture();
    for (incoming, outgoing) in [("01", "00"), ("03", "02")] {
        let headers = HashMap::from([
            (
                "traceparent".to_string(),
                format!("00-{TID}-{SID}-{incoming}"),
            ),
            ("tracestate".to_string(), "congo=t61rcWkgMzE".to_string()),
        ]);
        let sent = forward(propagation::extract_map(&headers));
        for headers in &sent {
            let parts: Vec<&str> = headers["traceparent"].split('-').collect();
            assert_eq!(parts[1], TID, "the trace continues");
            assert_ne!(parts[2], SID, "a new parent id with the changed flag");
            assert_eq!(parts[3], outgoing, "{incoming}: not recorded here");
            assert_eq!(headers["tracestate"], "congo=t61rcWkgMzE");
        }
        assert_ne!(
            sent[0]["traceparent"], sent[1]["traceparent"],
            "a parent id per request"
        );
    }
    assert!(
        c.spans().is_empty(),
        "always_off records nothing: {:?}",
        c.spans()
    );
}
