//! An isolated attempt: a fresh store, instantiated from the component's
//! pre-instance, with a full budget; dropped when the attempt ends, so no
//! memory survives from one call to the next.

use super::attempt_info::AttemptId;
use super::checkpoint;
use super::outcome::AttemptReport;
use crate::clock::SharedClock;
use crate::component::Component;
use crate::engine::Engine;
use crate::policy::Policy;

pub(crate) async fn attempt(
    engine: &Engine,
    component: &Component,
    policy: &Policy,
    clock: &SharedClock,
    (name, attempt): (&str, AttemptId),
    input: &str,
) -> AttemptReport {
    let mut store = checkpoint::new_store(engine, policy, clock);
    checkpoint::arm(&mut store, engine, policy);
    store.data_mut().set_attempt(attempt);
    let run = async {
        match component
            .checkpoint_pre()
            .instantiate_async(&mut store)
            .await
        {
            Ok(guest) => {
                guest
                    .cairn_checkpoint_guest()
                    .call_run_checkpoint(&mut store, name, input)
                    .await
            }
            Err(e) => Err(e),
        }
    };
    match checkpoint::bounded(policy, run).await {
        Some(call) => checkpoint::finish(&mut store, policy, call),
        None => {
            // The cut-off future poisoned the store; it is dropped here.
            let (stdout, stderr) = store.data().take_output();
            checkpoint::blocked(policy, stdout, stderr)
        }
    }
}
