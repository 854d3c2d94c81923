//! The components the service knows, by hash: those uploaded since it
//! started, and any the journal holds (so executions of an earlier process
//! can be resumed and batches can name a component run before a restart).

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_host::{Component, ComponentHash, Host, LoadError};

pub(crate) struct Components {
    host: Host,
    loaded: Mutex<HashMap<ComponentHash, Component>>,
}

impl Components {
    pub(crate) fn new(host: Host) -> Components {
        Components {
            host,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Loads uploaded bytes.
    pub(crate) async fn add(&self, bytes: Vec<u8>) -> Result<Component, LoadError> {
        let component = self.host.load(bytes).await?;
        self.lock().insert(component.hash(), component.clone());
        Ok(component)
    }

    /// The component with this hash, if it was uploaded or is in the journal.
    pub(crate) async fn get(&self, hash: ComponentHash) -> Result<Option<Component>, LoadError> {
        if let Some(component) = self.lock().get(&hash) {
            return Ok(Some(component.clone()));
        }
        let Some(bytes) = self.host.client().component(hash).await? else {
            return Ok(None);
        };
        Ok(Some(self.add(bytes).await?))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ComponentHash, Component>> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
