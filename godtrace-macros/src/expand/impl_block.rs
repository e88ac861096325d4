//! `#[traced]` on an `impl` block: every method with a body gets a `#[traced(...)]` of its
//! own, carrying the block's options merged under the method's; the method-level attribute
//! then expands as usual (after `#[async_trait]`, whichever order the two are written in).
use crate::attr::{Options, option_name, split_commas};
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Attribute, Ident, ImplItem, ImplItemFn, ItemImpl, Meta};

pub(super) fn expand(options: Options, args: TokenStream, mut block: ItemImpl) -> TokenStream {
    let mut errors = options.errors.clone();
    if let Some(at) = options.operation.span() {
        errors.push(syn::Error::new(
            at,
            "`operation` names one span, so it cannot go on an impl block: put `#[traced(operation = \"...\")]` on the method",
        ));
    }
    check_block_skips(&options, &block, &mut errors);
    let krate = options
        .krate
        .get()
        .as_ref()
        .map_or_else(|| quote!(::godtrace), ToTokens::to_token_stream);
    let segments = split_commas(args);
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        if let Some(marker) = take_attr(&mut method.attrs, "untraced") {
            check_opt_out(&marker, &method.attrs, &mut errors);
            // Kept, so the user's import of it is used, with the mark that it was seen here.
            let path = marker.path();
            let seen = Ident::new(crate::IN_TRACED_BLOCK, proc_macro2::Span::call_site());
            method.attrs.insert(0, syn::parse_quote!(#[#path(#seen)]));
            continue;
        }
        if !errors.is_empty() {
            continue;
        }
        distribute(&options, &segments, &krate, method);
    }
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #(#errors)*
        #block
    }
}

/// Gives `method` a `#[traced(...)]` with its own options, then the block's it does not set
/// (skipping only the parameters it has). A `const fn` is left alone: it cannot be traced.
fn distribute(
    options: &Options,
    segments: &[TokenStream],
    krate: &TokenStream,
    method: &mut ImplItemFn,
) {
    let own = take_attr(&mut method.attrs, "traced");
    if own.is_none() && method.sig.constness.is_some() {
        return;
    }
    let (path, own_args) = match &own {
        Some(attr) => (
            attr.path().to_token_stream(),
            match &attr.meta {
                Meta::List(list) => list.tokens.clone(),
                _ => TokenStream::new(),
            },
        ),
        None => (quote!(#krate::traced), TokenStream::new()),
    };
    let own_names: Vec<String> = split_commas(own_args.clone())
        .iter()
        .filter_map(option_name)
        .collect();
    let mut merged = own_args;
    for segment in segments {
        let Some(name) = option_name(segment) else {
            continue;
        };
        if own_names.contains(&name) {
            continue;
        }
        let segment = if name == "skip" {
            let params = super::bound_params(&method.sig);
            let kept: Vec<&Ident> = options
                .skip
                .get()
                .iter()
                .filter(|s| params.iter().any(|(p, _)| p == *s))
                .collect();
            if kept.is_empty() {
                continue;
            }
            quote!(skip(#(#kept),*))
        } else {
            segment.clone()
        };
        if !merged.is_empty() {
            merged.extend(quote!(,));
        }
        merged.extend(segment);
    }
    let attr: Attribute = syn::parse_quote!(#[#path(#merged)]);
    method.attrs.insert(0, attr);
}

/// A name in the block's `skip(...)` must be a parameter of at least one method.
fn check_block_skips(options: &Options, block: &ItemImpl, errors: &mut Vec<syn::Error>) {
    for name in options.skip.get() {
        let somewhere = block.items.iter().any(|item| {
            matches!(item, ImplItem::Fn(m) if super::bound_params(&m.sig).iter().any(|(p, _)| p == name))
        });
        if !somewhere {
            errors.push(syn::Error::new_spanned(
                name,
                format!("no method of this impl block has a parameter named `{name}`"),
            ));
        }
    }
}

/// `#[untraced]` takes no options and does not go with `#[traced]` on the same method.
fn check_opt_out(marker: &Attribute, rest: &[Attribute], errors: &mut Vec<syn::Error>) {
    if !matches!(marker.meta, Meta::Path(_)) {
        errors.push(syn::Error::new_spanned(
            &marker.meta,
            "`#[untraced]` takes no options: it leaves the method as written",
        ));
    }
    if let Some(traced) = rest.iter().find(|a| is_named(a, "traced")) {
        errors.push(syn::Error::new_spanned(
            traced,
            "a method is either `#[untraced]` or `#[traced(...)]`, not both",
        ));
    }
}

fn is_named(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// Removes and returns the first attribute whose path ends in `name`.
fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> Option<Attribute> {
    let at = attrs.iter().position(|a| is_named(a, name))?;
    Some(attrs.remove(at))
}
