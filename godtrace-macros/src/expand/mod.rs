//! Code generation: one generator for sync fns, async fns and fns that return a future; the
//! differences are the few lines in [`Shape`].
mod async_fn;
mod closure_return;
mod generate;
mod impl_block;

use crate::attr::Options;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Block, FnArg, Ident, Item, Pat, ReturnType, Signature, TraitItemFn, Type, Visibility,
};

/// A function with a body, from any item position (free, impl, trait default).
struct Function {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    block: Block,
}

/// What the body produces, which decides how the span is kept open.
enum Shape {
    /// A plain value: the span covers the call.
    Sync,
    /// `async fn`: desugared to `fn -> impl Future`, so the span starts at the call and
    /// covers the whole future.
    Async,
    /// A non-async fn returning `impl Future` or `Pin<Box<dyn Future>>` (also what
    /// `#[async_trait]` produces): the span covers the returned future.
    ReturnsFuture { boxed: bool },
}

pub(crate) fn expand(options: Options, args: TokenStream, item: TokenStream) -> TokenStream {
    if let Ok(Item::Impl(block)) = syn::parse2::<Item>(item.clone()) {
        return impl_block::expand(options, args, block);
    }
    let mut errors = options.errors.clone();
    let function = match parse_function(item.clone()) {
        Ok(f) => Some(f),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(f) = &function {
        check_skips(&options, f, &mut errors);
        check_own_keys(&options, f, &mut errors);
    }
    match (function, errors.is_empty()) {
        (Some(f), true) => {
            let shape = shape(&f.sig);
            generate::generate(&options, f, shape)
        }
        _ => {
            // The item goes out unchanged beside the errors, so that editors keep completion
            // inside a half-written traced function and no unrelated errors follow.
            let mut out: TokenStream = errors.iter().map(syn::Error::to_compile_error).collect();
            out.extend(item);
            out
        }
    }
}

fn parse_function(item: TokenStream) -> syn::Result<Function> {
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(mut f)) => {
            ungroup_types(&mut f.sig);
            expectations_as_allows(&mut f.attrs);
            for input in &mut f.sig.inputs {
                if let FnArg::Typed(typed) = input {
                    expectations_as_allows(&mut typed.attrs);
                }
            }
            if let Some(c) = f.sig.constness {
                return Err(syn::Error::new_spanned(
                    c,
                    "a `const fn` cannot be traced: spans are recorded at run time, not at compile time",
                ));
            }
            if let Some(attr) = f.attrs.iter().find(|a| a.path().is_ident("track_caller")) {
                return Err(track_caller_error(attr));
            }
            if let Some(attr) = f.attrs.iter().find(|a| is_naked(a)) {
                return Err(syn::Error::new_spanned(
                    attr,
                    "a naked function cannot be traced: its body must be a single `naked_asm!`, with no code around it to record a span",
                ));
            }
            if let Some(attr) = f.attrs.iter().find(|a| last_ident_is(a.path(), "traced")) {
                return Err(syn::Error::new_spanned(
                    attr,
                    "`#[traced]` given twice: one records the call already; remove this one",
                ));
            }
            let async_fn = f.sig.asyncness.is_some();
            if (async_fn || matches!(shape(&f.sig), Shape::ReturnsFuture { .. }))
                && let Some((attr, path)) =
                    (f.attrs.iter()).find_map(|a| Some((a, must_see(a, async_fn)?)))
            {
                return Err(below_traced_error(attr, &path, async_fn));
            }
            if let Some(bound) = bound_the_traced_future_lacks(&f.sig) {
                return Err(syn::Error::new_spanned(
                    bound,
                    "`#[traced]` returns its own future wrapping this one, which has only the auto traits (`Send`, `Sync`, `Unpin`, unwind safety) of the one it wraps: remove this bound, or trace a function the future calls",
                ));
            }
            if let (Some(_), ReturnType::Type(_, never)) = (f.sig.asyncness, &f.sig.output)
                && generate::is_never(&f.sig.output)
            {
                return Err(syn::Error::new_spanned(
                    never,
                    "an `async fn` that never returns (`-> !`) cannot be traced: its future's output would be `!`, which stable Rust cannot name; trace what it calls, or return `std::convert::Infallible`",
                ));
            }
            if is_traced_already(&f.block) {
                return Err(syn::Error::new(
                    proc_macro2::Span::call_site(),
                    "this function is traced already, by an attribute before this one (`#[traced]` under another name, `use godtrace::traced as ..`) or by its impl block's `#[traced]`: remove this one (in an impl block, name it `traced` for its options to join the block's)",
                ));
            }
            Ok(Function {
                attrs: f.attrs,
                vis: f.vis,
                sig: f.sig,
                block: *f.block,
            })
        }
        // A trait method declaration or an `extern` block item: `fn f();`, no body.
        Ok(Item::Verbatim(tokens)) => match syn::parse2::<TraitItemFn>(tokens.clone()) {
            Ok(f) if f.default.is_none() => Err(syn::Error::new_spanned(
                f.sig.fn_token,
                "`#[traced]` needs a function body to trace: a trait method declaration or an `extern` block item has none; put `#[traced]` on the implementations (or give the trait method a default body)",
            )),
            _ => Err(syn::Error::new_spanned(
                tokens,
                "`#[traced]` goes on functions with a body; it cannot trace this item",
            )),
        },
        Ok(other) => Err(not_a_function(&other)),
        Err(e) => Err(e),
    }
}

/// Takes the return type and the parameters' types out of the invisible groups a
/// `macro_rules!` `$t:ty` fragment puts them in, at any depth, so that they are read as written
/// (`impl Future<..>`, `!`, `&str`, `Pin<Box<dyn Future<..>>>`). Behind `&`, a raw pointer or
/// a nested fn's `->`, a group around a type of several bounds (`&$t` with `$t` =
/// `dyn Debug + Send`) becomes parentheses: what the group meant there, which the compiler
/// does not always read in a macro's output.
pub(super) fn ungroup_types(sig: &mut Signature) {
    struct Ungroup;
    fn ungrouped(ty: &mut Type) {
        while let Type::Group(group) = ty {
            *ty = std::mem::replace(&mut *group.elem, Type::Verbatim(TokenStream::new()));
        }
    }
    fn parenthesized(elem: &mut Type) {
        if !matches!(elem, Type::Group(_)) {
            return;
        }
        ungrouped(elem);
        let several = match &*elem {
            Type::TraitObject(t) => t.bounds.len() > 1,
            Type::ImplTrait(i) => i.bounds.len() > 1,
            _ => false,
        };
        if several {
            let inner = std::mem::replace(elem, Type::Verbatim(TokenStream::new()));
            *elem = Type::Paren(syn::TypeParen {
                attrs: Vec::new(),
                paren_token: syn::token::Paren::default(),
                elem: Box::new(inner),
            });
        }
    }
    impl syn::visit_mut::VisitMut for Ungroup {
        /// Inside a type: the return of a fn pointer or of `Fn(..) -> ..` (the signature's
        /// own return is a type visited alone).
        fn visit_return_type_mut(&mut self, output: &mut ReturnType) {
            if let ReturnType::Type(_, ty) = output {
                parenthesized(ty);
            }
            syn::visit_mut::visit_return_type_mut(self, output);
        }

        fn visit_type_mut(&mut self, ty: &mut Type) {
            ungrouped(ty);
            match ty {
                Type::Reference(r) => parenthesized(&mut r.elem),
                Type::Ptr(p) => parenthesized(&mut p.elem),
                _ => {}
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    if let ReturnType::Type(_, ty) = &mut sig.output {
        syn::visit_mut::VisitMut::visit_type_mut(&mut Ungroup, ty);
    }
    for input in &mut sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            syn::visit_mut::VisitMut::visit_type_mut(&mut Ungroup, &mut typed.ty);
        }
    }
}

/// Each `#[expect(..)]` on the function (or in a `#[cfg_attr(..)]`) as `#[allow(..)]`. The
/// expansion changes the code lints see (an `async fn` is a function returning a future,
/// the parameters are read by the span): a lint that fired on the function as written
/// (`clippy::unused_async`, `unused_variables`) may not fire on it traced, and its
/// expectation would then be unfulfilled, a warning the attribute caused. The lints are
/// still allowed; only the check that they fire is lost.
pub(super) fn expectations_as_allows(attrs: &mut [Attribute]) {
    fn as_allow(meta: &mut syn::Meta) {
        if let Some((_, predicate, mut applied)) = cfg_attr_parts(meta) {
            applied.iter_mut().for_each(as_allow);
            if let syn::Meta::List(list) = meta {
                list.tokens = quote::quote!(#predicate, #applied);
            }
        } else if let syn::Meta::List(list) = meta
            && list.path.is_ident("expect")
        {
            let at = list.path.segments[0].ident.span();
            list.path = Ident::new("allow", at).into();
        }
    }
    for attr in attrs {
        as_allow(&mut attr.meta);
    }
}

/// Whether `block` is one `#[traced]` wrote: its first statement binds the call site. Another
/// `#[traced]` on the function ran first under a name the "given twice" check does not know
/// (it reads attribute names only), or an impl block's `#[traced]` did.
fn is_traced_already(block: &syn::Block) -> bool {
    matches!(block.stmts.first(), Some(syn::Stmt::Local(local))
        if matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "__godtrace_site"))
}

/// The attributes that must see an `async fn` before `#[traced]` turns it into a fn returning
/// its future: a runtime's entry ([`is_runtime_entry`]) and `tracing`'s `#[instrument]`.
pub(super) fn must_see_the_async_fn(attr: &Attribute) -> bool {
    must_see(attr, true).is_some()
}

/// The attribute's path (or that of an attribute its `cfg_attr` applies) that must see the
/// fn before `#[traced]` rewrites it: on an `async fn`, a runtime's entry or
/// `#[instrument]`; on a fn returning a future (`async_fn` false: also what `#[async_trait]`
/// makes of an `async fn`), `#[instrument]`, which instruments the `async move` block (or
/// `Box::pin(async move ..)`) it finds there.
fn must_see(attr: &Attribute, async_fn: bool) -> Option<syn::Path> {
    (applied_paths(&attr.meta).into_iter())
        .find(|path| last_ident_is(path, "instrument") || (async_fn && is_runtime_entry(path)))
}

/// The attributes that turn an `async fn` into a sync one running it on a runtime: `main`
/// and `test` with any path (`tokio::main`, `tokio::test`, `actix_web::main`,
/// `async_std::main`).
fn is_runtime_entry(path: &syn::Path) -> bool {
    last_ident_is(path, "main") || last_ident_is(path, "test")
}

/// An attribute `path` (from [`must_see`]), written as `attr` below `#[traced]`, that would
/// see only the rewritten fn: a runtime's `#[main]`/`#[test]` would say "the `async` keyword
/// is missing"; `#[instrument]` would end its span when the future is made, before the body
/// runs.
fn below_traced_error(attr: &Attribute, path: &syn::Path, async_fn: bool) -> syn::Error {
    let name = path.to_token_stream().to_string().replace(' ', "");
    let why = if is_runtime_entry(path) {
        "the runtime's attribute must see the `async fn` first (then the span covers the body it runs)".to_owned()
    } else if async_fn {
        format!(
            "on an `async fn`, `#[{name}]` must see the `async fn` first, or its span ends when the future is made, before the body runs"
        )
    } else {
        format!(
            "on a fn returning a future (as `#[async_trait]` makes of an `async fn`), `#[{name}]` must see the `async move` block it returns, or its span ends when the future is made, before the body runs"
        )
    };
    syn::Error::new_spanned(attr, format!("put `#[traced]` below `#[{name}]`: {why}"))
}

/// `#[unsafe(naked)]` (or the older `#[naked]`).
fn is_naked(attr: &Attribute) -> bool {
    let path = attr.path();
    path.is_ident("naked")
        || (path.is_ident("unsafe")
            && attr
                .parse_args::<syn::Path>()
                .is_ok_and(|inner| inner.is_ident("naked")))
}

/// `#[track_caller]` beside `#[traced]`: the body runs in a closure, which stable Rust cannot
/// mark `#[track_caller]`, so the function's panics and `Location::caller()` would name the
/// function instead of its caller: a change of behaviour, refused where it is written.
fn track_caller_error(attr: &Attribute) -> syn::Error {
    syn::Error::new_spanned(
        attr,
        "`#[traced]` cannot keep `#[track_caller]`: the traced body runs in a closure, which stable Rust cannot mark `#[track_caller]`, so its panics and `Location::caller()` would name this function instead of its caller; remove one of the two (in a traced impl block, mark the method `#[untraced]`)",
    )
}

fn not_a_function(item: &Item) -> syn::Error {
    let (what, at): (&str, TokenStream) = match item {
        Item::Struct(i) => ("a struct", i.struct_token.to_token_stream()),
        Item::Enum(i) => ("an enum", i.enum_token.to_token_stream()),
        Item::Union(i) => ("a union", i.union_token.to_token_stream()),
        Item::Const(i) => ("a const", i.const_token.to_token_stream()),
        Item::Static(i) => ("a static", i.static_token.to_token_stream()),
        Item::Mod(i) => ("a module", i.mod_token.to_token_stream()),
        Item::Trait(i) => ("a trait", i.trait_token.to_token_stream()),
        Item::Type(i) => ("a type alias", i.type_token.to_token_stream()),
        Item::Use(i) => ("a use declaration", i.use_token.to_token_stream()),
        Item::ForeignMod(i) => (
            "an extern block (its functions have no body to trace)",
            i.abi.to_token_stream(),
        ),
        other => ("this item", other.to_token_stream()),
    };
    syn::Error::new_spanned(
        at,
        format!("`#[traced]` goes on functions with a body; it cannot trace {what}"),
    )
}

/// A `skip` with nothing to skip from.
const SKIP_WITHOUT_INCLUDE_ARGS: &str = "`skip(...)` does nothing without `include_args` (no argument is recorded by default): add `include_args` or remove `skip`";

/// Every name in `skip(...)` must be a parameter, and `skip` only means something with
/// `include_args`.
fn check_skips(options: &Options, f: &Function, errors: &mut Vec<syn::Error>) {
    let params: Vec<Ident> = bound_params(&f.sig).into_iter().map(|(i, _)| i).collect();
    let skippable = skippable_params(&f.sig, &f.block);
    for name in options.skip.get() {
        if !skippable.iter().any(|p| crate::attr::same_name(p, name)) {
            let listed = skippable
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>();
            let hint = if listed.is_empty() {
                "the function has no parameters to skip".to_owned()
            } else {
                format!("parameters: {}", listed.join(", "))
            };
            errors.push(syn::Error::new_spanned(
                name,
                format!("no parameter named `{name}`; {hint}"),
            ));
        }
    }
    if *options.include_args.get() {
        for arg in &f.sig.inputs {
            if let FnArg::Typed(pt) = arg {
                syn::visit::Visit::visit_pat(&mut SkipsInsideBindings { options, errors }, &pt.pat);
            }
        }
        // Compared as recorded: `r#type` is recorded as `type`.
        for field in options.fields.get() {
            let is_key = |name: &Ident| syn::ext::IdentExt::unraw(name) == field.key;
            if params.iter().any(is_key) && !options.skip.get().iter().any(is_key) {
                errors.push(syn::Error::new_spanned(
                    &field.at,
                    format!("`{}` is already recorded by `include_args`: rename the field or `skip` the parameter", field.key),
                ));
            }
        }
    }
    if let (Some(span), false) = (
        options.skip.span(),
        *options.include_args.get() || options.include_args.written_wrong(),
    ) {
        errors.push(syn::Error::new(span, SKIP_WITHOUT_INCLUDE_ARGS));
    }
}

/// Reports a skipped name bound inside a recorded `outer @ pattern` binding: `outer`'s value
/// holds it, and is recorded whole, so the skip would hide nothing.
struct SkipsInsideBindings<'a> {
    options: &'a Options,
    errors: &'a mut Vec<syn::Error>,
}

impl<'ast> syn::visit::Visit<'ast> for SkipsInsideBindings<'_> {
    fn visit_pat_ident(&mut self, binding: &'ast syn::PatIdent) {
        if let Some((_, inner)) = &binding.subpat
            && !self.options.skips(&binding.ident)
        {
            let mut bound = Vec::new();
            pattern_idents(inner, &mut bound);
            let outer = &binding.ident;
            for name in self.options.skip.get() {
                if bound.iter().any(|i| crate::attr::same_name(i, name)) {
                    self.errors.push(syn::Error::new_spanned(
                        name,
                        format!("`{name}` is bound inside `{outer}` (`{outer} @ ..`), which is recorded whole: skip `{outer}` too"),
                    ));
                }
            }
        }
        syn::visit::visit_pat_ident(self, binding);
    }
}

/// Why a key is godtrace's own on a traced span (`None`: it is free): a `fields` entry under
/// it would give the span a second value for it (OpenTelemetry wants keys unique) or pass for
/// what godtrace records.
fn own_key(key: &str, include_result: bool) -> Option<&'static str> {
    match key {
        "code.function.name" | "code.file.path" | "code.line.number" => {
            Some("godtrace records the traced function's location under it")
        }
        "error.type" => Some("godtrace sets it when the call fails"),
        "result" if include_result => Some("`include_result` records the return value under it"),
        _ if key.starts_with("godtrace.") => Some("keys under `godtrace.` are godtrace's own"),
        _ => None,
    }
}

/// No `fields` entry under a key godtrace sets itself, and, with `include_result`, no
/// parameter recorded as `result` (its value would be lost under the return value's).
fn check_own_keys(options: &Options, f: &Function, errors: &mut Vec<syn::Error>) {
    let include_result = *options.include_result.get();
    for field in options.fields.get() {
        if let Some(why) = own_key(&field.key, include_result) {
            errors.push(syn::Error::new_spanned(
                &field.at,
                format!(
                    "`{}` is not a free key: {why}; name the field otherwise",
                    field.key
                ),
            ));
        }
    }
    if !(include_result && *options.include_args.get()) {
        return;
    }
    for (param, _) in bound_params(&f.sig) {
        if syn::ext::IdentExt::unraw(&param) == "result" && !options.skips(&param) {
            // The hint names the parameter as written (`r#result` too), so it can be pasted.
            errors.push(syn::Error::new_spanned(
                &param,
                format!(
                    "this parameter would be recorded as `result`, which `include_result` records the return value under: `skip({param})` or rename the parameter"
                ),
            ));
        }
    }
}

/// The lints to allow on a generated statement that names a parameter's binding: the user
/// named it `_x` to say the body does not use it, and the expansion's own reads and moves of
/// it (recording, moving it into a future) are not the user's code. Only such statements carry
/// it, so the user's body keeps every lint.
fn allow_parameter_reads() -> TokenStream {
    quote::quote!(#[allow(clippy::used_underscore_binding, clippy::no_effect_underscore_binding)])
}

/// Statements that read each of `idents` by reference and do nothing with it: a binding the
/// body may leave unused, but the expansion reads elsewhere (recording, the body's closure
/// taking it), is then used, with no `#[allow(unused_variables)]`, which a
/// `#![forbid(unused_variables)]` in the user's crate would refuse. By reference: a closure
/// then captures the binding (`let _ = x;` alone captures nothing). `cfgs`: the parameter's.
fn mention<'a>(idents: impl IntoIterator<Item = &'a Ident>, cfgs: &[Attribute]) -> TokenStream {
    mention_as(idents, cfgs, quote::quote!(&))
}

/// [`mention`] inside an async fn's future, of the bindings it makes there: by name alone,
/// neither moved nor borrowed. A borrow would keep a `ref x` binding (a reference into an
/// argument) in the future across every `.await` in its scope (the compiler keeps a local
/// once borrowed), and a `&Cell` there makes the future not `Send`.
fn mention_in_future<'a>(
    idents: impl IntoIterator<Item = &'a Ident>,
    cfgs: &[Attribute],
) -> TokenStream {
    mention_as(idents, cfgs, TokenStream::new())
}

/// `let _ = #by x;` for each `x` of `idents`, under `cfgs` (see [`mention`]).
fn mention_as<'a>(
    idents: impl IntoIterator<Item = &'a Ident>,
    cfgs: &[Attribute],
    by: TokenStream,
) -> TokenStream {
    let reads = allow_parameter_reads();
    idents
        .into_iter()
        .map(|ident| quote::quote!(#(#cfgs)* #reads let _ = #by #ident;))
        .collect()
}

/// The conditions among `attrs` that can remove a parameter: each `#[cfg(..)]`, and each
/// `#[cfg_attr(pred, ..)]` holding one (kept with its `cfg`s alone: the other attributes it
/// applies may not belong on a statement). A parameter's are still on it when the attribute
/// runs (the compiler strips the parameter afterwards): whatever the expansion writes about the
/// parameter carries them too, so that it goes with the parameter.
fn cfg_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter_map(|a| {
            let meta = only_cfgs(&a.meta)?;
            Some(Attribute { meta, ..a.clone() })
        })
        .collect()
}

/// `meta` if it is `cfg(..)`; a `cfg_attr(pred, ..)` with only what can remove an item among
/// the attributes it applies (`cfg`, or a `cfg_attr` holding one), if any; else `None`.
fn only_cfgs(meta: &syn::Meta) -> Option<syn::Meta> {
    if meta.path().is_ident("cfg") {
        return Some(meta.clone());
    }
    let (list, predicate, attrs) = cfg_attr_parts(meta)?;
    let kept: Vec<syn::Meta> = attrs.iter().filter_map(only_cfgs).collect();
    if kept.is_empty() {
        return None;
    }
    let path = &list.path;
    Some(syn::parse_quote!(#path(#predicate, #(#kept),*)))
}

/// A `cfg_attr(pred, a, b)`: the list, its predicate as written (`unix`, `not(..)`,
/// `feature = ".."`, or `true`, which is no `Meta`), and the attributes it applies. `None`
/// for any other attribute, and for a malformed one (the compiler reports it).
pub(super) fn cfg_attr_parts(
    meta: &syn::Meta,
) -> Option<(
    &syn::MetaList,
    TokenStream,
    Punctuated<syn::Meta, syn::Token![,]>,
)> {
    let syn::Meta::List(list) = meta else {
        return None;
    };
    if !list.path.is_ident("cfg_attr") {
        return None;
    }
    let parse = |input: syn::parse::ParseStream<'_>| {
        let mut predicate = TokenStream::new();
        while !input.is_empty() && !input.peek(syn::Token![,]) {
            predicate.extend([input.parse::<proc_macro2::TokenTree>()?]);
        }
        input.parse::<syn::Token![,]>()?;
        let attrs = Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated(input)?;
        Ok((predicate, attrs))
    };
    let (predicate, attrs) = list.parse_args_with(parse).ok()?;
    Some((list, predicate, attrs))
}

/// The paths of the attributes `meta` applies: its own, or those a `cfg_attr` applies when
/// its condition holds (the compiler has not applied them yet inside an impl block).
fn applied_paths(meta: &syn::Meta) -> Vec<syn::Path> {
    match cfg_attr_parts(meta) {
        Some((_, _, attrs)) => attrs.iter().flat_map(applied_paths).collect(),
        None => vec![meta.path().clone()],
    }
}

/// The conditions (see [`cfg_attrs`]) of each binding [`bound_params`] gives, in its order:
/// by position, not by name, as two parameters may bind one name under exclusive conditions
/// (`#[cfg(unix)] path: &Path, #[cfg(windows)] path: &str`).
fn bound_param_cfgs(sig: &Signature) -> Vec<Vec<Attribute>> {
    let mut out = Vec::new();
    for arg in &sig.inputs {
        if let FnArg::Typed(pt) = arg {
            let mut idents = Vec::new();
            pattern_idents(&pt.pat, &mut idents);
            let cfgs = cfg_attrs(&pt.attrs);
            out.extend(idents.iter().map(|_| cfgs.clone()));
        }
    }
    out
}

/// The names a `skip` may give for the function of `sig` and `block`: its parameters'
/// bindings, and for a parameter `#[async_trait]` named by its position, the bindings of the
/// pattern it moved into the body (see [`is_async_trait_positional`]).
pub(super) fn skippable_params(sig: &Signature, block: &Block) -> Vec<Ident> {
    let (positional, mut names): (Vec<Ident>, Vec<Ident>) = bound_params(sig)
        .into_iter()
        .map(|(p, _)| p)
        .partition(|p| is_async_trait_positional(sig, p));
    if !positional.is_empty() {
        names.extend(async_trait_pattern_names(block));
    }
    names
}

/// The names the patterns of `#[async_trait]`'s positional parameters bind in `block`: it
/// writes `let (a, b) = { let __arg1 = __arg1; __arg1 };` in the future it makes.
fn async_trait_pattern_names(block: &Block) -> Vec<Ident> {
    struct Find(Vec<Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let Some(init) = &local.init
                && let syn::Expr::Block(moved) = &*init.expr
                && let Some(syn::Stmt::Local(first)) = moved.block.stmts.first()
                && matches!(&first.pat, Pat::Ident(p) if is_positional_name(&p.ident))
            {
                pattern_idents(&local.pat, &mut self.0);
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut find = Find(Vec::new());
    syn::visit::Visit::visit_block(&mut find, block);
    find.0
}

/// Whether `ident` is a parameter `#[async_trait]` named by its position (`__arg1`) in `sig`,
/// a signature async_trait wrote (it has async_trait's lifetime `'async_trait`): one written
/// as a pattern (`_`, `(a, b)`), which async_trait binds inside the future it makes. Never
/// recorded: a `_` is not, and the pattern's names are out of the attribute's sight.
fn is_async_trait_positional(sig: &Signature, ident: &Ident) -> bool {
    is_positional_name(ident)
        && sig
            .generics
            .lifetimes()
            .any(|l| l.lifetime.ident == "async_trait")
}

/// `__arg` and digits: the name `#[async_trait]` gives a parameter by its position.
fn is_positional_name(ident: &Ident) -> bool {
    ident
        .to_string()
        .strip_prefix("__arg")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Each identifier a parameter pattern binds, with the parameter's type when the pattern is
/// that identifier alone (`None` inside a destructuring pattern). `self` is left out: it is
/// never recorded.
fn bound_params(sig: &Signature) -> Vec<(Ident, Option<Type>)> {
    let mut out = Vec::new();
    for arg in &sig.inputs {
        if let FnArg::Typed(pt) = arg {
            let whole = matches!(&*pt.pat, Pat::Ident(p) if p.subpat.is_none());
            let mut idents = Vec::new();
            pattern_idents(&pt.pat, &mut idents);
            out.extend(
                idents
                    .into_iter()
                    .map(|i| (i, whole.then(|| (*pt.ty).clone()))),
            );
        }
    }
    out
}

fn pattern_idents(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            if p.ident != "self" {
                out.push(p.ident.clone());
            }
            if let Some((_, sub)) = &p.subpat {
                pattern_idents(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pattern_idents(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pattern_idents(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pattern_idents(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pattern_idents(p, out)),
        Pat::Reference(r) => pattern_idents(&r.pat, out),
        Pat::Paren(p) => pattern_idents(&p.pat, out),
        Pat::Type(t) => pattern_idents(&t.pat, out),
        _ => {}
    }
}

fn shape(sig: &Signature) -> Shape {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    match &sig.output {
        ReturnType::Type(_, ty) if is_impl_future(ty) => Shape::ReturnsFuture { boxed: false },
        ReturnType::Type(_, ty) if is_pin_box_dyn_future(ty) || is_box_future_alias(ty) => {
            Shape::ReturnsFuture { boxed: true }
        }
        _ => Shape::Sync,
    }
}

/// A bound of a returned `impl Future + ..` that the traced future does not carry: the
/// standard library's traits a future may implement beside the auto traits (`Clone`,
/// `Debug`), whose error from the compiler would name godtrace's wrapper, not the bound. Other
/// bounds pass (a `Captures<'a>` trait every type implements, `Sized`, `Any`).
fn bound_the_traced_future_lacks(sig: &Signature) -> Option<&syn::TraitBound> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let Type::ImplTrait(i) = unparenthesized(ty) else {
        return None;
    };
    if sig.asyncness.is_some() || !bounds_have_future(i.bounds.iter()) {
        return None;
    }
    const NOT_CARRIED: [&str; 10] = [
        "Clone",
        "Copy",
        "Debug",
        "Display",
        "Default",
        "PartialEq",
        "Eq",
        "PartialOrd",
        "Ord",
        "Hash",
    ];
    i.bounds.iter().find_map(|bound| match bound {
        syn::TypeParamBound::Trait(t)
            if NOT_CARRIED.iter().any(|name| last_ident_is(&t.path, name)) =>
        {
            Some(t)
        }
        _ => None,
    })
}

fn last_ident_is(path: &syn::Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

fn bounds_have_future<'a>(mut bounds: impl Iterator<Item = &'a syn::TypeParamBound>) -> bool {
    bounds.any(|b| matches!(b, syn::TypeParamBound::Trait(t) if last_ident_is(&t.path, "Future")))
}

fn is_impl_future(ty: &Type) -> bool {
    matches!(unparenthesized(ty), Type::ImplTrait(i) if bounds_have_future(i.bounds.iter()))
}

/// `ty` without the parentheses around it, which change nothing there (`-> (impl Future<..>)`,
/// `Box<(dyn Future<..> + Send)>`).
fn unparenthesized(mut ty: &Type) -> &Type {
    while let Type::Paren(p) = ty {
        ty = &p.elem;
    }
    ty
}

/// The `X` of a return type `impl Future<Output = X> + ..`, if it names one.
pub(super) fn impl_future_output(ty: &Type) -> Option<Type> {
    let Type::ImplTrait(i) = unparenthesized(ty) else {
        return None;
    };
    i.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let future = t.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(args) = &future.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(a) if a.ident == "Output" => Some(a.ty.clone()),
            _ => None,
        })
    })
}

/// `BoxFuture<'a, T>` or `LocalBoxFuture<'a, T>` (the `futures` crate's names for
/// `Pin<Box<dyn Future<Output = T> (+ Send) + 'a>>`), with any path prefix.
fn is_box_future_alias(ty: &Type) -> bool {
    matches!(unparenthesized(ty), Type::Path(p) if p.qself.is_none()
        && (last_ident_is(&p.path, "BoxFuture") || last_ident_is(&p.path, "LocalBoxFuture")))
}

/// `Pin<Box<dyn Future<Output = T> + ...>>`, spelled with any path prefix.
fn is_pin_box_dyn_future(ty: &Type) -> bool {
    fn only_type_arg(ty: &Type, name: &str) -> Option<Type> {
        let Type::Path(p) = unparenthesized(ty) else {
            return None;
        };
        let seg = p.path.segments.last()?;
        if seg.ident != name {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    }
    only_type_arg(ty, "Pin")
        .and_then(|b| only_type_arg(&b, "Box"))
        .is_some_and(|d| {
            matches!(unparenthesized(&d), Type::TraitObject(o) if bounds_have_future(o.bounds.iter()))
        })
}

/// Whether a type can be written in a `let` (no `impl Trait` inside).
fn is_nameable(ty: &Type) -> bool {
    struct FindImpl(bool);
    impl<'a> syn::visit::Visit<'a> for FindImpl {
        fn visit_type_impl_trait(&mut self, _: &'a syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = FindImpl(false);
    syn::visit::visit_type(&mut finder, ty);
    !finder.0
}
