//! The `#[traced]` attribute of [godtrace](https://docs.rs/godtrace). Use it through the
//! `godtrace` crate (`use godtrace::traced;`); its options are documented there, on
//! `godtrace::traced`, and listed once in `attr.rs`.
use proc_macro::TokenStream;

mod attr;
mod expand;

/// What a `#[traced]` impl block writes into the `#[untraced]` of a method it leaves alone.
const IN_TRACED_BLOCK: &str = "__godtrace_in_traced_block";

/// Turns a function or method, sync or async, into a traced operation. See the `godtrace`
/// crate for the options.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let args: proc_macro2::TokenStream = args.into();
    let options = attr::Options::parse(args.clone());
    expand::expand(options, args, item.into()).into()
}

/// Leaves one method of a `#[traced]` impl block untraced. The block's `#[traced]` removes
/// it; anywhere else it is an error.
#[proc_macro_attribute]
pub fn untraced(args: TokenStream, item: TokenStream) -> TokenStream {
    if args.to_string() == IN_TRACED_BLOCK {
        return item;
    }
    let mut out: proc_macro2::TokenStream = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[untraced]` only means something on a method of a `#[traced]` impl block",
    )
    .to_compile_error();
    out.extend(proc_macro2::TokenStream::from(item));
    out.into()
}
