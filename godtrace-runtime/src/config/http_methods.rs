//! The HTTP methods the framework layers know (`OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`), set
//! once by `init`. A method outside them is recorded as `_OTHER` with its text in
//! `http.request.method_original`, so the list decides which methods name spans and series.
//!
//! Unset (the common case), [`installed`] is one atomic load that finds nothing, and the
//! layers use the conventions' default list, a `match`; set, the list replaces the default
//! (the conventions say so), and is kept for the life of the process.
use crate::InitError;
use std::sync::OnceLock;

/// The most methods the variable may list: each is a span name and a metric series of every
/// layer, so the list is bounded as series are.
pub(crate) const MAX_KNOWN_METHODS: usize = 64;

/// The longest method name the variable may list, in bytes (the longest registered method,
/// `VERSION-CONTROL`, has 15).
pub(crate) const MAX_METHOD_LEN: usize = 64;

/// The list `init` installed; unset before `init` and when the variable is not set.
static KNOWN: OnceLock<Box<[Box<str>]>> = OnceLock::new();

/// The variable's value: a comma-separated list of case-sensitive method tokens (empty items
/// skipped, duplicates kept once); an error naming the variable otherwise.
pub(crate) fn parse(name: &str, v: &str) -> Result<Vec<String>, InitError> {
    let expected = format!(
        "a comma-separated list of at most {MAX_KNOWN_METHODS} HTTP methods (tokens of at \
         most {MAX_METHOD_LEN} bytes, case-sensitive), such as GET,POST,PURGE"
    );
    let mut methods: Vec<String> = Vec::new();
    for method in v.split(',').map(crate::text::trim_ows) {
        if method.is_empty() {
            continue;
        }
        if !crate::text::is_token(method) || method.len() > MAX_METHOD_LEN {
            return Err(InitError::invalid(name, v, &expected));
        }
        if !methods.iter().any(|m| m == method) {
            // Checked as the list grows: a huge value stops here, after at most
            // `MAX_KNOWN_METHODS` comparisons per name.
            if methods.len() == MAX_KNOWN_METHODS {
                return Err(InitError::invalid(name, v, &expected));
            }
            methods.push(method.to_owned());
        }
    }
    Ok(methods)
}

/// Installs `methods` for the layers, if given; the first `init` to succeed decides.
pub(crate) fn install(methods: Option<&[String]>) {
    if let Some(methods) = methods {
        let list = methods.iter().map(|m| Box::from(m.as_str())).collect();
        let _ = KNOWN.set(list);
    }
}

/// The list the variable gave, if `init` installed one.
#[cfg_attr(
    not(any(feature = "tower", feature = "reqwest")),
    allow(dead_code, reason = "only the framework layers read it")
)]
#[inline]
pub(crate) fn installed() -> Option<&'static [Box<str>]> {
    KNOWN.get().map(|list| &**list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_tokens_bounded_in_number_and_length() {
        let name = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";
        assert_eq!(
            parse(name, "GET, POST,,PURGE,GET,").unwrap(),
            ["GET", "POST", "PURGE"]
        );
        // Case-sensitive: `get` is a method of its own.
        assert_eq!(parse(name, "get,GET").unwrap(), ["get", "GET"]);
        assert_eq!(parse(name, ",").unwrap(), Vec::<String>::new());
        let too_many = (0..=MAX_KNOWN_METHODS)
            .map(|i| format!("M{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let too_long = "M".repeat(MAX_METHOD_LEN + 1);
        for bad in [
            "GET POST",
            "GET;POST",
            "PÜT",
            "GET,\"x\"",
            &too_many,
            &too_long,
        ] {
            match parse(name, bad) {
                Err(InitError::InvalidValue { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let at_bound = (0..MAX_KNOWN_METHODS)
            .map(|i| format!("M{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse(name, &at_bound).unwrap().len(), MAX_KNOWN_METHODS);
    }

    /// A huge value is refused once the list is full, not after comparing every name with
    /// every other (200,000 names took minutes).
    #[test]
    fn a_huge_list_is_refused_without_comparing_every_name() {
        let huge = (0..200_000)
            .map(|i| format!("M{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let started = std::time::Instant::now();
        assert!(parse("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", &huge).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
