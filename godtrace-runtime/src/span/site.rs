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
/// type (`<a::T as a::Tr>::m` becomes `a::T::m`), drops every generic-argument list (`T<_>`,
/// `It<'_>`, `A<N>`, nested ones) and the `{{closure}}` segments of a function nested in a
/// closure or an async body. Runs once per call site (`CallSite::function`): one allocation
/// when something is dropped, none otherwise; linear in the input, whatever it holds.
fn readable_path(type_name: &'static str) -> &'static str {
    let path = type_name
        .rsplit_once("::")
        .map_or(type_name, |(head, _)| head);
    if !path.contains(['<', '{']) {
        return path;
    }
    let from_impl_block = in_impl_block_form(path);
    let qualified_path = from_impl_block.as_deref().unwrap_or(path);
    let mut out = String::with_capacity(path.len());
    match qualified(qualified_path) {
        // A blanket impl's method (`impl<T: Tr> Tr2 for T`): its type prints as `_` (or `&_`,
        // `[_]`), which names nothing; the trait does.
        Some((ty, Some(as_trait), rest)) if names_no_type(ty) => {
            push_readable(as_trait, &mut out);
            push_readable(rest, &mut out);
        }
        Some((ty, _, rest)) => {
            let ty = trait_object_name(ty);
            // A type whose text would run into the method's segment (`fn(u8) -> u8::m`,
            // `&str::m`) is bracketed, as Rust writes such a type's path.
            let bracketed = !reads_as_a_path(ty);
            if bracketed {
                out.push('<');
            }
            push_readable(ty, &mut out);
            if bracketed {
                out.push('>');
            }
            push_readable(rest, &mut out);
        }
        None => push_readable(qualified_path, &mut out),
    }
    if out == path {
        path
    } else {
        // Once per call site, for the life of the process: the name is borrowed by every span.
        // (`leak`, not `into_boxed_str`, which would allocate again to shrink it.)
        out.leak()
    }
}

/// A method of an impl block that is not at a module's top level (in a function's body, or
/// in the `const _: () = { .. }` derive macros emit) prints as `a::f::<impl a::Tr for a::K>::m`
/// (or `<impl a::K>`): the same method as `<a::K as a::Tr>::m`, the form `qualified` reads,
/// since the impl's type and trait are written in full. The last such segment is the one
/// the method is in.
fn in_impl_block_form(path: &str) -> Option<String> {
    const IMPL: &str = "<impl ";
    let bytes = path.as_bytes();
    let mut depth = 0usize;
    let mut last = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'>') => i += 1,
            b'<' => {
                if depth == 0
                    && path[i..].starts_with(IMPL)
                    && (i == 0 || path[..i].ends_with("::"))
                {
                    last = Some(i);
                }
                depth += 1;
            }
            b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    let start = last?;
    // The impl's closing `>`, and the ` for ` outside any brackets, if it is a trait's.
    let inner_start = start + IMPL.len();
    let (mut depth, mut split, mut end) = (0usize, None, None);
    let mut i = inner_start;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'>') => i += 1,
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if depth == 0 => {
                end = Some(i);
                break;
            }
            b'>' | b')' | b']' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && split.is_none() && path[i..].starts_with(" for ") => {
                split = Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    let end = end?;
    let rest = &path[end + 1..];
    Some(match split {
        Some(at) => format!(
            "<{} as {}>{rest}",
            &path[at + 5..end],
            &path[inner_start..at]
        ),
        None => format!("<{}>{rest}", &path[inner_start..end]),
    })
}

/// Whether a type's printed name is only generic parameters (`_`) and what is written around
/// them (`&mut`, `*const`, brackets, array lengths).
fn names_no_type(ty: &str) -> bool {
    ty.contains('_')
        && ty
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .all(|word| {
                matches!(word, "" | "_" | "mut" | "const")
                    || word.bytes().all(|b| b.is_ascii_digit())
            })
}

/// A type as a method's path names it: a trait object (`dyn a::Tr + Send`, whose inherent
/// methods print as `<dyn a::Tr + Send>::m`) by its first trait (with its `dyn` when that
/// trait ends in a return type: `dyn Fn(u8) -> u8`), any other type as it is.
fn trait_object_name(ty: &str) -> &str {
    let Some(bounds) = ty.strip_prefix("dyn ") else {
        return ty;
    };
    let first = first_bound(bounds);
    if has_arrow_outside_brackets(first) {
        &ty[..4 + first.len()]
    } else {
        first
    }
}

/// The first of `+`-separated bounds.
fn first_bound(bounds: &str) -> &str {
    let mut depth = 0usize;
    let bytes = bounds.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'>') => i += 1,
            b'<' | b'(' | b'[' => depth += 1,
            b'>' | b')' | b']' => depth = depth.saturating_sub(1),
            b'+' if depth == 0 => return bounds[..i].trim_end(),
            _ => {}
        }
        i += 1;
    }
    bounds
}

fn has_arrow_outside_brackets(ty: &str) -> bool {
    let mut depth = 0usize;
    let bytes = ty.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'>') => {
                if depth == 0 {
                    return true;
                }
                i += 1;
            }
            b'<' | b'(' | b'[' => depth += 1,
            b'>' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether a type's text can stand before `::m` as it is: a path (`a::T`), or a type its
/// brackets close (a tuple, an array, a slice); not a reference, a pointer, a qualified path
/// (`<u8 as Add>::Output`), a fn pointer or a trait object with a return type, whose text
/// does not end where the type does.
fn reads_as_a_path(ty: &str) -> bool {
    let fn_pointer = ["fn(", "unsafe ", "extern ", "for<", "dyn "]
        .iter()
        .any(|prefix| ty.starts_with(prefix));
    let starts_well = ty
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'(' | b'['));
    starts_well && !fn_pointer && !has_arrow_outside_brackets(ty)
}

/// `<T as Tr>::rest`: `T`, `Tr` and `::rest`; `<T>::rest` (an inherent method of a type
/// printed in brackets, such as `dyn Tr`): `T`, no trait and `::rest`.
fn qualified(path: &str) -> Option<(&str, Option<&str>, &str)> {
    let inner = path.strip_prefix('<')?;
    let mut depth = 0usize;
    let mut split = None;
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // An arrow (`fn() -> T`), not a bracket.
            b'-' if bytes.get(i + 1) == Some(&b'>') => i += 1,
            b'<' => depth += 1,
            b'>' if depth == 0 => {
                return Some(match split {
                    Some(at) => (&inner[..at], Some(&inner[at + 4..i]), &inner[i + 1..]),
                    None => (&inner[..i], None, &inner[i + 1..]),
                });
            }
            b'>' => depth -= 1,
            b' ' if depth == 0 && split.is_none() && inner[i..].starts_with(" as ") => {
                split = Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Appends `piece` to `out` without its generic-argument lists and `::{{closure}}` segments.
/// A `<` after a name (`Vec<u8>`, `f::<u8>`) opens a generic-argument list; any other opens
/// a qualified path or a bracketed type (`(u8, <u8 as Add>::Output)`), which is kept, with
/// the lists inside it dropped.
fn push_readable(piece: &str, out: &mut String) {
    const CLOSURE: &str = "::{{closure}}";
    let bytes = piece.as_bytes();
    // The depth inside the outermost generic-argument list being dropped (0: none).
    let mut dropped = 0usize;
    // The start of what is still to be copied, outside any dropped list.
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'>') => i += 1,
            b'<' if dropped > 0 => dropped += 1,
            b'<' if opens_arguments(bytes, i) => {
                out.push_str(&piece[from..i]);
                dropped = 1;
            }
            b'>' if dropped > 0 => {
                dropped -= 1;
                if dropped == 0 {
                    from = i + 1;
                }
            }
            b':' if dropped == 0 && piece[i..].starts_with(CLOSURE) => {
                out.push_str(&piece[from..i]);
                i += CLOSURE.len();
                from = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // An unclosed list is dropped to the end.
    if dropped == 0 {
        out.push_str(&piece[from..]);
    }
}

/// Whether the `<` at `at` opens a generic-argument list: it follows a name (`Vec<u8>`) or
/// `::` (`f::<u8>`).
fn opens_arguments(bytes: &[u8], at: usize) -> bool {
    at.checked_sub(1).is_some_and(
        |before| matches!(bytes[before], b'_' | b':' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'),
    )
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

    #[test]
    fn every_generic_argument_list_is_dropped() {
        for (type_name, name) in [
            ("p8::It<'_>::next::h", "p8::It::next"),
            ("p9::W<'_, _>::a::h", "p9::W::a"),
            ("p9::A<N>::b::h", "p9::A::b"),
            ("a::M<a::N<u8, fn(u8) -> u8>, [u8; 2]>::m::h", "a::M::m"),
            ("<p9::L<'_> as p9::Tr<&str>>::d::h", "p9::L::d"),
            ("<[u8] as p9::Tr<fn() -> u8>>::d::h", "[u8]::d"),
            ("<a::T<a::U<'_, _>> as a::Tr<a::V<_>>>::m::h", "a::T::m"),
            // Blanket impls: the type is a parameter, the trait names the method.
            ("<_ as p9::Tr2>::m2::h", "p9::Tr2::m2"),
            ("<&mut _ as p9::Tr<u8>>::m::h", "p9::Tr::m"),
            ("<[_] as p9::Tr>::m::h", "p9::Tr::m"),
            ("<(_, _) as p9::Tr>::m::{{closure}}::h", "p9::Tr::m"),
            ("<*const _ as p9::Tr>::m::h", "p9::Tr::m"),
            ("<[u8; 2] as p9::Tr>::m::h", "[u8; 2]::m"),
            ("<alloc::vec::Vec<_> as p9::Tr>::m::h", "alloc::vec::Vec::m"),
            // Inherent methods of trait objects (`impl dyn Tr { .. }`): the trait names them.
            ("<dyn app::Shape>::describe::h", "app::Shape::describe"),
            (
                "<dyn app::Shape + core::marker::Send>::d::h",
                "app::Shape::d",
            ),
            (
                "<dyn a::Tr<(u8, u16)> + a::B<'_>>::m::{{closure}}::h",
                "a::Tr::m",
            ),
            ("<dyn a::Tr as a::Tr2>::m::h", "a::Tr::m"),
        ] {
            assert_eq!(readable_path(type_name), name, "{type_name}");
        }
    }

    #[test]
    fn a_self_type_that_is_not_a_path_reads_as_rust_writes_it() {
        for (type_name, name) in [
            // A qualified path is kept, without its generic-argument lists.
            (
                "<(u8, <u8 as core::ops::arith::Add>::Output) as a::Tr>::m::h",
                "(u8, <u8 as core::ops::arith::Add>::Output)::m",
            ),
            (
                "<(u8, <a::G<u8> as a::Tr2<u16>>::Out<'_>) as a::Tr>::m::{{closure}}::h",
                "(u8, <a::G as a::Tr2>::Out)::m",
            ),
            (
                "<<a::G<u8, 1> as core::iter::traits::collect::IntoIterator>::Item as a::Tr>::m::h",
                "<<a::G as core::iter::traits::collect::IntoIterator>::Item>::m",
            ),
            // A type whose text does not end where the type does is bracketed.
            ("<fn(u8) -> u8 as a::Tr>::m::h", "<fn(u8) -> u8>::m"),
            (
                "<unsafe fn() -> (u8, u8) as a::Tr>::m::h",
                "<unsafe fn() -> (u8, u8)>::m",
            ),
            (
                "<extern \"C\" fn(u8) as a::Tr>::m::h",
                "<extern \"C\" fn(u8)>::m",
            ),
            ("<fn(_) -> _ as a::Tr>::m::h", "<fn(_) -> _>::m"),
            (
                "<dyn core::ops::function::Fn(u8) -> u8 + core::marker::Send as a::Tr>::m::h",
                "<dyn core::ops::function::Fn(u8) -> u8>::m",
            ),
            ("<&str as a::Tr>::m::h", "<&str>::m"),
            ("<*const u8 as a::Tr>::m::h", "<*const u8>::m"),
            (
                "t::f::<impl t::Tr for fn(u8) -> u8>::m::h",
                "<fn(u8) -> u8>::m",
            ),
            // Brackets that close the type already are enough.
            (
                "<(fn(u8) -> u8, u8) as a::Tr>::m::h",
                "(fn(u8) -> u8, u8)::m",
            ),
            (
                "<dyn core::ops::function::Fn(&'_ u8) as a::Tr>::m::h",
                "core::ops::function::Fn(&'_ u8)::m",
            ),
        ] {
            assert_eq!(readable_path(type_name), name, "{type_name}");
        }
    }

    #[test]
    fn methods_of_impl_blocks_inside_items_read_as_type_then_method() {
        for (type_name, name) in [
            // `const _: () = { impl .. };`, as derive macros write.
            (
                "t::m::_::<impl t::m::Tr for t::m::K<_>>::t::h",
                "t::m::K::t",
            ),
            // An impl block in a function's body.
            ("t::m::in_body::<impl t::m::K<_>>::m::h", "t::m::K::m"),
            ("t::m::f::<impl t::m::Tr for [u8]>::t::h", "[u8]::t"),
            ("t::m::f::<impl t::m::Tr for (_,)>::t::h", "t::m::Tr::t"),
            ("t::m::f::<impl dyn t::m::Tr>::d::h", "t::m::Tr::d"),
            (
                "t::m::f::<impl t::m::Tr<fn(u8) -> u8> for t::m::K<(u8, u8)>>::t::{{closure}}::h",
                "t::m::K::t",
            ),
            // Nested: the method is in the last impl block.
            ("a::f::<impl a::K>::m::<impl a::L>::n::h", "a::L::n"),
        ] {
            assert_eq!(readable_path(type_name), name, "{type_name}");
        }
    }

    #[test]
    fn closure_segments_are_dropped() {
        assert_eq!(
            readable_path("r2::outer::{{closure}}::helper::h"),
            "r2::outer::helper"
        );
        assert_eq!(
            readable_path("r2::aouter::{{closure}}::{{closure}}::helper3::h"),
            "r2::aouter::helper3"
        );
        assert_eq!(
            readable_path("<a::T<_> as a::Tr>::m::{{closure}}::helper::h"),
            "a::T::m::helper"
        );
    }

    #[test]
    fn a_plain_path_is_not_copied() {
        let type_name = "app::wallet::free::h";
        assert!(std::ptr::eq(readable_path(type_name), &type_name[..17]));
    }

    #[test]
    fn malformed_names_are_bounded() {
        for type_name in [
            "a::B<<<::m::h",
            "a>::b>::h",
            "<a::B as",
            "<<<<",
            ">>>>::h",
            "<a as b>::{{closure}",
            "::{{closure}}::{{closure}}",
            "-><->",
            "a::<impl ",
            "a::<impl b for",
            "<impl <impl > for >::h",
            "<(u8, <u8 as",
            "<fn(u8) -> as a>::m::h",
            "<& as a>::m::h",
            "<dyn -> as a>::m::h",
            "",
        ] {
            let name = readable_path(type_name);
            assert!(name.len() <= type_name.len(), "{type_name}: {name}");
        }
    }
}
