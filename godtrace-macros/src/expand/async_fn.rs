//! `async fn` desugaring: `async fn f(args) -> T` becomes `fn f(args) -> impl Future<Output =
//! T>`, so the span can start at the call. Naming the inputs' elided lifetimes keeps the
//! future capturing them in every edition.
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{
    FnArg, GenericParam, Ident, Lifetime, LifetimeParam, Pat, ReceiverKind, ReturnType, Signature,
    Type,
};

/// Rewrites `async fn f(args) -> T` into `fn f(args) -> impl Future<Output = T> + '_`, the
/// way the compiler desugars it, so the span can start when `f` is called. Returns the
/// statements that move every argument into the future (as an `async fn` does).
///
/// `used_outside` names the parameters the generated code reads before the future exists
/// (recorded arguments, the `parent` expression): the body need not use them.
pub(super) fn desugar(
    sig: &mut Signature,
    pv: &TokenStream,
    used_outside: &[Ident],
) -> Vec<TokenStream> {
    sig.asyncness = None;
    let mut output: Type = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    };

    // Name every elided lifetime in the inputs, so the returned future can be said to
    // capture it whatever the caller's edition.
    let mut names: Vec<Lifetime> = Vec::new();
    let mut fresh = || {
        let name = Lifetime::new(&format!("'__godtrace_l{}", names.len()), Span::call_site());
        names.push(name.clone());
        name
    };
    for arg in sig.inputs.iter_mut() {
        match arg {
            FnArg::Receiver(r) => match &mut r.kind {
                ReceiverKind::Reference(_, lifetime @ None, _) => *lifetime = Some(fresh()),
                ReceiverKind::Typed(_, ty) => FillElided { next: &mut fresh }.visit_type_mut(ty),
                // `self`, and `&'a self` whose lifetime is already named.
                _ => {}
            },
            FnArg::Typed(pt) => FillElided { next: &mut fresh }.visit_type_mut(&mut pt.ty),
        }
    }
    // The output's elided lifetimes follow the elision rules against the now-named inputs,
    // and are written out so that no lint sees one lifetime both named and elided.
    if let Some(target) = elision_target(sig) {
        FillElided {
            next: || target.clone(),
        }
        .visit_type_mut(&mut output);
    }
    for (i, name) in names.into_iter().enumerate() {
        sig.generics
            .params
            .insert(i, GenericParam::Lifetime(LifetimeParam::new(name)));
    }
    let lifetimes: Vec<Lifetime> = sig
        .generics
        .lifetimes()
        .map(|l| l.lifetime.clone())
        .collect();
    sig.output = syn::parse_quote! {
        -> impl ::core::future::Future<Output = #output> #(+ #pv::Captures<#lifetimes>)*
    };

    // Move each argument into the future; `mut` moves inside with it.
    let mut moves = Vec::new();
    for (index, arg) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        // A parameter under `#[cfg(..)]` is moved under the same condition.
        let cfgs = super::cfg_attrs(&pt.attrs);
        if let Pat::Wild(_) = &*pt.pat {
            let name = format_ident!("_godtrace_arg{}", index, span = Span::mixed_site());
            *pt.pat = syn::parse_quote!(#name);
            moves.push(quote!(#(#cfgs)* let #name = #name;));
            continue;
        }
        let mut unmut = Unmut {
            moved: Vec::new(),
            used_outside,
        };
        unmut.visit_pat_mut(&mut pt.pat);
        moves.extend(unmut.moved.into_iter().map(|m| quote!(#(#cfgs)* #m)));
    }
    moves
}

/// Writes a lifetime, from `next`, wherever a type elides one (`&T`, `'_`); leaves `fn(&T)`
/// and `Fn(&T)` alone, whose elided lifetimes are higher-ranked.
struct FillElided<F: FnMut() -> Lifetime> {
    next: F,
}

impl<F: FnMut() -> Lifetime> VisitMut for FillElided<F> {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some((self.next)());
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }
    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = (self.next)();
        }
    }
    fn visit_type_fn_ptr_mut(&mut self, _: &mut syn::TypeFnPtr) {}
    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        _: &mut syn::ParenthesizedGenericArguments,
    ) {
    }
}

/// The lifetime an elided output lifetime stands for: `self`'s if it is borrowed, else the
/// only lifetime of the inputs, if there is exactly one.
fn elision_target(sig: &Signature) -> Option<Lifetime> {
    let mut found: Vec<Lifetime> = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => match &r.kind {
                ReceiverKind::Reference(_, Some(l), _) => return Some(l.clone()),
                ReceiverKind::Typed(_, ty) => {
                    syn::visit::Visit::visit_type(&mut CollectLifetimes(&mut found), ty)
                }
                _ => {}
            },
            FnArg::Typed(pt) => {
                syn::visit::Visit::visit_type(&mut CollectLifetimes(&mut found), &pt.ty)
            }
        }
    }
    found.dedup();
    match found.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

struct CollectLifetimes<'a>(&'a mut Vec<Lifetime>);

impl<'ast> syn::visit::Visit<'ast> for CollectLifetimes<'_> {
    fn visit_lifetime(&mut self, l: &'ast Lifetime) {
        if !self.0.contains(l) {
            self.0.push(l.clone());
        }
    }
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}
    fn visit_parenthesized_generic_arguments(
        &mut self,
        _: &'ast syn::ParenthesizedGenericArguments,
    ) {
    }
}

/// Drops `mut` from the bindings of a parameter pattern and emits `let mut x = x;` for the
/// future, so `mut` parameters stay mutable inside the body and nothing warns outside.
struct Unmut<'a> {
    moved: Vec<TokenStream>,
    used_outside: &'a [Ident],
}

impl VisitMut for Unmut<'_> {
    fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
        let ident = &p.ident;
        if ident != "self" && p.by_ref.is_none() {
            let mutability = p.mutability.take();
            let allow = self
                .used_outside
                .contains(ident)
                .then(|| quote!(#[allow(unused_variables)]));
            self.moved
                .push(quote!(#allow let #mutability #ident = #ident;));
        }
        syn::visit_mut::visit_pat_ident_mut(self, p);
    }
}
