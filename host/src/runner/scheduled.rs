//! Runs of schedules (see [`crate::schedule`]): what a schedule's flow and
//! input must be (checked when it is added, as a run would check them), and
//! starting a due run, written in the same transaction that moves the
//! schedule on (see [`Runner::create_via`]).

use std::sync::Arc;

use super::code::FlowCode;
use super::{Announce, Outcome, Runner, Via, input};
use crate::component::Component;
use crate::error::RunError;
use crate::journal::Advance;
use crate::journal::record::ScheduleRecord;

impl Runner {
    /// The canonical input of a run of `flow` of `component` with `input`,
    /// or why a run would be refused.
    pub(crate) fn check_scheduled(
        &self,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<String, RunError> {
        let manifest = component.manifest();
        let Some(info) = manifest.flow(flow) else {
            return Err(RunError::UnknownFlow {
                name: flow.to_owned(),
                available: manifest.flow_names(),
            });
        };
        let input = input::canonical_object(input).map_err(|reason| RunError::BadInput {
            flow: flow.to_owned(),
            reason,
        })?;
        input::check_params(&input, info).map_err(|p| p.into_error(flow))?;
        Ok(input)
    }

    /// Starts the run of schedule `name` whose record is `schedule`, if
    /// `advance` finds it still due in the transaction that creates it.
    pub(crate) async fn start_scheduled(
        self: &Arc<Self>,
        name: &str,
        schedule: &ScheduleRecord,
        advance: Advance,
        announce: Option<Announce>,
    ) -> Result<Outcome, RunError> {
        let component = self
            .component(schedule.component)
            .await
            .map_err(|e| RunError::Host {
                exec: crate::model::ExecutionId(0),
                reason: format!("schedule `{name}`: cannot load its component: {e}"),
            })?;
        let code = FlowCode::Guest(component);
        let via = Via::Schedule(name.to_owned(), advance);
        self.create_via(code, &schedule.flow, &schedule.input, None, announce, via)
            .await
    }
}
