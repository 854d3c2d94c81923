//! `submit-map` and `call-map` of a flow store, defined by hand over the
//! generated ones: a `list<string>` lifted by the bindings copies every
//! string into the host before any code of ours runs, and a guest can make
//! thousands of entries point at one large string (wasmtime's budget for
//! data copied per host call stops that with a bare trap). Here the list is
//! only a view into guest memory until its length and total bytes are
//! checked against the policy, and going past it is a `limit` failure that
//! says which. (A checkpoint store refuses maps without reading the list:
//! see `crate::runtime::map_imports`.)

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList, WasmStr};

use super::FlowState;
use crate::bindings::runner::Host as _;
use crate::bindings::types::CallError;
use crate::call::{PendingCall, Stop, over_limit};
use crate::names;
use crate::runner::execution::check_map_items;
use crate::runtime::map_imports::{MapResults, RUNNER};

/// Replaces the two map imports of a flow store.
pub(super) fn define(linker: &mut Linker<FlowState>) -> wasmtime::Result<()> {
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
    let limit = |message: String| wasmtime::Error::new(Stop::Limit(message));
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
