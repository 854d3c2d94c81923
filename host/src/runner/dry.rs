//! Dry runs: a new build's flow run against an execution's journal without
//! touching anything (see [`crate::check`]). It is the same machinery as a
//! resume — the same prelude, the same [`Execution`] matching each call
//! against its record and stopping at the first that differs, the same
//! flow store or host-side task — with the execution in its dry mode:
//! every call is answered from the journal or stops the flow where the
//! journal ends, no checkpoint runs, no wait blocks and nothing is written
//! or announced.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::code::FlowCode;
use super::execution::{Execution, dry_stop};
use super::guest::FlowEnd;
use super::{Ending, Runner};
use crate::call::Stop;
use crate::check::{CheckCode, CheckError, CheckReport, CheckRequest, ExecutionCheck};
use crate::check::{RecordEnd, Verdict};
use crate::error::Halt;
use crate::guest_text;
use crate::journal::ExecutionFilter;
use crate::journal::record::ExecutionRecord;
use crate::model::{Divergence, ExecutionId, Failure, FailureKind};

/// How many executions a check runs at once, per core.
const CHECKS_PER_CORE: usize = 2;

/// What a dry run's execution saw of the journal (see
/// [`Execution::dry_tail`]).
pub(crate) struct DryTail {
    /// The calls the flow made.
    pub(crate) made: u32,
    /// The calls the journal did not answer, by seq, with their call ids.
    pub(crate) unanswered: BTreeMap<u32, String>,
    /// The first recorded call the flow never made, as a non-determinism
    /// error shows it.
    pub(crate) unmade: Option<(u32, String)>,
}

impl Runner {
    /// The code a check runs, and the flows it checks.
    pub(crate) fn check_code(
        &self,
        request: &CheckRequest,
    ) -> Result<(FlowCode, Vec<String>), CheckError> {
        match &request.code {
            CheckCode::Component(component) => {
                let manifest = component.manifest();
                let flows = match &request.flow {
                    Some(name) if manifest.flow(name).is_none() => {
                        return Err(CheckError::UnknownFlow {
                            name: name.clone(),
                            available: manifest.flow_names(),
                        });
                    }
                    Some(name) => vec![name.clone()],
                    None => manifest.flow_names(),
                };
                self.remember(component);
                Ok((FlowCode::Guest(component.clone()), flows))
            }
            CheckCode::HostFlow(name) => {
                let registered = self.host_flow(name)?;
                Ok((FlowCode::Host(registered), vec![name.clone()]))
            }
        }
    }

    /// Checks every execution `request` selects, several at once, and
    /// reports them by id.
    pub(crate) async fn check(
        self: &Arc<Self>,
        request: &CheckRequest,
    ) -> Result<CheckReport, CheckError> {
        let (code, flows) = self.check_code(request)?;
        let guest = matches!(code, FlowCode::Guest(_));
        let filter = ExecutionFilter {
            created_since_us: request.since_us,
            ..ExecutionFilter::default()
        };
        let selected: Vec<(ExecutionId, ExecutionRecord)> = (self.journal.executions(&filter))
            .await?
            .into_iter()
            .filter(|(_, record, _)| {
                flows.contains(&record.flow)
                    && request.takes(record.status)
                    && record.component.is_some() == guest
            })
            .map(|(id, record, _)| (id, record))
            .collect();
        let in_flight =
            std::thread::available_parallelism().map_or(1, usize::from) * CHECKS_PER_CORE;
        let mut checks = Vec::with_capacity(selected.len());
        let mut running = JoinSet::new();
        let mut queue = selected.into_iter();
        loop {
            while running.len() < in_flight {
                let Some((id, record)) = queue.next() else {
                    break;
                };
                let (runner, code) = (self.clone(), code.clone());
                running.spawn(async move { runner.check_one(id, record, &code).await });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let checked = joined.map_err(|e| CheckError::Host {
                exec: ExecutionId(0),
                reason: format!("a check's task stopped: {e}"),
            })?;
            checks.push(checked?);
        }
        checks.sort_by_key(|c| c.id);
        let component = match &code {
            FlowCode::Guest(component) => Some(component.hash().to_hex()),
            FlowCode::Host(_) => None,
        };
        Ok(CheckReport::new(component, flows, checks))
    }

    /// Checks one execution against `code`.
    pub(crate) async fn check_one(
        self: &Arc<Self>,
        id: ExecutionId,
        record: ExecutionRecord,
        code: &FlowCode,
    ) -> Result<ExecutionCheck, CheckError> {
        let (calls, verdict) = self
            .dry_run(id, record.clone(), code)
            .await
            .map_err(|halt| match halt {
                Halt::Journal(e) => CheckError::Journal(e),
                Halt::Host { exec, reason } => CheckError::Host { exec, reason },
            })?;
        Ok(ExecutionCheck {
            id,
            flow: record.flow,
            status: record.status,
            component: record.component.map(|c| c.to_hex()),
            calls,
            verdict,
        })
    }

    /// Runs `code`'s flow against execution `id`'s journal, dry: how many
    /// calls it made, and the verdict.
    async fn dry_run(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        code: &FlowCode,
    ) -> Result<(u32, Verdict), Halt> {
        let (mut prelude, _interrupted) = self.prelude(id, &record).await?;
        // Nothing is run, so a replay's source and a retry's timer have no
        // part in it.
        prelude.replay = None;
        prelude.timers.clear();
        // The new build stands in for the one the execution runs now.
        if let FlowCode::Guest(_) = code {
            prelude.earlier_builds.extend(record.component);
        }
        let cache = code.cache(&record.flow);
        let cancel = CancellationToken::new();
        let execution = Execution::new(
            id,
            record.clone(),
            self.clone(),
            cache,
            prelude,
            cancel.clone(),
        )
        .into_dry();
        let (end, tail) = match code {
            FlowCode::Guest(component) => {
                let (end, execution) = self
                    .run_guest(&mut record, component, execution, &cancel)
                    .await;
                (end, execution.dry_tail())
            }
            FlowCode::Host(registered) => {
                let (end, shared) = self
                    .run_host(id, &mut record, registered, execution, &cancel)
                    .await;
                let tail = shared.execution().dry_tail();
                (end, tail)
            }
        };
        let made = tail.made;
        Ok((made, self.verdict(end, tail)?))
    }

    /// What a dry run's end says of the new code.
    fn verdict(&self, end: FlowEnd, tail: DryTail) -> Result<Verdict, Halt> {
        let max = self.policy.max_message_bytes;
        let fails = |kind: FailureKind, message: String| Verdict::Fails {
            failure: Failure::new(kind, guest_text::bounded(message, max)),
        };
        Ok(match end {
            FlowEnd::Stopped(Stop::NonDeterminism {
                seq,
                expected,
                found,
            }) => Verdict::Diverges {
                divergence: Divergence {
                    seq,
                    expected: guest_text::bounded(expected, max),
                    found: guest_text::bounded(found, max),
                },
            },
            FlowEnd::Stopped(Stop::Waiting(stop)) => {
                let call = tail
                    .unanswered
                    .iter()
                    .find(|(seq, _)| dry_stop(**seq) == stop);
                let ends_at = match call {
                    Some((seq, call_id)) => RecordEnd::Call {
                        seq: *seq,
                        call_id: call_id.clone(),
                    },
                    None => RecordEnd::Wait { name: stop },
                };
                Verdict::Compatible { ends_at }
            }
            // A dry run runs no call, so none parks; were one to, the
            // record ends there.
            FlowEnd::Stopped(Stop::Parked(_)) => Verdict::Compatible {
                ends_at: RecordEnd::Completed,
            },
            FlowEnd::Stopped(Stop::Limit(message)) => fails(FailureKind::Limit, message),
            FlowEnd::Stopped(Stop::Journal(error)) => return Err(Halt::Journal(error)),
            FlowEnd::Stopped(Stop::Host(reason)) => fails(FailureKind::Host, reason),
            FlowEnd::Stopped(Stop::Cancelled) | FlowEnd::Ended(Ending::Cancelled) => {
                fails(FailureKind::Host, "the check was cancelled".to_owned())
            }
            FlowEnd::Ended(Ending::Completed(_)) => match tail.unmade {
                Some((seq, expected)) => Verdict::Diverges {
                    divergence: Divergence {
                        seq,
                        expected: guest_text::bounded(expected, max),
                        found: "no call: the new flow completed before it".to_owned(),
                    },
                },
                None => Verdict::Compatible {
                    ends_at: RecordEnd::Completed,
                },
            },
            FlowEnd::Ended(Ending::Failed(failure)) => Verdict::Fails { failure },
            FlowEnd::Ended(Ending::Waiting) => Verdict::Compatible {
                ends_at: RecordEnd::Completed,
            },
        })
    }
}
