//! `submit-map` and `call-map` defined by hand over the generated ones: a
//! `list<string>` lifted by the bindings copies every string into the host
//! before any code of ours runs, and a guest can make thousands of entries
//! point at one large string (wasmtime's budget for data copied per host
//! call stops that with a bare trap). Here the list is only a view into
//! guest memory until its length and total bytes are checked against the
//! policy, and going past it is a `limit` failure that says which.

use std::borrow::Cow;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList, WasmStr};

use super::checkpoint::CheckpointState;
use super::flow::FlowState;
use super::pending::PendingCall;
use crate::bindings::runner::Host as _;
use crate::bindings::types::CallError;
use crate::names;
use crate::runner::execution::{Abort, check_map_items};
use crate::runner::slot::over_limit;

/// The runner interface as a component names it.
const RUNNER: &str = "cairn:checkpoint/runner@0.1.0";

type MapResults = Result<Vec<Result<String, CallError>>, CallError>;

/// Replaces the two map imports of a flow store.
pub(crate) fn define_for_flows(linker: &mut Linker<FlowState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut runner = linker.instance(RUNNER)?;
    runner.func_wrap_async(
        "submit-map",
        |mut store: StoreContextMut<'_, FlowState>, (name, inputs): (String, WasmList<WasmStr>)| {
            Box::new(async move {
                let inputs = lift_within_policy(&mut store, &name, &inputs)?;
                let result: Result<Vec<Resource<PendingCall>>, CallError> =
                    store.data_mut().submit_map(name, inputs).await?;
                Ok((result,))
            })
        },
    )?;
    runner.func_wrap_async(
        "call-map",
        |mut store: StoreContextMut<'_, FlowState>, (name, inputs): (String, WasmList<WasmStr>)| {
            Box::new(async move {
                let inputs = lift_within_policy(&mut store, &name, &inputs)?;
                let result: MapResults = store.data_mut().call_map(name, inputs).await?;
                Ok((result,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Replaces the two map imports of a checkpoint store, where they are
/// refused without reading the list at all.
pub(crate) fn define_for_checkpoints(linker: &mut Linker<CheckpointState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut runner = linker.instance(RUNNER)?;
    runner.func_wrap_async(
        "submit-map",
        |store: StoreContextMut<'_, CheckpointState>,
         (name, _inputs): (WasmStr, WasmList<WasmStr>)| {
            let refused: Result<Vec<Resource<PendingCall>>, CallError> =
                Err(inside_a_checkpoint(&store, &name));
            Box::new(async move { Ok((refused,)) })
        },
    )?;
    runner.func_wrap_async(
        "call-map",
        |store: StoreContextMut<'_, CheckpointState>,
         (name, _inputs): (WasmStr, WasmList<WasmStr>)| {
            let refused: MapResults = Err(inside_a_checkpoint(&store, &name));
            Box::new(async move { Ok((refused,)) })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn inside_a_checkpoint(store: &StoreContextMut<'_, CheckpointState>, name: &WasmStr) -> CallError {
    let name = name.to_str(store).unwrap_or(Cow::Borrowed("(not UTF-8)"));
    CallError::Context(format!(
        "a map of checkpoint {} was submitted from inside a checkpoint; only flows call checkpoints",
        names::shown(&name)
    ))
}

/// The map's inputs as strings, once the list is known to fit: at most
/// `max_map_items` entries, each at most `max_output_bytes`, all together
/// at most `max_held_bytes`. Past a limit the flow stops (kind `limit`).
fn lift_within_policy(
    store: &mut StoreContextMut<'_, FlowState>,
    name: &str,
    inputs: &WasmList<WasmStr>,
) -> wasmtime::Result<Vec<String>> {
    let policy = store.data().execution.policy();
    check_map_items(policy, name, inputs.len()).map_err(wasmtime::Error::new)?;
    let (max_input, max_total) = (policy.max_output_bytes, policy.max_held_bytes);
    let limit = |message: String| wasmtime::Error::new(Abort::Limit(message));
    // Measured first, without copying: `to_str` borrows guest memory.
    let item =
        |store: &mut StoreContextMut<'_, FlowState>, i: usize| -> wasmtime::Result<WasmStr> {
            inputs
                .get(&mut *store, i)
                .unwrap_or_else(|| Err(wasmtime::Error::msg("a map input vanished")))
        };
    let mut total = 0u64;
    for i in 0..inputs.len() {
        let input = item(store, i)?;
        let len = input.to_str(&*store)?.len();
        if len > max_input {
            return Err(limit(format!(
                "an input of the map of checkpoint {} is {len} bytes; the policy allows {max_input}",
                names::shown(name)
            )));
        }
        total = total.saturating_add(len as u64);
        if total > max_total {
            return Err(limit(over_limit(total, max_total)));
        }
    }
    let mut lifted = Vec::with_capacity(inputs.len());
    for i in 0..inputs.len() {
        let input = item(store, i)?;
        lifted.push(input.to_str(&*store)?.into_owned());
    }
    Ok(lifted)
}
