//! `#[traced]` on an `impl` block: every method with a body gets a `#[traced(...)]` of its
//! own, carrying the block's options merged under the method's; the method-level attribute
//! then expands as usual (after `#[async_trait]`, whichever order the two are written in).
use crate::attr::{Options, option_name, same_name, split_commas};
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
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
    split_on_conditional_tracing(&mut block);
    // The methods' code changes under the block's `#[expect]`s as under their own.
    super::expectations_as_allows(&mut block.attrs);
    check_block_skips(&options, &block, &mut errors);
    let krate = options
        .krate
        .get()
        .as_ref()
        .map_or_else(|| quote!(::godtrace), ToTokens::to_token_stream);
    let mut segments = split_commas(args);
    if !errors.is_empty() {
        segments = without_errors(segments);
    }
    // Errors about one method, under that method's `#[cfg(..)]`s: of the copies
    // `split_on_conditional_tracing` makes, only the one the compiler keeps reports its own.
    let mut conditional: Vec<TokenStream> = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        // Before the block goes back to the compiler, which would read a macro fragment's
        // type out of its group (see `ungroup_types`) before the method's own expansion.
        super::ungroup_types(&mut method.sig);
        if let Some(marker) = take_attr(&mut method.attrs, "untraced") {
            let mut own = Vec::new();
            // A second one, left there, would expand on its own and say it is outside a
            // traced block.
            while let Some(again) = take_attr(&mut method.attrs, "untraced") {
                own.push(syn::Error::new_spanned(
                    again,
                    "`#[untraced]` is given twice",
                ));
            }
            check_opt_out(&marker, &method.attrs, &mut own);
            conditional.extend(under_the_methods_cfgs(&method.attrs, own));
            // Kept, so the user's import of it is used, with the mark that it was seen here.
            let path = marker.path();
            let seen = Ident::new(crate::IN_TRACED_BLOCK, proc_macro2::Span::call_site());
            method.attrs.insert(0, syn::parse_quote!(#[#path(#seen)]));
            continue;
        }
        distribute(&options, &segments, &krate, method);
    }
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #(#errors)*
        #(#conditional)*
        #block
    }
}

/// `errors` about a method, reported only where the method is compiled: under its
/// `#[cfg(..)]`s, when it has any.
fn under_the_methods_cfgs(attrs: &[Attribute], errors: Vec<syn::Error>) -> Vec<TokenStream> {
    let cfgs: Vec<TokenStream> = attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .filter_map(|a| match &a.meta {
            Meta::List(list) => Some(list.tokens.clone()),
            _ => None,
        })
        .collect();
    errors
        .iter()
        .map(|e| {
            let error = e.to_compile_error();
            if cfgs.is_empty() {
                error
            } else {
                quote!(#[cfg(all(#(#cfgs),*))] const _: () = { #error };)
            }
        })
        .collect()
}

/// Gives `method` a `#[traced(...)]` with its own options, then the block's it does not set.
/// `skip` is the exception: the block's names (those the method has parameters for) are
/// added to the method's own, so that a method cannot record what the block keeps secret;
/// they are left out when the method turns `include_args` off, where they mean nothing. A
/// `const fn` is left alone: it cannot be traced.
/// The block's options (`segments`) its methods still get when some have errors: those right
/// on their own, so that a method's own options are checked against what the block meant (its
/// `skip` against the block's `include_args`), not reported as misused. An `include_args`
/// written with a value it does not take (`include_args = maybe`) is taken as meant.
fn without_errors(segments: Vec<TokenStream>) -> Vec<TokenStream> {
    segments
        .into_iter()
        .filter_map(|segment| {
            if Options::parse(segment.clone()).errors.is_empty() {
                return Some(segment);
            }
            (option_name(&segment)? == "include_args").then(|| {
                let at = segment.clone().into_iter().next().map(|t| t.span());
                Ident::new("include_args", at.unwrap_or_else(Span::call_site)).into_token_stream()
            })
        })
        .collect()
}

fn distribute(
    options: &Options,
    segments: &[TokenStream],
    krate: &TokenStream,
    method: &mut ImplItemFn,
) {
    let own_at = method.attrs.iter().position(|a| is_named(a, "traced"));
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
    // Read only to merge: its errors are the method's, reported where the method expands.
    let own_options = Options::parse(own_args.clone());
    let include_args = match own_options.include_args.span() {
        Some(_) => *own_options.include_args.get(),
        None => *options.include_args.get(),
    };
    let params = super::bound_params(&method.sig);
    let block_skips: Vec<&Ident> = options
        .skip
        .get()
        .iter()
        .filter(|s| include_args && params.iter().any(|(p, _)| same_name(p, s)))
        .filter(|s| !own_options.skips(s))
        .collect();
    let own_segments = split_commas(own_args);
    let own_names: Vec<String> = own_segments.iter().filter_map(option_name).collect();
    let mut merged: Vec<TokenStream> = Vec::new();
    for segment in own_segments {
        if option_name(&segment).as_deref() == Some("skip") {
            merged.push(add_skips(segment, &block_skips));
        } else {
            merged.push(segment);
        }
    }
    for segment in segments {
        let Some(name) = option_name(segment) else {
            continue;
        };
        if name == "skip" {
            if !own_names.contains(&name) && !block_skips.is_empty() {
                merged.push(quote!(skip(#(#block_skips),*)));
            }
        } else if !own_names.contains(&name) {
            merged.push(segment.clone());
        }
    }
    let attr: Attribute = syn::parse_quote!(#[#path(#(#merged),*)]);
    // Where the method's own was; else first, but below the attributes that must see the fn
    // before `#[traced]` does (`#[tracing::instrument]`, a runtime's `#[test]`, also in a
    // `cfg_attr`), sync or not: `#[async_trait]`, when it expands first, has made the
    // `async fn`s sync, and `#[instrument]`'s span is then inside the call's on every method.
    let at = own_at.unwrap_or_else(|| {
        (method.attrs.iter())
            .rposition(super::must_see_the_async_fn)
            .map_or(0, |last| last + 1)
    });
    method.attrs.insert(at, attr);
}

/// The method's own `skip(..)` segment with `names` appended inside its parentheses (which
/// keep their span: errors about the list still point at the method's).
fn add_skips(segment: TokenStream, names: &[&Ident]) -> TokenStream {
    let tokens: Vec<TokenTree> = segment.clone().into_iter().collect();
    let [name, TokenTree::Group(list)] = tokens.as_slice() else {
        return segment;
    };
    if names.is_empty() || list.delimiter() != Delimiter::Parenthesis {
        return segment;
    }
    let mut inner = list.stream();
    let ends_with_comma = matches!(
        inner.clone().into_iter().last(),
        Some(TokenTree::Punct(p)) if p.as_char() == ','
    );
    if !inner.is_empty() && !ends_with_comma {
        inner.extend(quote!(,));
    }
    inner.extend(quote!(#(#names),*));
    let mut list = Group::new(Delimiter::Parenthesis, inner);
    list.set_span(tokens[1].span());
    quote!(#name #list)
}

/// A name in the block's `skip(...)` must be a parameter of at least one method, and the
/// block's `skip` must apply to some method: it needs `include_args`, on the block or on a
/// method (a method that turns it off just leaves the block's `skip` out).
fn check_block_skips(options: &Options, block: &ItemImpl, errors: &mut Vec<syn::Error>) {
    if let (Some(span), false) = (
        options.skip.span(),
        *options.include_args.get() || options.include_args.written_wrong(),
    ) {
        let on_a_method = block.items.iter().any(|item| {
            let ImplItem::Fn(m) = item else { return false };
            m.attrs
                .iter()
                .filter(|a| is_named(a, "traced"))
                .any(|a| match &a.meta {
                    Meta::List(list) => {
                        let own = Options::parse(list.tokens.clone());
                        *own.include_args.get() || own.include_args.written_wrong()
                    }
                    _ => false,
                })
        });
        if !on_a_method {
            errors.push(syn::Error::new(span, super::SKIP_WITHOUT_INCLUDE_ARGS));
        }
    }
    for name in options.skip.get() {
        let somewhere = block.items.iter().any(
            |item| matches!(item, ImplItem::Fn(m) if super::skippable_params(&m.sig, &m.block).iter().any(|p| same_name(p, name))),
        );
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

/// A method whose `#[traced(..)]` or `#[untraced]` is under a condition
/// (`#[cfg_attr(pred, traced(kind = client))]`) becomes two copies, one for each outcome,
/// which the compiler keeps one of before either expands: `#[cfg(pred)]` with the attributes
/// the `cfg_attr` applies (its options then join the block's, or it is left untraced), and
/// `#[cfg(not(pred))]` without them (the block's options alone). The condition cannot be
/// decided here; without the split, the block would trace the method and the attribute the
/// condition applies would then trace it again.
fn split_on_conditional_tracing(block: &mut ItemImpl) {
    let mut items = Vec::with_capacity(block.items.len());
    let mut pending: Vec<ImplItem> = block.items.drain(..).rev().collect();
    while let Some(item) = pending.pop() {
        let ImplItem::Fn(method) = &item else {
            items.push(item);
            continue;
        };
        let Some((at, pred, applied)) = method
            .attrs
            .iter()
            .enumerate()
            .find_map(|(at, attr)| conditional_tracing(attr).map(|(p, a)| (at, p, a)))
        else {
            items.push(item);
            continue;
        };
        let mut when = method.clone();
        let mut otherwise = method.clone();
        let applied = applied.iter().map(|meta| -> Attribute {
            let at = syn::spanned::Spanned::span(meta);
            syn::parse_quote_spanned!(at=> #[#meta])
        });
        when.attrs.splice(
            at..=at,
            std::iter::once(syn::parse_quote!(#[cfg(#pred)])).chain(applied),
        );
        otherwise.attrs[at] = syn::parse_quote!(#[cfg(not(#pred))]);
        // Each copy may hold another such condition: looked at again, in order.
        pending.push(ImplItem::Fn(otherwise));
        pending.push(ImplItem::Fn(when));
    }
    block.items = items;
}

/// `cfg_attr(pred, a, b, ..)` applying `traced` or `untraced`: the condition and what it
/// applies.
fn conditional_tracing(attr: &Attribute) -> Option<(TokenStream, Vec<syn::Meta>)> {
    let (_, pred, applied) = super::cfg_attr_parts(&attr.meta)?;
    applied
        .iter()
        .any(applies_tracing)
        .then(|| (pred, applied.into_iter().collect()))
}

/// Whether `meta` is `traced`, `untraced`, or a `cfg_attr` applying one (at any depth).
fn applies_tracing(meta: &syn::Meta) -> bool {
    let last = meta.path().segments.last();
    if last.is_some_and(|s| s.ident == "traced" || s.ident == "untraced") {
        return true;
    }
    super::cfg_attr_parts(meta).is_some_and(|(_, _, applied)| applied.iter().any(applies_tracing))
}

/// Removes and returns the first attribute whose path ends in `name`.
fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> Option<Attribute> {
    let at = attrs.iter().position(|a| is_named(a, name))?;
    Some(attrs.remove(at))
}
