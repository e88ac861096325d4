//! The traced function's new body: the call site, the argument checks and records, the span's
//! start, and the call of the user's body in the shape it has (sync, async, future-returning).
use super::{
    Function, Shape, allow_parameter_reads, async_fn, bound_param_cfgs, bound_params,
    is_async_trait_positional, is_nameable,
};
use crate::attr::Options;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, ReturnType, Signature, Type};

pub(super) fn generate(options: &Options, mut f: Function, shape: Shape) -> TokenStream {
    let krate = options
        .krate
        .get()
        .as_ref()
        .map_or_else(|| quote!(::godtrace), ToTokens::to_token_stream);
    let pv = quote!(#krate::__private);
    // The site's items are in a block of their own, bound to a name at the macro's hygiene:
    // no parameter or item of the user's can meet their names. The block gives a function
    // returning the site: passed as it is (a value of a type of its own, of no size), the
    // site is a constant in the runtime's code for this function, whatever the compiler
    // decides about an address passed as an argument.
    let site_ref = Ident::new("__godtrace_site", Span::mixed_site());
    let site = call_site(options, &f.sig, &shape, &pv);
    let site = quote! {
        let #site_ref = {
            #site
            fn __godtrace_site() -> &'static #pv::CallSite {
                &__GODTRACE_SITE
            }
            __godtrace_site
        };
    };
    // An async fn's parameters, destructured ones and `_` included, are moved whole into its
    // future, and the function reads their bindings by reference (`async_fn::desugar`); a
    // sync fn's `_` parameters are named, to be taken by the body's closure
    // (`name_wild_params`). Either way they drop as untraced.
    let (rebound, named) = match shape {
        Shape::Async => (async_fn::rebound(&f.sig), Vec::new()),
        _ => (Vec::new(), name_wild_params(&mut f.sig)),
    };
    let args = RecordedArgs::new(options, &f.sig, &pv, &rebound, &named);
    // Recorded under their own names (above), then moved whole into the body's closure.
    let by_ref = match shape {
        Shape::Async => Vec::new(),
        _ => name_ref_params(&mut f.sig),
    };
    let finish = finish_closure(options, &f.sig, &pv);
    // A sync call that records only its arguments hands them over by value (see
    // `Call::SyncArgs`): its start, body and end then stay in one call. A `ref x` parameter
    // takes the general path, which lends it to the recording (`RefParam::lent`).
    let by_value = matches!(shape, Shape::Sync)
        && !args.names.is_empty()
        && !args.conditional
        && by_ref.is_empty()
        && options.fields.get().is_empty()
        && options.parent.get().is_none();
    let (call, mut lent) = call_body(options, &mut f, shape, &pv, &args, by_value, &by_ref);
    lent.extend(by_ref.iter().map(RefParam::lent));
    let parent = match options.parent.get().as_ref().map(crate::attr::ungrouped) {
        None => quote!(#pv::no_parent),
        // A bare parameter name, or a field of one (`req.cx`), is read by reference: the
        // parameter itself still moves into the body (and, for an async fn, into its
        // future), whole.
        Some(p) if is_named_place(p) => {
            let call = parent_call(&krate, quote_spanned!(p.span()=> &#p), p.span());
            quote!(|| #call)
        }
        Some(parent) => {
            let call = parent_call(&krate, quote!(#parent), parent.span());
            quote!(|| #call)
        }
    };
    let RecordedArgs {
        handed,
        checks,
        count,
        record,
        record_by_value,
        ..
    } = args;
    // The span is started in the argument list of the call that takes it, before the body's
    // closure or future moves the arguments it records: it is written where that call reads
    // it, never copied in between.
    let start = quote!(#pv::OpSpan::start(#site_ref(), #parent, #count, #record));
    let call = match call {
        // A span that reads none of the arguments starts, runs and ends in one call out of
        // line: off, the call runs the body after one flag test, nothing more.
        Call::Sync(closure) if count == 0 && options.parent.get().is_none() => {
            quote!(#pv::run_sync_at(#site_ref, #closure, #finish))
        }
        Call::Sync(closure) => quote!(#pv::run_sync(#start, #closure, #finish)),
        Call::SyncArgs(closure) => {
            // Parameters the user named `_x` are read here, by the expansion: through a
            // binding under the lints' allow (see `allow_parameter_reads`), only then, as it is
            // one move more.
            let tuple = quote!((#(#handed,)*));
            let args = if handed
                .iter()
                .any(|i| i.unraw().to_string().starts_with('_'))
            {
                let allow = allow_parameter_reads();
                let bound = Ident::new("__godtrace_handed", Span::mixed_site());
                quote!({ #allow let #bound = #tuple; #bound })
            } else {
                tuple
            };
            quote! {
                #pv::run_sync_args_at(
                    #site_ref, #count, #args, #record_by_value, #closure, #finish
                )
            }
        }
        // The output is named when the signature gives it: the recording of the output is
        // then checked against it, rather than guessing it (as `Result`) before the body's
        // future is known.
        Call::Future(closure, boxed, output) => {
            let fut = match output {
                Some(output) => quote! {
                    #pv::instrument_future_of::<#output, _, _, _>(#start, #closure, #finish)
                },
                None => quote!(#pv::instrument_future(#start, #closure, #finish)),
            };
            if boxed {
                quote!(#pv::Box::pin(#fut))
            } else {
                fut
            }
        }
        // A span that reads none of the arguments starts out of line, where the future is
        // made: off, the call builds the future and tests one flag, nothing more.
        Call::Async(future) if count == 0 && options.parent.get().is_none() => {
            quote!(#pv::Instrumented::start(#site_ref, move || #future, #finish))
        }
        Call::Async(future) => quote!(#pv::Instrumented::new(#start, #future, #finish)),
    };
    // The body of a function that never returns gives `Infallible`: no value to match.
    let call = if is_never(&f.sig.output) {
        quote!(match #call {})
    } else {
        call
    };
    // The body's inner attributes (`#![allow(..)]` written inside its braces, which the parser
    // gives with the outer ones) stay inside: first in the new body, over all of it.
    let (inner, outer): (Vec<_>, Vec<_>) = f
        .attrs
        .iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    let body = quote! {
        #(#inner)*
        #site
        #(#lent)*
        #(#checks)*
        #call
    };
    // The new body keeps the user's braces' span: the item then reads as the user's own code
    // to the compiler, so lints such as `dead_code` still fire on it.
    let mut body = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, body);
    body.set_span(f.block.brace_token.span.join());
    let Function { vis, sig, .. } = &f;
    // Clippy's `must_use_candidate` reads the body for effects and cannot see into the
    // closure the body runs in: a function that changes a static would read as pure.
    quote! {
        #[allow(clippy::must_use_candidate)]
        #(#outer)*
        #vis #sig #body
    }
}

/// Whether `e` is a name (`cx`) or a field of one, however deep (`req.cx`, `pair.0.cx`).
fn is_named_place(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_some(),
        syn::Expr::Field(f) => is_named_place(crate::attr::ungrouped(&f.base)),
        _ => false,
    }
}

/// The parent expression turned into a context through the public `ParentContext` trait,
/// spanned at the user's expression: a value that is not a context is reported there, by the
/// trait's own message, naming no hidden item.
fn parent_call(krate: &TokenStream, expr: TokenStream, at: Span) -> TokenStream {
    quote_spanned!(at=> #krate::ParentContext::into_parent(#expr))
}

/// The call site, once per function: name, code location, and the path read at run time.
fn call_site(options: &Options, sig: &Signature, shape: &Shape, pv: &TokenStream) -> TokenStream {
    let site_span = sig.ident.span();
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
    let kind = options
        .kind
        .get()
        .clone()
        .unwrap_or_else(|| Ident::new("Internal", Span::call_site()));
    // Both from the same place, the name's line where the name is the user's own token: the
    // two macros report the outermost macro call the name comes from, so a name written in a
    // `macro_rules!` of another file gives that call's file and line, not a line of one file
    // paired with the path of another.
    let file = quote_spanned!(site_span=> ::core::file!());
    let line = quote_spanned!(site_span=> ::core::line!());
    quote! {
        fn __godtrace_path() -> &'static ::core::primitive::str {
            ::core::any::type_name_of_val(&__godtrace_path)
        }
        static __GODTRACE_SITE: #pv::CallSite =
            #pv::CallSite::new(
                __godtrace_path,
                #file,
                #line,
                #pv::SiteOptions {
                    operation: #operation,
                    include_duration: #include_duration,
                    sample_rate: #sample_rate,
                    carries_parent: #carries_parent,
                    kind: #pv::SpanKind::#kind,
                },
            );
    }
}

/// The arguments `include_args` records: compile-time checks that each can be recorded, and
/// the closure that records them (run as the span is built, only when it is sampled in, and
/// before the body runs and moves them).
struct RecordedArgs {
    names: Vec<Ident>,
    checks: Vec<TokenStream>,
    count: usize,
    record: TokenStream,
    /// What `Call::SyncArgs` hands over: every parameter binding, in order (the skipped ones
    /// too, so that the body drops them all in the untraced order).
    handed: Vec<Ident>,
    /// The recording closure of `run_sync_args_at`, which reads the arguments from the
    /// tuple it is lent (`Call::SyncArgs`); used only without `fields(..)`.
    record_by_value: TokenStream,
    /// Whether a parameter is under `#[cfg(..)]`.
    conditional: bool,
}

impl RecordedArgs {
    /// `rebound`: the parameters that are references to the argument where they are read;
    /// `named`: the `_` parameters the macro named, never recorded.
    fn new(
        options: &Options,
        sig: &Signature,
        pv: &TokenStream,
        rebound: &[usize],
        named: &[Ident],
    ) -> RecordedArgs {
        // A parameter under `#[cfg(..)]`: its check and its record are under the same
        // condition (the tuple of `Call::SyncArgs` could not be, so such a call takes the
        // general path).
        let all_cfgs = bound_param_cfgs(sig);
        let conditional = all_cfgs.iter().any(|cfgs| !cfgs.is_empty());
        let recorded = if *options.include_args.get() {
            Recorded::of(options, sig, rebound, named, all_cfgs)
        } else {
            Vec::new()
        };
        let handed: Vec<Ident> = bound_params(sig).into_iter().map(|(i, _)| i).collect();
        let checks = recorded
            .iter()
            .map(
                |Recorded {
                     ident,
                     ty,
                     cfgs,
                     rebound,
                     ..
                 }| match ty {
                    // Naming the type itself puts the error under the whole parameter type.
                    Some(ty) if is_nameable(ty) => {
                        let check =
                            quote_spanned!(ty.span()=> #pv::assert_recordable_type::<#ty>(););
                        quote!(#(#cfgs)* #check)
                    }
                    // `impl Trait` parameters and bindings inside a destructuring pattern.
                    _ => {
                        let at = ty.as_ref().map_or(ident.span(), Spanned::span);
                        // The parameter's own identifier (raw or not, with its hygiene: it may
                        // come from a `macro_rules!`), only located at the type, where an
                        // unrecordable value is reported.
                        let mut value = ident.clone();
                        value.set_span(ident.span().located_at(at));
                        let value = if *rebound {
                            quote!(#value)
                        } else {
                            quote_spanned!(at=> &#value)
                        };
                        let check = quote_spanned!(at=> #pv::assert_recordable(#value););
                        let allow = allow_parameter_reads();
                        quote!(#(#cfgs)* #allow #check)
                    }
                },
            )
            .collect();
        let attrs = Ident::new("__godtrace_attrs", Span::mixed_site());
        let record_one = |ident: &Ident, value: TokenStream| {
            // `r#type` is recorded as `type`, as `fields(r#type = ..)` names it.
            let key = ident.unraw().to_string();
            let allow = allow_parameter_reads();
            quote!(#allow #pv::push_attribute(#attrs, #key, || (&&&#pv::Probe(#value)).__godtrace_value());)
        };
        let records = recorded.iter().map(
            |Recorded {
                 ident,
                 cfgs,
                 rebound,
                 ..
             }| {
                let value = if *rebound {
                    quote!(#ident)
                } else {
                    quote!(&#ident)
                };
                let record = record_one(ident, value);
                quote!(#(#cfgs)* #record)
            },
        );
        // Bound by reference from the tuple, each under a name of the expansion's: a
        // parameter's own name may be a unit struct or a constant (`Unit: Unit`), which a
        // pattern matches rather than binds.
        let unpacked_name =
            |at: usize| Ident::new(&format!("__godtrace_arg{at}"), Span::mixed_site());
        let by_value = recorded.iter().map(|Recorded { ident, at, .. }| {
            let name = unpacked_name(*at);
            record_one(ident, quote!(#name))
        });
        let unpacked = (0..handed.len()).map(|at| {
            if recorded.iter().any(|r| r.at == at) {
                let name = unpacked_name(at);
                quote!(#name)
            } else {
                quote!(_)
            }
        });
        let tuple = Ident::new("__godtrace_args", Span::mixed_site());
        let record_by_value = quote! {
            |#tuple: &_, #attrs: &mut #pv::Vec<#pv::KeyValue>| {
                use #pv::value_traits::*;
                let (#(#unpacked,)*) = #tuple;
                #(#by_value)*
            }
        };
        // `fields(...)`: each expression evaluated once, by reference, and checked where it
        // is written.
        let fields = options.fields.get().iter().map(|field| {
            let key = &field.key;
            let expr = &field.value;
            // At the expression: an unrecordable value is reported under it.
            let value = Ident::new("__godtrace_field", expr.span());
            let check = quote_spanned!(expr.span()=> #pv::assert_recordable(#value););
            // Evaluated where a panic of it is caught: the untraced function never runs it.
            quote! {
                #pv::push_field(#attrs, #key, || {
                    let #value = &(#expr);
                    #check
                    (&&&#pv::Probe(#value)).__godtrace_value()
                });
            }
        });
        let records = records.chain(fields).collect::<Vec<_>>();
        let count = recorded.len() + options.fields.get().len();
        let record = if records.is_empty() {
            quote!(|_| {})
        } else {
            quote! {
                |#attrs: &mut #pv::Vec<#pv::KeyValue>| {
                    use #pv::value_traits::*;
                    #(#records)*
                }
            }
        };
        RecordedArgs {
            count,
            names: recorded.into_iter().map(|r| r.ident).collect(),
            handed,
            checks,
            record,
            record_by_value,
            conditional,
        }
    }
}

/// A parameter binding `include_args` records.
struct Recorded {
    ident: Ident,
    /// The parameter's type, when the binding is the whole parameter.
    ty: Option<Type>,
    /// Its parameter's `#[cfg(..)]` conditions.
    cfgs: Vec<syn::Attribute>,
    /// Its position among all the bindings (`bound_params`).
    at: usize,
    /// It is a reference to the argument where it is read (an async fn's destructured
    /// parameter: see `async_fn::rebound`).
    rebound: bool,
}

impl Recorded {
    /// The bindings of `sig` recorded (`cfgs`: each binding's conditions), in order, by
    /// position rather than name: two may have one name (exclusive `#[cfg]`s, a
    /// `macro_rules!`'s own parameter). Of two of one name under the same conditions, the
    /// first (one attribute per key).
    fn of(
        options: &Options,
        sig: &Signature,
        rebound: &[usize],
        named: &[Ident],
        cfgs: Vec<Vec<syn::Attribute>>,
    ) -> Vec<Recorded> {
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut recorded = Vec::new();
        let params = bound_params(sig).into_iter().zip(cfgs).enumerate();
        for (at, ((ident, ty), cfgs)) in params {
            if options.skips(&ident)
                || named.contains(&ident)
                || is_async_trait_positional(sig, &ident)
            {
                continue;
            }
            let key = (ident.unraw().to_string(), quote!(#(#cfgs)*).to_string());
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            let rebound = rebound.contains(&at);
            recorded.push(Recorded {
                ident,
                ty,
                cfgs,
                at,
                rebound,
            });
        }
        recorded
    }
}

/// How the user's body is called.
enum Call {
    /// A closure returning the value.
    Sync(TokenStream),
    /// A closure taking the arguments as a tuple and returning the value: the recorded ones
    /// are handed over by value rather than borrowed while the span starts.
    SyncArgs(TokenStream),
    /// A closure returning the future, whether it is boxed, and the `Output` an
    /// `impl Future<Output = X>` return names (`impl Trait` in it left to inference).
    Future(TokenStream, bool, Option<TokenStream>),
    /// The `async move` block of a desugared `async fn`.
    Async(TokenStream),
}

/// The user's body, as a closure or an async block in the shape the function has, and the
/// statements that lend the function what it reads of an async fn's destructured
/// parameters. `args` names the parameters read before the body runs; `by_value`: the
/// parameters are handed to a sync body as a tuple (`Call::SyncArgs`).
fn call_body(
    options: &Options,
    f: &mut Function,
    shape: Shape,
    pv: &TokenStream,
    args: &RecordedArgs,
    by_value: bool,
    by_ref: &[RefParam],
) -> (Call, Vec<TokenStream>) {
    let output_ty: Type = match &f.sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    };
    // Pins the body's type to the declared one first, so that a wrong `return` or tail is
    // reported at the user's own expression rather than in generated code.
    // Spanned at the declared type, so "return type inferred here" points at it.
    // One name for the binding and its use, both at the declared type's span: a return type
    // handed in by a `macro_rules!` carries that macro's hygiene, and a binding written at
    // the attribute's would not be seen from it.
    let typed = Ident::new("__godtrace_typed", output_ty.span());
    let return_typed = quote_spanned!(output_ty.span()=> return #typed;);
    // A function that never returns (`-> !`): its body's closure returns `Infallible` (the
    // type `!` cannot be written in stable Rust), and the call is matched away (see
    // `generate`).
    let never = is_never(&f.sig.output);
    let closure_output = never.then(|| quote!(-> ::core::convert::Infallible));
    // `impl Trait` cannot be written there: it is left to inference (`_`), and the rest of the
    // type still pins what it can (the `E` of a `Result<impl Trait, E>`, which `?` and the
    // error's recording need to know).
    let opaque = matches!(super::unparenthesized(&output_ty), Type::ImplTrait(_));
    let pinned = if opaque && is_stub(&f.block) {
        // A body that never gives a value (see `is_stub`) gives its hidden type nothing to be
        // inferred from before the outcome is looked at: it is pinned to a type that never
        // exists, as the compiler's fallback for the function as written is from edition 2024
        // (`!`; before, `()`, which a bound such as `Display` refuses: such a stub compiles
        // traced where it did not untraced).
        quote!(::core::convert::Infallible)
    } else {
        with_impl_trait_inferred(&output_ty).to_token_stream()
    };
    let typed_return = if never {
        quote!()
    } else {
        quote! {
            // Only Clippy's lint is allowed here: a `forbid` of a rustc lint in the user's
            // crate refuses any `allow` of it, so the pin is code no rustc lint fires on.
            #[allow(clippy::needless_return)]
            if false {
                let #typed: #pinned = #pv::type_pin();
                #return_typed
            }
        }
    };
    // The body's statements go in directly, inside braces that carry the span of the user's
    // own braces: no lint sees extra braces, and a type error about the body's value points
    // at the user's body, as it would without the attribute.
    if matches!(shape, Shape::Sync | Shape::Async) {
        super::closure_return::give_the_closure_its_signature(&f.sig, &output_ty, &mut f.block);
    }
    let braces = f.block.brace_token.span.join();
    // The body's leading items (`fn helper`, `const K`, `use`) stay first, ahead of the
    // generated statements: an item is in scope in its whole block wherever it stands, and
    // Clippy's `items_after_statements` would otherwise blame the user's item. A
    // `macro_rules!` stays after them (its scope, and what its body's names resolve to, depend
    // on where it stands), and so do the items after it, which may use it: those of the
    // leading run allow the lint, which the user's code gives no cause for.
    let is_item = |s: &&syn::Stmt| matches!(s, syn::Stmt::Item(_));
    let is_macro = |s: &&syn::Stmt| matches!(s, syn::Stmt::Item(syn::Item::Macro(_)));
    let hoisted = f
        .block
        .stmts
        .iter()
        .take_while(|s| is_item(s) && !is_macro(s))
        .count();
    let leading = f.block.stmts.iter().take_while(is_item).count();
    let items = &f.block.stmts[..hoisted];
    let allowed = f.block.stmts[hoisted..leading]
        .iter()
        .map(|item| quote!(#[allow(clippy::items_after_statements)] #item));
    let stmts = &f.block.stmts[leading..];
    let braced = |content: TokenStream| {
        let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, content);
        group.set_span(braces);
        group
    };
    let user_braces = |prefix: TokenStream| {
        let allowed = allowed.clone();
        braced(quote!(#(#items)* #prefix #(#allowed)* #(#stmts)*))
    };
    match shape {
        Shape::Sync if by_value => {
            let handed = &args.handed;
            let mutable = take_mut(&mut f.sig, handed.len());
            let tuple = Ident::new("__godtrace_args", Span::mixed_site());
            // Each `mut` moves from the signature to this binding (nothing then warns that
            // the parameter need not be mutable); a parameter the body does not use is read
            // here, as the general path's closure reads them all (`capture_in_drop_order`).
            // One pattern for all, so that they are dropped as the function's parameters
            // are: last first.
            // A `match`, not a `let`: its arm is a scope for the temporaries of the body's
            // tail, dropped before the parameters (see `Desugared::block`).
            let read = super::mention(handed, &[]);
            let receiver = capture_receiver(&f.sig);
            let body = user_braces(quote!(#read #receiver));
            // The type is pinned before the `match`, whose arm takes its expected type from
            // the closure's when the `match` is checked: pinned inside the arm, it came too
            // late for the tail to be coerced to it (`Err(Box::new(e))` to a `Box<dyn Error>`).
            let unpack =
                quote!({ #typed_return match #tuple { (#(#mutable #handed,)*) => #body } });
            (
                Call::SyncArgs(quote_spanned!(braces=> move |#tuple| #closure_output #unpack)),
                Vec::new(),
            )
        }
        Shape::Sync => {
            let captures = capture_in_drop_order(&f.sig);
            let bound = by_ref.iter().map(RefParam::bound);
            let body = user_braces(quote!(#captures #(#bound)* #typed_return));
            (
                Call::Sync(quote_spanned!(braces=> move || #closure_output #body)),
                Vec::new(),
            )
        }
        Shape::ReturnsFuture { boxed } => {
            let captures = capture_in_drop_order(&f.sig);
            let bound = by_ref.iter().map(RefParam::bound);
            let body = user_braces(quote!(#captures #(#bound)* #typed_return));
            let output = super::impl_future_output(&output_ty)
                .map(|output| with_impl_trait_inferred(&output).to_token_stream());
            (
                Call::Future(quote_spanned!(braces=> move || #body), boxed, output),
                Vec::new(),
            )
        }
        Shape::Async => {
            let mut used_outside = args.names.clone();
            if let Some(parent) = options.parent.get() {
                used_outside.extend(idents_in(parent.to_token_stream()));
            }
            for field in options.fields.get() {
                used_outside.extend(idents_in(field.value.to_token_stream()));
            }
            let desugared = async_fn::desugar(&mut f.sig, pv, &used_outside);
            let first = desugared.first_statements();
            let block = if desugared.nested() {
                let body = user_braces(quote!(#first));
                desugared.around(body.into_token_stream(), typed_return)
            } else {
                user_braces(quote!(#first #typed_return)).into_token_stream()
            };
            (Call::Async(quote!(async move #block)), desugared.outer)
        }
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
            use #pv::ok_traits::*;
            use #pv::value_traits::*;
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
            use #pv::err_traits::*;
            (&&&&&&#pv::Outcome(#ret)).__godtrace_error(#span);
            if #span.is_recording() {
                #result
            }
        }
    }
}

/// Names each `_` parameter of a sync fn (at the macro's own hygiene, so no user name can
/// meet it): the body's closure can then take it like the others, and drop it in its place
/// among them, as the function would (left in the function, it was dropped after them all).
/// Returns the names.
fn name_wild_params(sig: &mut Signature) -> Vec<Ident> {
    let mut named = Vec::new();
    for (index, arg) in sig.inputs.iter_mut().enumerate() {
        if let syn::FnArg::Typed(pt) = arg
            && let syn::Pat::Wild(_) = &*pt.pat
        {
            let name = quote::format_ident!("__godtrace_arg{}", index, span = Span::mixed_site());
            *pt.pat = syn::parse_quote!(#name);
            named.push(name);
        }
    }
    named
}

/// A sync fn's `ref x` / `ref mut x` parameter, renamed `name` in the signature: the body's
/// closure then takes the argument itself, and drops it in its place among the others, as the
/// function would (left in the function, behind the reference the closure took, it was dropped
/// after them all). The function and the closure each bind `ident` to it again.
struct RefParam {
    name: Ident,
    ident: Ident,
    mutable: bool,
    cfgs: Vec<syn::Attribute>,
}

impl RefParam {
    /// In the function, before the body's closure takes the argument: `ident` for what the
    /// generated code reads there (recording, `parent`, `fields`).
    fn lent(&self) -> TokenStream {
        let RefParam {
            name, ident, cfgs, ..
        } = self;
        let read = super::mention([ident], cfgs);
        quote!(#(#cfgs)* let #ident = &#name; #read)
    }

    /// In the body's closure, first: `ident` as the user's pattern binds it, borrowing the
    /// argument the closure holds.
    fn bound(&self) -> TokenStream {
        let RefParam {
            name,
            ident,
            mutable,
            cfgs,
        } = self;
        let mutability = mutable.then(|| quote!(mut));
        let read = super::mention([ident], cfgs);
        quote!(#(#cfgs)* let #ident = &#mutability #name; #read)
    }
}

/// Renames each `ref x` / `ref mut x` parameter of a sync fn (see [`RefParam`]).
fn name_ref_params(sig: &mut Signature) -> Vec<RefParam> {
    let mut renamed = Vec::new();
    for (index, arg) in sig.inputs.iter_mut().enumerate() {
        if let syn::FnArg::Typed(pt) = arg
            && let syn::Pat::Ident(p) = &*pt.pat
            && p.by_ref.is_some()
            && p.subpat.is_none()
        {
            let name = quote::format_ident!("__godtrace_arg{}", index, span = Span::mixed_site());
            let mutable = p.mutability.is_some();
            let ident = p.ident.clone();
            let mutability = mutable.then(|| quote!(mut));
            *pt.pat = syn::parse_quote!(#mutability #name);
            renamed.push(RefParam {
                name,
                ident,
                mutable,
                cfgs: super::cfg_attrs(&pt.attrs),
            });
        }
    }
    renamed
}

/// Names every parameter binding in the body's closure, the last first. A closure takes what
/// it captures in the order its body first names it, and drops the captures it still holds
/// in that order; the function drops its parameters last first. Naming them all first also
/// takes each one whole (not the fields the body uses), as the function holds it. No code:
/// each borrow is a temporary that is never read.
fn capture_in_drop_order(sig: &Signature) -> TokenStream {
    let params = bound_params(sig);
    let mut captures: TokenStream = params
        .iter()
        .zip(bound_param_cfgs(sig))
        .rev()
        .map(|((ident, _), cfgs)| super::mention([ident], &cfgs))
        .collect();
    captures.extend(capture_receiver(sig));
    captures
}

/// Names a method's `self` in the body's closure (after the other parameters: the function
/// drops it last), so that the closure takes it whole. Left unnamed, the closure would take
/// the fields the body uses, each on its own: a `mut self` method's writes to a `Copy` field
/// would go to the closure's copy (unseen by `self`'s `Drop`), and a field the body moves
/// would be dropped before the others.
fn capture_receiver(sig: &Signature) -> TokenStream {
    let Some(receiver) = sig.receiver() else {
        return TokenStream::new();
    };
    let reads = allow_parameter_reads();
    let this = &receiver.self_token;
    quote!(#reads let _ = &#this;)
}

/// Drops `mut` from the bindings of the signature's patterns (by-reference bindings keep
/// theirs: that one is the reference's): returns, for each binding [`bound_params`] gives
/// (`count` of them), in its order, the `mut` it had. By position, not by name: a
/// `macro_rules!` may give two parameters one name, each its own (hygiene).
fn take_mut(sig: &mut Signature, count: usize) -> Vec<Option<syn::token::Mut>> {
    struct TakeMut {
        next: usize,
        taken: Vec<Option<syn::token::Mut>>,
    }
    impl syn::visit_mut::VisitMut for TakeMut {
        fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
            // The bindings `pattern_idents` lists, in its order (`self` is not one).
            if p.ident != "self" {
                if p.by_ref.is_none()
                    && let Some(taken) = self.taken.get_mut(self.next)
                {
                    *taken = p.mutability.take();
                }
                self.next += 1;
            }
            syn::visit_mut::visit_pat_ident_mut(self, p);
        }
    }
    let mut visitor = TakeMut {
        next: 0,
        taken: vec![None; count],
    };
    for arg in sig.inputs.iter_mut() {
        if let syn::FnArg::Typed(pt) = arg {
            syn::visit_mut::VisitMut::visit_pat_mut(&mut visitor, &mut pt.pat);
        }
    }
    visitor.taken
}

/// `ty` with every `impl Trait` in it replaced by `_`.
fn with_impl_trait_inferred(ty: &Type) -> Type {
    struct Infer;
    impl syn::visit_mut::VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(i) = ty {
                let at = i.impl_token.span;
                *ty = syn::parse_quote_spanned!(at=> _);
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Infer, &mut ty);
    ty
}

/// Whether a body never gives a value, so that an `impl Trait` it returns has nothing to be
/// inferred from, as in the function as written (the compiler's fallback): its last statement
/// never completes (see [`diverges`]: `todo!()`, `let _ = req; unimplemented!()`, `loop {}`,
/// `std::process::exit(1)`, an `if` whose branches all panic), and nothing in it may return
/// early (see [`may_return_early`]). Read from the syntax alone, so only what is certain: a
/// body it cannot be sure of is not a stub (its type is left to inference, as for any body).
fn is_stub(block: &syn::Block) -> bool {
    let tokens: Vec<TokenTree> = block.to_token_stream().into_iter().collect();
    !may_return_early(&tokens) && block_diverges(block)
}

/// Whether a block's last statement never completes.
fn block_diverges(block: &syn::Block) -> bool {
    match block.stmts.last() {
        Some(syn::Stmt::Macro(m)) => is_diverging_macro(&m.mac),
        Some(syn::Stmt::Expr(e, _)) => diverges(e),
        _ => false,
    }
}

/// Whether `expr` never completes, by its syntax alone: a panicking macro of the standard
/// library, a `loop` with no `break` in it, `std::process::exit(..)` or `std::process::abort()`,
/// or an `if`, `match` or block all of whose ways end so.
fn diverges(expr: &syn::Expr) -> bool {
    use syn::Expr;
    match expr {
        Expr::Macro(m) => is_diverging_macro(&m.mac),
        Expr::Loop(l) => !idents_in(l.body.to_token_stream())
            .iter()
            .any(|i| i == "break"),
        Expr::Call(call) => matches!(&*call.func, Expr::Path(p) if is_process_end(&p.path)),
        Expr::If(i) => {
            block_diverges(&i.then_branch)
                && i.else_branch.as_ref().is_some_and(|(_, e)| diverges(e))
        }
        Expr::Block(b) => b.label.is_none() && block_diverges(&b.block),
        Expr::Unsafe(u) => block_diverges(&u.block),
        Expr::Match(m) => !m.arms.is_empty() && m.arms.iter().all(|arm| diverges(&arm.body)),
        Expr::Paren(p) => diverges(&p.expr),
        _ => false,
    }
}

/// The standard library's macros that never complete.
const DIVERGING_MACROS: [&str; 4] = ["todo", "unimplemented", "panic", "unreachable"];

/// The standard library's macros whose expansion holds no `return`, `?` or `break` of its own
/// (what their arguments hold is read with the rest of the body).
const PLAIN_MACROS: [&str; 28] = [
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "column",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "file",
    "format",
    "format_args",
    "include_bytes",
    "include_str",
    "line",
    "matches",
    "module_path",
    "option_env",
    "print",
    "println",
    "stringify",
    "vec",
    "write",
    "writeln",
];

/// `todo!`, `unimplemented!`, `panic!` or `unreachable!` of the standard library (see
/// [`std_macro`]).
fn is_diverging_macro(mac: &syn::Macro) -> bool {
    let path: Vec<String> = mac
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    std_macro(&path).is_some_and(|name| DIVERGING_MACROS.contains(&name))
}

/// The name of a macro `path` names as the standard library's: bare, or by `std::`/`core::`
/// (a macro of the user's own in a module of theirs, `a::todo!` or `a::std::todo!`, may give a
/// value).
fn std_macro(path: &[String]) -> Option<&str> {
    match path {
        [name] => Some(name),
        [krate, name] if krate == "std" || krate == "core" => Some(name),
        _ => None,
    }
}

/// `std::process::exit` or `std::process::abort` (a `process` module of the user's own may
/// hold functions of those names that return).
fn is_process_end(path: &syn::Path) -> bool {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    matches!(
        names.as_slice(),
        [std, process, end] if std == "std" && process == "process" && (end == "exit" || end == "abort")
    )
}

/// Whether `tokens` may return from the function early, at any depth: a `return` or a `?`, or
/// a macro call (`name!(..)`) other than the standard library's known ones, whose expansion the
/// attribute cannot see (a user's `macro_rules!` may hold a `return`).
fn may_return_early(tokens: &[TokenTree]) -> bool {
    tokens.iter().enumerate().any(|(at, tt)| match tt {
        TokenTree::Ident(i) => {
            i == "return"
                || (matches!(tokens.get(at + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!')
                    && matches!(tokens.get(at + 2), Some(TokenTree::Group(_)))
                    && !is_known_macro(tokens, at))
        }
        TokenTree::Punct(p) => p.as_char() == '?',
        TokenTree::Group(g) => may_return_early(&g.stream().into_iter().collect::<Vec<_>>()),
        TokenTree::Literal(_) => false,
    })
}

/// Whether the macro named at `tokens[at]` (its path read back from there) is one of the
/// standard library's known ones (see [`std_macro`]).
fn is_known_macro(tokens: &[TokenTree], at: usize) -> bool {
    let colon = |i: usize| matches!(&tokens[i], TokenTree::Punct(p) if p.as_char() == ':');
    let mut path = Vec::new();
    let mut i = at;
    while let TokenTree::Ident(segment) = &tokens[i] {
        path.insert(0, segment.to_string());
        if i < 3 || !(colon(i - 1) && colon(i - 2)) {
            break;
        }
        i -= 3;
    }
    std_macro(&path)
        .is_some_and(|name| DIVERGING_MACROS.contains(&name) || PLAIN_MACROS.contains(&name))
}

/// Whether the function is declared never to return (`-> !`).
pub(super) fn is_never(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
}

/// Every identifier in `tokens`, at any depth.
fn idents_in(tokens: TokenStream) -> Vec<Ident> {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) => out.push(i),
            TokenTree::Group(g) => out.extend(idents_in(g.stream())),
            _ => {}
        }
    }
    out
}

/// Where to point when a return value cannot be recorded: for `Result<T, E>` (any path
/// ending in `Result`, `io::Result<T>` too), at `T`, which is what `include_result` records;
/// else at the whole type (a `HashMap<u32, V>` is recorded whole).
fn recorded_part_of(ty: &Type) -> &Type {
    if let Type::Path(p) = ty
        && let Some(seg) = p.path.segments.last()
        && seg.ident == "Result"
        && let syn::PathArguments::AngleBracketed(args) = &seg.arguments
        && let Some(syn::GenericArgument::Type(first)) = args.args.first()
    {
        return first;
    }
    ty
}
