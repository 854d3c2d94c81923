//! The runner: the execution state machine and the only writer of the
//! journal. It creates an execution, runs its flow in a flow store, journals
//! every call the flow makes (see [`execution`]), and records how the
//! execution ended.

mod call_id;
pub(crate) mod execution;
mod input;

use std::sync::Arc;

use self::execution::{Abort, Execution};
use crate::bindings::types::GuestError;
use crate::clock::SharedClock;
use crate::component::Component;
use crate::engine::Engine;
use crate::error::RunError;
use crate::events::{Event, EventSink};
use crate::journal::Journal;
use crate::journal::record::{ExecutionRecord, encode};
use crate::journal::writer::{Put, Sync};
use crate::model::{ExecutionId, ExecutionStatus, Failure, FailureKind};
use crate::policy::Policy;
use crate::runtime::{flow, outcome};

/// How an execution ended (or where it stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The execution's id.
    pub id: ExecutionId,
    /// Its status.
    pub status: ExecutionStatus,
    /// The flow's output JSON, if it completed.
    pub output: Option<String>,
    /// Why it failed, if it failed.
    pub failure: Option<Failure>,
}

/// Everything executions share.
pub(crate) struct Runner {
    pub(crate) engine: Engine,
    pub(crate) journal: Journal,
    pub(crate) policy: Policy,
    pub(crate) clock: SharedClock,
    pub(crate) events: Option<EventSink>,
}

impl Runner {
    pub(crate) fn emit(&self, event: Event) {
        if let Some(sink) = &self.events {
            sink(&event);
        }
    }

    /// Starts a new execution of `flow` and runs it to its end.
    pub(crate) async fn start(
        self: &Arc<Self>,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        let manifest = component.manifest();
        let Some(info) = manifest.flow(flow) else {
            return Err(RunError::UnknownFlow {
                name: flow.to_owned(),
                available: manifest.flow_names(),
            });
        };
        let bad_input = |reason: String| RunError::BadInput {
            flow: flow.to_owned(),
            reason,
        };
        let input = input::canonical_object(input).map_err(bad_input)?;
        input::check_params(&input, &info.params).map_err(bad_input)?;

        let id = self.journal.next_execution_id();
        let now = self.clock.now_us();
        let record = ExecutionRecord {
            flow: flow.to_owned(),
            component: component.hash(),
            input,
            status: ExecutionStatus::Running,
            output: None,
            failure: None,
            original_exec_id: None,
            created_at_us: now,
            updated_at_us: now,
            seed: seed_for(id, now),
        };
        let mut puts = Vec::new();
        if !self.journal.has_component(component.hash())? {
            puts.push(Put::Component {
                hash: component.hash().0,
                bytes: component.bytes(),
            });
        }
        puts.push(Put::Execution {
            id: id.0,
            record: encode(&record),
        });
        self.journal.write(puts, Sync::Durable).await?;
        self.emit(Event::ExecutionStarted {
            exec: id,
            flow: flow.to_owned(),
        });
        self.drive(id, record, component).await
    }

    /// Runs the flow of an execution whose record is journaled, and records
    /// how it ended.
    async fn drive(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        component: &Component,
    ) -> Result<Outcome, RunError> {
        let execution = Execution::new(id, record.clone(), self.clone(), component.clone());
        let mut store = flow::new_store(&self.engine, execution);
        let call = match component.flow_pre().instantiate_async(&mut store).await {
            Ok(guest) => {
                guest
                    .cairn_checkpoint_guest()
                    .call_run_flow(&mut store, &record.flow, &record.input)
                    .await
            }
            Err(e) => Err(e),
        };
        let (_, stderr) = store.data().take_output();
        let failed = |kind: FailureKind, message: String| Err(Failure { kind, message });
        let result = match call {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(GuestError::Failed(message))) => failed(FailureKind::FlowError, message),
            Ok(Err(GuestError::BadInput(message))) => failed(FailureKind::BadInput, message),
            Ok(Err(GuestError::Unknown(message))) => failed(FailureKind::FlowError, message),
            Err(error) => match error.downcast_ref::<Abort>() {
                Some(Abort(journal_error)) => {
                    // The journal failed under the flow: try to say so in the
                    // record, but the error to report is the journal's.
                    let _ = self
                        .finish(
                            id,
                            &mut record,
                            failed(FailureKind::Host, journal_error.to_string()),
                        )
                        .await;
                    return Err(RunError::Journal(journal_error.clone()));
                }
                None => {
                    let (kind, message) = outcome::trap(&error, false, 0, &stderr);
                    failed(
                        FailureKind::FlowTrapped,
                        format!("the flow trapped ({kind}): {message}"),
                    )
                }
            },
        };
        self.finish(id, &mut record, result).await
    }

    async fn finish(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        result: Result<String, Failure>,
    ) -> Result<Outcome, RunError> {
        match result {
            Ok(output) => {
                record.status = ExecutionStatus::Completed;
                record.output = Some(output);
            }
            Err(failure) => {
                record.status = ExecutionStatus::Failed;
                record.failure = Some(failure);
            }
        }
        record.updated_at_us = self.clock.now_us();
        self.journal
            .write(
                vec![Put::Execution {
                    id: id.0,
                    record: encode(&*record),
                }],
                Sync::Durable,
            )
            .await?;
        self.emit(Event::ExecutionFinished {
            exec: id,
            status: record.status,
        });
        Ok(Outcome {
            id,
            status: record.status,
            output: record.output.clone(),
            failure: record.failure.clone(),
        })
    }
}

/// The seed of an execution's flow randomness, journaled with it.
fn seed_for(id: ExecutionId, created_at_us: u64) -> u64 {
    let mut hasher = blake3::Hasher::new_derive_key("cairn execution seed v1");
    hasher.update(&id.0.to_le_bytes());
    hasher.update(&created_at_us.to_le_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}
