//! godtrace's trace ids on `log` records, and `log` records as span events (cargo feature
//! `log`).
//!
//! [`TraceIdLogger`] wraps the logger you install (env_logger, simplelog, …): a record
//! logged inside a span reaches it with `trace_id` and `span_id` as key-values and, by
//! default, at the start of its message, so a line can be pasted into a trace search:
//!
//! ```
//! struct Stderr;
//! impl log::Log for Stderr {
//!     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
//!     fn log(&self, record: &log::Record<'_>) { eprintln!("{} {}", record.level(), record.args()) }
//!     fn flush(&self) {}
//! }
//!
//! let logger = godtrace_runtime::log::TraceIdLogger::new(Stderr).span_events(log::Level::Info);
//! log::set_max_level(log::LevelFilter::Info);
//! let _ = log::set_boxed_logger(Box::new(logger));
//! // INFO [trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7] charged
//! ```
use opentelemetry::{KeyValue, Value};
use std::borrow::Cow;

/// A [`log::Log`] that hands every record to `inner`, with the ids of the current span
/// (a `#[traced]` call, a manual span, or a bridged `tracing` span) added when there is one;
/// optionally it also records the records inside a span as span events.
#[derive(Debug)]
pub struct TraceIdLogger<L> {
    inner: L,
    prefix: bool,
    /// Records at this level or more severe become span events; `None`: none do.
    span_events: Option<log::Level>,
}

impl<L: log::Log> TraceIdLogger<L> {
    /// Wraps `inner`: ids as key-values and at the start of the message; no span events.
    pub fn new(inner: L) -> TraceIdLogger<L> {
        TraceIdLogger {
            inner,
            prefix: true,
            span_events: None,
        }
    }

    /// The wrapped logger.
    pub fn into_inner(self) -> L {
        self.inner
    }

    /// Whether the message starts with `[trace_id=… span_id=…] ` (on by default; the
    /// key-values are added either way, for loggers that print them).
    pub fn prefix(mut self, on: bool) -> TraceIdLogger<L> {
        self.prefix = on;
        self
    }

    /// Records at `level` or more severe, logged inside a span, also become events of that
    /// span (named after the message, with `level`, `target` and the record's key-values),
    /// as the `tracing` layer does for `tracing` events (its default level is INFO). Inside a
    /// `tracing` span (bridged by `godtrace::tracing::layer()`), the event reaches it when the
    /// current subscriber is built on tracing-subscriber's `Registry`, as usual. A target the
    /// wrapped logger turns off (it would not write even an ERROR of it) gives no span events;
    /// a level that filters out some records does not stop them (a logger that writes WARN
    /// and up still gives INFO span events). A logger turned off whole (`LevelFilter::Off`)
    /// reads as every target turned off: it gives none.
    pub fn span_events(mut self, level: log::Level) -> TraceIdLogger<L> {
        self.span_events = Some(level);
        self
    }
}

impl<L: log::Log> TraceIdLogger<L> {
    /// Whether a record with `metadata` becomes a span event (inside a span): at the level
    /// [`TraceIdLogger::span_events`] asked for, from a target the wrapped logger has not
    /// turned off (it keeps none of the target's records, not even an ERROR: the user
    /// silenced it, as `sqlx::query=off` keeps statements out of the logs). Below that, the
    /// wrapped logger's level does not count: records it does not write may be span events.
    fn makes_span_events(&self, metadata: &log::Metadata<'_>) -> bool {
        if super::may_be_inside_otel_context(metadata.target()) {
            return false;
        }
        self.span_events.is_some_and(|level| {
            metadata.level() <= level
                && self.inner.enabled(
                    &log::Metadata::builder()
                        .level(log::Level::Error)
                        .target(metadata.target())
                        .build(),
                )
        })
    }
}

impl<L: log::Log> log::Log for TraceIdLogger<L> {
    /// What the wrapped logger writes, and, inside a recorded span, what becomes a span event:
    /// elsewhere (outside any span, in a sampled-out one) `log_enabled!` answers as the wrapped
    /// logger alone would, so code that guards costly logging with it does not do that work
    /// for nothing.
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata) || (self.makes_span_events(metadata) && records_here())
    }

    fn log(&self, record: &log::Record<'_>) {
        // A `tracing` event forwarded to `log`, maybe from where the context cannot be read.
        if super::may_be_inside_otel_context(record.target()) {
            return self.inner.log(record);
        }
        let span_event = self.makes_span_events(record.metadata()) && records_here();
        // `enabled` let the record through for a span event: the wrapped logger still decides
        // what it writes, and may not ask again inside `log`.
        let writes = self.inner.enabled(record.metadata());
        // Both need the message: it is formatted once, as its `Display` is the user's code,
        // whose side effects (a record it logs itself) must not happen twice.
        if span_event && writes {
            let text = record.args().to_string();
            record_event(record, format_args!("{text}"));
            return self.write(record, format_args!("{text}"));
        }
        if span_event {
            record_event(record, *record.args());
        }
        if writes {
            self.write(record, *record.args());
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

impl<L: log::Log> TraceIdLogger<L> {
    /// Hands `record`, whose message is `args`, to the wrapped logger, with the current span's
    /// ids when there is one.
    fn write(&self, record: &log::Record<'_>, args: std::fmt::Arguments<'_>) {
        let Some(ids) = super::current_ids() else {
            return self.inner.log(&record.to_builder().args(args).build());
        };
        let trace_id = ids.trace_id();
        let span_id = ids.span_id();
        let key_values = WithIds {
            ids: [
                ("trace_id", log::kv::Value::from_display(&trace_id)),
                ("span_id", log::kv::Value::from_display(&span_id)),
            ],
            inner: record.key_values(),
        };
        let mut builder = record.to_builder();
        builder.key_values(&key_values);
        if self.prefix {
            self.inner.log(
                &builder
                    .args(format_args!(
                        "[trace_id={trace_id} span_id={span_id}] {args}"
                    ))
                    .build(),
            );
        } else {
            self.inner.log(&builder.args(args).build());
        }
    }
}

/// A record's key-values, with the ids first.
struct WithIds<'a> {
    ids: [(&'static str, log::kv::Value<'a>); 2],
    inner: &'a dyn log::kv::Source,
}

impl log::kv::Source for WithIds<'_> {
    fn visit<'kvs>(
        &'kvs self,
        visitor: &mut dyn log::kv::VisitSource<'kvs>,
    ) -> Result<(), log::kv::Error> {
        for (key, value) in &self.ids {
            // A record that names the key itself keeps its own: one pair of each key.
            if self.inner.get(log::kv::Key::from_str(key)).is_none() {
                visitor.visit_pair(log::kv::Key::from_str(key), value.clone())?;
            }
        }
        self.inner.visit(visitor)
    }
}

/// Whether a record here becomes an event of the current span: there is one, it is recorded
/// (sampled in), and recording is on (off, in a forked child above all, a bridged `tracing`
/// span's record lock, which a parent's thread may have held at the fork, is not taken).
fn records_here() -> bool {
    crate::span::switches::is_enabled() && super::current_ids().is_some_and(|ids| ids.is_sampled())
}

/// Adds `record`, whose message is `args`, as an event of the current span (see
/// [`records_here`]).
fn record_event(record: &log::Record<'_>, args: std::fmt::Arguments<'_>) {
    let mut attributes = vec![
        super::level_attribute(level_name(record.level())),
        KeyValue::new("target", Value::from(record.target().to_owned())),
    ];
    let mut fields = Fields(&mut attributes);
    let _ = record.key_values().visit(&mut fields);
    // A name: never cut below 256 bytes, however small the attribute limit.
    let name = crate::redact::message(crate::value::message_display(&args));
    crate::api::add_event_to_current(
        Cow::Owned(name),
        super::bounded_event_attributes(attributes),
    );
}

/// The level as `tracing` writes it, so that events from both read alike.
fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARN",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

/// Collects a record's key-values as event attributes (text, bounded).
struct Fields<'a>(&'a mut Vec<KeyValue>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let key = crate::value::key_prefix(key.as_str()).to_owned();
        let value = if let Some(n) = value.to_i64() {
            Value::I64(n)
        } else if let Some(x) = value.to_f64() {
            Value::F64(x)
        } else if let Some(b) = value.to_bool() {
            Value::Bool(b)
        } else {
            Value::from(crate::value::display_text(&value))
        };
        self.0.push(KeyValue::new(key, value));
        Ok(())
    }
}
