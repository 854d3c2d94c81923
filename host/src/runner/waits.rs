//! Answering a durable wait from outside the execution: the value is checked
//! against the wait's schema and stored; the next resume hands it to the
//! flow.

use super::Runner;
use crate::error::AnswerError;
use crate::journal::record::WaitRecord;
use crate::journal::{Entry, Sync};
use crate::model::{AnswerSource, ExecutionId, ExecutionStatus};
use crate::schema;

impl Runner {
    pub(crate) async fn answer(
        &self,
        id: ExecutionId,
        name: &str,
        value: &str,
    ) -> Result<(), AnswerError> {
        let record = self
            .journal
            .execution(id)
            .await?
            .ok_or(AnswerError::UnknownExecution(id))?;
        if record.status == ExecutionStatus::Cancelled {
            return Err(AnswerError::Cancelled(id));
        }
        let waits = self.journal.waits(id).await?;
        let Some((_, wait)) = waits.iter().find(|(n, _)| n == name) else {
            return Err(AnswerError::UnknownWait {
                exec: id,
                name: name.to_owned(),
                waits: waits.into_iter().map(|(n, _)| n).collect(),
            });
        };
        if let Some(deadline_us) = self.deadline_passed(id, name, wait).await? {
            return Err(AnswerError::TimedOut {
                exec: id,
                name: name.to_owned(),
                deadline_us,
            });
        }
        if wait.value.is_some() {
            return Err(AnswerError::AlreadyAnswered {
                exec: id,
                name: name.to_owned(),
            });
        }
        let invalid = |reason: String| AnswerError::InvalidValue {
            name: name.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(value).map_err(|source| AnswerError::NotJson {
                name: name.to_owned(),
                source,
            })?;
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
            source: Some(AnswerSource::Answered),
            carried_from: None,
            ..wait.clone()
        };
        let entry = Entry::Wait {
            exec: id,
            name,
            record: &answered,
        };
        self.journal.write(&[entry], Sync::Durable).await?;
        Ok(())
    }
}
