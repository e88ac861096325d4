//! One database call as it is recorded, whatever the driver: a `Client` span named after the
//! database conventions, and a point in `db.client.operation.duration` when it ends.
use crate::{Span, span_builder};
use opentelemetry::trace::SpanContext;
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The duration histogram of the OpenTelemetry database client conventions.
pub(crate) const DURATION_METRIC: &str = "db.client.operation.duration";
/// Its description, word for word from the conventions: exporters and backends show it.
const DURATION_DESCRIPTION: &str = "Duration of database client operations.";
/// Its buckets in seconds, as the conventions give them.
pub(crate) static DURATION_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// `error.type` of a call whose future was dropped before the server answered.
pub(crate) const CANCELLED: &str = "cancelled";

/// Whether calls are recorded at all (tracing on): checked before any parsing, so that a
/// program with godtrace off pays one atomic load per call.
pub(crate) fn enabled() -> bool {
    crate::span::switches::is_enabled()
}

/// Where a client's calls go, recorded on each of its spans and metric points.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `db.system.name`: `postgresql`, `redis`.
    pub(crate) system: &'static str,
    /// `db.namespace`: the database name, or the Redis database index.
    pub(crate) namespace: Option<StringValue>,
    /// `server.address` (a host name, an IP address, or a Unix socket path).
    pub(crate) address: Option<StringValue>,
    /// `server.port` (none for a Unix socket).
    pub(crate) port: Option<u16>,
    /// The conventions' `{target}` of a call that names neither an operation nor a table:
    /// what its span is named after, else `system`. Each system's conventions choose it
    /// (PostgreSQL's database; Redis's server, as they say not to name spans after its
    /// database index).
    pub(crate) target: Option<StringValue>,
}

/// How a call failed, as recorded: nothing here comes from the statement or its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// `error.type`: the SQLSTATE or server error code, else the client error's kind.
    pub(crate) error_type: Cow<'static, str>,
    /// `db.response.status_code`: the code the server answered with, if it answered.
    pub(crate) status_code: Option<String>,
    /// The span's status description.
    pub(crate) description: String,
}

/// What only a recorded span shows, built only when the span is recorded.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// `db.query.text`.
    pub(crate) text: Option<String>,
    /// `db.query.summary` as the span shows it: built to fit the attribute limit at whole
    /// parts (a cut one could end with part of a table's name). The span's name and the
    /// metric point keep the summary the call started with: names are kept to 256 bytes
    /// whatever the attribute limit, and so are metric values.
    pub(crate) summary: Option<String>,
}

/// A call in flight: ends (span and metric point) on `succeed`, `fail`, or when dropped
/// unfinished (a cancelled call, unless it had already delivered results).
#[derive(Debug)]
pub(crate) struct Call {
    span: Span,
    started: Instant,
    endpoint: Arc<Endpoint>,
    summary: Option<StringValue>,
    operation: Option<StringValue>,
    collection: Option<StringValue>,
    /// `db.stored_procedure.name`, on the span and the metric point.
    procedure: Option<StringValue>,
    /// A result was handed to the caller, who has not asked for more since: a call dropped
    /// now was stopped by its caller, not cancelled.
    delivered: bool,
    /// The rows handed to the caller so far: `db.response.returned_rows` however the call
    /// ends, once there is one (a caller that stops after the first row got that row).
    rows: u64,
    finished: bool,
}

impl Call {
    /// Starts the span of a call named after its query `summary` when there is one (the
    /// conventions' first choice), else after `operation` and `collection` (the conventions'
    /// `{target}`, else the system's name, when neither is known), with what `recorded`
    /// builds if the span is recorded.
    pub(crate) fn start(
        endpoint: &Arc<Endpoint>,
        summary: Option<String>,
        operation: Option<String>,
        collection: Option<String>,
        recorded: impl FnOnce() -> Recorded,
    ) -> Call {
        Call::start_under(None, endpoint, summary, operation, collection, recorded)
    }

    /// [`Call::start`] under `parent` (`None`: the current span): the context where a row
    /// stream was made, for a call that starts when the stream is first read.
    pub(crate) fn start_under(
        parent: Option<opentelemetry::Context>,
        endpoint: &Arc<Endpoint>,
        summary: Option<String>,
        operation: Option<String>,
        collection: Option<String>,
        recorded: impl FnOnce() -> Recorded,
    ) -> Call {
        let name: Cow<'static, str> = match (&summary, &operation, &collection) {
            (Some(summary), _, _) => summary.clone().into(),
            (None, Some(op), Some(coll)) => format!("{op} {coll}").into(),
            (None, Some(op), None) => op.clone().into(),
            // The conventions' `{target}`, else the system.
            _ => match &endpoint.target {
                Some(target) => target.as_str().to_owned().into(),
                None => endpoint.system.into(),
            },
        };
        let span = span_builder(name)
            .kind(SpanKind::Client)
            .parent(parent)
            .start_detached();
        let call = Call {
            span,
            started: Instant::now(),
            endpoint: endpoint.clone(),
            summary: summary.map(StringValue::from),
            operation: operation.map(StringValue::from),
            collection: collection.map(StringValue::from),
            procedure: None,
            delivered: false,
            rows: 0,
            finished: false,
        };
        if call.span.is_recording() {
            let recorded = recorded();
            let summary = recorded.summary.map(StringValue::from);
            for (key, value) in call.attributes(&summary) {
                call.span.set_attribute(key, value);
            }
            if let Some(text) = recorded.text {
                call.span.set_attribute("db.query.text", text);
            }
        }
        call
    }

    /// The attributes of the span and the metric point, with `summary` as `db.query.summary`
    /// (see [`Recorded::summary`]).
    fn attributes(&self, summary: &Option<StringValue>) -> Vec<(&'static str, Value)> {
        let mut attributes = Vec::with_capacity(8);
        attributes.push(("db.system.name", self.endpoint.system.into()));
        // `db.query.summary` is recommended on the metric too: with several operations or
        // tables, it is what tells the calls apart (the two above are then left out).
        let optional = [
            ("db.namespace", &self.endpoint.namespace),
            ("db.operation.name", &self.operation),
            ("db.collection.name", &self.collection),
            ("db.stored_procedure.name", &self.procedure),
            ("db.query.summary", summary),
            ("server.address", &self.endpoint.address),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                attributes.push((key, value.clone().into()));
            }
        }
        if let Some(port) = self.endpoint.port {
            attributes.push(("server.port", i64::from(port).into()));
        }
        attributes
    }

    /// The stored procedure the call runs (`CALL p`), on the span and the metric point.
    #[cfg(feature = "sqlx")]
    pub(crate) fn set_procedure(&mut self, name: String) {
        let name = StringValue::from(name);
        self.span
            .set_attribute("db.stored_procedure.name", name.clone());
        self.procedure = Some(name);
    }

    /// Sets an attribute on the span (when it is recorded).
    pub(crate) fn set_attribute(&self, key: &'static str, value: impl Into<Value>) {
        self.span.set_attribute(key, value);
    }

    /// Notes a result handed to the caller (`row`: a row, else a statement's outcome), who
    /// holds it until it asks for more: dropping the call now is the caller stopping after it.
    #[cfg(feature = "sqlx")]
    pub(crate) fn deliver(&mut self, row: bool) {
        self.rows += u64::from(row);
        self.delivered = true;
    }

    /// Notes that the caller asked for more: dropping the call before the next result (a
    /// timeout around a `fetch_all` that collects the rows, say) is a cancellation.
    #[cfg(feature = "sqlx")]
    pub(crate) fn wait_for_more(&mut self) {
        self.delivered = false;
    }

    /// The rows handed to the caller so far.
    #[cfg(feature = "sqlx")]
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Ends the call as a success.
    pub(crate) fn succeed(mut self) {
        self.finish(None);
    }

    /// Ends the call as failed.
    pub(crate) fn fail(mut self, failure: Failure) {
        self.finish(Some(failure));
    }

    fn finish(&mut self, failure: Option<Failure>) {
        self.finished = true;
        if self.rows > 0 {
            let rows = i64::try_from(self.rows).unwrap_or(i64::MAX);
            self.span.set_attribute("db.response.returned_rows", rows);
        }
        let elapsed = self.started.elapsed();
        let mut attributes: Vec<KeyValue> = self
            .attributes(&self.summary)
            .into_iter()
            .map(|(key, value)| KeyValue::new(key, value))
            .collect();
        if let Some(failure) = failure {
            if let Some(code) = &failure.status_code {
                self.span
                    .set_attribute("db.response.status_code", code.clone());
                // Conditionally required on the duration metric too, when the operation
                // failed with one (database-metrics.md).
                attributes.push(KeyValue::new("db.response.status_code", code.clone()));
            }
            // One value for the span and the histogram, which would each cut it at their own
            // limit.
            let error_type = crate::record::error_type::joinable_value(failure.error_type);
            self.span.set_attribute("error.type", error_type.clone());
            self.span.set_error(failure.description);
            attributes.push(KeyValue::new("error.type", error_type));
        }
        // This call's span is the point's exemplar (not the operation that made the call).
        record_duration(elapsed, &attributes, self.span.recording_span_context());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let failure = (!self.delivered).then(|| Failure {
            error_type: CANCELLED.into(),
            status_code: None,
            description: "cancelled before the server answered".to_owned(),
        });
        self.finish(failure);
    }
}

fn record_duration(elapsed: Duration, attributes: &[KeyValue], exemplar: Option<&SpanContext>) {
    crate::metrics::record_histogram_for_span(
        DURATION_METRIC,
        elapsed.as_secs_f64(),
        attributes,
        &DURATION_BUCKETS,
        DURATION_DESCRIPTION,
        exemplar,
    );
}

/// The longest `db.query.text` worth building: the attribute limit, less the `…` that marks
/// a cut text (a longer text would be cut again).
pub(crate) fn query_text_cap() -> usize {
    crate::limits::max_attribute_len().saturating_sub('…'.len_utf8())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The endpoint of a `system` call, with nothing else known.
    pub(crate) fn endpoint_of(system: &'static str) -> Endpoint {
        Endpoint {
            system,
            namespace: None,
            address: None,
            port: None,
            target: None,
        }
    }

    #[test]
    fn the_duration_histogram_has_the_conventions_description() {
        let _capture = crate::testing::capture();
        record_duration(
            Duration::from_millis(3),
            &[KeyValue::new("db.system.name", "test")],
            None,
        );
        let snapshot = crate::metrics::metrics_snapshot();
        let metric = snapshot.metric(DURATION_METRIC).expect("recorded");
        assert_eq!(
            metric.description,
            "Duration of database client operations."
        );
        assert_eq!(metric.unit, "s");
    }

    /// A call with no summary and no operation (an empty text, `(SELECT 1)`) is named after
    /// its database, the conventions' `{target}`, else after the system.
    #[test]
    fn a_call_naming_nothing_is_named_after_its_database() {
        let capture = crate::testing::capture();
        let endpoint = |target: Option<&'static str>| {
            Arc::new(Endpoint {
                target: target.map(StringValue::from),
                ..endpoint_of("call_rs_system")
            })
        };
        Call::start(
            &endpoint(Some("call_rs_db")),
            None,
            None,
            None,
            Recorded::default,
        )
        .succeed();
        Call::start(&endpoint(None), None, None, None, Recorded::default).succeed();
        assert_eq!(capture.spans_named("call_rs_db").len(), 1);
        assert_eq!(capture.spans_named("call_rs_system").len(), 1);
    }

    /// The duration point's exemplar is the call's own span, not the operation around it.
    #[test]
    fn the_calls_span_is_its_duration_points_exemplar() {
        let capture = crate::testing::capture();
        let endpoint = Arc::new(endpoint_of("call_rs_exemplar"));
        {
            let _operation = crate::span("call_rs.operation");
            Call::start(
                &endpoint,
                Some("call_rs_exemplar".into()),
                None,
                None,
                Recorded::default,
            )
            .succeed();
        }
        let call = capture.span("call_rs_exemplar");
        assert_ne!(call.span_id, capture.span("call_rs.operation").span_id);
        let attributes = [
            KeyValue::new("db.system.name", "call_rs_exemplar"),
            KeyValue::new("db.query.summary", "call_rs_exemplar"),
        ];
        let snapshot = crate::metrics::metrics_snapshot();
        let point = snapshot
            .histogram(DURATION_METRIC, &attributes)
            .expect("recorded");
        let exemplars: Vec<_> = point.exemplars.iter().flatten().collect();
        assert_eq!(exemplars.len(), 1, "{point:#?}");
        assert_eq!(exemplars[0].span_id, call.span_id);
    }

    /// Starts and ends a call of `system` named by `summary`, whose recorded span shows
    /// `shown`; checks that the metric point has the whole `summary` and returns the span.
    fn summarized(
        system: &'static str,
        summary: &str,
        shown: &str,
    ) -> crate::testing::FinishedSpan {
        let capture = crate::testing::capture();
        let recorded = || Recorded {
            text: None,
            summary: Some(shown.to_owned()),
        };
        let endpoint = Arc::new(endpoint_of(system));
        Call::start(&endpoint, Some(summary.to_owned()), None, None, recorded).succeed();
        let attributes = [
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.query.summary", summary.to_owned()),
        ];
        let snapshot = crate::metrics::metrics_snapshot();
        assert!(
            snapshot.histogram(DURATION_METRIC, &attributes).is_some(),
            "{snapshot:#?}"
        );
        capture.span(summary)
    }

    /// A summary built to fit a short attribute limit is the span's attribute; the name and
    /// the metric point, which that limit does not cut, keep the whole one.
    #[test]
    fn the_spans_summary_is_the_one_built_to_fit() {
        let span = summarized(
            "call_rs_fit",
            "INSERT call_rs_fit_o SELECT call_rs_fit_w",
            "INSERT call_rs_fit_o",
        );
        let fitted = Value::from("INSERT call_rs_fit_o");
        assert_eq!(span.attr("db.query.summary"), Some(&fitted));
    }

    /// Recommended on the metric by the conventions: without it, statements with several
    /// operations or tables (no `db.operation.name`) would all be one series.
    #[test]
    fn the_query_summary_is_on_the_span_and_the_metric() {
        let summary = "INSERT call_rs_o SELECT call_rs_w";
        let span = summarized("call_rs_test", summary, summary);
        assert_eq!(span.attr("db.query.summary"), Some(&Value::from(summary)));
        assert!(span.attr("db.operation.name").is_none());
    }
}
