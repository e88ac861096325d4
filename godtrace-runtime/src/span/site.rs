//! One traced function's static description, built by the macro.
use crate::metrics::SiteMetrics;
use opentelemetry::trace::SpanKind;
use std::sync::OnceLock;

/// What the macro knows about one traced function, in a `static` per function.
pub struct CallSite {
    operation: Option<&'static str>,
    path: fn() -> &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    function: OnceLock<&'static str>,
    pub(crate) include_duration: bool,
    /// `#[traced(sample_rate = ..)]`: the share of this operation's root calls recorded,
    /// instead of the configured ratio.
    pub(crate) sample_rate: Option<f64>,
    /// Whether the call's span must carry its parent along (async fns and fns returning a
    /// future run later, possibly on another thread, where the caller's context is gone).
    pub(crate) carries_parent: bool,
    /// `kind = ..`: the span kind exported (internal unless given).
    pub(crate) kind: SpanKind,
    /// This operation's duration histogram handle, looked up once.
    pub(crate) metrics: SiteMetrics,
}

/// What `#[traced(...)]` and the function's shape say about one call site.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// `operation = "…"`: the span name, instead of the function's path.
    pub operation: Option<&'static str>,
    /// `include_duration`: whether the call's duration goes into its histogram.
    pub include_duration: bool,
    /// `sample_rate = ..`: the share of this operation's root calls recorded, instead of the
    /// configured ratio.
    pub sample_rate: Option<f64>,
    /// Whether the call's span must carry its parent along: an async fn or a fn returning a
    /// future runs later, possibly on another thread.
    pub carries_parent: bool,
    /// `kind = ..`: the OpenTelemetry span kind of the call's span.
    pub kind: SpanKind,
}

impl CallSite {
    /// The call site of the traced function at `file`:`line`, with `options`. `path`
    /// returns the `type_name` of a fn item nested in the traced function, from which the
    /// function's own path (with the impl's type for methods) is read once.
    pub const fn new(
        path: fn() -> &'static str,
        file: &'static str,
        line: u32,
        options: SiteOptions,
    ) -> Self {
        let SiteOptions {
            operation,
            include_duration,
            sample_rate,
            carries_parent,
            kind,
        } = options;
        CallSite {
            operation,
            path,
            file,
            line,
            function: OnceLock::new(),
            include_duration,
            sample_rate,
            carries_parent,
            kind,
            metrics: SiteMetrics::new(),
        }
    }

    /// The traced function's path, e.g. `my_crate::wallet::Analyzer::profile`.
    pub fn function(&self) -> &'static str {
        self.function.get_or_init(|| readable_path((self.path)()))
    }

    /// The span name: `operation = "…"` if given, else the function's path.
    pub fn name(&self) -> &'static str {
        match self.operation {
            Some(op) => op,
            None => self.function(),
        }
    }
}

/// Turns the `type_name` of the helper fn nested in a traced function into that function's
/// path: drops the helper's own segment, shows a trait impl's method under the implementing
/// type (`<a::T as a::Tr>::m` becomes `a::T::m`) and drops unnamed generics (`T<_>`).
/// Runs once per call site.
fn readable_path(type_name: &'static str) -> &'static str {
    let path = type_name
        .rsplit_once("::")
        .map_or(type_name, |(head, _)| head);
    let mut out = path.to_owned();
    if let Some(rest) = out.strip_prefix('<')
        && let Some((ty, tail)) = rest.split_once(" as ")
        && let Some((_, after)) = tail.split_once(">::")
    {
        out = format!("{ty}::{after}");
    }
    for unnamed in ["<_, _, _>", "<_, _>", "<_>"] {
        out = out.replace(unnamed, "");
    }
    if out == path {
        path
    } else {
        // Once per call site, for the life of the process: the name is borrowed by every span.
        Box::leak(out.into_boxed_str())
    }
}

#[cfg(test)]
mod tests {
    use super::readable_path;

    #[test]
    fn method_paths_read_as_type_then_method() {
        assert_eq!(readable_path("app::wallet::free::h"), "app::wallet::free");
        assert_eq!(
            readable_path("app::wallet::Analyzer<_>::m::h"),
            "app::wallet::Analyzer::m"
        );
        assert_eq!(
            readable_path("<app::wallet::Analyzer<_> as app::wallet::Profile>::profile::h"),
            "app::wallet::Analyzer::profile"
        );
        assert_eq!(
            readable_path("app::wallet::Profile::dflt::h"),
            "app::wallet::Profile::dflt"
        );
    }
}
