//! The components the server knows: every component in its journal (each
//! upload is stored there before it is acknowledged, and every execution's
//! component is there), with the most recently used ones kept loaded, and
//! the manifest of every one seen kept apart, so that listing them does not
//! compile them (nor push the loaded ones out).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_host::{Component, ComponentHash, Host, LoadError, Manifest};
use serde_json::json;

use crate::api::ComponentView;
use crate::error::ApiError;

/// Compiled components kept in memory; older ones are loaded again from the
/// journal (and the artifact cache) when asked for.
const KEEP_LOADED: usize = 64;

pub(crate) struct Components {
    host: Host,
    loaded: Mutex<VecDeque<Component>>,
    /// The manifest of every component loaded since the server started: a
    /// few kilobytes each, one per component of the journal at most.
    manifests: Mutex<HashMap<ComponentHash, Arc<Manifest>>>,
}

impl Components {
    pub(crate) fn new(host: Host) -> Components {
        Components {
            host,
            loaded: Mutex::new(VecDeque::new()),
            manifests: Mutex::new(HashMap::new()),
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
        let Some(component) = self.load(hash).await? else {
            return Ok(None);
        };
        self.keep(component.clone());
        Ok(Some(component))
    }

    /// The manifest of the component with `hash`, if the journal has it:
    /// what a listing shows. Only a component not seen since the server
    /// started is loaded for it, and it is not kept loaded, so a listing
    /// (which anyone's page can make a browser request) costs one compile
    /// per component per server at most, and never evicts the components
    /// that executions use.
    pub(crate) async fn manifest(
        &self,
        hash: ComponentHash,
    ) -> Result<Option<Arc<Manifest>>, ApiError> {
        if let Some(known) = self.manifests().get(&hash) {
            return Ok(Some(known.clone()));
        }
        let Some(component) = self.load(hash).await? else {
            return Ok(None);
        };
        Ok(Some(self.remember(&component)))
    }

    async fn load(&self, hash: ComponentHash) -> Result<Option<Component>, ApiError> {
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
        self.remember(&component);
        Ok(Some(component))
    }

    /// Every component in the journal.
    pub(crate) async fn hashes(&self) -> Result<Vec<ComponentHash>, ApiError> {
        Ok(self.host.client().component_hashes().await?)
    }

    fn remember(&self, component: &Component) -> Arc<Manifest> {
        self.manifests()
            .entry(component.hash())
            .or_insert_with(|| Arc::new(component.manifest().clone()))
            .clone()
    }

    fn keep(&self, component: Component) {
        self.remember(&component);
        let mut loaded = self.lock();
        loaded.retain(|c| c.hash() != component.hash());
        loaded.push_front(component);
        loaded.truncate(KEEP_LOADED);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Component>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn manifests(&self) -> MutexGuard<'_, HashMap<ComponentHash, Arc<Manifest>>> {
        self.manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the API shows of a component: its hash and `describe`.
pub(crate) fn view(component: &Component) -> ComponentView {
    view_of(component.hash(), component.manifest())
}

/// [`view`] from what a listing has: the hash and the manifest.
pub(crate) fn view_of(hash: ComponentHash, manifest: &Manifest) -> ComponentView {
    ComponentView {
        hash: hash.to_hex(),
        sdk_version: manifest.sdk_version.clone(),
        flows: json!(manifest.flows),
        checkpoints: json!(manifest.checkpoints),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("a runtime: {e}"))
            .block_on(future)
    }

    #[test]
    fn a_listing_reads_known_manifests_without_loading_anything() {
        let host = Host::builder()
            .open()
            .unwrap_or_else(|e| panic!("a host: {e}"));
        let components = Components::new(host);
        let unknown = ComponentHash([7; 32]);
        assert!(block_on(components.manifest(unknown)).is_ok_and(|m| m.is_none()));

        // A manifest seen before (an upload, a run) answers the listing
        // from memory: this journal does not even have the component, so
        // a listing that loaded it would find nothing.
        let seen = ComponentHash([9; 32]);
        let manifest = Arc::new(Manifest {
            sdk_version: "0.1.0".to_owned(),
            flows: Vec::new(),
            checkpoints: Vec::new(),
        });
        components.manifests().insert(seen, manifest.clone());
        let listed = block_on(components.manifest(seen))
            .unwrap_or_else(|e| panic!("lists: {}", e.message))
            .unwrap_or_else(|| panic!("the manifest seen before"));
        assert!(Arc::ptr_eq(&listed, &manifest));
        assert!(components.lock().is_empty(), "a listing loads nothing");
        let shown = view_of(seen, &listed);
        assert_eq!(shown.hash, seen.to_hex());
        assert_eq!(shown.sdk_version, "0.1.0");
    }
}
