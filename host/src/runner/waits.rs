//! Answering a durable wait from outside the execution: the value is checked
//! against the wait's schema and stored; the next resume hands it to the
//! flow.

use super::Runner;
use crate::error::RunError;
use crate::journal::record::WaitRecord;
use crate::journal::writer::{Put, Sync};
use crate::model::{ExecutionId, ExecutionStatus};
use crate::schema;

impl Runner {
    pub(crate) async fn answer(
        &self,
        id: ExecutionId,
        name: &str,
        value: &str,
    ) -> Result<(), RunError> {
        let record = self
            .journal
            .execution(id)?
            .ok_or(RunError::UnknownExecution(id))?;
        if record.status == ExecutionStatus::Cancelled {
            return Err(RunError::Cancelled(id));
        }
        let waits = self.journal.waits(id)?;
        let Some((_, wait)) = waits.iter().find(|(n, _)| n == name) else {
            let names: Vec<&str> = waits.iter().map(|(n, _)| n.as_str()).collect();
            return Err(RunError::UnknownWait {
                exec: id,
                name: name.to_owned(),
                waits: crate::names::listed(&names),
            });
        };
        if wait.value.is_some() {
            return Err(RunError::AlreadyAnswered {
                exec: id,
                name: name.to_owned(),
            });
        }
        let invalid = |reason: String| RunError::InvalidWaitValue {
            name: name.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(value).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
        // Compiled again rather than trusted: it may have been stored by a
        // build that did not limit schemas.
        let schema = schema::compile(&wait.schema)
            .map_err(|e| invalid(format!("the wait's schema is refused: {e}")))?;
        schema
            .validate(&value)
            .map_err(|e| invalid(e.to_string()))?;
        let answered = WaitRecord {
            value: Some(value.to_string()),
            answered_at_us: Some(self.clock.now_us()),
            ..wait.clone()
        };
        self.journal
            .write(vec![Put::wait(id.0, name, &answered)], Sync::Durable)
            .await?;
        Ok(())
    }
}
