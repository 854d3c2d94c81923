//! A host-side flow's durable sleep and wait with a deadline: the same
//! steps a guest flow's `timers` import takes (see
//! `runner::execution::timed_step`), so they are journaled, resumed and
//! woken the same way.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{CheckpointError, FlowCtx, refused_error};

impl FlowCtx {
    /// Sleeps `duration`, durably. Its end is journaled the first time;
    /// a sleep of a second or more unloads the flow (the execution is
    /// `waiting` until then and holds nothing) and the flow runs again from
    /// the start when a resume finds the time has come — `cairn serve`
    /// makes that resume by itself, and so does
    /// [`Host::resume`](crate::Host::resume), which waits for the time. A
    /// resumed flow does not sleep again for a sleep that ended.
    pub async fn sleep(&self, duration: Duration) -> Result<(), CheckpointError> {
        let sleeping = self.shared.open()?.sleep(duration);
        match sleeping.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refused)) => Err(refused_error(refused)),
            Err(reason) => Err(self.shared.stop(reason)),
        }
    }

    /// A durable wait (see [`FlowCtx::wait`]) for at most `timeout` from
    /// when the flow first asked: the value, or `None` once the time is up.
    /// The timeout is journaled, and a value supplied after it is refused
    /// ([`AnswerError::TimedOut`](crate::AnswerError::TimedOut)).
    pub async fn wait_timeout<T: DeserializeOwned>(
        &self,
        name: &str,
        question: &str,
        schema: &serde_json::Value,
        timeout: Duration,
    ) -> Result<Option<T>, CheckpointError> {
        let waiting =
            self.shared
                .open()?
                .wait_timeout(name, question, &schema.to_string(), timeout);
        match waiting.await {
            Ok(Ok(Some(value))) => {
                serde_json::from_str(&value)
                    .map(Some)
                    .map_err(|e| CheckpointError::Decode {
                        what: name.to_owned(),
                        reason: e.to_string(),
                    })
            }
            Ok(Ok(None)) => Ok(None),
            Ok(Err(refused)) => Err(refused_error(refused)),
            Err(reason) => Err(self.shared.stop(reason)),
        }
    }
}
