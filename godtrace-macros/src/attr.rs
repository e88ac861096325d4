//! Parsing `#[traced(...)]` options. Every problem becomes a `syn::Error` spanned at the
//! token at fault; all of them are reported together.
use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

/// The options, as written.
pub(crate) struct Options {
    pub operation: Option<LitStr>,
    pub include_args: bool,
    pub include_result: bool,
    /// Record the call in the operation's duration histogram (default on).
    pub include_duration: bool,
    /// Parameter names never recorded.
    pub skip: Vec<Ident>,
    /// Where the `skip(...)` list was, for errors about it as a whole.
    pub skip_span: Option<Span>,
    pub krate: Option<syn::Path>,
    /// `sample_rate = 0.01`: the share of this operation's root calls recorded.
    pub sample_rate: Option<f64>,
    /// `parent = expr`: the context to start under instead of the current one.
    pub parent: Option<Expr>,
    pub errors: Vec<syn::Error>,
}

const OPTIONS: &[&str] = &[
    "operation",
    "include_args",
    "include_result",
    "skip",
    "sample_rate",
    "parent",
    "crate",
];
const VALID: &str = "valid options: `operation = \"name\"`, `include_args`, `include_result`, `include_duration = false`, `skip(arg, ...)`, `sample_rate = 0.01`, `parent = context_expr`, `crate = path`";

impl Options {
    pub(crate) fn parse(tokens: TokenStream) -> Options {
        let mut options = Options {
            operation: None,
            include_args: false,
            include_result: false,
            include_duration: true,
            skip: Vec::new(),
            skip_span: None,
            krate: None,
            parent: None,
            sample_rate: None,
            errors: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for segment in split_commas(tokens) {
            match Option_::parse.parse2(segment) {
                Ok(option) => options.apply(option, &mut seen),
                Err(e) => options.errors.push(e),
            }
        }
        options
    }

    fn apply(&mut self, option: Option_, seen: &mut Vec<String>) {
        let name = option.name.to_string();
        if OPTIONS.contains(&name.as_str()) {
            if seen.contains(&name) {
                self.error(&option.name, format!("`{name}` is given more than once"));
                return;
            }
            seen.push(name.clone());
        }
        match (name.as_str(), option.value) {
            ("operation", Value::Expr(Expr::Lit(lit))) => match lit.lit {
                Lit::Str(s) if !s.value().trim().is_empty() => self.operation = Some(s),
                Lit::Str(s) => self.error(&s, "`operation` must not be empty or blank"),
                other => self.error(&other, "`operation` takes a string: `operation = \"name\"`"),
            },
            ("operation", Value::Expr(e)) => self.error(
                &e,
                "`operation` takes a string literal: `operation = \"name\"`",
            ),
            ("operation", _) => self.error(
                &option.name,
                "`operation` needs a value: `operation = \"name\"`",
            ),
            ("include_args" | "include_result" | "include_duration", value) => {
                if let Some(on) = self.flag(&option.name, value) {
                    match name.as_str() {
                        "include_args" => self.include_args = on,
                        "include_result" => self.include_result = on,
                        _ => self.include_duration = on,
                    }
                }
            }
            ("skip", Value::List(tokens, span)) => {
                let names = |input: ParseStream| {
                    Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
                };
                match names.parse2(tokens) {
                    Ok(names) => {
                        self.skip_span = Some(span);
                        for ident in names {
                            if ident == "self" {
                                self.error(
                                    &ident,
                                    "`self` is never recorded; remove it from `skip`",
                                );
                            } else if self.skip.contains(&ident) {
                                self.error(&ident, format!("`{ident}` is skipped more than once"));
                            } else {
                                self.skip.push(ident);
                            }
                        }
                    }
                    Err(e) => self.errors.push(syn::Error::new(
                        e.span(),
                        "`skip` takes parameter names: `skip(password, api_key)`",
                    )),
                }
            }
            ("skip", _) => self.error(
                &option.name,
                "`skip` takes a list: `skip(password, api_key)`",
            ),
            ("sample_rate", Value::Expr(Expr::Lit(syn::ExprLit { lit, .. }))) => {
                let parsed = match &lit {
                    Lit::Float(f) => f.base10_parse::<f64>().ok(),
                    Lit::Int(i) => i.base10_parse::<u8>().ok().map(f64::from),
                    _ => None,
                };
                match parsed {
                    Some(rate) if (0.0..=1.0).contains(&rate) => self.sample_rate = Some(rate),
                    Some(rate) => self.error(
                        &lit,
                        format!("`sample_rate` is the share of root calls recorded, from 0 to 1: {rate} is out of range"),
                    ),
                    None => self.error(&lit, "`sample_rate` takes a number from 0 to 1: `sample_rate = 0.01`"),
                }
            }
            ("sample_rate", Value::Expr(e)) => self.error(
                &e,
                "`sample_rate` takes a number literal from 0 to 1: `sample_rate = 0.01`",
            ),
            ("sample_rate", _) => self.error(
                &option.name,
                "`sample_rate` needs a value: `sample_rate = 0.01`",
            ),
            ("parent", Value::Expr(e)) => self.parent = Some(e),
            ("parent", _) => self.error(
                &option.name,
                "`parent` takes an expression giving the parent context: `parent = &remote_cx`",
            ),
            ("crate", Value::Expr(Expr::Path(p))) => self.krate = Some(p.path),
            ("crate", _) => self.error(&option.name, "`crate` takes a path: `crate = my_godtrace`"),
            (_, _) => {
                let mut msg = format!("unknown option `{name}`");
                if let Some(near) = nearest(&name) {
                    msg.push_str(&format!("; did you mean `{near}`?"));
                }
                msg.push_str(&format!("\n{VALID}"));
                self.error(&option.name, msg);
            }
        }
    }

    /// A flag is written bare (`include_args`) or as `include_args = true|false`.
    fn flag(&mut self, name: &Ident, value: Value) -> Option<bool> {
        match value {
            Value::None => Some(true),
            Value::Expr(Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            })) => Some(b.value),
            Value::Expr(e) => {
                self.error(
                    &e,
                    format!(
                        "`{name}` is a flag: write `{name}` or `{name} = true` / `{name} = false`"
                    ),
                );
                None
            }
            Value::List(_, span) => {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "`{name}` is a flag: write `{name}` or `{name} = true` / `{name} = false`"
                    ),
                ));
                None
            }
        }
    }

    fn error(&mut self, at: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(at, msg));
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
            .map_err(|e| syn::Error::new(e.span(), format!("expected an option\n{VALID}")))?;
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            if input.is_empty() {
                return Err(syn::Error::new_spanned(
                    eq,
                    format!("`{name}` needs a value after `=`"),
                ));
            }
            Value::Expr(input.parse()?)
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

/// Splits at top-level commas, so that one bad option does not hide the others.
fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let mut segments = vec![TokenStream::new()];
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => segments.push(TokenStream::new()),
            _ => segments.last_mut().expect("never empty").extend([tt]),
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

/// The valid option closest to a misspelt one, if it is close enough to be a typo.
fn nearest(name: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| (edit_distance(name, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 4))
        .min()
        .map(|(_, o)| o)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(nearest("inclde_args"), Some("include_args"));
        assert_eq!(nearest("operaton"), Some("operation"));
        assert_eq!(nearest("verbose"), None);
    }
}
