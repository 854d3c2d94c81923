//! Requests to stop another process's run of an execution (see
//! `journal::stop`), as rows of `cairn_stop_requests`:
//!
//! - the asker inserts one (a cancel, or a switch to a build), standing
//!   until `expires_at`, and reads its `reply` until there is one;
//! - every process that holds claims looks, every [`LOOK_EVERY`], for
//!   standing requests for the executions it holds and hands each to its
//!   handler (the runner), once at a time: a request is handed over again
//!   only if the handler let it go unanswered;
//! - the reply is written in the row; the asker withdraws (deletes) it.
//!   Rows whose time ran out are deleted by the next ask.
//!
//! The look is a task beside the lease heartbeat rather than the heartbeat
//! itself: a renewal comes every third of the lease (seconds), and a cancel
//! should not wait that long; the look is one indexed read of a table that
//! is empty but for the moments someone asks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use super::group::big;
use super::leases::storage;
use crate::error::JournalError;
use crate::journal::{StopAsk, StopAsked, StopHandler, StopReply};
use crate::model::{ComponentHash, ExecutionId};

/// How often a process looks for requests left for what it holds.
pub(super) const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Leaves a request (and clears out those whose time ran out).
const ASK: &str = "WITH lapsed AS (
        DELETE FROM cairn_stop_requests WHERE expires_at < clock_timestamp())
    INSERT INTO cairn_stop_requests (exec, ask, to_component, asked_by, asker, expires_at)
    VALUES ($1, $2, $3, $4, $5, clock_timestamp() + $6::BIGINT * interval '1 millisecond')
    RETURNING ticket";

/// The standing, unanswered requests for some executions.
const LOOK: &str = "SELECT ticket, exec, ask, to_component, asked_by FROM cairn_stop_requests
    WHERE exec = ANY($1) AND reply IS NULL AND expires_at > clock_timestamp()
    ORDER BY ticket";

/// Answers a request (once).
const REPLY: &str = "UPDATE cairn_stop_requests SET reply = $2, answer = $3
    WHERE ticket = $1 AND reply IS NULL";

/// A request's reply.
const READ_REPLY: &str = "SELECT reply, answer FROM cairn_stop_requests WHERE ticket = $1";

/// Removes a request.
const WITHDRAW: &str = "DELETE FROM cairn_stop_requests WHERE ticket = $1";

/// How an ask is spelled in its row.
fn ask_row(ask: &StopAsk) -> (&'static str, Option<Vec<u8>>, &str) {
    match ask {
        StopAsk::Cancel => ("cancel", None, ""),
        StopAsk::Switch { to, by } => ("switch", Some(to.0.to_vec()), by.as_str()),
    }
}

/// An ask read back from its row; `None` for one this build does not know
/// (left by a newer one): it is left to stand, unanswered.
fn ask_of(ask: &str, to: Option<&[u8]>, by: String) -> Option<StopAsk> {
    match ask {
        "cancel" => Some(StopAsk::Cancel),
        "switch" => {
            let to: [u8; 32] = to?.try_into().ok()?;
            Some(StopAsk::Switch {
                to: ComponentHash(to),
                by,
            })
        }
        _ => None,
    }
}

/// How a reply is spelled in its row.
fn reply_row(reply: &StopReply) -> (&'static str, Option<&str>) {
    match reply {
        StopReply::Cancelling => ("cancelling", None),
        StopReply::NotRunning => ("not_running", None),
        StopReply::Switched(answer) => ("switched", Some(answer.as_str())),
    }
}

fn reply_of(ticket: u64, reply: &str, answer: Option<String>) -> Result<StopReply, JournalError> {
    match (reply, answer) {
        ("cancelling", _) => Ok(StopReply::Cancelling),
        ("not_running", _) => Ok(StopReply::NotRunning),
        ("switched", Some(answer)) => Ok(StopReply::Switched(answer)),
        (other, _) => Err(JournalError::Corrupt {
            what: format!("cairn_stop_requests ticket {ticket}"),
            reason: format!("unknown reply `{other}`"),
        }),
    }
}

/// Leaves `ask` for execution `exec`, asked by process `asker`, standing
/// for `lasts`; returns its ticket.
pub(super) async fn ask(
    pool: Pool,
    exec: ExecutionId,
    ask: StopAsk,
    asker: String,
    lasts: Duration,
) -> Result<u64, JournalError> {
    let client = pool.get().await.map_err(storage("connecting to ask"))?;
    let (kind, to, by) = ask_row(&ask);
    let ms = i64::try_from(lasts.as_millis()).unwrap_or(i64::MAX);
    let row = client
        .query_one(ASK, &[&big(exec.0), &kind, &to, &by, &asker, &ms])
        .await
        .map_err(storage("asking the run of an execution to stop"))?;
    Ok(row.get::<_, i64>(0).unsigned_abs())
}

/// The reply to request `ticket`, if there is one.
pub(super) async fn reply(pool: Pool, ticket: u64) -> Result<Option<StopReply>, JournalError> {
    let client = pool.get().await.map_err(storage("connecting to read"))?;
    let row = client
        .query_opt(READ_REPLY, &[&big(ticket)])
        .await
        .map_err(storage("reading the reply to a stop request"))?;
    let Some(row) = row else { return Ok(None) };
    match row.get::<_, Option<String>>(0) {
        None => Ok(None),
        Some(reply) => reply_of(ticket, &reply, row.get(1)).map(Some),
    }
}

/// Removes request `ticket`.
pub(super) async fn withdraw(pool: Pool, ticket: u64) -> Result<(), JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to withdraw"))?;
    client
        .execute(WITHDRAW, &[&big(ticket)])
        .await
        .map_err(storage("withdrawing a stop request"))?;
    Ok(())
}

/// The executions this process holds now (`None` once its journal is
/// gone).
pub(super) type HeldNow = Box<dyn Fn() -> Option<Vec<i64>> + Send + Sync>;

/// Looks every [`LOOK_EVERY`] for requests for what `held` says this
/// process holds, and hands them to `handler`, until the journal goes.
pub(super) fn watch(pool: Pool, runtime: &Handle, held: HeldNow, handler: StopHandler) {
    // Requests handed over and not answered yet, so none is handed twice.
    let handed: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let on = runtime.clone();
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(LOOK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(ids) = held() else { return };
            if ids.is_empty() {
                continue;
            }
            // A failed look is tried again at the next tick.
            let Ok(client) = pool.get().await else {
                continue;
            };
            let Ok(rows) = client.query(LOOK, &[&ids]).await else {
                continue;
            };
            drop(client);
            for row in rows {
                let ticket = row.get::<_, i64>(0).unsigned_abs();
                let exec = ExecutionId(row.get::<_, i64>(1).unsigned_abs());
                let Some(ask) = ask_of(
                    row.get::<_, &str>(2),
                    row.get::<_, Option<&[u8]>>(3),
                    row.get::<_, String>(4),
                ) else {
                    continue;
                };
                if !lock(&handed).insert(ticket) {
                    continue;
                }
                let replier = replier(pool.clone(), on.clone(), handed.clone(), ticket);
                handler(StopAsked::new(ticket, exec, ask, replier));
            }
        }
    });
}

/// Writes the reply to `ticket` (given one), then lets it be handed over
/// again if it still stands unanswered.
fn replier(
    pool: Pool,
    runtime: Handle,
    handed: Arc<Mutex<HashSet<u64>>>,
    ticket: u64,
) -> impl FnOnce(Option<StopReply>) + Send + 'static {
    move |reply| {
        let Some(reply) = reply else {
            lock(&handed).remove(&ticket);
            return;
        };
        runtime.spawn(async move {
            let (kind, answer) = reply_row(&reply);
            // A reply that cannot be written leaves the request unanswered:
            // its asker gives up when its time runs out.
            if let Ok(client) = pool.get().await
                && let Err(e) = client.execute(REPLY, &[&big(ticket), &kind, &answer]).await
            {
                tracing::warn!(ticket, error = %e, "cannot reply to a stop request");
            }
            lock(&handed).remove(&ticket);
        });
    }
}

fn lock(handed: &Mutex<HashSet<u64>>) -> std::sync::MutexGuard<'_, HashSet<u64>> {
    // A set of numbers stays whole whatever a holder did.
    handed.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_and_replies_read_back_as_written() {
        let to = ComponentHash([7; 32]);
        for ask in [
            StopAsk::Cancel,
            StopAsk::Switch {
                to,
                by: "cairn executions upgrade".to_owned(),
            },
        ] {
            let (kind, bytes, by) = ask_row(&ask);
            assert_eq!(
                ask_of(kind, bytes.as_deref(), by.to_owned()),
                Some(ask.clone())
            );
        }
        assert_eq!(ask_of("pause", None, String::new()), None);
        assert_eq!(ask_of("switch", Some(&[1, 2]), String::new()), None);
        for reply in [
            StopReply::Cancelling,
            StopReply::NotRunning,
            StopReply::Switched("{}".to_owned()),
        ] {
            let (kind, answer) = reply_row(&reply);
            assert_eq!(
                reply_of(1, kind, answer.map(str::to_owned)).expect("reads"),
                reply
            );
        }
        assert!(matches!(
            reply_of(1, "later", None),
            Err(JournalError::Corrupt { .. })
        ));
    }
}
