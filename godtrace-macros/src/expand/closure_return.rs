//! A function returning `impl Fn(..)` whose body ends in a closure: the closure's parameter
//! types come from the declared return type, which the body's own closure (or async block)
//! no longer has in sight. The closure is handed through a function whose bound is that type,
//! so its signature is known where it is written, as without the attribute.
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::{Block, Expr, Ident, Signature, Stmt, Type, TypeParamBound};

/// When the body of `sig`'s function ends in a closure with an untyped parameter and `output` (the declared return
/// type, or an async fn's output) is an `impl Fn..` whose bounds name nothing of the
/// function's (its generics or `Self`, which a nested function cannot see) and no lifetime
/// but `'static`: puts that function first in `block`, and the closure through it.
pub(super) fn give_the_closure_its_signature(sig: &Signature, output: &Type, block: &mut Block) {
    let Type::ImplTrait(returned) = output else {
        return;
    };
    // Only a closure with a parameter of no written type needs the signature (one whose
    // types are all written compiles as it is, wherever the types come from).
    let Some(Stmt::Expr(tail @ Expr::Closure(_), None)) = block.stmts.last_mut() else {
        return;
    };
    let Expr::Closure(closure) = &*tail else {
        return;
    };
    if closure
        .inputs
        .iter()
        .all(|p| matches!(p, syn::Pat::Type(_)))
    {
        return;
    }
    let names_a_fn_trait = returned.bounds.iter().any(|bound| {
        matches!(bound, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| {
            matches!(s.arguments, syn::PathArguments::Parenthesized(_))
        }))
    });
    let bounds: Vec<&TypeParamBound> = returned
        .bounds
        .iter()
        .filter(|b| matches!(b, TypeParamBound::Trait(_) | TypeParamBound::Lifetime(_)))
        .collect();
    let tokens: TokenStream = quote!(#(#bounds)*);
    if !names_a_fn_trait || names_the_functions_own(sig, tokens) {
        return;
    }
    let helper = Ident::new("__godtrace_closure_of", Span::mixed_site());
    let value = Ident::new("__godtrace_closure", Span::mixed_site());
    let closure = std::mem::replace(tail, Expr::Verbatim(TokenStream::new()));
    // A statement, which can allow Clippy's lints about a closure passed where a function
    // could be (`|s| helper(s)`): returned as written, the closure is passed nowhere.
    let bound: Stmt = syn::parse_quote! {
        #[allow(
            clippy::redundant_closure,
            clippy::redundant_closure_for_method_calls,
            clippy::let_and_return
        )]
        let #value = #helper(#closure);
    };
    *tail = Expr::Verbatim(quote!(#value));
    let at = block.stmts.len() - 1;
    block.stmts.insert(at, bound);
    // The type parameter's name is one no user type has: it would hide the user's in `bounds`.
    let item: Stmt = syn::parse_quote! {
        fn #helper<__GodtraceClosure: #(#bounds)+*>(f: __GodtraceClosure) -> __GodtraceClosure {
            f
        }
    };
    block.stmts.insert(0, item);
}

/// Whether `tokens` name `Self`, a lifetime other than `'static`, or a generic parameter of
/// `sig`: what a function nested in the body could not name.
fn names_the_functions_own(sig: &Signature, tokens: TokenStream) -> bool {
    let generics: Vec<String> = sig
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(t.ident.to_string()),
            syn::GenericParam::Const(c) => Some(c.ident.to_string()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    let mut after_quote = false;
    let mut stack = vec![tokens.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(token) = top.next() else {
            stack.pop();
            continue;
        };
        match token {
            TokenTree::Group(g) => stack.push(g.stream().into_iter()),
            TokenTree::Punct(p) => after_quote = p.as_char() == '\'',
            TokenTree::Ident(i) => {
                let name = i.to_string();
                if after_quote && name != "static" {
                    return true;
                }
                if name == "Self" || generics.contains(&name) {
                    return true;
                }
                after_quote = false;
            }
            TokenTree::Literal(_) => after_quote = false,
        }
    }
    false
}
