//! The JSON a parameter's Rust type accepts, read from the type name the
//! manifest carries, so that a flow input of the wrong type is refused
//! before an execution is made of it rather than failing inside the guest.
//!
//! The manifest describes a parameter by its type as written (`u32`,
//! `Vec<String>`, `Option<(u8, bool)>`), not by a JSON schema. The JSON
//! that serde_json (the guest SDK's reader) accepts is fixed for the
//! standard types: integers of their width (a JSON integer, never `1.0`),
//! floats, `bool`, `String`, `char`, `()`, `Option`, sequences, fixed
//! arrays, tuples, maps, and the pointers (`Box`, `Rc`, `Arc`) that read as
//! their content. Those are checked here. Any other type (the author's own
//! structs and enums, `Value`, a path outside `std`, a name cut short) is
//! the guest's to read: it is [`ParamType::Any`] and passes whole, so this
//! check never refuses what the guest would accept. The manifest's type
//! names are bounded (256 bytes), so parsing and checking are cheap.

use std::fmt::Write as _;

use serde_json::Value;

use super::message::show;

/// What a parameter's type accepts, as far as the host can tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamType {
    /// Not a type the host knows: anything passes (the guest decides).
    Any,
    /// `()`: `null`.
    Unit,
    /// `bool`.
    Bool,
    /// An integer type of this range.
    Int { min: i128, max: i128 },
    /// `f32` or `f64`: any JSON number.
    Float,
    /// `String`.
    Str,
    /// `char`: a string of exactly one character.
    Char,
    /// `Option<T>`: `null` or a `T`.
    Option(Box<ParamType>),
    /// `Vec<T>`, `VecDeque<T>`, a set: an array of `T`.
    Seq(Box<ParamType>),
    /// `[T; N]`: an array of exactly `N` `T`s.
    Array(Box<ParamType>, usize),
    /// `(A, B, ...)`: an array of exactly these.
    Tuple(Vec<ParamType>),
    /// `HashMap<K, V>`, `BTreeMap<K, V>`: an object whose values are `V`
    /// (keys are left to the guest: serde reads a number key from a string).
    Map(Box<ParamType>),
}

/// Why a value does not fit a [`ParamType`]: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeMismatch {
    /// JSON pointer from the parameter's value (`""` is the value itself,
    /// `/0/name` inside it).
    pub(crate) pointer: String,
    /// What is wrong: `expected ..., got ...`.
    pub(crate) reason: String,
}

/// Deepest nesting of type arguments followed (a name is at most 256 bytes,
/// so this is never the limit of a real one).
const MAX_TYPE_DEPTH: usize = 32;

/// The longest fixed array (`[T; N]`) read as one; a type with a longer
/// one is left to the guest.
const MAX_FIXED_ARRAY: usize = 1 << 20;

impl ParamType {
    /// What the type written `name` accepts; [`ParamType::Any`] for a type
    /// the host does not know or a name it cannot read.
    pub(crate) fn parse(name: &str) -> ParamType {
        let tokens = tokens(name);
        let mut parser = Parser { tokens, at: 0 };
        match parser.ty(0) {
            Some(ty) if parser.at == parser.tokens.len() => ty,
            _ => ParamType::Any,
        }
    }

    /// `Ok` if `value` reads as this type, else the first mismatch.
    pub(crate) fn check(&self, value: &Value) -> Result<(), TypeMismatch> {
        let mut pointer = String::new();
        self.check_at(value, &mut pointer, 0)
            .map_err(|reason| TypeMismatch {
                pointer: pointer.clone(),
                reason,
            })
    }

    /// Checks `value`, with `pointer` its place; on a mismatch `pointer` is
    /// left at the offending part. Recursion follows the type, whose depth
    /// the parser bounds.
    fn check_at(&self, value: &Value, pointer: &mut String, depth: usize) -> Result<(), String> {
        let expected = |what: &str| format!("expected {what}, got {}", found(value));
        match (self, value) {
            (ParamType::Any, _)
            | (ParamType::Unit, Value::Null)
            | (ParamType::Bool, Value::Bool(_))
            | (ParamType::Float, Value::Number(_))
            | (ParamType::Str, Value::String(_))
            | (ParamType::Option(_), Value::Null) => Ok(()),
            (ParamType::Int { min, max }, Value::Number(n)) => {
                let fits = n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
                    .is_some_and(|i| (*min..=*max).contains(&i));
                if fits {
                    Ok(())
                } else {
                    Err(expected(&format!("an integer from {min} to {max}")))
                }
            }
            (ParamType::Char, Value::String(s)) if s.chars().count() == 1 => Ok(()),
            (ParamType::Option(inner), _) => {
                let here = pointer.len();
                inner.check_at(value, pointer, depth).map_err(|reason| {
                    // Wrong at this very value: say that `null` would do too.
                    if pointer.len() == here {
                        expected(&self.described())
                    } else {
                        reason
                    }
                })
            }
            (ParamType::Seq(item), Value::Array(items)) => {
                check_items(items.iter().map(|i| (item.as_ref(), i)), pointer, depth)
            }
            (ParamType::Array(item, len), Value::Array(items)) => {
                if items.len() != *len {
                    return Err(format!(
                        "expected an array of exactly {len} items, got {}",
                        items.len()
                    ));
                }
                check_items(items.iter().map(|i| (item.as_ref(), i)), pointer, depth)
            }
            (ParamType::Tuple(types), Value::Array(items)) => {
                if items.len() != types.len() {
                    return Err(format!(
                        "expected an array of exactly {} items (a tuple), got {}",
                        types.len(),
                        items.len()
                    ));
                }
                check_items(types.iter().zip(items), pointer, depth)
            }
            (ParamType::Map(value_type), Value::Object(map)) => {
                for (key, item) in map {
                    let len = pointer.len();
                    pointer.push('/');
                    push_token(pointer, key);
                    value_type.check_at(item, pointer, depth + 1)?;
                    pointer.truncate(len);
                }
                Ok(())
            }
            (ty, _) => Err(expected(&ty.described())),
        }
    }

    /// What the type accepts, in words.
    fn described(&self) -> String {
        match self {
            ParamType::Any => "any value".to_owned(),
            ParamType::Unit => "null".to_owned(),
            ParamType::Bool => "a boolean".to_owned(),
            ParamType::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamType::Float => "a number".to_owned(),
            ParamType::Str => "a string".to_owned(),
            ParamType::Char => "a string of one character".to_owned(),
            ParamType::Option(inner) => format!("null or {}", inner.described()),
            ParamType::Seq(_) => "an array".to_owned(),
            ParamType::Array(_, len) => format!("an array of exactly {len} items"),
            ParamType::Tuple(types) => {
                format!("an array of exactly {} items (a tuple)", types.len())
            }
            ParamType::Map(_) => "an object".to_owned(),
        }
    }
}

/// Checks each `(type, item)` in order, the pointer naming the item's index.
fn check_items<'a>(
    items: impl Iterator<Item = (&'a ParamType, &'a Value)>,
    pointer: &mut String,
    depth: usize,
) -> Result<(), String> {
    for (i, (ty, item)) in items.enumerate() {
        let len = pointer.len();
        let _ = write!(pointer, "/{i}");
        ty.check_at(item, pointer, depth + 1)?;
        pointer.truncate(len);
    }
    Ok(())
}

/// `token` escaped as a JSON pointer token (RFC 6901: `~` and `/`).
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// A value as a mismatch names it: its kind and, cut short, itself.
fn found(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "the boolean",
        Value::Number(_) => "the number",
        Value::String(_) => "the string",
        Value::Array(_) => "the array",
        Value::Object(_) => "the object",
    };
    format!("{kind} {}", show(value))
}

/// A type name split into identifiers (paths kept whole: `std::vec::Vec`),
/// numbers, lifetimes and punctuation.
fn tokens(name: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '\'' {
            let mut word = c.to_string();
            while let Some(&next) = chars.peek() {
                if next.is_alphanumeric() || next == '_' {
                    word.push(next);
                    chars.next();
                } else if next == ':' {
                    // `::` continues a path; a lone `:` ends the word.
                    chars.next();
                    if chars.peek() == Some(&':') {
                        chars.next();
                        word.push_str("::");
                    } else {
                        tokens.push(word);
                        word = ":".to_owned();
                        break;
                    }
                } else {
                    break;
                }
            }
            tokens.push(word);
        } else {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// A recursive-descent reader of the type grammar above; `None` for
/// anything it does not follow (the caller then takes [`ParamType::Any`]).
struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn eat(&mut self, token: &str) -> Option<()> {
        (self.peek() == Some(token)).then(|| self.at += 1)
    }

    fn ty(&mut self, depth: usize) -> Option<ParamType> {
        if depth > MAX_TYPE_DEPTH {
            return None;
        }
        match self.peek()? {
            "(" => self.tuple(depth),
            "[" => self.array(depth),
            _ => self.path(depth),
        }
    }

    fn tuple(&mut self, depth: usize) -> Option<ParamType> {
        self.eat("(")?;
        let mut types = Vec::new();
        while self.eat(")").is_none() {
            types.push(self.ty(depth + 1)?);
            if self.eat(",").is_none() {
                self.eat(")")?;
                // `(T)` is `T` in parentheses, not a tuple.
                return Some(match <[ParamType; 1]>::try_from(types) {
                    Ok([only]) => only,
                    Err(types) => ParamType::Tuple(types),
                });
            }
        }
        Some(if types.is_empty() {
            ParamType::Unit
        } else {
            ParamType::Tuple(types)
        })
    }

    fn array(&mut self, depth: usize) -> Option<ParamType> {
        self.eat("[")?;
        let item = self.ty(depth + 1)?;
        self.eat(";")?;
        let len: usize = self.peek()?.parse().ok()?;
        self.at += 1;
        self.eat("]")?;
        Some(if len > MAX_FIXED_ARRAY {
            ParamType::Any
        } else {
            ParamType::Array(Box::new(item), len)
        })
    }

    fn path(&mut self, depth: usize) -> Option<ParamType> {
        let word = self.peek()?.to_owned();
        self.at += 1;
        let mut args = Vec::new();
        if self.eat("<").is_some() {
            loop {
                // Lifetimes (`Cow<'a, str>`) are not types.
                if self.peek().is_some_and(|t| t.starts_with('\'')) {
                    self.at += 1;
                } else {
                    args.push(self.ty(depth + 1)?);
                }
                if self.eat(">").is_some() {
                    break;
                }
                self.eat(",")?;
            }
        }
        Some(known(&word, args))
    }
}

/// The type a (possibly `std`-qualified) name with `args` stands for.
fn known(word: &str, mut args: Vec<ParamType>) -> ParamType {
    let name = match word.rsplit_once("::") {
        Some((prefix, name)) if is_std(prefix) => name,
        Some(_) => return ParamType::Any,
        None => word,
    };
    let boxed = |mut args: Vec<ParamType>| args.pop().map(Box::new);
    let int = |_name: &str, min, max| ParamType::Int { min, max };
    let one = args.len() == 1;
    // `u32<T>` is not the primitive: some type of the author's.
    let generic = matches!(
        name,
        "Option"
            | "Vec"
            | "VecDeque"
            | "LinkedList"
            | "HashSet"
            | "BTreeSet"
            | "BinaryHeap"
            | "Box"
            | "Rc"
            | "Arc"
            | "HashMap"
            | "BTreeMap"
    );
    if generic == args.is_empty() {
        return ParamType::Any;
    }
    match name {
        "bool" => ParamType::Bool,
        "u8" => int("u8", 0, u8::MAX.into()),
        "u16" => int("u16", 0, u16::MAX.into()),
        "u32" => int("u32", 0, u32::MAX.into()),
        "u64" => int("u64", 0, u64::MAX.into()),
        "i8" => int("i8", i8::MIN.into(), i8::MAX.into()),
        "i16" => int("i16", i16::MIN.into(), i16::MAX.into()),
        "i32" => int("i32", i32::MIN.into(), i32::MAX.into()),
        "i64" => int("i64", i64::MIN.into(), i64::MAX.into()),
        // Guests are wasm32: pointer-sized integers are 32 bits.
        "usize" => int("usize", 0, u32::MAX.into()),
        "isize" => int("isize", i32::MIN.into(), i32::MAX.into()),
        "f32" | "f64" => ParamType::Float,
        "String" => ParamType::Str,
        "char" => ParamType::Char,
        "Option" if one => boxed(args).map_or(ParamType::Any, ParamType::Option),
        "Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" | "BinaryHeap" if one => {
            boxed(args).map_or(ParamType::Any, ParamType::Seq)
        }
        "Box" | "Rc" | "Arc" if one => args.pop().unwrap_or(ParamType::Any),
        "HashMap" | "BTreeMap" if args.len() == 2 => {
            boxed(args).map_or(ParamType::Any, ParamType::Map)
        }
        _ => ParamType::Any,
    }
}

/// Whether `prefix` is a path into the standard library.
fn is_std(prefix: &str) -> bool {
    let prefix = prefix.strip_prefix("::").unwrap_or(prefix);
    let mut parts = prefix.split("::");
    matches!(parts.next(), Some("std" | "alloc" | "core"))
        && parts.all(|p| {
            matches!(
                p,
                "vec" | "string" | "option" | "boxed" | "rc" | "sync" | "collections" | "primitive"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refuses(ty: &str, value: Value) -> TypeMismatch {
        ParamType::parse(ty)
            .check(&value)
            .expect_err(&format!("{ty} refuses {value}"))
    }

    #[test]
    fn standard_types_obeyed_and_violated() {
        for (ty, good, bad) in [
            ("u32", json!(10), json!("ten")),
            ("u32", json!(u32::MAX), json!(u64::from(u32::MAX) + 1)),
            ("u8", json!(0), json!(-1)),
            ("i64", json!(i64::MIN), json!(1.0)),
            ("u64", json!(u64::MAX), json!(1.5)),
            ("usize", json!(7), json!(u64::MAX)),
            ("f64", json!(1), json!("1")),
            ("bool", json!(true), json!(1)),
            ("String", json!("x"), json!(null)),
            ("char", json!("é"), json!("ab")),
            ("()", json!(null), json!(0)),
            ("Option<u8>", json!(null), json!(300)),
            ("Vec<String>", json!(["a"]), json!(["a", 1])),
            ("std::vec::Vec<i32>", json!([1]), json!({"a": 1})),
            ("[u8; 2]", json!([1, 2]), json!([1, 2, 3])),
            ("(u32, String)", json!([1, "a"]), json!([1])),
            ("(i64,)", json!([1]), json!([1, 2])),
            ("BTreeMap<String, u8>", json!({"a": 1}), json!({"a": "b"})),
            ("Box<bool>", json!(false), json!("false")),
            ("std::collections::HashSet<u8>", json!([1]), json!([256])),
        ] {
            let parsed = ParamType::parse(ty);
            assert_ne!(parsed, ParamType::Any, "{ty}");
            assert_eq!(parsed.check(&good), Ok(()), "{ty} accepts {good}");
            assert!(parsed.check(&bad).is_err(), "{ty} refuses {bad}");
        }
    }

    #[test]
    fn unknown_types_pass_whole() {
        for ty in [
            "Point",
            "my::Vec<u8>",
            "serde_json::Value",
            "Cow<'static, str>",
            "u128",
            "Result<u8, String>",
            "Vec<u8",
            "",
            "Box<dyn Fn(u8) -> u8 + Send>",
        ] {
            let parsed = ParamType::parse(ty);
            assert_eq!(parsed.check(&json!({"any": ["thing"]})), Ok(()), "{ty}");
        }
        // Known outside, unknown inside: the outside is still checked.
        assert!(ParamType::parse("Vec<Point>").check(&json!("x")).is_err());
        assert!(ParamType::parse("Vec<Point>").check(&json!([{}])).is_ok());
    }

    #[test]
    fn a_mismatch_names_its_place_and_the_expected_type() {
        let why = refuses("Vec<(u8, Option<String>)>", json!([[1, null], [2, 3]]));
        assert_eq!(why.pointer, "/1/1");
        assert_eq!(why.reason, "expected null or a string, got the number 3");
        let why = refuses("HashMap<String, u32>", json!({"a/b~": "ten"}));
        assert_eq!(why.pointer, "/a~1b~0");
        assert_eq!(
            why.reason,
            "expected an integer from 0 to 4294967295, got the string \"ten\""
        );
        let why = refuses("u32", json!("x".repeat(10_000)));
        assert_eq!(why.pointer, "");
        assert!(why.reason.len() < 300, "{}", why.reason);
    }

    #[test]
    fn deep_or_odd_names_are_bounded() {
        let deep = format!("{}u8{}", "Vec<".repeat(200), ">".repeat(200));
        assert_eq!(ParamType::parse(&deep), ParamType::Any);
        assert_eq!(ParamType::parse("[u8; 99999999999]"), ParamType::Any);
        assert_eq!(ParamType::parse("(u8)"), ParamType::parse("u8"));
    }
}
