//! Inline attempts: one store per execution, instantiated on first use and
//! reused by every inline call, so they are as cheap as a call into a live
//! instance. A trap poisons a store, so after one the store is dropped and
//! the next call gets a new one.

use wasmtime::Store;

use super::attempt_info::AttemptId;
use super::checkpoint::{self, CheckpointState};
use super::outcome::AttemptReport;
use crate::bindings;
use crate::clock::SharedClock;
use crate::component::Component;
use crate::engine::Engine;
use crate::policy::Policy;

/// The shared store of one execution's inline calls.
#[derive(Default)]
pub(crate) struct InlineRuntime {
    live: Option<(Store<CheckpointState>, bindings::Component)>,
}

impl InlineRuntime {
    pub(crate) async fn attempt(
        &mut self,
        engine: &Engine,
        component: &Component,
        policy: &Policy,
        clock: &SharedClock,
        (name, attempt): (&str, AttemptId),
        input: &str,
    ) -> AttemptReport {
        let (mut store, guest) = match self.live.take() {
            Some(live) => live,
            None => {
                let mut store = checkpoint::new_store(engine, policy, clock);
                checkpoint::arm(&mut store, engine, policy);
                // Start functions run here: bounded like the call itself,
                // since one blocked in a host call is beyond epochs.
                let instantiated = checkpoint::bounded(
                    policy,
                    component.checkpoint_pre().instantiate_async(&mut store),
                )
                .await;
                match instantiated {
                    Some(Ok(guest)) => (store, guest),
                    Some(Err(e)) => return checkpoint::finish(&mut store, policy, Err(e)),
                    None => {
                        let (stdout, stderr) = store.data().take_output();
                        return checkpoint::blocked(policy, stdout, stderr);
                    }
                }
            }
        };
        checkpoint::arm(&mut store, engine, policy);
        store.data_mut().set_attempt(attempt);
        let run = guest
            .cairn_checkpoint_guest()
            .call_run_checkpoint(&mut store, name, input);
        let Some(call) = checkpoint::bounded(policy, run).await else {
            // Cut off in a host call: the store is poisoned and dropped.
            let (stdout, stderr) = store.data().take_output();
            return checkpoint::blocked(policy, stdout, stderr);
        };
        let trapped = call.is_err();
        let report = checkpoint::finish(&mut store, policy, call);
        if !trapped {
            self.live = Some((store, guest));
        }
        report
    }
}
