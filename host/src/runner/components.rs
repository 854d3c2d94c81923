//! The components a runner has met, by hash (so a resume does not load one
//! again), and what it makes of them to run their flows: one flow-store
//! linker for the runner, built on first use, and one flow pre-instance per
//! component, made from the component's compiled code on first use. (The
//! engine and the component know only checkpoint stores.)

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use wasmtime::component::Linker;

use super::flow_store::{self, FlowState};
use crate::bindings::ComponentPre;
use crate::component::{self, Component};
use crate::engine::Engine;
use crate::error::{LoadError, wasm_cause};
use crate::model::ComponentHash;

/// The runner's components and their flow pre-instances.
#[derive(Default)]
pub(crate) struct Components {
    /// Components by hash.
    known: Mutex<BTreeMap<ComponentHash, Component>>,
    /// The linker of every flow store this runner makes.
    flow_linker: OnceLock<Linker<FlowState>>,
    /// Flow pre-instances by component hash.
    flow_pres: Mutex<BTreeMap<ComponentHash, ComponentPre<FlowState>>>,
}

impl Components {
    /// The component with this hash, if the runner has met it.
    pub(super) fn get(&self, hash: ComponentHash) -> Option<Component> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned()
    }

    /// Keeps `component` (the first one of its hash wins).
    pub(super) fn remember(&self, component: &Component) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(component.hash())
            .or_insert_with(|| component.clone());
    }

    /// The pre-instance that starts `component`'s flows in a flow store.
    pub(super) fn flow_pre(
        &self,
        engine: &Engine,
        component: &Component,
    ) -> Result<ComponentPre<FlowState>, LoadError> {
        let hash = component.hash();
        let known = self
            .flow_pres
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned();
        if let Some(pre) = known {
            return Ok(pre);
        }
        // Made outside the lock: two executions racing here make the same
        // pre-instance twice, and the first one kept wins.
        let linker = self.flow_linker(engine)?;
        let pre = component::pre(linker.instantiate_pre(component.compiled()))?;
        Ok(self
            .flow_pres
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(hash)
            .or_insert(pre)
            .clone())
    }

    fn flow_linker(&self, engine: &Engine) -> Result<&Linker<FlowState>, LoadError> {
        if let Some(linker) = self.flow_linker.get() {
            return Ok(linker);
        }
        let linker = flow_store::linker(engine).map_err(|e| LoadError::Compile(wasm_cause(e)))?;
        Ok(self.flow_linker.get_or_init(|| linker))
    }
}
