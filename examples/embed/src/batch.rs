//! The host-side `batch` flow: one checkpoint of one component, called once
//! per item, in parallel. The flow's own code runs in the service; only the
//! checkpoint runs in the sandbox. Its input names the component by hash,
//! so a resumed batch finds the same code in the journal.

use std::sync::Arc;

use cairn_host::{ComponentHash, FlowCtx, FlowError, HostFlow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Service;

/// What a batch runs.
#[derive(Serialize, Deserialize)]
pub(crate) struct Batch {
    /// The component's hash (hex).
    pub(crate) component: String,
    /// The checkpoint to call.
    pub(crate) checkpoint: String,
    /// One input object per call.
    pub(crate) items: Vec<Value>,
}

pub(crate) fn flow(service: Arc<Service>) -> HostFlow {
    HostFlow::new("batch", move |ctx: FlowCtx, batch: Batch| {
        let service = service.clone();
        async move {
            let hash: ComponentHash = batch.component.parse()?;
            let component = service
                .components
                .get(hash)
                .await?
                .ok_or_else(|| FlowError::msg(format!("unknown component {hash}")))?;
            let checkpoint = component.checkpoint::<Value, Value>(&batch.checkpoint)?;
            let outputs = ctx.map(&checkpoint, batch.items).await?;
            Ok(outputs)
        }
    })
}
