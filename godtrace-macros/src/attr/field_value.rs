//! What a `fields(..)` value cannot do. It is evaluated when the span starts, in a closure of
//! its own (where a panic of it is caught), apart from the function's body: control flow that
//! leaves the value (`?`, `return`, `.await`, `yield`, a `break` or `continue` of a loop
//! outside it) has nowhere to go, and rustc's own error would name that closure.
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, Lifetime};

/// Reports, at its token, each way `value` leaves itself.
pub(super) fn check_stays_inside(value: &Expr, errors: &mut Vec<syn::Error>) {
    let mut escapes = Escapes {
        loops: 0,
        try_blocks: 0,
        labels: Vec::new(),
        errors,
    };
    escapes.visit_expr(value);
}

struct Escapes<'a> {
    /// Loops of the value around the expression visited: an unlabeled `break` or `continue`
    /// stays inside when there is one.
    loops: usize,
    /// `try` blocks of the value around it: a `?` stays inside them.
    try_blocks: usize,
    /// Labels of the value's loops and blocks around it.
    labels: Vec<String>,
    errors: &'a mut Vec<syn::Error>,
}

impl Escapes<'_> {
    /// That the value cannot do `what`, at `at`, and why; `hint` follows.
    fn cannot(&mut self, at: impl ToTokens, what: &str, hint: &str) {
        let message = format!(
            "a `fields(..)` value cannot {what}: it is evaluated when the span starts, apart from the function's body{hint}"
        );
        self.errors.push(syn::Error::new_spanned(at, message));
    }

    /// A `break` or `continue` (`keyword`) to `label`, unless it stays inside the value.
    fn jump(&mut self, keyword: impl ToTokens, label: &Option<Lifetime>, what: &str) {
        if !self.stays(label.as_ref()) {
            self.cannot(quote::quote!(#keyword #label), what, "");
        }
    }

    /// Whether a `break` or `continue` to `label` (or to the innermost loop) stays inside.
    fn stays(&self, label: Option<&Lifetime>) -> bool {
        match label {
            Some(label) => self.labels.contains(&label.ident.to_string()),
            None => self.loops > 0,
        }
    }

    /// Visits a loop's body (`visit`) with its label in scope.
    fn in_loop(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
        self.loops += 1;
        self.labelled(label, visit);
        self.loops -= 1;
    }

    fn labelled(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
        if let Some(label) = label {
            self.labels.push(label.name.ident.to_string());
        }
        visit(self);
        if label.is_some() {
            self.labels.pop();
        }
    }
}

impl<'ast> Visit<'ast> for Escapes<'_> {
    fn visit_expr_try(&mut self, e: &'ast syn::ExprTry) {
        if self.try_blocks == 0 {
            let hint = " (handle the error in the value: `.ok()`, `.unwrap_or(..)`)";
            self.cannot(e.question_token, "use `?`", hint);
        }
        syn::visit::visit_expr_try(self, e);
    }

    fn visit_expr_return(&mut self, e: &'ast syn::ExprReturn) {
        self.cannot(e.return_token, "`return`", "");
        syn::visit::visit_expr_return(self, e);
    }

    fn visit_expr_await(&mut self, e: &'ast syn::ExprAwait) {
        self.cannot(e.await_token, "`.await`", "");
        syn::visit::visit_expr_await(self, e);
    }

    fn visit_expr_yield(&mut self, e: &'ast syn::ExprYield) {
        self.cannot(e.yield_token, "`yield`", "");
        syn::visit::visit_expr_yield(self, e);
    }

    fn visit_expr_break(&mut self, e: &'ast syn::ExprBreak) {
        self.jump(e.break_token, &e.label, "`break` out of itself");
        syn::visit::visit_expr_break(self, e);
    }

    fn visit_expr_continue(&mut self, e: &'ast syn::ExprContinue) {
        self.jump(e.continue_token, &e.label, "`continue` a loop outside it");
        syn::visit::visit_expr_continue(self, e);
    }

    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        self.in_loop(e.label.as_ref(), |v| v.visit_block(&e.body));
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.in_loop(e.label.as_ref(), |v| {
            v.visit_expr(&e.cond);
            v.visit_block(&e.body);
        });
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        // The iterator is evaluated outside the loop.
        self.visit_expr(&e.expr);
        self.in_loop(e.label.as_ref(), |v| v.visit_block(&e.body));
    }

    fn visit_expr_block(&mut self, e: &'ast syn::ExprBlock) {
        self.labelled(e.label.as_ref(), |v| v.visit_block(&e.block));
    }

    fn visit_expr_try_block(&mut self, e: &'ast syn::ExprTryBlock) {
        self.try_blocks += 1;
        syn::visit::visit_expr_try_block(self, e);
        self.try_blocks -= 1;
    }

    // Control flow inside these is their own: a closure's `return` and `?`, an async block's
    // `.await`, a nested item's anything, a `const` block's.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_expr_const(&mut self, _: &'ast syn::ExprConst) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
