//! Carriers beyond OpenTelemetry's own: a `HashMap` read without regard to case, and (feature
//! `http`) an `http::HeaderMap`.
use opentelemetry::propagation::Extractor;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A `HashMap` read with case-insensitive keys.
pub(super) struct CaseInsensitive<'a, S>(pub(super) &'a HashMap<String, String, S>);

impl<S: BuildHasher> Extractor for CaseInsensitive<'_, S> {
    fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).and_then(|v| v.first().copied())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        // The name as written by an injector into a map (OpenTelemetry's writes it in lower
        // case, as godtrace's names are): when present, the newest value, and the only one
        // read. A message handed on after `inject` into the map it came in then carries the
        // new context, not that and the old one under another spelling (which, read as two
        // headers, would reject both).
        if let Some(value) = self.0.get(key) {
            return Some(vec![value.as_str()]);
        }
        let mut entries: Vec<(&String, &String)> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .collect();
        // Spellings of one name (`baggage`, `Baggage`) in the order of their keys, not of the
        // map's hashing: joined lists read the same on every run.
        entries.sort_unstable_by_key(|(k, _)| *k);
        let values: Vec<&str> = entries.into_iter().map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then_some(values)
    }
}

#[cfg(feature = "http")]
pub use self::http_carrier::{HeaderExtractor, HeaderInjector, extract_headers, inject_headers};

#[cfg(feature = "http")]
mod http_carrier {
    use super::super::context::from_fields;
    use super::super::w3c::{Field, Fields, NOT_TEXT};
    use super::super::{BAGGAGE, TRACEPARENT, TRACESTATE, carried, if_carried};
    use http::header::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::Context;
    use opentelemetry::propagation::{Extractor, Injector};
    use std::borrow::Cow;

    /// Writes the current context into HTTP headers (feature `http`). A value that is not a
    /// valid header value is left out rather than failing the request.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// godtrace_runtime::propagation::inject_headers(&mut headers);
    /// ```
    pub fn inject_headers(headers: &mut HeaderMap) {
        super::super::inject(&mut HeaderInjector(headers));
    }

    /// The context of an incoming request's headers (feature `http`); see
    /// [`extract`](super::super::extract). A `traceparent` or `tracestate` header that is not visible
    /// ASCII is rejected like any malformed one; in `baggage`, such a byte invalidates its own
    /// member alone.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(
    ///     "traceparent",
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
    /// );
    /// let parent = godtrace_runtime::propagation::extract_headers(&headers);
    /// assert!(godtrace_runtime::propagation::is_remote_parent(&parent));
    /// ```
    pub fn extract_headers(headers: &HeaderMap) -> Context {
        let carried = carried();
        let traceparent = if_carried(carried.trace_context, || field(headers, TRACEPARENT));
        // Without a `traceparent` the `tracestate` is never read: not looked up either.
        let tracestate = match traceparent {
            Field::Absent => Field::Absent,
            _ => field(headers, TRACESTATE),
        };
        let fields = Fields {
            traceparent,
            tracestate,
        };
        // Baggage's members are checked one by one: a byte that is not visible ASCII makes
        // its own member invalid, as any other byte outside `baggage-octet` does, not the
        // whole list (the header's other members, and other `baggage` headers, are kept).
        // One value (the common case) is read without a `Vec`, as `field` reads one.
        let (first, more): (Option<Cow<'_, str>>, Vec<Cow<'_, str>>) = if carried.baggage {
            let mut all = headers.get_all(BAGGAGE).iter().map(as_text);
            (all.next(), all.collect())
        } else {
            (None, Vec::new())
        };
        let baggage = match (&first, more.as_slice()) {
            (None, _) => Field::Absent,
            (Some(one), []) => Field::One(one),
            (Some(first), more) => {
                Field::Values(std::iter::once(first).chain(more).map(|v| &**v).collect())
            }
        };
        from_fields(&fields, &baggage)
    }

    /// A header value as text: itself when it is visible ASCII (the common case, borrowed),
    /// else with each byte `to_str` refuses read as DEL, which no W3C field allows.
    fn as_text(value: &HeaderValue) -> Cow<'_, str> {
        match value.to_str() {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => Cow::Owned(
                value
                    .as_bytes()
                    .iter()
                    .map(|&b| {
                        if b == b'\t' || (b.is_ascii() && !b.is_ascii_control()) {
                            char::from(b)
                        } else {
                            '\u{7f}'
                        }
                    })
                    .collect(),
            ),
        }
    }

    /// The values of header `name`; one value (the common case) is read without a `Vec`.
    fn field<'a>(headers: &'a HeaderMap, name: &str) -> Field<'a> {
        let mut all = headers.get_all(name).iter();
        let Some(first) = all.next() else {
            return Field::Absent;
        };
        let Ok(first) = first.to_str() else {
            return Field::NotText;
        };
        let Some(second) = all.next() else {
            return Field::One(first);
        };
        let mut values = vec![first];
        for value in std::iter::once(second).chain(all) {
            match value.to_str() {
                Ok(v) => values.push(v),
                Err(_) => return Field::NotText,
            }
        }
        Field::Values(values)
    }

    /// An OpenTelemetry [`Injector`] writing into an `http::HeaderMap` (feature `http`).
    ///
    /// ```
    /// use godtrace_runtime::propagation::{HeaderInjector, inject};
    ///
    /// let mut headers = http::HeaderMap::new();
    /// inject(&mut HeaderInjector(&mut headers));
    /// ```
    #[derive(Debug)]
    pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

    impl Injector for HeaderInjector<'_> {
        /// Replaces the header `key`; an empty `value`, or one that is not a valid header
        /// value, removes it (godtrace's propagator writes an empty `tracestate` over one left
        /// from another trace). `baggage` is added to what the request holds already: its
        /// own members stay beside the context's (and win for a key both have).
        fn set(&mut self, key: &str, mut value: String) {
            if key == BAGGAGE
                && self.0.contains_key(BAGGAGE)
                && let Some(merged) = merged_baggage(self.0, &value)
            {
                value = merged;
            }
            let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
                return;
            };
            // A value no header can hold (another propagator's) removes the old one too: it
            // would go out beside what replaced it.
            match HeaderValue::from_str(&value) {
                Ok(value) if !value.is_empty() => self.0.insert(name, value),
                _ => self.0.remove(name),
            };
        }
    }

    /// The `baggage` header for `headers`, which hold one already, and the context's `ours`
    /// (see `baggage::merged`); a header that is not text counts as none.
    fn merged_baggage(headers: &HeaderMap, ours: &str) -> Option<String> {
        let existing: Vec<&str> = headers
            .get_all(BAGGAGE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        super::super::baggage::merged(&existing, ours)
    }

    /// An OpenTelemetry [`Extractor`] reading an `http::HeaderMap` (feature `http`). A value
    /// that is not visible ASCII reads as absent through `get`; through `get_all`, which
    /// godtrace's propagator reads, it rejects its field as [`extract_headers`] does (a
    /// second `traceparent` that is not text is still a second one).
    ///
    /// ```
    /// use godtrace_runtime::propagation::{HeaderExtractor, extract};
    ///
    /// let headers = http::HeaderMap::new();
    /// let cx = extract(&HeaderExtractor(&headers));
    /// # let _ = cx;
    /// ```
    #[derive(Debug, Clone, Copy)]
    pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let values: Vec<&str> = self
                .0
                .get_all(key)
                .iter()
                .map(|v| v.to_str().unwrap_or(NOT_TEXT))
                .collect();
            (!values.is_empty()).then_some(values)
        }
    }
}
