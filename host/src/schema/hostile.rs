//! What the validator does with the schemas the bounds let through at
//! their worst: deep recursion, exponential branching, fan-out over long
//! values, `unevaluated*` re-walking `anyOf`. Each is compiled and checked
//! within a loose time bound, on the test thread's 2 MiB stack (a tokio
//! worker's size), and never overflows it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::testing::{chain, refs, refused, wrap};
use super::{MAX_CHAIN, MAX_STEPS, MAX_VALUE_DEPTH, SchemaError, ValueError, compile};

/// Loose: a debug-profile host on a busy 2-core machine.
const QUICK: Duration = Duration::from_secs(2);

/// `{"c": {"c": ... leaf}}`, `depth` levels.
fn nested(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| wrap("c", inner, false))
}

/// Compiles `schema` and checks `value`, both within [`QUICK`].
fn timed(schema: &Value, value: &Value) -> Result<(), ValueError> {
    let started = Instant::now();
    let compiled = compile(&schema.to_string()).expect("within the bounds");
    let checked = compiled.validate(value);
    let took = started.elapsed();
    assert!(
        took < QUICK,
        "{took:?} for {}",
        super::message::show(schema)
    );
    checked
}

#[test]
fn a_recursive_tree_type_checks_values_as_deep_as_the_bound() {
    let schema = json!({
        "$defs": {"t": {"type": "object", "properties": {"c": {"$ref": "#/$defs/t"}}}},
        "$ref": "#/$defs/t"
    });
    assert_eq!(
        timed(&schema, &nested(MAX_VALUE_DEPTH - 1, json!({}))),
        Ok(())
    );
    let Err(ValueError::Mismatch { at, .. }) = timed(&schema, &nested(3, json!(7))) else {
        panic!("a number is not a t");
    };
    assert_eq!(at, "$.c.c.c");
    assert_eq!(
        timed(&schema, &nested(MAX_VALUE_DEPTH, json!({}))),
        Err(ValueError::TooDeep {
            limit: MAX_VALUE_DEPTH
        })
    );
}

#[test]
fn the_longest_chain_at_every_level_of_the_deepest_value_fits_the_stack() {
    // Each level of the value goes through the longest chain of subschemas
    // the bounds allow (`$ref`, `allOf`, `dependentSchemas` in turn) before
    // consuming `c`.
    let schema_of = |levels: usize| {
        let mut defs = serde_json::Map::new();
        for n in 0..levels {
            let next = json!({"$ref": format!("#/$defs/l{}", n + 1)});
            let level = match n % 3 {
                0 => next,
                1 => json!({"allOf": [next]}),
                _ => json!({"type": "object", "dependentSchemas": {"c": next}}),
            };
            defs.insert(format!("l{n}"), level);
        }
        defs.insert(
            format!("l{levels}"),
            json!({"type": "object", "properties": {"c": {"$ref": "#/$defs/l0"}}}),
        );
        json!({"$ref": "#/$defs/l0", "$defs": defs})
    };
    let longest = (1..MAX_CHAIN)
        .rev()
        .map(schema_of)
        .find(|schema| compile(&schema.to_string()).is_ok())
        .expect("a short chain compiles");
    assert!(timed(&longest, &nested(MAX_VALUE_DEPTH - 1, json!({}))).is_ok());
    assert!(timed(&longest, &nested(MAX_VALUE_DEPTH - 2, json!({"c": 1}))).is_err());
}

#[test]
fn branching_recursion_is_refused_before_it_goes_exponential() {
    // Both options recurse, and a leaf that fails both makes the validator
    // walk 2^depth paths for its errors (18 levels took 11 s): the count
    // refuses such values before the validator runs.
    let schema = json!({
        "$ref": "#/$defs/N",
        "$defs": {"N": {"anyOf": [
            {"type": "object", "properties": {"c": {"$ref": "#/$defs/N"}}, "required": ["c"]},
            {"type": "object", "properties": {"c": {"$ref": "#/$defs/N"}}, "minProperties": 1},
        ]}}
    });
    assert!(matches!(
        timed(&schema, &nested(4, json!(1))),
        Err(ValueError::Mismatch { .. })
    ));
    for depth in [20, MAX_VALUE_DEPTH - 1] {
        assert_eq!(
            timed(&schema, &nested(depth, json!(1))),
            Err(ValueError::TooCostly { limit: MAX_STEPS })
        );
    }
    let schema = json!({
        "$ref": "#/$defs/N",
        "$defs": {"N": {"oneOf": [
            {"type": "array", "items": {"$ref": "#/$defs/N"}},
            {"type": "array", "prefixItems": [{"$ref": "#/$defs/N"}]},
        ]}}
    });
    let deep_list = (0..MAX_VALUE_DEPTH - 1).fold(json!([1]), |inner, _| json!([inner]));
    assert!(timed(&schema, &deep_list).is_err());
}

#[test]
fn unevaluated_properties_through_nested_any_of_stay_bounded() {
    let schema = json!({
        "$ref": "#/$defs/N",
        "$defs": {"N": {
            "anyOf": [{"type": "null"}, {"properties": {"c": {"$ref": "#/$defs/N"}}}],
            "unevaluatedProperties": false
        }}
    });
    assert_eq!(timed(&schema, &nested(4, json!(null))), Ok(()));
    let mut extra = nested(3, json!(null));
    extra["c"]["d"] = json!(1);
    assert!(matches!(
        timed(&schema, &extra),
        Err(ValueError::Mismatch { .. })
    ));
    assert!(timed(&schema, &nested(MAX_VALUE_DEPTH - 1, json!(null))).is_err());
}

#[test]
fn the_largest_fan_out_is_checked_quickly_and_refused_over_long_arrays() {
    // About 8,000 visits for each item, the most the bounds allow.
    let defs = chain(11, |n| refs(n, "allOf", 2), json!({"type": "integer"}));
    let schema = json!({"type": "array", "items": {"$ref": "#/$defs/l0"}, "$defs": defs["$defs"]});
    assert_eq!(timed(&schema, &json!(vec![1; 200])), Ok(()));
    let mut last_wrong = vec![json!(1); 200];
    last_wrong[199] = json!("x");
    assert!(matches!(
        timed(&schema, &Value::Array(last_wrong)),
        Err(ValueError::Mismatch { .. })
    ));
    assert_eq!(
        timed(&schema, &json!(vec![1; 10_000])),
        Err(ValueError::TooCostly { limit: MAX_STEPS })
    );
}

#[test]
fn doubling_references_compile_once_each() {
    // Each level refers to the next twice, in consuming places: unrolled,
    // 2^30 subschemas.
    let schema = chain(
        30,
        |n| {
            let next = json!({"$ref": format!("#/$defs/l{n}")});
            json!({"properties": {"a": next, "b": next}, "items": next})
        },
        json!({"type": "integer"}),
    );
    let value = (0..30).fold(json!(1), |inner, _| json!({"a": inner, "b": 2}));
    assert_eq!(timed(&schema, &value), Ok(()));
}

#[test]
fn cycles_and_exponential_chains_are_refused_before_the_validator_sees_them() {
    let started = Instant::now();
    for schema in [
        json!({"$ref": "#"}),
        json!({"$defs": {"a": {"$dynamicAnchor": "x", "$dynamicRef": "#x"}}, "$ref": "#/$defs/a"}),
        json!({"$recursiveRef": "#"}),
        json!({"anyOf": [{"$ref": "#/$defs/n"}], "$defs": {"n": {"$anchor": "n", "not": {"$ref": "#n"}}}}),
    ] {
        assert!(
            matches!(refused(&schema.to_string()), SchemaError::RefCycle { .. }),
            "{schema}"
        );
    }
    let exponential = chain(14, |n| refs(n, "anyOf", 2), json!({"type": "integer"}));
    assert!(matches!(
        refused(&exponential.to_string()),
        SchemaError::TooCostly { .. }
    ));
    assert!(started.elapsed() < QUICK);
}

/// The crate's fallback for `unevaluatedProperties` (taken when a node has
/// too many parts for its shortcut) walks nested in-place applicators
/// again at each level of an `allOf` chain: the longest chain, each link
/// with `unevaluatedProperties`, a wide `anyOf` at its end, at every level
/// of the deepest value, is still checked (or refused as too costly)
/// quickly.
#[test]
fn unevaluated_properties_along_the_longest_chain_stay_bounded() {
    let wide: Vec<Value> = (0..65)
        .map(|i| json!({"properties": {format!("p{i}"): {"type": "integer"}}}))
        .collect();
    let last = json!({
        "anyOf": wide,
        "properties": {"c": {"$ref": "#"}},
        "unevaluatedProperties": false
    });
    // Each link is two steps of a chain (`allOf`, then `$ref`).
    let defs = chain(
        MAX_CHAIN / 2 - 2,
        |n| json!({"allOf": [{"$ref": format!("#/$defs/l{n}")}], "unevaluatedProperties": false}),
        last,
    );
    for depth in [1, 8, MAX_VALUE_DEPTH - 1] {
        let value = nested(depth, json!({"p0": 1}));
        let checked = timed(&defs, &value);
        assert!(
            matches!(
                checked,
                Ok(()) | Err(ValueError::TooCostly { .. } | ValueError::Mismatch { .. })
            ),
            "depth {depth}: {checked:?}"
        );
    }
}
