//! Parsing `#[traced(...)]` options. Every problem becomes a `syn::Error` spanned at the
//! token at fault; all of them are reported together.
//!
//! Each option has one row in `options_table!` (below): its slot in [`Options`], its name, how it
//! is written in messages and an example the tests parse. Nothing else names an option, so a
//! new one cannot miss its duplicate check, its "did you mean" or its place in the messages.
use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

/// One option's slot: its value (the default until the option is written), and where it was
/// written. Setting it twice is an error at the second name.
pub(crate) struct Attr<T> {
    name: &'static str,
    value: T,
    /// The option was written (even with a value that did not parse).
    seen: bool,
    /// Where the value was written, once it parsed.
    at: Option<Span>,
}

impl<T> Attr<T> {
    fn new(name: &'static str, default: T) -> Attr<T> {
        Attr {
            name,
            value: default,
            seen: false,
            at: None,
        }
    }

    /// The value written, or the default.
    pub(crate) fn get(&self) -> &T {
        &self.value
    }

    /// Where the option's value was written, if it was.
    pub(crate) fn span(&self) -> Option<Span> {
        self.at
    }

    /// Whether the option was written with a value that did not parse (an error reported):
    /// checks that depend on its value then leave it alone rather than add a second,
    /// misleading error.
    pub(crate) fn written_wrong(&self) -> bool {
        self.seen && self.at.is_none()
    }

    /// Takes the option written at `name`: `parse` reads its value (pushing its own errors),
    /// unless the option was written before.
    fn fill(
        &mut self,
        name: &Ident,
        errors: &mut Vec<syn::Error>,
        parse: impl FnOnce(&mut Vec<syn::Error>) -> Option<(T, Span)>,
    ) {
        if self.seen {
            let option = self.name;
            errors.push(syn::Error::new_spanned(
                name,
                format!("`{option}` is given more than once"),
            ));
            return;
        }
        self.seen = true;
        if let Some((value, at)) = parse(errors) {
            self.value = value;
            self.at = Some(at);
        }
    }
}

/// The one table of options: `slot: type = default, CONST = "name", "how it is written",
/// "an example";`. Generates [`Options`], the name constants `apply` matches on, and
/// [`TABLE`].
macro_rules! options_table {
    ($($slot:ident: $ty:ty = $default:expr, $constant:ident = $name:literal, $syntax:literal, $example:literal;)*) => {
        /// The options, as written.
        pub(crate) struct Options {
            $(pub(crate) $slot: Attr<$ty>,)*
            pub(crate) errors: Vec<syn::Error>,
        }

        impl Options {
            fn unset() -> Options {
                Options {
                    $($slot: Attr::new($name, $default),)*
                    errors: Vec::new(),
                }
            }
        }

        $(const $constant: &str = $name;)*

        /// Every option: name, how it is written, an example.
        pub(crate) const TABLE: &[(&str, &str, &str)] = &[$(($name, $syntax, $example),)*];
    };
}

options_table! {
    operation: Option<LitStr> = None, OPERATION = "operation", "`operation = \"name\"`", "operation = \"a.b\"";
    include_args: bool = false, INCLUDE_ARGS = "include_args", "`include_args`", "include_args";
    include_result: bool = false, INCLUDE_RESULT = "include_result", "`include_result`", "include_result";
    include_duration: bool = true, INCLUDE_DURATION = "include_duration", "`include_duration = false`", "include_duration = false";
    skip: Vec<Ident> = Vec::new(), SKIP = "skip", "`skip(arg, ...)`", "skip(password)";
    sample_rate: Option<f64> = None, SAMPLE_RATE = "sample_rate", "`sample_rate = 0.01`", "sample_rate = 0.5";
    parent: Option<Expr> = None, PARENT = "parent", "`parent = context_expr`", "parent = &cx";
    krate: Option<syn::Path> = None, CRATE = "crate", "`crate = path`", "crate = godtrace";
    kind: Option<Ident> = None, KIND = "kind", "`kind = server|client|producer|consumer|internal`", "kind = server";
    fields: Vec<Field> = Vec::new(), FIELDS = "fields", "`fields(name = expr, ...)`", "fields(user.id = 7)";
}

/// The span kinds `kind = ..` accepts, as written and as `SpanKind` variants.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("server", "Server"),
    ("client", "Client"),
    ("producer", "Producer"),
    ("consumer", "Consumer"),
    ("internal", "Internal"),
];

/// One `fields(...)` entry: the attribute key (dotted identifiers), where it is written, and
/// the expression giving its value.
pub(crate) struct Field {
    pub(crate) key: String,
    /// The key's tokens, for errors about it.
    pub(crate) at: TokenStream,
    pub(crate) value: Expr,
}

/// The list of valid options, for messages.
fn valid() -> String {
    let written: Vec<&str> = TABLE.iter().map(|(_, syntax, _)| *syntax).collect();
    format!("valid options: {}", written.join(", "))
}

/// Whether two identifiers name the same thing: `r#type` and `type` do, as in Rust.
pub(crate) fn same_name(a: &Ident, b: &Ident) -> bool {
    a.unraw() == b.unraw()
}

impl Options {
    /// Whether `skip(..)` names `param`.
    pub(crate) fn skips(&self, param: &Ident) -> bool {
        self.skip.get().iter().any(|s| same_name(s, param))
    }

    pub(crate) fn parse(tokens: TokenStream) -> Options {
        let mut options = Options::unset();
        for segment in split_commas(tokens) {
            let written = option_name(&segment);
            match Option_::parse.parse2(segment) {
                Ok(option) => options.apply(option),
                Err(e) => {
                    options.errors.push(e);
                    // `include_args =` with nothing after it: written, wrong (see
                    // `Attr::written_wrong`), as `include_args = maybe` is.
                    if written.as_deref() == Some(INCLUDE_ARGS) {
                        options.include_args.seen = true;
                    }
                }
            }
        }
        options
    }

    fn apply(&mut self, Option_ { name, value }: Option_) {
        let errors = &mut self.errors;
        let key = name.unraw().to_string();
        let at = name.span();
        match key.as_str() {
            OPERATION => self.operation.fill(&name, errors, |e| {
                Some((Some(operation(&name, value, e)?), at))
            }),
            INCLUDE_ARGS => self
                .include_args
                .fill(&name, errors, |e| Some((flag(&name, value, e)?, at))),
            INCLUDE_RESULT => self
                .include_result
                .fill(&name, errors, |e| Some((flag(&name, value, e)?, at))),
            INCLUDE_DURATION => self
                .include_duration
                .fill(&name, errors, |e| Some((flag(&name, value, e)?, at))),
            SKIP => self.skip.fill(&name, errors, |e| skip(&name, value, e)),
            SAMPLE_RATE => self.sample_rate.fill(&name, errors, |e| {
                Some((Some(sample_rate(&name, value, e)?), at))
            }),
            PARENT => self.parent.fill(&name, errors, |e| {
                Some((Some(parent(&name, value, e)?), at))
            }),
            CRATE => self
                .krate
                .fill(&name, errors, |e| Some((Some(krate(&name, value, e)?), at))),
            KIND => self
                .kind
                .fill(&name, errors, |e| Some((Some(kind(&name, value, e)?), at))),
            FIELDS => self.fields.fill(&name, errors, |e| fields(&name, value, e)),
            _ => {
                let mut msg = format!("unknown option `{key}`");
                if let Some(instead) = instead_of_tracings(&key) {
                    msg.push_str(&format!(" (`tracing::instrument`'s): {instead}"));
                } else if let Some(near) = nearest(&key) {
                    msg.push_str(&format!("; did you mean `{near}`?"));
                }
                msg.push_str(&format!("\n{}", valid()));
                error(errors, &name, msg);
            }
        }
    }
}

/// What to write instead of an option of `#[tracing::instrument]`'s that godtrace does not
/// take: users come from it, and a list of the valid options does not say what maps to what.
fn instead_of_tracings(key: &str) -> Option<&'static str> {
    Some(match key {
        "ret" => "`include_result` records the return value",
        "err" => {
            "a returned `Err` is always recorded (status Error, `error.type`, its text); `include_result` records `Ok` values too"
        }
        "name" => "`operation = \"..\"` names the span",
        "level" => {
            "godtrace has no levels: every traced call is a span, and sampling (`sample_rate`) decides which are kept"
        }
        "target" => "godtrace has no targets: `operation = \"..\"` names the span",
        "skip_all" => "nothing is recorded unless `include_args` asks; it is the default",
        "follows_from" => "links are made with the manual API (`span.follows_from(..)`)",
        _ => return None,
    })
}

fn error(errors: &mut Vec<syn::Error>, at: impl quote::ToTokens, msg: impl std::fmt::Display) {
    errors.push(syn::Error::new_spanned(at, msg));
}

/// The longest `operation`, in bytes: what a metric attribute's value holds (the runtime's
/// `metrics::attrs::MAX_VALUE_LEN`), so that the span's name and its histogram's `operation`
/// label are the same text.
const MAX_OPERATION_LEN: usize = 256;

fn operation(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<LitStr> {
    match value {
        Value::Expr(Expr::Lit(lit)) => match lit.lit {
            Lit::Str(s) if s.value().trim().is_empty() => {
                error(errors, &s, "`operation` must not be empty or blank");
            }
            Lit::Str(s) if s.value().len() > MAX_OPERATION_LEN => error(
                errors,
                &s,
                format!(
                    "`operation` is at most {MAX_OPERATION_LEN} bytes (the duration histogram's \
                     `operation` label holds no more); this one has {}",
                    s.value().len()
                ),
            ),
            // A line break or escape sequence would break the lines the name is shown in
            // (the local tree, Prometheus' text format, logs).
            Lit::Str(s) if s.value().chars().any(char::is_control) => error(
                errors,
                &s,
                "`operation` must not hold control characters (a line break, a tab, an escape)",
            ),
            Lit::Str(s) => return Some(s),
            other => error(
                errors,
                &other,
                "`operation` takes a string: `operation = \"name\"`",
            ),
        },
        Value::Expr(e) => error(
            errors,
            &e,
            "`operation` takes a string literal: `operation = \"name\"`",
        ),
        _ => error(
            errors,
            name,
            "`operation` needs a value: `operation = \"name\"`",
        ),
    }
    None
}

/// A flag is written bare (`include_args`) or as `include_args = true|false`.
fn flag(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<bool> {
    let msg = format!("`{name}` is a flag: write `{name}` or `{name} = true` / `{name} = false`");
    match value {
        Value::None => Some(true),
        Value::Expr(Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        })) => Some(b.value),
        Value::Expr(e) => {
            error(errors, &e, msg);
            None
        }
        Value::List(_, span) => {
            errors.push(syn::Error::new(span, msg));
            None
        }
    }
}

/// `skip(a, b)`: the names, and where the list is (for errors about it as a whole).
fn skip(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<(Vec<Ident>, Span)> {
    let Value::List(tokens, span) = value else {
        error(
            errors,
            name,
            "`skip` takes a list: `skip(password, api_key)`",
        );
        return None;
    };
    let names = |input: ParseStream| {
        Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
    };
    let names = match names.parse2(tokens) {
        Ok(names) => names,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                "`skip` takes parameter names: `skip(password, api_key)`",
            ));
            return None;
        }
    };
    let mut skipped: Vec<Ident> = Vec::new();
    for ident in names {
        if ident == "self" {
            error(
                errors,
                &ident,
                "`self` is never recorded; remove it from `skip`",
            );
        } else if ident == "_" {
            error(
                errors,
                &ident,
                "a `_` parameter is never recorded (it has no name); remove it from `skip`",
            );
        } else if skipped.iter().any(|s| same_name(s, &ident)) {
            error(
                errors,
                &ident,
                format!("`{ident}` is skipped more than once"),
            );
        } else {
            skipped.push(ident);
        }
    }
    Some((skipped, span))
}

fn sample_rate(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<f64> {
    let lit = match value {
        Value::Expr(Expr::Lit(syn::ExprLit { lit, .. })) => lit,
        Value::Expr(e) => {
            error(
                errors,
                &e,
                "`sample_rate` takes a number literal from 0 to 1: `sample_rate = 0.01`",
            );
            return None;
        }
        _ => {
            error(
                errors,
                name,
                "`sample_rate` needs a value: `sample_rate = 0.01`",
            );
            return None;
        }
    };
    let parsed = match &lit {
        Lit::Float(f) => f.base10_parse::<f64>().ok(),
        Lit::Int(i) => i.base10_parse::<u8>().ok().map(f64::from),
        _ => None,
    };
    match parsed {
        Some(rate) if (0.0..=1.0).contains(&rate) => return Some(rate),
        Some(rate) => error(
            errors,
            &lit,
            format!(
                "`sample_rate` is the share of root calls recorded, from 0 to 1: {rate} is out of range"
            ),
        ),
        None => error(
            errors,
            &lit,
            "`sample_rate` takes a number from 0 to 1: `sample_rate = 0.01`",
        ),
    }
    None
}

/// `e` without the brackets around it that change nothing: parentheses, invisible groups,
/// and braces around a lone expression (`{ cx }`). The expansion writes `parent` as a call's
/// argument, where they would draw `unused_parens`/`unused_braces` at the user's expression.
pub(crate) fn ungrouped(mut e: &Expr) -> &Expr {
    loop {
        match e {
            Expr::Paren(p) if p.attrs.is_empty() => e = &p.expr,
            Expr::Group(g) => e = &g.expr,
            Expr::Block(b) if b.attrs.is_empty() && b.label.is_none() => {
                match b.block.stmts.as_slice() {
                    [syn::Stmt::Expr(inner, None)] => e = inner,
                    _ => return e,
                }
            }
            _ => return e,
        }
    }
}

/// The `None` without a type that `e` is, also behind references and in an `unsafe` block
/// (`&None`, `unsafe { None }`): a reference to one has no type to infer either.
fn untyped_none(mut e: &Expr) -> Option<&syn::Path> {
    loop {
        match ungrouped(e) {
            Expr::Reference(r) => e = &r.expr,
            Expr::Unsafe(u) => match u.block.stmts.as_slice() {
                [syn::Stmt::Expr(inner, None)] => e = inner,
                _ => return None,
            },
            Expr::Path(p) if is_untyped_none(&p.path) => return Some(&p.path),
            _ => return None,
        }
    }
}

/// Whether `path` is `None` without a type: `None`, `Option::None`, and `Option` named by
/// any of its paths (`std::option::Option::None`, `::core::option::Option::None`).
fn is_untyped_none(path: &syn::Path) -> bool {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let untyped = path.segments.iter().all(|s| s.arguments.is_none());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    untyped
        && matches!(
            names.as_slice(),
            ["None"]
                | ["Option", "None"]
                | ["option", "Option", "None"]
                | ["std" | "core", "option", "Option", "None"]
        )
}

fn parent(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<Expr> {
    if let Value::Expr(e) = value {
        // A `None` without a type (`None`, `Option::None`, `(None)`) has no type to infer
        // `Option<_>` from: said here, not as the trait solver's overflow or E0282.
        if let Some(none) = untyped_none(&e) {
            error(
                errors,
                none,
                "`parent = None` is the default (the current span): leave `parent` out",
            );
            return None;
        }
        return Some(e);
    }
    error(
        errors,
        name,
        "`parent` takes an expression giving the parent context: `parent = &remote_cx`",
    );
    None
}

fn krate(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<syn::Path> {
    const EXPECTED: &str = "`crate` takes a path: `crate = my_godtrace`";
    match value {
        Value::Expr(Expr::Path(p)) => return Some(p.path),
        // At the value written, as the other options' wrong values are.
        Value::Expr(e) => error(errors, &e, EXPECTED),
        Value::List(_, span) => errors.push(syn::Error::new(span, EXPECTED)),
        Value::None => error(errors, name, EXPECTED),
    }
    None
}

fn kind(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<Ident> {
    let valid: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let valid = valid.join(", ");
    match value {
        Value::Expr(Expr::Path(p)) if p.path.get_ident().is_some() => {
            let ident = p.path.get_ident().expect("checked").clone();
            if let Some((_, variant)) = KINDS.iter().find(|(k, _)| ident.unraw() == k) {
                return Some(Ident::new(variant, ident.span()));
            }
            let written = ident.unraw().to_string().to_lowercase();
            let hint = match KINDS.iter().find(|(k, _)| *k == written) {
                Some((near, _)) => format!("did you mean `{near}`?"),
                None => format!("valid kinds: {valid}"),
            };
            error(
                errors,
                &ident,
                format!("unknown span kind `{ident}`; {hint}"),
            );
        }
        Value::Expr(e) => error(
            errors,
            &e,
            format!("`kind` takes one of: {valid} (`kind = server`)"),
        ),
        _ => error(
            errors,
            name,
            format!("`kind` needs a value, one of: {valid} (`kind = server`)"),
        ),
    }
    None
}

/// `fields(a = expr, b.c = expr)`: each key once, each a dotted path of identifiers.
fn fields(name: &Ident, value: Value, errors: &mut Vec<syn::Error>) -> Option<(Vec<Field>, Span)> {
    const USAGE: &str =
        "`fields` takes `name = expr` pairs: `fields(user.id = user.id, retries = n)`";
    let Value::List(tokens, span) = value else {
        error(errors, name, USAGE);
        return None;
    };
    let mut out: Vec<Field> = Vec::new();
    // Entry by entry, so that each bad one is reported, at its place, with the others.
    for (entry, _) in items(tokens, FieldEntry::parse) {
        let FieldEntry { key, at, value } = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        field_value::check_stays_inside(&value, errors);
        if out.iter().any(|f| f.key == key) {
            error(
                errors,
                &at,
                format!("field `{key}` is given more than once"),
            );
        } else if key.len() > MAX_KEY_LEN {
            let len = key.len();
            error(
                errors,
                &at,
                format!("field name is {len} bytes long; at most {MAX_KEY_LEN}"),
            );
        } else {
            out.push(Field { key, at, value });
        }
    }
    Some((out, span))
}

/// The longest attribute key recorded (the runtime's `MAX_ATTRIBUTE_KEY_LEN`).
const MAX_KEY_LEN: usize = 256;

/// `a.b.c = expr` inside `fields(...)`.
struct FieldEntry {
    key: String,
    at: TokenStream,
    value: Expr,
}

impl Parse for FieldEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        const NAME: &str =
            "a field name is identifiers joined by dots, then `=`: `fields(user.id = user.id)`";
        let first = input
            .call(Ident::parse_any)
            .map_err(|e| syn::Error::new(e.span(), NAME))?;
        let mut key = first.unraw().to_string();
        let mut at = quote::quote!(#first);
        while input.peek(Token![.]) {
            let dot: Token![.] = input.parse()?;
            let part = input
                .call(Ident::parse_any)
                .map_err(|e| syn::Error::new(e.span(), NAME))?;
            at.extend(quote::quote!(#dot #part));
            key.push('.');
            key.push_str(&part.unraw().to_string());
        }
        if !input.peek(Token![=]) {
            return Err(if input.is_empty() || input.peek(Token![,]) {
                syn::Error::new_spanned(&at, format!("field `{key}` needs a value: `{key} = expr`"))
            } else {
                input.error(NAME)
            });
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            // At the `=`: at the end of the list, the input's own position is the whole
            // attribute.
            return Err(syn::Error::new_spanned(
                eq,
                format!("field `{key}` needs a value after `=`"),
            ));
        }
        if input.peek(Token![%]) || input.peek(Token![?]) {
            // `tracing`'s `%value` (Display) and `?value` (Debug).
            let sigil: proc_macro2::TokenTree = input.parse()?;
            let value = input.parse::<Expr>().map_or_else(
                |_| "value".to_owned(),
                |e| quote::ToTokens::to_token_stream(&e).to_string(),
            );
            return Err(syn::Error::new_spanned(
                sigil,
                format!(
                    "`%` and `?` are `tracing`'s: godtrace records a value by its type \
                     (strings as text, numbers as numbers, anything else as its `Debug` text): \
                     write `{key} = {value}`, or `{key} = {value}.to_string()` for its \
                     `Display` text"
                ),
            ));
        }
        let value: Expr = input.parse()?;
        Ok(FieldEntry { key, at, value })
    }
}

/// One comma-separated option.
struct Option_ {
    name: Ident,
    value: Value,
}

enum Value {
    None,
    Expr(Expr),
    List(TokenStream, Span),
}

impl Parse for Option_ {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "a name must be given as an option: `operation = {}`",
                    quote::quote!(#lit)
                ),
            ));
        }
        let name = input
            .call(syn::ext::IdentExt::parse_any)
            .map_err(|e| syn::Error::new(e.span(), format!("expected an option\n{}", valid())))?;
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            if input.is_empty() {
                return Err(syn::Error::new_spanned(
                    eq,
                    format!("`{name}` needs a value after `=`"),
                ));
            }
            Value::Expr(unwrapped_fragment(input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            Value::List(content.parse()?, paren.span.join())
        } else {
            Value::None
        };
        if !input.is_empty() {
            return Err(input.error("expected `,` between options"));
        }
        Ok(Option_ { name, value })
    }
}

/// `e` out of the invisible group a `macro_rules!` fragment (`$op:expr`, `$p:path`) puts
/// it in, when it is a literal or a path: the options that take one read it as written.
/// Other expressions keep their group, which holds their precedence where they are placed.
fn unwrapped_fragment(e: Expr) -> Expr {
    match e {
        Expr::Group(g) => match *g.expr {
            inner @ (Expr::Lit(_) | Expr::Path(_) | Expr::Group(_)) => unwrapped_fragment(inner),
            inner => Expr::Group(syn::ExprGroup {
                expr: Box::new(inner),
                ..g
            }),
        },
        e => e,
    }
}

/// The name an option segment starts with (`skip` in `skip(a)`).
pub(crate) fn option_name(segment: &TokenStream) -> Option<String> {
    match segment.clone().into_iter().next()? {
        TokenTree::Ident(i) => Some(i.unraw().to_string()),
        _ => None,
    }
}

/// Splits an option list at the commas between its options, as Rust's grammar reads them: a
/// comma inside an option's value (`parent = pick::<A, B>()`, `<T as Tr<A, B>>::cx()`) stays in
/// it. An option that does not parse ends at the next comma (its own parse then reports it),
/// so that one bad option does not hide the others.
pub(crate) fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let extent = |input: ParseStream| -> syn::Result<()> {
        input.call(Ident::parse_any)?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            input.parse::<Expr>()?;
        } else if input.peek(syn::token::Paren) {
            input.parse::<proc_macro2::Group>()?;
        }
        Ok(())
    };
    items(tokens, extent)
        .into_iter()
        .map(|(_, tokens)| tokens)
        .collect()
}

/// The comma-separated items of `tokens`, each as `item` parses it on the whole list (so an
/// error points where the list goes wrong, not at the end of a piece cut from it), with its
/// tokens: as far as `item` took them, then to the next comma (what `item` left, or all of a
/// bad item). Empty items are skipped.
pub(crate) fn items<T>(
    tokens: TokenStream,
    item: impl Fn(ParseStream) -> syn::Result<T>,
) -> Vec<(syn::Result<T>, TokenStream)> {
    let list = |input: ParseStream| -> syn::Result<Vec<(syn::Result<T>, TokenStream)>> {
        let mut out = Vec::new();
        while !input.is_empty() {
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                continue;
            }
            let begin = input.cursor();
            let parsed = item(input).and_then(|value| {
                if input.is_empty() || input.peek(Token![,]) {
                    Ok(value)
                } else {
                    Err(input.error("expected `,`"))
                }
            });
            input.step(|cursor| {
                let mut rest = *cursor;
                while let Some((tt, next)) = rest.token_tree() {
                    if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                        break;
                    }
                    rest = next;
                }
                Ok(((), rest))
            })?;
            let mut taken = TokenStream::new();
            let mut at = begin;
            while at != input.cursor() {
                let Some((tt, next)) = at.token_tree() else {
                    break;
                };
                taken.extend([tt]);
                at = next;
            }
            out.push((parsed, taken));
        }
        Ok(out)
    };
    // The list itself always parses: each item ends at a comma or the end.
    list.parse2(tokens).unwrap_or_default()
}

/// The valid option closest to a misspelt one, if it is close enough to be a typo; else the
/// one option it is a word of (`sample` for `sample_rate`: a shortened name is no typo, but
/// names the option as surely).
fn nearest(name: &str) -> Option<&'static str> {
    let typo = TABLE
        .iter()
        .map(|(o, _, _)| (edit_distance(name, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 4))
        .min()
        .map(|(_, o)| o);
    let mut words = TABLE
        .iter()
        .map(|(o, _, _)| *o)
        .filter(|o| o.contains('_') && o.split('_').any(|w| w == name));
    typo.or_else(|| match (words.next(), words.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

mod field_value;
#[cfg(test)]
mod tests;
