//! The output cache: a call with the same component, checkpoint and
//! canonical input as an earlier completed call, in any execution, reuses its
//! output without running.

use crate::error::JournalError;
use crate::journal::Journal;
use crate::model::{CallStatus, ComponentHash};

/// The cache key of a call. The parts are length-prefixed so that no two
/// different calls share a key. What the policy grants (folders, env vars)
/// is part of it: an output read from a granted folder must not be handed to
/// a run that was granted another one.
pub(crate) fn key(
    component: ComponentHash,
    grants: &str,
    checkpoint: &str,
    input: &str,
) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("cairn cache key v1");
    hasher.update(&component.0);
    hasher.update(&(grants.len() as u64).to_le_bytes());
    hasher.update(grants.as_bytes());
    hasher.update(&(checkpoint.len() as u64).to_le_bytes());
    hasher.update(checkpoint.as_bytes());
    hasher.update(&(input.len() as u64).to_le_bytes());
    hasher.update(input.as_bytes());
    *hasher.finalize().as_bytes()
}

/// The output of an earlier identical completed call, if there is one. The
/// entry is checked against the call it points at, so a stale or damaged
/// entry is a miss, never a wrong output.
pub(crate) async fn lookup(
    journal: &dyn Journal,
    component: ComponentHash,
    grants: &str,
    checkpoint: &str,
    input: &str,
) -> Result<Option<String>, JournalError> {
    let key = key(component, grants, checkpoint, input);
    let Some((_, _, call)) = journal.cached_call(key).await? else {
        return Ok(None);
    };
    if call.component == component
        && call.status == CallStatus::Completed
        && call.name == checkpoint
        && call.input == input
    {
        Ok(call.output)
    } else {
        Ok(None)
    }
}
