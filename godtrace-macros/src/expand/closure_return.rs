//! A function returning `impl Fn(..)` (alone, or in a tuple or an array) whose value is a
//! closure: the closure's parameter types come from the declared return type, which the
//! body's own closure (or async block) no longer has in sight. Each closure the function
//! returns (at the body's tail, at the tails of the blocks, branches and arms it ends in, in
//! the elements of a returned tuple or array, in a `return`, or in a `break` out of a loop
//! whose value is returned) is handed through a function whose bound is that type, so its
//! signature is known where it is written, as without the attribute.
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::collections::HashMap;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprClosure, Ident, Label, Signature, Stmt, Type, TypeParamBound};

/// Hands every closure with an untyped parameter that `sig`'s function returns, at a place
/// of `output` (the declared return type, or an async fn's output) that is an `impl Fn..`
/// whose bounds name nothing of the function's (its generics or `Self`, which a nested
/// function cannot see) and no lifetime but `'static`, through a function bound by that
/// type, which it puts first in `block`. One walk of the body: linear in its size.
pub(super) fn give_the_closure_its_signature(sig: &Signature, output: &Type, block: &mut Block) {
    let mut helpers = Vec::new();
    let expected = Expected::of(sig, output, &mut helpers);
    if matches!(expected, Expected::Nothing) {
        return;
    }
    let mut walk = Walk {
        returned: &expected,
        at: None,
        loops: Vec::new(),
        labels: HashMap::new(),
        helpers: &mut helpers,
    };
    walk.block(block, Some(&expected));
    for helper in helpers.iter().rev().filter(|h| h.used) {
        let (name, bounds) = (&helper.name, &helper.bounds);
        // The type parameter's name is one no user type has: it would hide the user's in
        // `bounds`.
        let item: Stmt = syn::parse_quote! {
            fn #name<__GodtraceClosure: #(#bounds)+*>(f: __GodtraceClosure) -> __GodtraceClosure {
                f
            }
        };
        block.stmts.insert(0, item);
    }
}

/// What a part of the returned value is declared as, where it matters to a closure.
enum Expected {
    /// An `impl Fn..` a closure can take its signature from: the index of its helper.
    Closure(usize),
    Tuple(Vec<Expected>),
    Array(Box<Expected>),
    /// Anything else: no closure here is given a signature.
    Nothing,
}

/// The function a closure is handed through, and whether a closure was.
struct Helper {
    name: Ident,
    bounds: Vec<TypeParamBound>,
    used: bool,
}

impl Expected {
    fn of(sig: &Signature, ty: &Type, helpers: &mut Vec<Helper>) -> Expected {
        match ty {
            Type::ImplTrait(returned) => match closure_bounds(sig, &returned.bounds) {
                Some(bounds) => {
                    let name = format_ident!(
                        "__godtrace_closure_of_{}",
                        helpers.len(),
                        span = Span::mixed_site()
                    );
                    helpers.push(Helper {
                        name,
                        bounds,
                        used: false,
                    });
                    Expected::Closure(helpers.len() - 1)
                }
                None => Expected::Nothing,
            },
            Type::Tuple(tuple) => {
                let elems: Vec<Expected> = (tuple.elems.iter())
                    .map(|elem| Expected::of(sig, elem, helpers))
                    .collect();
                if elems.iter().all(|e| matches!(e, Expected::Nothing)) {
                    Expected::Nothing
                } else {
                    Expected::Tuple(elems)
                }
            }
            Type::Array(array) => match Expected::of(sig, &array.elem, helpers) {
                Expected::Nothing => Expected::Nothing,
                elem => Expected::Array(Box::new(elem)),
            },
            Type::Paren(inner) => Expected::of(sig, &inner.elem, helpers),
            Type::Group(inner) => Expected::of(sig, &inner.elem, helpers),
            _ => Expected::Nothing,
        }
    }
}

/// The trait bounds of an `impl ..` that names a `Fn` trait (one with parenthesized
/// arguments) and nothing a nested function cannot name. Its lifetime bounds (`+ 'a`, `+ '_`)
/// are left out: they do not shape the closure's signature (the function's own return type
/// still holds the closure to them), and one naming the function's lifetime cannot be written
/// in a nested function.
fn closure_bounds(
    sig: &Signature,
    bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>,
) -> Option<Vec<TypeParamBound>> {
    let names_a_fn_trait = bounds.iter().any(|bound| {
        matches!(bound, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| {
            matches!(s.arguments, syn::PathArguments::Parenthesized(_))
        }))
    });
    let bounds: Vec<TypeParamBound> = (bounds.iter())
        .filter(|b| matches!(b, TypeParamBound::Trait(_)))
        .cloned()
        .collect();
    let tokens: TokenStream = quote!(#(#bounds)*);
    (names_a_fn_trait && !names_the_functions_own(sig, tokens)).then_some(bounds)
}

/// The walk of the body: every expression once, knowing what the one at hand is expected to
/// be when its value is (part of) the function's.
struct Walk<'a> {
    /// What a `return`'s value is expected to be.
    returned: &'a Expected,
    /// What the expression the visitor is about to enter is expected to be (taken on entry).
    at: Option<&'a Expected>,
    /// The loops around the expression at hand, innermost last: what an unlabeled `break`
    /// out of each gives a value for.
    loops: Vec<Option<&'a Expected>>,
    /// The same, for each label of a loop or block around it (innermost last): what a `break`
    /// to it gives a value for. A map, so that each `break` is looked up at once.
    labels: HashMap<Ident, Vec<Option<&'a Expected>>>,
    helpers: &'a mut Vec<Helper>,
}

impl<'a> Walk<'a> {
    /// `block`, whose tail (if any) is expected to be `expected`.
    fn block(&mut self, block: &mut Block, expected: Option<&'a Expected>) {
        let count = block.stmts.len();
        for (i, stmt) in block.stmts.iter_mut().enumerate() {
            match stmt {
                Stmt::Expr(tail, None) if i + 1 == count => self.expr(tail, expected),
                _ => self.visit_stmt_mut(stmt),
            }
        }
    }

    fn expr(&mut self, expr: &mut Expr, expected: Option<&'a Expected>) {
        self.at = expected;
        self.visit_expr_mut(expr);
    }

    /// A loop's (`is_loop`) or a block's body, which a `break` out of it leaves with a value
    /// expected to be `expected`, and whose tail is expected to be `tail`.
    fn target(
        &mut self,
        is_loop: bool,
        label: Option<&Label>,
        expected: Option<&'a Expected>,
        body: &mut Block,
        tail: Option<&'a Expected>,
    ) {
        let label = label.map(|l| l.name.ident.clone());
        if is_loop {
            self.loops.push(expected);
        }
        if let Some(label) = &label {
            self.labels.entry(label.clone()).or_default().push(expected);
        }
        self.block(body, tail);
        if let Some(label) = &label
            && let Some(around) = self.labels.get_mut(label)
        {
            around.pop();
        }
        if is_loop {
            self.loops.pop();
        }
    }

    /// What the value of a `break` to `label` (or to the innermost loop) is expected to be.
    fn break_target(&self, label: Option<&syn::Lifetime>) -> Option<&'a Expected> {
        let around = match label {
            Some(label) => self.labels.get(&label.ident)?,
            None => &self.loops,
        };
        around.last().copied().flatten()
    }

    fn closure(&mut self, expr: &mut Expr, index: usize) {
        let Expr::Closure(closure) = &*expr else {
            return;
        };
        // Only a closure with a parameter of no written type needs the signature (one whose
        // types are all written compiles as it is, wherever the types come from).
        if all_typed(closure) {
            return;
        }
        let helper = &mut self.helpers[index];
        helper.used = true;
        let name = &helper.name;
        let value = Ident::new("__godtrace_closure", Span::mixed_site());
        let closure = std::mem::replace(expr, Expr::Verbatim(TokenStream::new()));
        // Bound by a statement, which can allow Clippy's lints about a closure passed where a
        // function could be (`|s| helper(s)`): returned as written, the closure is passed
        // nowhere. In a block of its own, which any expression's place takes.
        *expr = syn::parse_quote! {{
            #[allow(
                clippy::redundant_closure,
                clippy::redundant_closure_for_method_calls,
                clippy::let_and_return
            )]
            let #value = #name(#closure);
            #value
        }};
    }
}

impl<'a> VisitMut for Walk<'a> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let expected = self.at.take();
        match expr {
            // A closure's or an async block's `return` is its own, and so is a nested item's.
            Expr::Closure(_) => {
                if let Some(Expected::Closure(index)) = expected {
                    self.closure(expr, *index);
                }
            }
            Expr::Async(_) | Expr::Const(_) => {}
            Expr::Block(b) => {
                let label = b.label.as_ref();
                self.target(false, label, expected, &mut b.block, expected);
            }
            Expr::Unsafe(u) => self.block(&mut u.block, expected),
            Expr::If(i) => {
                self.expr(&mut i.cond, None);
                // Without an `else`, its value is `()`.
                let expected = expected.filter(|_| i.else_branch.is_some());
                self.block(&mut i.then_branch, expected);
                if let Some((_, otherwise)) = &mut i.else_branch {
                    self.expr(otherwise, expected);
                }
            }
            Expr::Match(m) => {
                self.expr(&mut m.expr, None);
                for arm in &mut m.arms {
                    // With its guard, whose value is not the arm's.
                    self.visit_pat_mut(&mut arm.pat);
                    self.expr(&mut arm.body, expected);
                }
            }
            Expr::Tuple(t) => match expected {
                Some(Expected::Tuple(elems)) if elems.len() == t.elems.len() => {
                    for (elem, expected) in t.elems.iter_mut().zip(elems) {
                        self.expr(elem, Some(expected));
                    }
                }
                _ => syn::visit_mut::visit_expr_tuple_mut(self, t),
            },
            Expr::Array(a) => match expected {
                Some(Expected::Array(elem)) => {
                    for e in &mut a.elems {
                        self.expr(e, Some(elem));
                    }
                }
                _ => syn::visit_mut::visit_expr_array_mut(self, a),
            },
            Expr::Paren(p) => self.expr(&mut p.expr, expected),
            Expr::Group(g) => self.expr(&mut g.expr, expected),
            Expr::Return(r) => {
                if let Some(value) = &mut r.expr {
                    self.expr(value, Some(self.returned));
                }
            }
            Expr::Break(b) => {
                let target = self.break_target(b.label.as_ref());
                if let Some(value) = &mut b.expr {
                    self.expr(value, target);
                }
            }
            Expr::Loop(l) => {
                self.target(true, l.label.as_ref(), expected, &mut l.body, None);
            }
            // Their `break` gives no value; a `break` in their body is theirs.
            Expr::While(w) => {
                self.expr(&mut w.cond, None);
                self.target(true, w.label.as_ref(), None, &mut w.body, None);
            }
            Expr::ForLoop(f) => {
                self.visit_pat_mut(&mut f.pat);
                self.expr(&mut f.expr, None);
                self.target(true, f.label.as_ref(), None, &mut f.body, None);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn all_typed(closure: &ExprClosure) -> bool {
    (closure.inputs.iter()).all(|p| matches!(p, syn::Pat::Type(_)))
}

/// Whether `tokens` name `Self`, a generic parameter of `sig`, or a lifetime other than
/// `'static`: what a function nested in the body could not name (or the attribute cannot
/// tell: an impl block's). A lifetime the bound declares itself (`for<'a> Fn(&'a str) -> &'a
/// str`) is not the function's, nor a `'_` among a `Fn(..)`'s parameters (`Fn(Arguments<'_>)`:
/// the bound's own, as elided there).
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
    let bounds_own = lifetimes_declared_by_for(tokens.clone());
    let mut after_quote = false;
    let mut stack = vec![(tokens.into_iter(), false)];
    while let Some((top, in_parentheses)) = stack.last_mut() {
        let in_parentheses = *in_parentheses;
        let Some(token) = top.next() else {
            stack.pop();
            continue;
        };
        match token {
            TokenTree::Group(g) => {
                let parentheses = g.delimiter() == proc_macro2::Delimiter::Parenthesis;
                stack.push((g.stream().into_iter(), in_parentheses || parentheses));
            }
            TokenTree::Punct(p) => after_quote = p.as_char() == '\'',
            TokenTree::Ident(i) => {
                let name = i.to_string();
                let own = if after_quote {
                    match name.as_str() {
                        "static" => false,
                        "_" => !in_parentheses,
                        _ => !bounds_own.contains(&name),
                    }
                } else {
                    name == "Self" || generics.contains(&name)
                };
                if own {
                    return true;
                }
                after_quote = false;
            }
            TokenTree::Literal(_) => after_quote = false,
        }
    }
    false
}

/// The lifetimes `for<..>` binders in `tokens` declare (`a` for `for<'a>`).
fn lifetimes_declared_by_for(tokens: TokenStream) -> Vec<String> {
    /// Where the walk is in a binder.
    #[derive(Clone, Copy)]
    enum At {
        Outside,
        AfterFor,
        InBrackets,
        AfterQuote,
    }
    let mut declared = Vec::new();
    let mut stack = vec![tokens.into_iter()];
    let mut at = At::Outside;
    while let Some(top) = stack.last_mut() {
        let Some(token) = top.next() else {
            stack.pop();
            continue;
        };
        at = match (at, token) {
            (_, TokenTree::Group(g)) => {
                stack.push(g.stream().into_iter());
                At::Outside
            }
            (_, TokenTree::Ident(i)) if i == "for" => At::AfterFor,
            (At::AfterFor, TokenTree::Punct(p)) if p.as_char() == '<' => At::InBrackets,
            (At::InBrackets, TokenTree::Punct(p)) if p.as_char() == '\'' => At::AfterQuote,
            (At::InBrackets, TokenTree::Punct(p)) if p.as_char() == ',' => At::InBrackets,
            (At::AfterQuote, TokenTree::Ident(i)) => {
                declared.push(i.to_string());
                At::InBrackets
            }
            _ => At::Outside,
        };
    }
    declared
}
