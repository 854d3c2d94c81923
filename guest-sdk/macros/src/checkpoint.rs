//! `#[checkpoint]`: the author's function becomes a journaled call.
//!
//! `fn add_one(x: i64) -> i64` expands to
//! - `fn add_one(x: i64) -> Result<i64, cairn_guest::Error>`, which calls the
//!   runner (so a flow's call is journaled, never a plain function call);
//! - `mod add_one { submit, map, product, NAME }` in the type namespace beside
//!   it, for `add_one::submit(..)` and fan-out;
//! - the original body under a hidden name, and its registration.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

use crate::options;
use crate::signature::{self, Signature};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = options::parse(
        attr,
        &[
            "retries",
            "cache",
            "kind",
            "runtime",
            "fuel",
            "memory",
            "timeout_ms",
        ],
    )?;
    let item: ItemFn = syn::parse2(item)?;
    let sig = signature::check(&item, "checkpoint")?;
    let Signature {
        names,
        types,
        output,
        fallible,
    } = &sig;

    let name = &item.sig.ident;
    let name_str = name.to_string().trim_start_matches("r#").to_owned();
    let vis = &item.vis;
    let attrs = &item.attrs;
    let body_name = format_ident!("__cairn_checkpoint_{}", name);
    let mut body = item.clone();
    body.sig.ident = body_name.clone();
    body.vis = syn::Visibility::Inherited;
    body.attrs.retain(|a| !a.path().is_ident("doc"));

    let args_struct = signature::args_struct(&sig);
    let params = signature::param_names(&sig);
    let param_types = signature::param_types(&sig);
    let accepts_missing = signature::accepts_missing();
    let optional = signature::optional_checks(&sig);
    let doc = some_str(signature::doc(&item.attrs));
    let retries = options.retries.unwrap_or(0);
    let cache = match options.cache {
        Some(c) => quote!(::core::option::Option::Some(#c)),
        None => quote!(::core::option::Option::None),
    };
    let kind = some_str(options.kind.clone());
    let runtime = if options.isolated.unwrap_or(false) {
        quote!(::cairn_guest::__private::Runtime::Isolated)
    } else {
        quote!(::cairn_guest::__private::Runtime::Inline)
    };
    let some = |v: Option<u64>| match v {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let (fuel, memory, timeout_ms) = (
        some(options.fuel),
        some(options.memory),
        some(options.timeout_ms),
    );
    let to_output = if *fallible {
        quote!(::cairn_guest::__private::fallible_output)
    } else {
        quote!(::cairn_guest::__private::output)
    };
    let mod_doc = format!("Concurrent calls and the name of the `{name_str}` checkpoint.");
    let fanout = fanout(&sig, output, &params);

    Ok(quote! {
        #body

        #(#attrs)*
        #vis fn #name(#(#names: #types),*) -> ::core::result::Result<#output, ::cairn_guest::Error> {
            #name::__call(#(#names),*)
        }

        #[doc = #mod_doc]
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;

            /// The checkpoint's name in the journal.
            pub const NAME: &str = #name_str;

            #args_struct

            /// Submits a call and returns its handle; the call's sequence
            /// number is fixed now.
            pub fn submit(#(#names: #types),*) -> ::cairn_guest::Pending<#output> {
                ::cairn_guest::__private::submit(NAME, &Args { #(#names),* })
            }

            /// Calls and waits, in one host call (what the checkpoint's own
            /// function does).
            #[doc(hidden)]
            pub fn __call(#(#names: #types),*) -> ::core::result::Result<#output, ::cairn_guest::Error> {
                ::cairn_guest::__private::call(NAME, &Args { #(#names),* })
            }

            #fanout

            fn invoke(input: &str) -> ::cairn_guest::__private::Output {
                let args: Args = ::cairn_guest::__private::parse_input(input)?;
                #to_output(super::#body_name(#(args.#names),*))
            }

            #accepts_missing

            ::cairn_guest::__private::inventory::submit! {
                ::cairn_guest::__private::CheckpointEntry {
                    name: NAME,
                    params: &[#(#params),*],
                    param_types: &[#(#param_types),*],
                    param_optional: &[#(#optional),*],
                    doc: #doc,
                    retries: #retries,
                    cache: #cache,
                    kind: #kind,
                    runtime: #runtime,
                    fuel: #fuel,
                    memory_bytes: #memory,
                    timeout_ms: #timeout_ms,
                    invoke,
                }
            }
        }
    })
}

/// `Some("text")` or `None`, as an expression.
pub(crate) fn some_str(text: Option<String>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// `map` (any parameters) and `product` (two or more): each parameter
/// becomes an iterable of its type.
fn fanout(sig: &Signature, output: &syn::Type, params: &[String]) -> TokenStream {
    if sig.names.is_empty() {
        return TokenStream::new();
    }
    let names = &sig.names;
    let types = &sig.types;
    let columns = quote! {
        ::std::vec![#(::cairn_guest::__private::column(NAME, #names)?),*]
    };
    let map = quote! {
        /// Calls the checkpoint once per item (parameters zipped; equal
        /// lengths required) and returns the outputs in input order. Call
        /// ids are `name[i]`.
        pub fn map(#(#names: impl ::core::iter::IntoIterator<Item = #types>),*)
            -> ::core::result::Result<::std::vec::Vec<#output>, ::cairn_guest::Error>
        {
            ::cairn_guest::__private::map(NAME, &[#(#params),*], #columns)
        }
    };
    if sig.names.len() < 2 {
        return map;
    }
    quote! {
        #map

        /// Calls the checkpoint once per combination of the inputs, the
        /// first parameter outermost, and returns the outputs in that order.
        pub fn product(#(#names: impl ::core::iter::IntoIterator<Item = #types>),*)
            -> ::core::result::Result<::std::vec::Vec<#output>, ::cairn_guest::Error>
        {
            ::cairn_guest::__private::product(NAME, &[#(#params),*], #columns)
        }
    }
}
