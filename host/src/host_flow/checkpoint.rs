//! A typed handle on one checkpoint of a loaded component. It can only be
//! called through a [`FlowCtx`](super::FlowCtx), which only a running
//! host-side flow has: calling a checkpoint outside a flow does not compile.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::component::Component;
use crate::error::LoadError;

/// Checkpoint `name` of a component, taking `I` (serialized to the JSON
/// object of the checkpoint's named parameters) and returning `O`. Use
/// `serde_json::Value` for either side to stay untyped.
pub struct Checkpoint<I, O> {
    component: Component,
    name: Arc<str>,
    types: PhantomData<fn(&I) -> O>,
}

impl<I, O> Checkpoint<I, O> {
    /// The component it belongs to.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The checkpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

// Written by hand: a derive would require `I: Clone, O: Clone`.
impl<I, O> Clone for Checkpoint<I, O> {
    fn clone(&self) -> Self {
        Checkpoint {
            component: self.component.clone(),
            name: self.name.clone(),
            types: PhantomData,
        }
    }
}

impl<I, O> fmt::Debug for Checkpoint<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("component", &self.component.hash())
            .field("name", &self.name)
            .finish()
    }
}

impl Component {
    /// A handle on checkpoint `name`, for host-side flows to call. Fails if
    /// the component has no such checkpoint; the types are the caller's
    /// promise, checked when a call's input is serialized and its output
    /// decoded.
    pub fn checkpoint<I: Serialize, O: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Checkpoint<I, O>, LoadError> {
        let manifest = self.manifest();
        if manifest.checkpoint(name).is_none() {
            return Err(LoadError::UnknownCheckpoint {
                name: name.to_owned(),
                available: manifest.checkpoint_names(),
            });
        }
        Ok(Checkpoint {
            component: self.clone(),
            name: name.into(),
            types: PhantomData,
        })
    }
}
