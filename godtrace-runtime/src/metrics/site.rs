//! The per-call-site cache the hot path records through: no lookup by name per call.
use super::registry::registry;
use super::series::DurationSeries;
use crate::span::clock::Tick;
use opentelemetry::trace::SpanContext;
use std::sync::{Arc, OnceLock};

/// One traced function's handles on its duration-histogram series: the success series, found
/// on the first call, and one per error type, found on that error's first occurrence.
pub(crate) struct SiteMetrics {
    ok: OnceLock<Arc<DurationSeries>>,
    errors: OnceLock<ErrorNode>,
}

/// A lock-free, append-only list of this site's error series.
struct ErrorNode {
    error_type: &'static str,
    series: Arc<DurationSeries>,
    next: OnceLock<Box<ErrorNode>>,
}

impl SiteMetrics {
    pub(crate) const fn new() -> Self {
        SiteMetrics {
            ok: OnceLock::new(),
            errors: OnceLock::new(),
        }
    }

    /// Records one call of the operation `name()` (read only when a series is first looked
    /// up): its duration in the clock's ticks (`clock::ticks_between`), its error type if it
    /// failed, and the sampled span it belongs to (an exemplar candidate). After each series'
    /// first use: two adds to this thread's own cells, plus, for a sampled call, an exemplar
    /// write at most once a millisecond per bucket.
    #[inline(always)]
    pub(crate) fn record(
        &self,
        name: impl Fn() -> &'static str,
        ticks: u64,
        error_type: Option<&'static str>,
        exemplar: Option<(&SpanContext, Tick)>,
    ) {
        // In line: a successful call once its series is found; the rest out of line.
        match (error_type, self.ok.get()) {
            (None, Some(series)) => series.record(ticks, exemplar),
            _ => self.record_first_or_failed(name(), ticks, error_type, exemplar),
        }
    }

    /// [`SiteMetrics::record`] of a failed call, or of the first successful one.
    #[inline(never)]
    fn record_first_or_failed(
        &self,
        name: &'static str,
        ticks: u64,
        error_type: Option<&'static str>,
        exemplar: Option<(&SpanContext, Tick)>,
    ) {
        let series = match error_type {
            None => self.first_ok(name),
            Some(error_type) => self.error_series(name, error_type),
        };
        series.record(ticks, exemplar);
    }

    fn first_ok(&self, name: &'static str) -> &DurationSeries {
        self.ok
            .get_or_init(|| registry().duration_series(name, None))
    }

    fn error_series(&self, name: &'static str, error_type: &'static str) -> &DurationSeries {
        let new_node = || ErrorNode {
            error_type,
            series: registry().duration_series(name, Some(error_type)),
            next: OnceLock::new(),
        };
        let mut node = self.errors.get_or_init(&new_node);
        loop {
            if std::ptr::eq(node.error_type, error_type) || node.error_type == error_type {
                return &node.series;
            }
            node = node.next.get_or_init(|| Box::new(new_node()));
        }
    }
}
