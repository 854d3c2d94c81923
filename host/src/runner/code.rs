//! Where an execution's flow code comes from: a component's exported flow
//! (the component found by hash, in memory or in the journal's copy), or a
//! host-side flow registered by name.

use std::sync::{Arc, PoisonError};

use super::Runner;
use crate::component::Component;
use crate::error::{LoadError, RegisterError, ReplayError, ResumeError, RunError};
use crate::host_flow::{HostFlow, Registered};
use crate::journal::record::ExecutionRecord;
use crate::model::ComponentHash;

/// No host-side flow of a name is registered.
#[derive(Debug)]
pub(crate) struct Unregistered {
    name: String,
    registered: Vec<String>,
}

/// Why a journaled execution's flow code cannot be found.
#[derive(Debug)]
pub(crate) enum MissingCode {
    /// Its host-side flow is not registered.
    Unregistered(Unregistered),
    /// Its component could not be loaded from the journal.
    Load(LoadError),
}

impl From<Unregistered> for RunError {
    fn from(Unregistered { name, registered }: Unregistered) -> RunError {
        RunError::UnregisteredFlow { name, registered }
    }
}

impl From<Unregistered> for crate::check::CheckError {
    fn from(Unregistered { name, registered }: Unregistered) -> Self {
        crate::check::CheckError::UnregisteredFlow { name, registered }
    }
}

impl From<MissingCode> for ResumeError {
    fn from(missing: MissingCode) -> ResumeError {
        match missing {
            MissingCode::Unregistered(Unregistered { name, registered }) => {
                ResumeError::UnregisteredFlow { name, registered }
            }
            MissingCode::Load(error) => ResumeError::Load(error),
        }
    }
}

impl From<MissingCode> for ReplayError {
    fn from(missing: MissingCode) -> ReplayError {
        match missing {
            MissingCode::Unregistered(Unregistered { name, registered }) => {
                ReplayError::UnregisteredFlow { name, registered }
            }
            MissingCode::Load(error) => ReplayError::Load(error),
        }
    }
}

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
    pub(crate) fn register(&self, flow: HostFlow) -> Result<(), RegisterError> {
        crate::names::check("flow", flow.name()).map_err(RegisterError::BadName)?;
        let mut flows = self
            .host_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if flows.contains_key(flow.name()) {
            return Err(RegisterError::AlreadyRegistered(flow.name().to_owned()));
        }
        flows.insert(flow.name().to_owned(), Arc::new(flow));
        Ok(())
    }

    /// The host-side flow registered as `name`.
    pub(super) fn host_flow(&self, name: &str) -> Result<Registered, Unregistered> {
        let flows = self
            .host_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flows.get(name).cloned().ok_or_else(|| Unregistered {
            name: name.to_owned(),
            registered: flows.keys().cloned().collect(),
        })
    }

    /// The code of a journaled execution's flow.
    pub(super) async fn code_of(&self, record: &ExecutionRecord) -> Result<FlowCode, MissingCode> {
        match record.component {
            Some(hash) => Ok(FlowCode::Guest(
                self.component(hash).await.map_err(MissingCode::Load)?,
            )),
            None => Ok(FlowCode::Host(
                self.host_flow(&record.flow)
                    .map_err(MissingCode::Unregistered)?,
            )),
        }
    }

    pub(super) fn remember(&self, component: &Component) {
        self.components.remember(component);
    }

    /// The component an execution ran, from memory or from the journal's copy.
    pub(super) async fn component(&self, hash: ComponentHash) -> Result<Component, LoadError> {
        if let Some(component) = self.components.get(hash) {
            return Ok(component);
        }
        let bytes = self
            .journal
            .component(hash)
            .await?
            .ok_or(LoadError::NotInJournal(hash))?;
        let component = Component::from_bytes(&self.engine, bytes).await?;
        self.remember(&component);
        Ok(component)
    }
}
