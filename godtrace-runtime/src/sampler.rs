//! Head sampling: which traces are recorded.
//!
//! The ratio decision is a pure function of the trace id (the rule every OpenTelemetry SDK's
//! `TraceIdRatioBased` sampler uses: the low 8 bytes of the id, shifted right by one, compared
//! with `ratio * 2^63`), so every godtrace service, and every other SDK using that rule, keeps
//! or drops a given trace the same way.
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// Whether a root span of trace `trace_id` is recorded when the operation's ratio is `rate`
/// (0 = never, 1 = always; out-of-range values are clamped).
pub(crate) fn should_sample_root(trace_id: TraceId, rate: f64) -> bool {
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    keeps_low_half(u64::from_be_bytes(low), rate)
}

/// [`should_sample_root`] for a trace id whose low 64 bits are `low` (the rule reads nothing
/// else, so a new trace is decided before its high half is drawn).
#[inline]
pub(crate) fn keeps_low_half(low: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    // `rate < 1`, so the bound is below 2^63 and the cast does not saturate.
    let bound = (rate * (1u64 << 63) as f64) as u64;
    (low >> 1) < bound
}

/// The sampler [`crate::init`] installs: trace-id ratio for roots and, when `parent_based`, a
/// child follows its parent's decision (local or remote parent alike).
///
/// `always_on` is ratio 1, `always_off` ratio 0 (see `OTEL_TRACES_SAMPLER`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatioSampler {
    pub(crate) ratio: f64,
    pub(crate) parent_based: bool,
}

impl RatioSampler {
    /// Every root recorded, children follow their parent.
    pub(crate) const ALWAYS_ON: RatioSampler = RatioSampler {
        ratio: 1.0,
        parent_based: true,
    };

    fn decide(&self, parent: Option<&Context>, trace_id: TraceId) -> (bool, TraceState) {
        if let Some(cx) = parent
            && cx.has_active_span()
        {
            let parent_span = cx.span();
            let parent_cx = parent_span.span_context();
            if parent_cx.is_valid() {
                let state = parent_cx.trace_state().clone();
                if self.parent_based {
                    return (parent_cx.is_sampled(), state);
                }
                return (should_sample_root(trace_id, self.ratio), state);
            }
        }
        (
            should_sample_root(trace_id, self.ratio),
            TraceState::default(),
        )
    }
}

impl ShouldSample for RatioSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        // godtrace's own spans never come here (`span::head` decides them); this serves
        // other OpenTelemetry code using the provider, with the same rule.
        let (sampled, trace_state) = self.decide(parent_context, trace_id);
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};

    fn id(low: u64) -> TraceId {
        TraceId::from_bytes(((0xabcd_u128) << 64 | u128::from(low)).to_be_bytes())
    }

    #[test]
    fn ratio_rule_compares_the_low_half_of_the_trace_id() {
        // low >> 1 = 2^62 - 1 is just under half of 2^63.
        assert!(should_sample_root(id((1 << 63) - 2), 0.5));
        assert!(!should_sample_root(id(1 << 63), 0.5));
        assert!(should_sample_root(id(u64::MAX), 1.0));
        assert!(!should_sample_root(id(0), 0.0));
        assert!(should_sample_root(id(0), 1e-9));
        assert!(!should_sample_root(id(0), f64::NAN));
    }

    #[test]
    fn ratio_rule_matches_the_sdk_ratio_sampler() {
        let sdk = opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.3);
        let ours = RatioSampler {
            ratio: 0.3,
            parent_based: false,
        };
        for i in 0..2000u64 {
            let trace_id = id(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let decide = |s: &dyn ShouldSample| {
                s.should_sample(None, trace_id, "x", &SpanKind::Internal, &[], &[])
                    .decision
            };
            assert_eq!(decide(&sdk), decide(&ours), "trace {trace_id}");
        }
    }

    fn remote_parent(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let span = SpanContext::new(id(7), SpanId::from(9), flags, true, TraceState::NONE);
        Context::new().with_remote_span_context(span)
    }

    #[test]
    fn a_child_follows_its_remote_parent_when_parent_based() {
        let never = RatioSampler {
            ratio: 0.0,
            parent_based: true,
        };
        let always = RatioSampler {
            ratio: 1.0,
            parent_based: true,
        };
        assert!(never.decide(Some(&remote_parent(true)), id(7)).0);
        assert!(!always.decide(Some(&remote_parent(false)), id(7)).0);
        // No parent: the ratio decides.
        assert!(!never.decide(Some(&Context::new()), id(7)).0);
        assert!(always.decide(None, id(7)).0);
    }

    #[test]
    fn without_parent_based_the_ratio_decides_children_too() {
        let never = RatioSampler {
            ratio: 0.0,
            parent_based: false,
        };
        assert!(!never.decide(Some(&remote_parent(true)), id(7)).0);
    }
}
