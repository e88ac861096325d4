//! The `#[traced]` attribute of [godtrace](https://docs.rs/godtrace). Use it through the
//! `godtrace` crate (`use godtrace::traced;`); its options are documented there, on
//! `godtrace::traced`, and listed once in `attr.rs`.
use proc_macro::TokenStream;

mod attr;
mod expand;

/// Turns a function or method, sync or async, into a traced operation. See the `godtrace`
/// crate for the options.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let options = attr::Options::parse(args.into());
    expand::expand(options, item.into()).into()
}
