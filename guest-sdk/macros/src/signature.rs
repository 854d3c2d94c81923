//! What both attributes need from a function signature: plain named
//! parameters of owned serde types, and whether it returns `T` or
//! `Result<T, E>`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

/// A checked signature.
pub(crate) struct Signature {
    /// Parameter names, in order.
    pub names: Vec<Ident>,
    /// Parameter types, in order.
    pub types: Vec<Type>,
    /// The output type `T` (the `Ok` type of a `Result`).
    pub output: Type,
    /// Whether the function returns a `Result`.
    pub fallible: bool,
}

/// Checks `item`'s signature; `what` ("checkpoint" or "flow") goes into errors.
pub(crate) fn check(item: &ItemFn, what: &str) -> syn::Result<Signature> {
    let sig = &item.sig;
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            format!("a {what} cannot be `async`; use `submit` for concurrency"),
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!("a {what} cannot be generic: its input and output must be concrete JSON types"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("a {what} cannot be variadic"),
        ));
    }
    let mut names = Vec::new();
    let mut types = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new_spanned(
                input,
                format!("a {what} cannot take `self`"),
            ));
        };
        let Pat::Ident(pat) = &*typed.pat else {
            return Err(syn::Error::new_spanned(
                &typed.pat,
                format!(
                    "{what} parameters must be plain names: they become the keys of the JSON input"
                ),
            ));
        };
        if let Type::Reference(reference) = &*typed.ty {
            return Err(syn::Error::new_spanned(
                reference,
                format!(
                    "{what} parameters must be owned types (e.g. `String`, not `&str`): they are deserialized from JSON"
                ),
            ));
        }
        names.push(pat.ident.clone());
        types.push((*typed.ty).clone());
    }
    let (output, fallible) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), false),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => (ok, true),
            None => ((**ty).clone(), false),
        },
    };
    Ok(Signature {
        names,
        types,
        output,
        fallible,
    })
}

/// `Some(T)` when `ty` is a path ending in `Result<T, ..>` (std's, an alias
/// such as `anyhow::Result<T>`, or `Result<T, cairn_guest::Error>`).
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(ok) => Some(ok.clone()),
        _ => None,
    }
}

/// The struct that carries the named parameters as one JSON object.
pub(crate) fn args_struct(sig: &Signature) -> TokenStream {
    let names = &sig.names;
    let types = &sig.types;
    quote! {
        #[derive(::cairn_guest::__private::serde::Serialize, ::cairn_guest::__private::serde::Deserialize)]
        #[serde(crate = "::cairn_guest::__private::serde", deny_unknown_fields)]
        struct Args { #( #names: #types, )* }
    }
}

/// The parameter names as string literals, for the manifest.
pub(crate) fn param_names(sig: &Signature) -> Vec<String> {
    sig.names
        .iter()
        .map(|n| n.to_string().trim_start_matches("r#").to_owned())
        .collect()
}
