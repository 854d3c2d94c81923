//! The component's exports: `describe`, `run-flow` and `run-checkpoint`,
//! answered from the registry. Living in the SDK, they are linked into every
//! component that uses it.

use crate::bindings::cairn::checkpoint::types::{
    CheckpointInfo, FlowInfo, GuestError, Manifest, ParamInfo, Runtime as WitRuntime,
};
use crate::bindings::exports::cairn::checkpoint::guest::Guest;
use crate::registry::{self, AcceptsMissing, Runtime};

struct Exports;

impl Guest for Exports {
    fn describe() -> Manifest {
        install_panic_hook();
        let mut flows: Vec<FlowInfo> = registry::flows()
            .map(|f| FlowInfo {
                name: f.name.to_owned(),
                params: params(f.params, f.param_types, f.param_optional),
                doc: f.doc.map(str::to_owned),
                retries: f.retries,
                cache: f.cache,
            })
            .collect();
        flows.sort_by(|a, b| a.name.cmp(&b.name));
        let mut checkpoints: Vec<CheckpointInfo> = registry::checkpoints()
            .map(|c| CheckpointInfo {
                name: c.name.to_owned(),
                params: params(c.params, c.param_types, c.param_optional),
                doc: c.doc.map(str::to_owned),
                retries: c.retries,
                cache: c.cache,
                kind: c.kind.map(str::to_owned),
                runtime: match c.runtime {
                    Runtime::Inline => WitRuntime::Inline,
                    Runtime::Isolated => WitRuntime::Isolated,
                },
                fuel: c.fuel,
                memory_bytes: c.memory_bytes,
                timeout_ms: c.timeout_ms,
            })
            .collect();
        checkpoints.sort_by(|a, b| a.name.cmp(&b.name));
        Manifest {
            sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
            flows,
            checkpoints,
        }
    }

    fn run_flow(name: String, input_json: String) -> Result<String, GuestError> {
        install_panic_hook();
        let flow = registry::flows()
            .find(|f| f.name == name)
            .ok_or_else(|| GuestError::Unknown(format!("no flow named `{name}`")))?;
        (flow.invoke)(&input_json)
    }

    fn run_checkpoint(name: String, input_json: String) -> Result<String, GuestError> {
        install_panic_hook();
        let checkpoint = registry::checkpoints()
            .find(|c| c.name == name)
            .ok_or_else(|| GuestError::Unknown(format!("no checkpoint named `{name}`")))?;
        (checkpoint.invoke)(&input_json)
    }
}

crate::bindings::export!(Exports with_types_in crate::bindings);

/// An entry's parameters as the manifest describes them. The three lists
/// come from one signature, so they have one length.
fn params(names: &[&str], types: &[&str], optional: &[AcceptsMissing]) -> Vec<ParamInfo> {
    names
        .iter()
        .zip(types)
        .zip(optional)
        .map(|((name, type_name), optional)| ParamInfo {
            name: (*name).to_owned(),
            type_name: (*type_name).to_owned(),
            optional: optional(),
        })
        .collect()
}

/// Panics abort in a component, so the message must be printed before the
/// abort for the host to show it: one line on stderr, with a prefix the host
/// looks for when it classifies the trap.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = match info.payload().downcast_ref::<&str>() {
                Some(s) => (*s).to_owned(),
                None => match info.payload().downcast_ref::<String>() {
                    Some(s) => s.clone(),
                    None => "panic".to_owned(),
                },
            };
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!("cairn-panic: {message}{location}");
        }));
    });
}
