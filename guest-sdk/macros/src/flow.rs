//! `#[flow]`: the author's function stays as written and is registered as an
//! entry point that takes its named parameters as one JSON object.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::checkpoint::some_str;
use crate::options;
use crate::signature::{self, Signature};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = options::parse(attr, &["retries", "cache"])?;
    let item: ItemFn = syn::parse2(item)?;
    let sig = signature::check(&item, "flow")?;
    let Signature {
        names, fallible, ..
    } = &sig;

    let name = &item.sig.ident;
    let name_str = name.to_string().trim_start_matches("r#").to_owned();
    let args_struct = signature::args_struct(&sig);
    let params = signature::param_names(&sig);
    let param_types = signature::param_types(&sig);
    let accepts_missing = signature::accepts_missing();
    let optional = signature::optional_checks(&sig);
    let doc = some_str(signature::doc(&item.attrs));
    let retries = options.retries.unwrap_or(0);
    let cache = options.cache.unwrap_or(true);
    let to_output = if *fallible {
        quote!(::cairn_guest::__private::fallible_output)
    } else {
        quote!(::cairn_guest::__private::output)
    };

    Ok(quote! {
        #item

        const _: () = {
            #args_struct

            fn invoke(input: &str) -> ::cairn_guest::__private::Output {
                let args: Args = ::cairn_guest::__private::parse_input(input)?;
                #to_output(#name(#(args.#names),*))
            }

            #accepts_missing

            ::cairn_guest::__private::inventory::submit! {
                ::cairn_guest::__private::FlowEntry {
                    name: #name_str,
                    params: &[#(#params),*],
                    param_types: &[#(#param_types),*],
                    param_optional: &[#(#optional),*],
                    doc: #doc,
                    retries: #retries,
                    cache: #cache,
                    invoke,
                }
            }
        };
    })
}
