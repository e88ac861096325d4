//! `async fn` desugaring: `async fn f(args) -> T` becomes `fn f(args) -> impl Future<Output =
//! T>`, so the span can start at the call. Naming the inputs' elided lifetimes keeps the
//! future capturing them in every edition.
use super::allow_parameter_reads;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{
    FnArg, GenericParam, Ident, Lifetime, LifetimeParam, Pat, ReceiverKind, ReturnType, Signature,
    Type,
};

/// The span of the last token of `ty` (a group's: up to its closing delimiter), so that what
/// is put at its end lands after the whole type.
fn last_token_span(ty: &Type) -> Span {
    quote::ToTokens::to_token_stream(ty)
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |token| token.span())
}

/// Rewrites `async fn f(args) -> T` into `fn f(args) -> impl Future<Output = T> + '_`, the
/// way the compiler desugars it, so the span can start when `f` is called. Returns the
/// statements that move every argument into the future (as an `async fn` does), and those
/// that lend the function the destructured bindings it reads.
///
/// `used_outside` names the parameters the generated code reads before the future exists
/// (recorded arguments, the `parent` expression): the body need not use them.
pub(super) fn desugar(sig: &mut Signature, pv: &TokenStream, used_outside: &[Ident]) -> Desugared {
    sig.asyncness = None;
    // The written future type stands where the user's return type does (after the inputs when
    // there is none), with its span itself: a span of the expansion's would make the
    // signature's span the attribute's, where lints that point at the signature
    // (`missing_docs`, Clippy's `missing_safety_doc`) then point. Its paths are absolute, so
    // they resolve alike at either.
    let (mut output, output_at): (Type, Span) = match &sig.output {
        ReturnType::Type(_, ty) => ((**ty).clone(), last_token_span(ty)),
        ReturnType::Default => (syn::parse_quote!(()), sig.paren_token.span.close()),
    };

    // Name every elided lifetime in the inputs, so the returned future can be said to
    // capture it whatever the caller's edition. Each name is located at the reference or
    // `'_` it stands for (resolved as before, at the call site): a borrow error then shows
    // the lifetime at the user's parameter (the error itself stands at the returned future,
    // the attribute's).
    // A name the user's own signature does not use already (lifetimes are not hygienic).
    let taken = lifetime_names(sig);
    let mut names: Vec<Lifetime> = Vec::new();
    let mut next = 0usize;
    let mut fresh = |at: Span| {
        let at = at.resolved_at(Span::call_site());
        let name = loop {
            let name = format!("__godtrace_l{next}");
            next += 1;
            if !taken.contains(&name) {
                break name;
            }
        };
        let name = Lifetime::new(&format!("'{name}"), at);
        names.push(name.clone());
        name
    };
    for arg in sig.inputs.iter_mut() {
        match arg {
            FnArg::Receiver(r) => match &mut r.kind {
                ReceiverKind::Reference(and, lifetime @ None, _) => {
                    *lifetime = Some(fresh(and.span));
                }
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
            next: |_| target.clone(),
        }
        .visit_type_mut(&mut output);
    }
    for (i, name) in names.into_iter().enumerate() {
        sig.generics
            .params
            .insert(i, GenericParam::Lifetime(LifetimeParam::new(name)));
    }
    let captured = captured_types(sig);
    let captures = match captured.as_slice() {
        [] => TokenStream::new(),
        [one] => quote_spanned! {output_at=> + #pv::Captures<#one> },
        all => quote_spanned! {output_at=> + #pv::Captures<(#(#all,)*)> },
    };
    sig.output = syn::parse_quote_spanned! {output_at=>
        -> impl ::core::future::Future<Output = #output> #captures
    };

    // Move each argument into the future, as the compiler lowers an `async fn`: a plain
    // binding as itself (`mut` moves inside with it), any other pattern as the whole argument,
    // destructured inside. The pattern's `ref` bindings then borrow from the future, and the
    // parts it does not bind (`_`, `..`) are dropped with it, in the untraced order.
    let mut desugared = Desugared::default();
    // `self` cannot be bound again, so the block takes it where it is, whole: an `async move`
    // block takes only the places its body names (the fields it reads, or nothing), and the
    // rest of a `self` taken by value would be dropped when the function returns, not with
    // the future (a permit or a guard released before the body runs).
    // (`self` is no underscore binding: no lint to allow, which a `forbid` would refuse.)
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        let this = &r.self_token;
        desugared.taken.push(quote!(let _ = &#this;));
    }
    for (index, arg) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        // A parameter under `#[cfg(..)]` is moved under the same condition.
        let cfgs = super::cfg_attrs(&pt.attrs);
        if !moves_whole(&pt.pat) {
            let name = format_ident!("__godtrace_arg{}", index, span = Span::mixed_site());
            let pat = std::mem::replace(&mut *pt.pat, syn::parse_quote!(#name));
            let mut idents = Vec::new();
            super::pattern_idents(&pat, &mut idents);
            let read_outside = idents.iter().any(|i| used_outside.contains(i));
            // `ref mut` bindings borrow the moved argument mutably.
            let mutability = has_ref_mut(&pat).then(|| quote!(mut));
            // Bindings read outside need no use in the body.
            if read_outside {
                desugared
                    .reads
                    .push(super::mention_in_future(&idents, &cfgs));
            }
            desugared.binds.push(Bind {
                cfgs: cfgs.clone(),
                value: quote!(#name),
                pat: quote!(#mutability #name),
            });
            desugared.binds.push(Bind {
                cfgs: cfgs.clone(),
                value: quote!(#name),
                pat: pat.to_token_stream(),
            });
            if read_outside {
                // What the generated code reads before the future exists, borrowed from the
                // argument the future then takes. (A reference pattern `&x` becomes `&ref x`,
                // which Clippy would tell the user to write otherwise, at their `&`.)
                // All of them are bound; those not read are mentioned.
                let by_ref = ByRef.pat(pat);
                let read = super::mention(&idents, &cfgs);
                let reads = allow_parameter_reads();
                desugared.outer.push(quote! {
                    #(#cfgs)*
                    #[allow(clippy::needless_borrowed_reference)]
                    #reads
                    let #by_ref = #name;
                    #read
                });
            }
            continue;
        }
        // A plain binding: `mut` moves inside, so that nothing warns outside.
        let Pat::Ident(p) = &mut *pt.pat else {
            unreachable!("checked by `moves_whole`")
        };
        let mutability = p.mutability.take();
        let ident = &p.ident;
        // A binding read outside needs no use in the body.
        if used_outside.contains(ident) {
            desugared
                .reads
                .push(super::mention_in_future([ident], &cfgs));
        }
        // Moved by a statement first, which can allow the lints about reading an
        // underscore binding (an expression cannot carry them).
        let reads = allow_parameter_reads();
        let moved = Ident::new("__godtrace_moved", Span::mixed_site());
        desugared.binds.push(Bind {
            cfgs,
            value: quote!({ #reads let #moved = #ident; #moved }),
            pat: quote!(#mutability #ident),
        });
    }
    desugared
}

/// What the returned future must be said to capture, as types for one `Captures` bound (in
/// edition 2021 an `impl Trait` captures only the lifetimes its bounds name): each lifetime of
/// the function's own, each other lifetime the inputs name (an impl's: `w: W<'i>`), and
/// `Self` when an input is or names it, which stands for the impl's lifetimes the macro
/// cannot see (`self` of `impl<'i> W<'i>`). `*const Self` needs nothing of `Self` (not even
/// `Sized`, as in a trait's default method).
fn captured_types(sig: &Signature) -> Vec<TokenStream> {
    let mut lifetimes: Vec<Lifetime> = sig
        .generics
        .lifetimes()
        .map(|l| l.lifetime.clone())
        .collect();
    let mut names_self = false;
    for arg in &sig.inputs {
        let ty = match arg {
            FnArg::Receiver(r) => {
                names_self = true;
                match &r.kind {
                    ReceiverKind::Reference(_, Some(l), _) if !lifetimes.contains(l) => {
                        lifetimes.push(l.clone());
                        continue;
                    }
                    ReceiverKind::Typed(_, ty) => &**ty,
                    _ => continue,
                }
            }
            FnArg::Typed(pt) => &*pt.ty,
        };
        syn::visit::Visit::visit_type(&mut CollectLifetimes::all(&mut lifetimes), ty);
        names_self |= mentions_self(ty);
    }
    let mut types: Vec<TokenStream> = lifetimes
        .iter()
        .filter(|l| l.ident != "static")
        .map(|l| quote!(&#l ()))
        .collect();
    if names_self {
        types.push(quote!(*const Self));
    }
    types
}

/// Whether `ty` names `Self` (a path starting with it: `Self`, `Self::Item`, `Box<Self>`).
fn mentions_self(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            self.0 |= path.segments.first().is_some_and(|s| s.ident == "Self");
            syn::visit::visit_path(self, path);
        }
    }
    let mut find = Find(false);
    syn::visit::Visit::visit_type(&mut find, ty);
    find.0
}

/// What [`desugar`] writes.
#[derive(Default)]
pub(super) struct Desugared {
    /// Inside the future, first: `self` taken whole.
    taken: Vec<TokenStream>,
    /// Each argument moved into the future and bound there, in order (a destructured one in
    /// two steps: taken whole, then destructured).
    binds: Vec<Bind>,
    /// First in the body: the bindings the generated code reads outside, mentioned.
    reads: Vec<TokenStream>,
    /// In the function, before the future is built: the bindings of destructured arguments
    /// the generated code reads there (see [`rebound`]), by reference.
    pub(super) outer: Vec<TokenStream>,
}

/// One argument moved into the future: `value` bound to `pat`, under `cfgs`.
struct Bind {
    cfgs: Vec<syn::Attribute>,
    value: TokenStream,
    pat: TokenStream,
}

impl Desugared {
    /// The statements first in the body's braces: `self` taken whole, the arguments bound by
    /// statements when [`Self::around`] cannot nest them, the bindings read outside mentioned.
    pub(super) fn first_statements(&self) -> TokenStream {
        let taken = if self.nested() {
            // Before the matches instead (see `around`).
            &[][..]
        } else {
            &self.taken[..]
        };
        let reads = &self.reads;
        let lets = if self.nested() {
            TokenStream::new()
        } else {
            let allow = allow_parameter_reads();
            self.binds
                .iter()
                .map(|Bind { cfgs, value, pat }| quote!(#(#cfgs)* #allow let #pat = #value;))
                .collect()
        };
        quote!(#(#taken)* #lets #(#reads)*)
    }

    /// The future's block: `body` (the user's braces) inside one `match` per binding.
    ///
    /// A `match`, not a `let`: a match arm's body is a scope of its own for temporaries, so
    /// those of the body's tail (a lock's guard borrowing an argument, `*m.lock().unwrap()`)
    /// are dropped before the arguments, as the compiler's own lowering of an `async fn`
    /// drops them. In one block, edition 2021 keeps them past the block's locals, and a `let`
    /// of the body's value would be code after the body, unreachable when the body diverges
    /// (`loop {}`). The nesting drops the arguments last first, as a function's parameters
    /// are. A parameter under `#[cfg(..)]` cannot be a condition on an expression: then every
    /// argument is bound by a statement ([`Self::first_statements`]).
    ///
    /// `pin` (statements that pin the block's output to the declared type) goes first in the
    /// block, before the matches: the matches' arms then know the type their value goes to,
    /// and coerce to it (`Err(Box::new(e))` to a `Box<dyn Error>`), as the tail of the untraced
    /// function's body does; behind a match still being checked, that type was not known yet.
    pub(super) fn around(&self, body: TokenStream, pin: TokenStream) -> TokenStream {
        let nested = self.binds.iter().rev().fold(
            body,
            |inner, Bind { value, pat, .. }| quote!(match #value { #pat => #inner }),
        );
        // `self` is named first: the block takes what it names in that order, and drops it
        // in that order when it is dropped before it runs (the untraced order: `self`, then
        // each argument).
        let taken = &self.taken;
        quote!({ #pin #(#taken)* #nested })
    }

    /// Whether [`Self::around`] binds the arguments by matches: there are some, and none is
    /// under a `#[cfg(..)]` (else [`Self::first_statements`] binds them by statements).
    pub(super) fn nested(&self) -> bool {
        !self.binds.is_empty() && self.binds.iter().all(|b| b.cfgs.is_empty())
    }
}

/// Whether a parameter's pattern is one binding by value, which moves the whole argument
/// (`x`, `mut x`): it is moved into the future as itself. Any other pattern is moved whole
/// and destructured inside.
fn moves_whole(pat: &Pat) -> bool {
    matches!(pat, Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none())
}

/// The bindings of the async fn's destructured parameters, which the function reads by
/// reference before the future exists (each name is a reference there): their positions
/// among the bindings `bound_params` gives (by position, not name: a `macro_rules!` may give
/// two parameters one name, each its own).
pub(super) fn rebound(sig: &Signature) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for arg in &sig.inputs {
        if let FnArg::Typed(pt) = arg {
            let mut idents = Vec::new();
            super::pattern_idents(&pt.pat, &mut idents);
            if !moves_whole(&pt.pat) {
                out.extend(at..at + idents.len());
            }
            at += idents.len();
        }
    }
    out
}

fn has_ref_mut(pat: &Pat) -> bool {
    struct Find(bool);
    impl<'a> syn::visit::Visit<'a> for Find {
        fn visit_pat_ident(&mut self, p: &'a syn::PatIdent) {
            self.0 |= p.by_ref.is_some() && p.mutability.is_some();
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut find = Find(false);
    syn::visit::Visit::visit_pat(&mut find, pat);
    find.0
}

/// Makes every binding of a pattern `ref` (and not `mut`): the pattern then borrows what it
/// would move.
struct ByRef;

impl ByRef {
    fn pat(mut self, mut pat: Pat) -> Pat {
        self.visit_pat_mut(&mut pat);
        pat
    }
}

impl VisitMut for ByRef {
    fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
        p.mutability = None;
        p.by_ref = Some(syn::Token![ref](p.ident.span()));
        syn::visit_mut::visit_pat_ident_mut(self, p);
    }
}

/// Writes a lifetime, from `next`, wherever a type elides one (`&T`, `'_`); leaves `fn(&T)`
/// and `Fn(&T)` alone, whose elided lifetimes are higher-ranked.
/// `next` is given where the elided lifetime is.
struct FillElided<F: FnMut(Span) -> Lifetime> {
    next: F,
}

impl<F: FnMut(Span) -> Lifetime> VisitMut for FillElided<F> {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some((self.next)(r.and_token.span));
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }
    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = (self.next)(l.span());
        }
    }
    fn visit_type_fn_ptr_mut(&mut self, _: &mut syn::TypeFnPtr) {}
    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        _: &mut syn::ParenthesizedGenericArguments,
    ) {
    }
}

/// The lifetime an elided output lifetime stands for: `self`'s if it is borrowed (`&self`, or
/// a typed receiver holding a `&Self`: `self: Pin<&mut Self>`), else the only lifetime of the
/// inputs, if there is exactly one.
fn elision_target(sig: &Signature) -> Option<Lifetime> {
    let mut found: Vec<Lifetime> = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => match &r.kind {
                ReceiverKind::Reference(_, Some(l), _) => return Some(l.clone()),
                ReceiverKind::Typed(_, ty) => {
                    if let Some(l) = self_reference_lifetime(ty) {
                        return Some(l);
                    }
                    syn::visit::Visit::visit_type(&mut CollectLifetimes::elision(&mut found), ty)
                }
                _ => {}
            },
            FnArg::Typed(pt) => {
                syn::visit::Visit::visit_type(&mut CollectLifetimes::elision(&mut found), &pt.ty)
            }
        }
    }
    found.dedup();
    match found.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The lifetime of the borrow of `self` in a typed receiver (`self: &'a Foo`,
/// `self: Pin<&'a mut Self>`), when it has one: the outermost references of the type, which
/// in a receiver lead to the self type whether it is written `Self` or by its name (a
/// reference inside, as in `Pin<&'a mut Foo<&'b str>>`, is not the borrow of `self`).
fn self_reference_lifetime(ty: &Type) -> Option<Lifetime> {
    struct OutermostRefs(Vec<Lifetime>);
    impl<'ast> syn::visit::Visit<'ast> for OutermostRefs {
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            if let Some(l) = &r.lifetime
                && !self.0.contains(l)
            {
                self.0.push(l.clone());
            }
        }
    }
    let mut find = OutermostRefs(Vec::new());
    syn::visit::Visit::visit_type(&mut find, ty);
    match find.0.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// Every lifetime name written in the signature, without its `'`.
fn lifetime_names(sig: &Signature) -> Vec<String> {
    struct All(Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for All {
        fn visit_lifetime(&mut self, l: &'ast Lifetime) {
            self.0.push(l.ident.to_string());
        }
    }
    let mut all = All(Vec::new());
    syn::visit::Visit::visit_signature(&mut all, sig);
    all.0
}

/// The lifetimes a type names from outside it (the function's, the impl's), not those a
/// `for<'x>` binds there, nor `'_`. For the elision rule ([`CollectLifetimes::elision`]),
/// those the inputs use outside `fn(..)` and `Fn(..)`, whose elided lifetimes are their own;
/// for what the future captures ([`CollectLifetimes::all`]), those inside them too.
struct CollectLifetimes<'a> {
    found: &'a mut Vec<Lifetime>,
    bound: Vec<Lifetime>,
    inside_fn_types: bool,
}

impl<'a> CollectLifetimes<'a> {
    fn elision(found: &'a mut Vec<Lifetime>) -> Self {
        CollectLifetimes {
            found,
            bound: Vec::new(),
            inside_fn_types: false,
        }
    }

    fn all(found: &'a mut Vec<Lifetime>) -> Self {
        CollectLifetimes {
            inside_fn_types: true,
            ..CollectLifetimes::elision(found)
        }
    }
}

impl<'ast> syn::visit::Visit<'ast> for CollectLifetimes<'_> {
    fn visit_lifetime(&mut self, l: &'ast Lifetime) {
        if l.ident != "_" && !self.found.contains(l) && !self.bound.contains(l) {
            self.found.push(l.clone());
        }
    }
    fn visit_bound_lifetimes(&mut self, bound: &'ast syn::BoundLifetimes) {
        let bound = bound.lifetimes.iter().filter_map(|p| match p {
            GenericParam::Lifetime(l) => Some(l.lifetime.clone()),
            _ => None,
        });
        self.bound.extend(bound);
    }
    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        let outer = self.bound.len();
        syn::visit::visit_trait_bound(self, bound);
        self.bound.truncate(outer);
    }
    fn visit_type_fn_ptr(&mut self, f: &'ast syn::TypeFnPtr) {
        if self.inside_fn_types {
            let outer = self.bound.len();
            syn::visit::visit_type_fn_ptr(self, f);
            self.bound.truncate(outer);
        }
    }
    fn visit_parenthesized_generic_arguments(
        &mut self,
        args: &'ast syn::ParenthesizedGenericArguments,
    ) {
        if self.inside_fn_types {
            syn::visit::visit_parenthesized_generic_arguments(self, args);
        }
    }
}
