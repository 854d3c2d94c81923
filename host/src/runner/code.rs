//! Where an execution's flow code comes from: a component's exported flow
//! (the component found by hash, in memory or in the journal's copy), or a
//! host-side flow registered by name.

use std::sync::{Arc, PoisonError};

use super::Runner;
use crate::component::Component;
use crate::error::{LoadError, RunError};
use crate::host_flow::{HostFlow, Registered};
use crate::journal::record::ExecutionRecord;
use crate::model::ComponentHash;

/// The code of an execution's flow.
#[derive(Clone)]
pub(crate) enum FlowCode {
    /// A flow exported by a component, run in a flow store.
    Guest(Component),
    /// A host-side flow, run natively.
    Host(Registered),
}

impl FlowCode {
    /// The flow's whole-flow retries.
    pub(super) fn retries(&self, flow: &str) -> u32 {
        match self {
            FlowCode::Guest(component) => component.manifest().flow(flow).map_or(0, |f| f.retries),
            FlowCode::Host(registered) => registered.retries,
        }
    }

    /// Whether the flow's calls are cached unless a checkpoint says otherwise.
    pub(super) fn cache(&self, flow: &str) -> bool {
        match self {
            FlowCode::Guest(component) => component.manifest().flow(flow).is_none_or(|f| f.cache),
            FlowCode::Host(registered) => registered.cache,
        }
    }
}

impl Runner {
    /// Registers a host-side flow.
    pub(crate) fn register(&self, flow: HostFlow) -> Result<(), RunError> {
        crate::names::check("flow", flow.name()).map_err(RunError::BadFlowName)?;
        let mut flows = self
            .host_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if flows.contains_key(flow.name()) {
            return Err(RunError::FlowAlreadyRegistered(flow.name().to_owned()));
        }
        flows.insert(flow.name().to_owned(), Arc::new(flow));
        Ok(())
    }

    /// The host-side flow registered as `name`.
    pub(super) fn host_flow(&self, name: &str) -> Result<Registered, RunError> {
        let flows = self
            .host_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flows
            .get(name)
            .cloned()
            .ok_or_else(|| RunError::UnregisteredFlow {
                name: name.to_owned(),
                registered: if flows.is_empty() {
                    "none".to_owned()
                } else {
                    flows.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })
    }

    /// The code of a journaled execution's flow.
    pub(super) async fn code_of(&self, record: &ExecutionRecord) -> Result<FlowCode, RunError> {
        match record.component {
            Some(hash) => Ok(FlowCode::Guest(self.component(hash).await?)),
            None => Ok(FlowCode::Host(self.host_flow(&record.flow)?)),
        }
    }

    pub(super) fn remember(&self, component: &Component) {
        self.components
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(component.hash())
            .or_insert_with(|| component.clone());
    }

    /// The component an execution ran, from memory or from the journal's copy.
    pub(super) async fn component(&self, hash: ComponentHash) -> Result<Component, RunError> {
        let known = self
            .components
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned();
        if let Some(component) = known {
            return Ok(component);
        }
        let bytes = self
            .journal
            .component(hash)?
            .ok_or(LoadError::NotInJournal(hash))?;
        let component = Component::from_bytes(&self.engine, bytes).await?;
        self.remember(&component);
        Ok(component)
    }
}
