//! The `#[checkpoint]` and `#[flow]` attributes of `cairn-guest`. Each entry
//! point is thin: it parses, expands into a `syn::Result`, and turns an error
//! into a spanned `compile_error!`.

use proc_macro::TokenStream;

mod checkpoint;
mod flow;
mod options;
mod signature;

/// Declares a checkpoint: a function whose output Cairn journals.
///
/// Options: `retries = N`, `cache = bool`, `kind = "label"`,
/// `runtime = "inline" | "isolated"`. See the `cairn-guest` crate docs.
///
/// Its doc comment and its parameters' types (as written) go into the
/// component's manifest, which `cairn inspect` shows.
#[proc_macro_attribute]
pub fn checkpoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    checkpoint::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares a flow: deterministic code that calls checkpoints.
///
/// Options: `retries = N`, `cache = bool`. See the `cairn-guest` crate docs.
///
/// Its doc comment and its parameters' types (as written) go into the
/// component's manifest, which `cairn inspect` shows; so does which
/// parameters may be left out of its input (those serde lets be absent,
/// such as an `Option`), which the host checks before it runs the flow.
#[proc_macro_attribute]
pub fn flow(attr: TokenStream, item: TokenStream) -> TokenStream {
    flow::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
