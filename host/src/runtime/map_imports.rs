//! `submit-map` and `call-map` of a checkpoint store, defined by hand over
//! the generated ones: a `list<string>` lifted by the bindings copies every
//! string into the host before any code of ours runs, and a guest can make
//! thousands of entries point at one large string. A checkpoint may not
//! call checkpoints, so here the list is not read at all: the map is
//! refused at once. (A flow store defines its own pair, which measures the
//! list against the policy before copying it: see the runner's flow store.)

use std::borrow::Cow;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList, WasmStr};

use super::checkpoint::CheckpointState;
use crate::bindings::types::CallError;
use crate::call::PendingCall;
use crate::names;

/// The runner interface as a component names it.
pub(crate) const RUNNER: &str = "cairn:checkpoint/runner@0.2.0";

/// What `call-map` returns to the guest.
pub(crate) type MapResults = Result<Vec<Result<String, CallError>>, CallError>;

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
