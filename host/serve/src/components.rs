//! The components the server knows: every component in its journal (each
//! upload is stored there before it is acknowledged, and every execution's
//! component is there), with the most recently used ones kept loaded.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cairn_host::{Component, ComponentHash, Host, LoadError};
use serde_json::json;

use crate::api::ComponentView;
use crate::error::ApiError;

/// Compiled components kept in memory; older ones are loaded again from the
/// journal (and the artifact cache) when asked for.
const KEEP_LOADED: usize = 64;

pub(crate) struct Components {
    host: Host,
    loaded: Mutex<VecDeque<Component>>,
}

impl Components {
    pub(crate) fn new(host: Host) -> Components {
        Components {
            host,
            loaded: Mutex::new(VecDeque::new()),
        }
    }

    /// Loads uploaded bytes (checked exactly as `cairn run` checks a file)
    /// and stores them in the journal. Returns the component and whether it
    /// was new.
    pub(crate) async fn upload(&self, bytes: Vec<u8>) -> Result<(Component, bool), ApiError> {
        let hash = ComponentHash(*blake3::hash(&bytes).as_bytes());
        let known = self.host.client().component_hashes().await?.contains(&hash);
        let component = self.host.load(bytes).await?;
        if !known {
            self.host.store_component(&component).await?;
        }
        self.keep(component.clone());
        Ok((component, !known))
    }

    /// The component with `hash`, if the journal has it.
    pub(crate) async fn get(&self, hash: ComponentHash) -> Result<Option<Component>, ApiError> {
        if let Some(found) = self.lock().iter().find(|c| c.hash() == hash) {
            return Ok(Some(found.clone()));
        }
        let Some(bytes) = self.host.client().component(hash).await? else {
            return Ok(None);
        };
        let component = self.host.load(bytes).await.map_err(|e| match e {
            // The journal's copy is checked against its hash; one that no
            // longer loads is the server's trouble, not the client's.
            LoadError::Journal(e) => ApiError::from(e),
            other => ApiError::internal(format!(
                "component {hash} in the journal does not load: {}",
                crate::error::chain(&other)
            )),
        })?;
        self.keep(component.clone());
        Ok(Some(component))
    }

    /// Every component in the journal.
    pub(crate) async fn hashes(&self) -> Result<Vec<ComponentHash>, ApiError> {
        Ok(self.host.client().component_hashes().await?)
    }

    fn keep(&self, component: Component) {
        let mut loaded = self.lock();
        loaded.retain(|c| c.hash() != component.hash());
        loaded.push_front(component);
        loaded.truncate(KEEP_LOADED);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Component>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the API shows of a component: its hash and `describe`.
pub(crate) fn view(component: &Component) -> ComponentView {
    let manifest = component.manifest();
    ComponentView {
        hash: component.hash().to_hex(),
        sdk_version: manifest.sdk_version.clone(),
        flows: json!(manifest.flows),
        checkpoints: json!(manifest.checkpoints),
    }
}
