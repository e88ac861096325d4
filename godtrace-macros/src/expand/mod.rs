//! Code generation: one generator for sync fns, async fns and fns that return a future; the
//! differences are the few lines in [`Shape`].
mod async_fn;

use crate::attr::Options;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
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

pub(crate) fn expand(options: Options, item: TokenStream) -> TokenStream {
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
    }
    match (function, errors.is_empty()) {
        (Some(f), true) => generate(&options, f),
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
        Ok(Item::Fn(f)) => {
            if let Some(c) = f.sig.constness {
                return Err(syn::Error::new_spanned(
                    c,
                    "a `const fn` cannot be traced: spans are recorded at run time, not at compile time",
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
        Item::Impl(i) => {
            return syn::Error::new_spanned(
                i.impl_token,
                "`#[traced]` goes on functions, not on an impl block: put it on each method to trace (with `#[async_trait]`, keep `#[async_trait]` on the impl block and `#[traced]` on the methods)",
            );
        }
        other => ("this item", other.to_token_stream()),
    };
    syn::Error::new_spanned(
        at,
        format!("`#[traced]` goes on functions with a body; it cannot trace {what}"),
    )
}

/// Every name in `skip(...)` must be a parameter, and `skip` only means something with
/// `include_args`.
fn check_skips(options: &Options, f: &Function, errors: &mut Vec<syn::Error>) {
    let params: Vec<Ident> = bound_params(&f.sig).into_iter().map(|(i, _)| i).collect();
    for name in options.skip.get() {
        if !params.contains(name) {
            let listed = params.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>();
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
    if let (Some(span), false) = (options.skip.span(), *options.include_args.get()) {
        errors.push(syn::Error::new(
            span,
            "`skip(...)` does nothing without `include_args` (no argument is recorded by default): add `include_args` or remove `skip`",
        ));
    }
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
        ReturnType::Type(_, ty) if is_pin_box_dyn_future(ty) => {
            Shape::ReturnsFuture { boxed: true }
        }
        _ => Shape::Sync,
    }
}

fn last_ident_is(path: &syn::Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

fn bounds_have_future<'a>(mut bounds: impl Iterator<Item = &'a syn::TypeParamBound>) -> bool {
    bounds.any(|b| matches!(b, syn::TypeParamBound::Trait(t) if last_ident_is(&t.path, "Future")))
}

fn is_impl_future(ty: &Type) -> bool {
    matches!(ty, Type::ImplTrait(i) if bounds_have_future(i.bounds.iter()))
}

/// `Pin<Box<dyn Future<Output = T> + ...>>`, spelled with any path prefix.
fn is_pin_box_dyn_future(ty: &Type) -> bool {
    fn only_type_arg(ty: &Type, name: &str) -> Option<Type> {
        let Type::Path(p) = ty else { return None };
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
        .is_some_and(|d| matches!(d, Type::TraitObject(o) if bounds_have_future(o.bounds.iter())))
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

fn generate(options: &Options, mut f: Function) -> TokenStream {
    let krate = options
        .krate
        .get()
        .as_ref()
        .map_or_else(|| quote!(::godtrace), ToTokens::to_token_stream);
    let pv = quote!(#krate::__private);
    let shape = shape(&f.sig);
    let site_span = f.sig.ident.span();
    let span_var = Ident::new("__godtrace_span", Span::mixed_site());

    // The call site, once per function: name, code location, and the path read at run time.
    let operation = match options.operation.get() {
        Some(op) => quote!(::core::option::Option::Some(#op)),
        None => quote!(::core::option::Option::None),
    };
    let include_duration = *options.include_duration.get();
    let sample_rate = match options.sample_rate.get() {
        Some(rate) => quote!(::core::option::Option::Some(#rate)),
        None => quote!(::core::option::Option::None),
    };
    let carries_parent = !matches!(shape, Shape::Sync);
    let file = quote_spanned!(site_span=> ::core::file!());
    // `line!()` would give the attribute's line (it reports the outermost expansion); the
    // function's own name is where a reader looks.
    let line = site_span.start().line as u32;
    let site = quote! {
        fn __godtrace_path() -> &'static str {
            ::core::any::type_name_of_val(&__godtrace_path)
        }
        static __GODTRACE_SITE: #pv::CallSite =
            #pv::CallSite::new(
                #operation,
                __godtrace_path,
                #file,
                #line,
                #include_duration,
                #sample_rate,
                #carries_parent,
            );
    };

    // Arguments, recorded before the body runs (and moves them).
    let recorded: Vec<(Ident, Option<Type>)> = if *options.include_args.get() {
        bound_params(&f.sig)
            .into_iter()
            .filter(|(ident, _)| !options.skip.get().contains(ident))
            .collect()
    } else {
        Vec::new()
    };
    let checks = recorded.iter().map(|(ident, ty)| match ty {
        // Naming the type itself puts the error under the whole parameter type.
        Some(ty) if is_nameable(ty) => {
            quote_spanned!(ty.span()=> #pv::assert_recordable_type::<#ty>();)
        }
        // `impl Trait` parameters and bindings inside a destructuring pattern.
        _ => {
            let at = ty.as_ref().map_or(ident.span(), Spanned::span);
            let value = Ident::new(&ident.to_string(), at);
            quote_spanned!(at=> #pv::assert_recordable(&#value);)
        }
    });
    // Recorded into the span's attributes as it is built, and only when it is sampled in.
    let attrs = Ident::new("__godtrace_attrs", Span::mixed_site());
    let records = recorded.iter().map(|(ident, _)| {
        let key = ident.to_string();
        quote!(#attrs.push(#pv::KeyValue::new(#key, (&&&#pv::Probe(&#ident)).__godtrace_value()));)
    });
    let arg_count = recorded.len();
    let record_args = if recorded.is_empty() {
        quote!(|_| {})
    } else {
        quote! {
            |#attrs: &mut ::std::vec::Vec<#pv::KeyValue>| {
                #[allow(unused_imports)]
                use #pv::{ValueDebug as _, ValueOpaque as _, ValueTyped as _};
                #(#records)*
            }
        }
    };

    let finish = finish_closure(options, &f.sig, &pv);
    let output_ty: Type = match &f.sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    };
    // Pins the body's type to the declared one first, so that a wrong `return` or tail is
    // reported at the user's own expression rather than in generated code.
    // Spanned at the declared type, so "return type inferred here" points at it.
    let return_typed = quote_spanned!(output_ty.span()=> return __godtrace_typed;);
    let typed_return = if is_nameable(&output_ty) {
        quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __godtrace_typed: #output_ty = loop {};
                #return_typed
            }
        }
    } else {
        quote!()
    };
    // The body's statements go in directly, inside braces that carry the span of the user's
    // own braces: no lint sees extra braces, and a type error about the body's value points
    // at the user's body, as it would without the attribute.
    let braces = f.block.brace_token.span.join();
    let stmts = &f.block.stmts;
    let user_braces = |prefix: TokenStream| {
        let mut group =
            proc_macro2::Group::new(proc_macro2::Delimiter::Brace, quote!(#prefix #(#stmts)*));
        group.set_span(braces);
        group
    };

    let call = match shape {
        Shape::Sync => {
            let body = user_braces(typed_return);
            let closure = quote_spanned!(braces=> move || #body);
            quote!(#pv::run_sync(#span_var, #closure, #finish))
        }
        Shape::ReturnsFuture { boxed } => {
            let body = user_braces(typed_return);
            let closure = quote_spanned!(braces=> move || #body);
            let fut = quote!(#pv::instrument_future(#span_var, #closure, #finish));
            if boxed {
                quote!(::std::boxed::Box::pin(#fut))
            } else {
                fut
            }
        }
        Shape::Async => {
            let mut used_outside: Vec<Ident> = recorded.iter().map(|(i, _)| i.clone()).collect();
            if let Some(parent) = options.parent.get() {
                used_outside.extend(idents_in(parent.to_token_stream()));
            }
            let (moves, inner_output) = async_fn::desugar(&mut f.sig, &pv, &used_outside);
            let typed_return = if is_nameable(&inner_output) {
                typed_return
            } else {
                quote!()
            };
            let body = user_braces(quote!(#(#moves)* #typed_return));
            quote! {
                #pv::Instrumented::new(#span_var, async move #body, #finish)
            }
        }
    };

    let parent = match options.parent.get() {
        None => quote!(#pv::no_parent),
        // A bare parameter name is read by reference: the parameter itself still moves into
        // the body (and, for an async fn, into its future).
        Some(syn::Expr::Path(p)) if p.path.get_ident().is_some() => quote!(|| &#p),
        Some(parent) => quote!(|| #parent),
    };
    let body = quote! {
        #site
        #(#checks)*
        let #span_var =
            #pv::OpSpan::start(&__GODTRACE_SITE, #parent, #arg_count, #record_args);
        #call
    };
    // The new body keeps the user's braces' span: the item then reads as the user's own code
    // to the compiler, so lints such as `dead_code` still fire on it.
    let mut body = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, body);
    body.set_span(f.block.brace_token.span.join());
    let Function {
        attrs, vis, sig, ..
    } = f;
    quote! {
        #(#attrs)*
        #vis #sig #body
    }
}

/// The closure run when the call returns: `Err` values (any `Result`, found by type) mark the
/// span failed; with `include_result` the value, or the `Ok` value, becomes `result`.
fn finish_closure(options: &Options, sig: &Signature, pv: &TokenStream) -> TokenStream {
    let span = Ident::new("__godtrace_span", Span::mixed_site());
    let ret = Ident::new("__godtrace_ret", Span::mixed_site());
    let result = if *options.include_result.get() {
        let at = match &sig.output {
            ReturnType::Type(_, ty) => recorded_part_of(ty).span(),
            ReturnType::Default => sig.ident.span(),
        };
        let value = Ident::new("__godtrace_ok", at);
        let check = quote_spanned!(at=> #pv::assert_recordable(#value););
        quote! {
            #[allow(unused_imports)]
            use #pv::{OkOfAny as _, OkOfResult as _, ValueDebug as _, ValueOpaque as _, ValueTyped as _};
            if let ::core::option::Option::Some(#value) = (&&&#pv::Outcome(#ret)).__godtrace_ok() {
                #check
                #span.record("result", (&&&#pv::Probe(#value)).__godtrace_value());
            }
        }
    } else {
        quote!()
    };
    quote! {
        |#span: &#pv::OpSpan, #ret| {
            #[allow(unused_imports)]
            use #pv::{ErrDebug as _, ErrDisplay as _, ErrOpaque as _, NotAResult as _};
            (&&&&#pv::Outcome(#ret)).__godtrace_error(#span);
            if #span.is_recording() {
                #result
            }
        }
    }
}

/// Every identifier in `tokens`, at any depth.
fn idents_in(tokens: TokenStream) -> Vec<Ident> {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            proc_macro2::TokenTree::Ident(i) => out.push(i),
            proc_macro2::TokenTree::Group(g) => out.extend(idents_in(g.stream())),
            _ => {}
        }
    }
    out
}

/// Where to point when a return value cannot be recorded: for `Result<T, E>` (or any
/// `Path<T, ..>`), at `T`, which is what `include_result` records.
fn recorded_part_of(ty: &Type) -> &Type {
    if let Type::Path(p) = ty
        && let Some(seg) = p.path.segments.last()
        && let syn::PathArguments::AngleBracketed(args) = &seg.arguments
        && let Some(syn::GenericArgument::Type(first)) = args.args.first()
    {
        return first;
    }
    ty
}
