//! A host-side flow's child flows: the same step a guest flow's `children`
//! import takes (see `runner::execution::child`), so a child is journaled,
//! linked, resumed and cancelled the same way.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CheckpointError, FlowCtx, Pending, refused_error};
use crate::component::Component;
use crate::runner::execution::child::StartedBy;

impl FlowCtx {
    /// Starts the host-side flow registered as `flow` with `input` as a
    /// child execution and waits for its output. A resumed flow finds the
    /// child it started (and its output, once it completed) and never
    /// starts it twice; a cancel of this execution cancels the child.
    pub fn child_flow<I: Serialize, O: DeserializeOwned + Send + 'static>(
        &self,
        flow: &str,
        input: &I,
    ) -> impl Future<Output = Result<O, CheckpointError>> + Send + 'static {
        self.start_child_flow(flow, input).into_future()
    }

    /// Starts a child as [`FlowCtx::child_flow`] does, without waiting:
    /// its [`Pending`] gives the output. A child never awaited still runs;
    /// if it fails, this execution fails when the flow ends.
    pub fn start_child_flow<I: Serialize, O: DeserializeOwned>(
        &self,
        flow: &str,
        input: &I,
    ) -> Pending<O> {
        self.start_child(None, flow, input)
    }

    /// Starts flow `flow` of `component` with `input` as a child execution
    /// and waits for its output (see [`FlowCtx::child_flow`]).
    pub fn child_flow_in<I: Serialize, O: DeserializeOwned + Send + 'static>(
        &self,
        component: &Component,
        flow: &str,
        input: &I,
    ) -> impl Future<Output = Result<O, CheckpointError>> + Send + 'static {
        self.start_child(Some(component), flow, input).into_future()
    }

    /// Starts flow `flow` of `component` as a child without waiting (see
    /// [`FlowCtx::start_child_flow`]).
    pub fn start_child_flow_in<I: Serialize, O: DeserializeOwned>(
        &self,
        component: &Component,
        flow: &str,
        input: &I,
    ) -> Pending<O> {
        self.start_child(Some(component), flow, input)
    }

    fn start_child<I: Serialize, O: DeserializeOwned>(
        &self,
        component: Option<&Component>,
        flow: &str,
        input: &I,
    ) -> Pending<O> {
        let started = serde_json::to_string(input)
            .map_err(|e| {
                CheckpointError::Refused(format!(
                    "the input of child flow `{flow}` does not serialize: {e}"
                ))
            })
            .and_then(|input| {
                let mut execution = self.shared.open()?;
                let start = execution
                    .child_start(StartedBy::Host, component, flow, &input)
                    .map_err(refused_error)?;
                execution
                    .start_child(start)
                    .map_err(|reason| self.shared.stop(reason))
            });
        Pending::new(self.shared.clone(), started)
    }
}
