//! Fan-out: `name::map(..)` and `name::product(..)` submit one call per item
//! in one host call, then wait for all of them and return the outputs in
//! input order. Every item runs and is journaled even when another fails;
//! the first failure (in input order) is returned.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::call::{decode, from_call_error};
use crate::error::Error;
use crate::runner;

/// One parameter's values, serialized once.
pub(crate) type Column = Vec<Value>;

/// Serializes the values of one parameter.
pub fn column<A: Serialize>(
    checkpoint: &str,
    values: impl IntoIterator<Item = A>,
) -> Result<Column, Error> {
    values
        .into_iter()
        .map(|v| {
            serde_json::to_value(v).map_err(|e| Error::Context {
                message: format!("an input of checkpoint `{checkpoint}` does not serialize: {e}"),
            })
        })
        .collect()
}

/// Calls `checkpoint` once per position of the zipped `columns` (one per
/// parameter, named by `params`), which must have equal lengths.
pub fn map<T: DeserializeOwned>(
    checkpoint: &'static str,
    params: &[&str],
    columns: Vec<Column>,
) -> Result<Vec<T>, Error> {
    let lengths: Vec<usize> = columns.iter().map(Vec::len).collect();
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        return Err(Error::Context {
            message: format!(
                "map of checkpoint `{checkpoint}`: the inputs have different lengths ({})",
                lengths
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let len = lengths.first().copied().unwrap_or(0);
    let mut columns: Vec<std::vec::IntoIter<Value>> =
        columns.into_iter().map(Vec::into_iter).collect();
    let inputs = (0..len).map(|_| {
        let values = columns.iter_mut().map(|c| c.next().unwrap_or(Value::Null));
        object(params, values)
    });
    run(checkpoint, inputs.collect())
}

/// Calls `checkpoint` once per combination of the `columns`' values, the
/// first parameter outermost.
pub fn product<T: DeserializeOwned>(
    checkpoint: &'static str,
    params: &[&str],
    columns: Vec<Column>,
) -> Result<Vec<T>, Error> {
    let mut inputs = Vec::new();
    if columns.iter().all(|c| !c.is_empty()) {
        let mut at = vec![0; columns.len()];
        loop {
            inputs.push(object(
                params,
                at.iter().zip(&columns).map(|(i, c)| c[*i].clone()),
            ));
            // An odometer: the last parameter turns fastest.
            let mut k = columns.len();
            loop {
                if k == 0 {
                    return run(checkpoint, inputs);
                }
                k -= 1;
                at[k] += 1;
                if at[k] < columns[k].len() {
                    break;
                }
                at[k] = 0;
            }
        }
    }
    run(checkpoint, inputs)
}

fn object(params: &[&str], values: impl Iterator<Item = Value>) -> String {
    let map: Map<String, Value> = params.iter().map(|p| (*p).to_owned()).zip(values).collect();
    Value::Object(map).to_string()
}

fn run<T: DeserializeOwned>(
    checkpoint: &'static str,
    inputs: Vec<String>,
) -> Result<Vec<T>, Error> {
    // One host call submits the map and waits for every item, so all are
    // journaled before the flow moves on.
    let results =
        runner::call_map(checkpoint, &inputs).map_err(|e| from_call_error(checkpoint, e))?;
    let mut first_error = None;
    let mut outputs = Vec::with_capacity(results.len());
    for result in results {
        match decode(checkpoint, result) {
            Ok(output) => outputs.push(output),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(outputs),
    }
}
