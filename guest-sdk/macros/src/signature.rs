//! What both attributes need from a function signature: plain named
//! parameters of owned serde types, and whether it returns `T` or
//! `Result<T, E>`.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, Ident, ItemFn, Lit, Meta, Pat, PathArguments,
    ReturnType, Type,
};

/// The longest parameter type name the host accepts, in bytes; a longer
/// one is cut to fit.
const MAX_TYPE_NAME_LEN: usize = 256;

/// The longest doc comment the host accepts, in bytes; a longer one is cut
/// to fit.
const MAX_DOC_LEN: usize = 4096;

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

/// The parameter types as their author wrote them (`Vec<String>`,
/// `std::collections::BTreeMap<String, i64>`), for the manifest.
pub(crate) fn param_types(sig: &Signature) -> Vec<String> {
    sig.types
        .iter()
        .map(|ty| {
            let mut text = String::new();
            write_tokens(&mut text, ty.to_token_stream());
            cut(text.trim_end().to_owned(), MAX_TYPE_NAME_LEN)
        })
        .collect()
}

/// Tokens as Rust is usually written: no spaces around `::`, `<`, `>` and
/// brackets, one after `,` and `;`, around `=` (`Item = u8`), `+` and `->`.
/// (`TokenStream`'s own `Display` spaces every token, in a format that is
/// not promised to stay the same.)
fn write_tokens(out: &mut String, tokens: TokenStream) {
    let mut word_before = false;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if word_before {
                    out.push(' ');
                }
                out.push_str(&token.to_string());
                word_before = true;
                continue;
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                ',' | ';' => {
                    out.push(punct.as_char());
                    out.push(' ');
                }
                '-' if punct.spacing() == Spacing::Joint
                    && matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '>') =>
                {
                    tokens.next();
                    spaced(out, "->");
                }
                '=' | '+' => spaced(out, &punct.to_string()),
                other => out.push(other),
            },
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(out, group.stream());
                out.truncate(out.trim_end().len());
                out.push_str(close);
            }
        }
        word_before = false;
    }
}

/// `symbol` with one space on each side.
fn spaced(out: &mut String, symbol: &str) {
    out.truncate(out.trim_end().len());
    out.push(' ');
    out.push_str(symbol);
    out.push(' ');
}

/// The text of the `///` lines (`#[doc = "..."]` attributes) of an item:
/// one line per line, each without the space that follows `///`, trailing
/// spaces and control characters (a CR) dropped, blank lines at either end
/// trimmed, at most [`MAX_DOC_LEN`] bytes. `None` when there is no text.
/// A `#[doc = include_str!(..)]` is not a literal and is skipped.
pub(crate) fn doc(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        let Meta::NameValue(pair) = &attr.meta else {
            continue;
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) = &pair.value
        else {
            continue;
        };
        let text = text.value();
        let block = text.contains('\n');
        // `split`, not `lines`: an empty `///` is an empty line.
        for line in text.split('\n') {
            // A `/** */` comment's lines are indented, often behind `*`.
            let line = if block {
                let line = line.trim_start();
                line.strip_prefix('*').unwrap_or(line)
            } else {
                line
            };
            let line: String = line
                .strip_prefix(' ')
                .unwrap_or(line)
                .chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect();
            lines.push(line.trim_end().to_owned());
        }
    }
    let text = lines.join("\n");
    let text = text.trim_matches('\n');
    (!text.is_empty()).then(|| cut(text.to_owned(), MAX_DOC_LEN))
}

/// `text`, cut on a character boundary to at most `max` bytes with `…`
/// marking the cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

/// A generic function, `__accepts_missing::<T>()`, that says whether a
/// parameter of type `T` may be left out of the input: what serde's derive
/// makes of a missing field (`Option<T>` becomes `None`; most types are an
/// error), asked of serde itself so that aliases and wrappers get serde's
/// answer. The manifest carries the answer for each parameter.
pub(crate) fn accepts_missing() -> TokenStream {
    quote! {
        fn __accepts_missing<T: ::cairn_guest::__private::serde::de::DeserializeOwned>() -> bool {
            #[derive(::cairn_guest::__private::serde::Deserialize)]
            #[serde(crate = "::cairn_guest::__private::serde")]
            struct Absent<T> {
                _value: T,
            }
            ::cairn_guest::__private::parse_input::<Absent<T>>("{}").is_ok()
        }
    }
}

/// The entries of `param_optional`: `__accepts_missing::<T>` per parameter.
pub(crate) fn optional_checks(sig: &Signature) -> Vec<TokenStream> {
    sig.types
        .iter()
        .map(|ty| quote!(__accepts_missing::<#ty> as fn() -> bool))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_text(source: &str) -> String {
        let ty: Type = syn::parse_str(source).expect("a type");
        let sig = Signature {
            names: Vec::new(),
            types: vec![ty],
            output: syn::parse_quote!(()),
            fallible: false,
        };
        param_types(&sig).remove(0)
    }

    #[test]
    fn types_read_as_written() {
        for (source, shown) in [
            ("i64", "i64"),
            ("Vec < String >", "Vec<String>"),
            (
                "std :: collections :: BTreeMap<String,Vec<(u32,String)>>",
                "std::collections::BTreeMap<String, Vec<(u32, String)>>",
            ),
            ("[u8;32]", "[u8; 32]"),
            ("( i64 , )", "(i64,)"),
            ("Cow<'static, str>", "Cow<'static, str>"),
            ("Box<dyn Fn(u8)->u8+Send>", "Box<dyn Fn(u8) -> u8 + Send>"),
            ("()", "()"),
        ] {
            assert_eq!(type_text(source), shown, "{source}");
        }
        let long = format!("Vec<{}>", "a".repeat(1000));
        let cut = type_text(&long);
        assert!(
            cut.len() <= MAX_TYPE_NAME_LEN && cut.ends_with('…'),
            "{cut}"
        );
    }

    #[test]
    fn doc_comments_become_trimmed_text() {
        let item: ItemFn = syn::parse_quote! {
            /// Adds one.
            ///
            ///   Indented stays indented.
            #[inline]
            #[doc = "\u{1b}[2J\r"]
            ///
            fn f() {}
        };
        assert_eq!(
            doc(&item.attrs).as_deref(),
            Some("Adds one.\n\n  Indented stays indented.\n[2J")
        );
        let block: ItemFn = syn::parse_quote! {
            /**
             * Block style.
             * Two lines.
             */
            fn g() {}
        };
        assert_eq!(
            doc(&block.attrs).as_deref(),
            Some("Block style.\nTwo lines.")
        );
        let none: ItemFn = syn::parse_quote! { #[inline] fn h() {} };
        assert_eq!(doc(&none.attrs), None);
        let huge = format!("{}é", "y".repeat(MAX_DOC_LEN));
        let attrs: Vec<Attribute> = vec![syn::parse_quote!(#[doc = #huge])];
        let cut = doc(&attrs).expect("text");
        assert!(cut.len() <= MAX_DOC_LEN && cut.ends_with('…'));
    }
}
