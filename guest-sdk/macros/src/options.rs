//! The `key = value` options of both attributes, validated with spanned errors.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// The most retries an attribute accepts: more is a mistake, not a policy.
const MAX_RETRIES: u32 = 100;

/// The options written in an attribute, each checked for its type and range.
#[derive(Default)]
pub(crate) struct Options {
    pub retries: Option<u32>,
    pub cache: Option<bool>,
    pub kind: Option<String>,
    pub isolated: Option<bool>,
    pub fuel: Option<u64>,
    pub memory: Option<u64>,
    pub timeout_ms: Option<u64>,
}

/// Parses `attr`, accepting only the option names in `allowed`.
pub(crate) fn parse(attr: TokenStream, allowed: &[&str]) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    let mut options = Options::default();
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let path = meta.path();
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !allowed.contains(&name.as_str()) {
            return Err(syn::Error::new_spanned(
                path,
                format!(
                    "unknown option `{}`; expected one of: {}",
                    path_text(path),
                    allowed.join(", ")
                ),
            ));
        }
        if seen.contains(&name) {
            return Err(syn::Error::new_spanned(
                path,
                format!("option `{name}` is given twice"),
            ));
        }
        seen.push(name.clone());
        let Meta::NameValue(pair) = &meta else {
            return Err(syn::Error::new_spanned(
                &meta,
                format!("option `{name}` takes a value, e.g. `{}`", example(&name)),
            ));
        };
        let value = literal(&pair.value)?;
        match name.as_str() {
            "retries" => options.retries = Some(retries(value)?),
            "cache" => options.cache = Some(boolean(value, "cache")?),
            "kind" => options.kind = Some(kind(value)?),
            "runtime" => options.isolated = Some(runtime(value)?),
            "fuel" => options.fuel = Some(limit(value, "fuel", "fuel = 1_000_000_000")?),
            "memory" => options.memory = Some(limit(value, "memory", "memory = 67_108_864")?),
            "timeout_ms" => {
                options.timeout_ms = Some(limit(value, "timeout_ms", "timeout_ms = 5_000")?)
            }
            _ => unreachable!("checked against `allowed` above"),
        }
    }
    Ok(options)
}

fn literal(value: &Expr) -> syn::Result<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            "option values must be literals",
        )),
    }
}

fn retries(lit: &Lit) -> syn::Result<u32> {
    let Lit::Int(int) = lit else {
        return Err(syn::Error::new_spanned(
            lit,
            "`retries` takes a whole number, e.g. `retries = 3`",
        ));
    };
    let n: u32 = int.base10_parse().map_err(|_| {
        syn::Error::new_spanned(int, format!("`retries` must be from 0 to {MAX_RETRIES}"))
    })?;
    if n > MAX_RETRIES {
        return Err(syn::Error::new_spanned(
            int,
            format!("`retries` must be from 0 to {MAX_RETRIES}"),
        ));
    }
    Ok(n)
}

fn boolean(lit: &Lit, name: &str) -> syn::Result<bool> {
    match lit {
        Lit::Bool(b) => Ok(b.value),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{name}` takes `true` or `false`"),
        )),
    }
}

/// A kind label keeps to the host's rule for names: 1 to 128 ASCII letters,
/// digits, `_`, `-` or `.`, starting with a letter or `_` (the host refuses
/// any other at load, so the SDK says so at compile time).
fn kind(lit: &Lit) -> syn::Result<String> {
    let valid = |label: &str| {
        label.len() <= 128
            && label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match lit {
        Lit::Str(s) if valid(&s.value()) => Ok(s.value()),
        other => Err(syn::Error::new_spanned(
            other,
            "`kind` takes a label of ASCII letters, digits, `_`, `-` or `.` (at most 128, starting with a letter or `_`), e.g. `kind = \"llm_call\"`",
        )),
    }
}

fn runtime(lit: &Lit) -> syn::Result<bool> {
    match lit {
        Lit::Str(s) if s.value() == "inline" => Ok(false),
        Lit::Str(s) if s.value() == "isolated" => Ok(true),
        other => Err(syn::Error::new_spanned(
            other,
            "`runtime` takes \"inline\" or \"isolated\"",
        )),
    }
}

/// A valid use of option `name`, for errors.
fn example(name: &str) -> &'static str {
    match name {
        "retries" => "retries = 3",
        "cache" => "cache = true",
        "kind" => "kind = \"llm_call\"",
        "runtime" => "runtime = \"isolated\"",
        _ => unreachable!("checked against `allowed` before"),
    }
}

fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

/// A positive whole number: a limit a checkpoint sets for itself.
fn limit(lit: &Lit, name: &str, example: &str) -> syn::Result<u64> {
    let message = format!("`{name}` takes a positive whole number, e.g. `{example}`");
    let Lit::Int(int) = lit else {
        return Err(syn::Error::new_spanned(lit, message));
    };
    match int.base10_parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(syn::Error::new_spanned(int, message)),
    }
}
