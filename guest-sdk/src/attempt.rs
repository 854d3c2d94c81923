//! What a checkpoint knows of the attempt it runs in, to make what it does
//! outside idempotent.

use crate::attempt_import;

/// One attempt of one checkpoint call: which execution, which call, which
/// try.
///
/// A call is retried (its `retries` option), and run again when its
/// execution is resumed after a crash that stopped it: checkpoints are
/// at-least-once. An external service that takes an idempotency key can be
/// told that these attempts are one operation with
/// [`Attempt::idempotency_key`].
///
/// ```no_run
/// use cairn_guest::{checkpoint, Error};
///
/// #[checkpoint(retries = 3)]
/// fn charge(cents: u64) -> Result<String, Error> {
///     let key = cairn_guest::attempt()
///         .map(|a| a.idempotency_key())
///         .unwrap_or_default();
///     // send `key` with the payment request ...
///     Ok(key)
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The execution the call belongs to.
    pub execution_id: u64,
    /// The call's sequence number in the execution (the same on every
    /// attempt and every resume).
    pub seq: u32,
    /// The call's id (`name`, `name_2`, `name[i]`...).
    pub call_id: String,
    /// Which attempt of the call this is, from 1.
    pub number: u32,
}

impl Attempt {
    /// A key that is the same for every attempt of this call, and differs
    /// for every other call of any execution of this journal:
    /// `cairn-{execution_id}-{seq}`. (Add [`Attempt::number`] for a key per
    /// attempt.)
    pub fn idempotency_key(&self) -> String {
        format!("cairn-{}-{}", self.execution_id, self.seq)
    }
}

/// The attempt this checkpoint runs in; `None` in a flow (a flow has no
/// attempts), and in a native test run (`cargo test`), which has no
/// execution.
pub fn attempt() -> Option<Attempt> {
    attempt_import::current().map(|a| Attempt {
        execution_id: a.execution_id,
        seq: a.seq,
        call_id: a.call_id,
        number: a.number,
    })
}
