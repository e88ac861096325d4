//! Route templates kept for the life of the process (feature `axum`), so that a request on a
//! known route names its span and labels its histogram without allocating: the template and
//! the span names built from it are `&'static str`.
//!
//! Templates are the application's (axum's matched routes), so there are few of them; the
//! table still stops growing at [`MAX_ROUTES`], past which a request's name and route are
//! copied per request as before, so that memory stays bounded whatever the router holds.
use super::series::WordHasher;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{LazyLock, OnceLock, RwLock};

/// The most route templates kept.
const MAX_ROUTES: usize = 1024;

/// The words a kept span name starts with: the conventions' default known methods, then
/// `HTTP` for the unknown ones. A method only `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` adds
/// (`PURGE`) names its spans per request: up to 64 such methods on each of 1024 routes would
/// be too many names to keep.
const NAME_METHODS: [&str; 11] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE", "HTTP",
];

/// A route template and the span names made of it, each built on first use.
pub(super) struct Route {
    /// `http.route`, as axum matched it (cut to the name part limit).
    pub(super) template: &'static str,
    names: [OnceLock<&'static str>; NAME_METHODS.len()],
}

impl Route {
    /// `{method} {route}` for a method as [`super::semconv::method`] gives it (`_OTHER` is
    /// named `HTTP`): kept for the default methods, built for the others.
    pub(super) fn span_name(&self, method: &'static str) -> Cow<'static, str> {
        let method = if method == "_OTHER" { "HTTP" } else { method };
        match NAME_METHODS.iter().position(|m| *m == method) {
            Some(at) => Cow::Borrowed(
                self.names[at].get_or_init(|| leak(format!("{method} {}", self.template))),
            ),
            None => Cow::Owned(format!("{method} {}", self.template)),
        }
    }
}

type Routes = HashMap<&'static str, &'static Route, BuildHasherDefault<WordHasher>>;

static ROUTES: LazyLock<RwLock<Routes>> = LazyLock::new(|| RwLock::new(Routes::default()));

/// The kept `template`, added on first sight; `None` once [`MAX_ROUTES`] are kept.
pub(super) fn interned(template: &str) -> Option<&'static Route> {
    if let Some(route) = ROUTES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(template)
    {
        return Some(route);
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(route) = routes.get(template) {
        return Some(route);
    }
    if routes.len() >= MAX_ROUTES {
        return None;
    }
    let route: &'static Route = Box::leak(Box::new(Route {
        template: leak(template.to_owned()),
        names: Default::default(),
    }));
    routes.insert(route.template, route);
    Some(route)
}

/// Kept for the process: at most [`MAX_ROUTES`] templates and the names made of them.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_kept_once_and_names_its_spans_by_method() {
        let first = interned("/routes.rs/users/{id}").unwrap();
        let again = interned("/routes.rs/users/{id}").unwrap();
        assert!(std::ptr::eq(first, again));
        assert_eq!(first.template, "/routes.rs/users/{id}");
        assert_eq!(first.span_name("GET"), "GET /routes.rs/users/{id}");
        assert_eq!(first.span_name("_OTHER"), "HTTP /routes.rs/users/{id}");
        let (Cow::Borrowed(get), Cow::Borrowed(again)) =
            (first.span_name("GET"), first.span_name("GET"))
        else {
            panic!("a default method's name is kept");
        };
        assert!(std::ptr::eq(get, again));
        assert_eq!(first.span_name("QUERY"), "QUERY /routes.rs/users/{id}");
        // A method only the variable makes known is named too, not kept.
        assert_eq!(first.span_name("PURGE"), "PURGE /routes.rs/users/{id}");
    }
}
