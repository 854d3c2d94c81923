//! [`Ends`]: tells requests that wait for an execution (`?wait=`) when it
//! stops running. One subscription to the host's events serves them all,
//! handing each end to the requests waiting for that execution: with a
//! subscription per request, every request would wake for every event of
//! every execution, and 64 of them cost more CPU than the executions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_host::{Event, ExecutionId, Host};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

/// How many recent ends are remembered, for a request that asks just after
/// its execution ended (between its start and its asking there are no
/// awaits, so a handful would do).
///
/// Ends are numbered in the order seen. A request takes the number so far
/// ([`Ends::mark`]) before it starts work, and only an end after its mark
/// is its own: an execution resumed from `waiting` ended before (and its
/// journal still reads `waiting` just after the resume is accepted).
const REMEMBERED: usize = 4096;

pub(crate) struct Ends {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Requests waiting, by execution.
    waiting: HashMap<ExecutionId, Vec<oneshot::Sender<()>>>,
    /// Ends seen so far.
    seen: u64,
    /// Ends seen lately, oldest first, with their numbers; and the number
    /// of each execution's latest.
    recent: VecDeque<(ExecutionId, u64)>,
    latest: HashMap<ExecutionId, u64>,
    /// The number of the last lag: events were missed then, so any
    /// execution may have ended without its end being seen.
    lagged_at: u64,
    /// The host's events are gone (it is shutting down): nothing more ends.
    closed: bool,
}

/// What a request waits on: fires when its execution may have stopped
/// running (its end, or events missed: the request reads the journal to
/// tell). Dropped unfired when the host's events end: the request answers
/// as if it had not waited.
pub(crate) type Stop = oneshot::Receiver<()>;

impl Ends {
    /// Follows `host`'s events on a task of its own, which ends with them.
    pub(crate) fn follow(host: &Host) -> Arc<Ends> {
        let ends = Arc::new(Ends {
            state: Mutex::new(State::default()),
        });
        let mut events = host.subscribe();
        let weak = Arc::downgrade(&ends);
        tokio::spawn(async move {
            loop {
                let received = events.recv().await;
                let Some(ends) = weak.upgrade() else { return };
                match received {
                    Ok(Event::ExecutionFinished { exec, .. }) => ends.stopped(exec),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => ends.missed(),
                    Err(RecvError::Closed) => {
                        ends.close();
                        return;
                    }
                }
            }
        });
        ends
    }

    /// The ends seen so far: take it before starting work.
    pub(crate) fn mark(&self) -> u64 {
        self.lock().seen
    }

    /// A signal for when `id` stops running next, and whether it stopped
    /// after `mark` already: then the journal tells how (read it after this
    /// call, so that an end after the reading is signalled).
    pub(crate) fn wait_for(&self, id: ExecutionId, mark: u64) -> (Stop, bool) {
        let mut state = self.lock();
        let (tell, stop) = oneshot::channel();
        if !state.closed {
            state.waiting.entry(id).or_default().push(tell);
        }
        let lately = state.latest.get(&id).is_some_and(|&n| n > mark) || state.lagged_at > mark;
        (stop, lately)
    }

    /// Forgets the requests for `id` that gave up (their receivers are
    /// dropped), so that a long execution does not gather them.
    pub(crate) fn gave_up(&self, id: ExecutionId) {
        let mut state = self.lock();
        if let Some(tells) = state.waiting.get_mut(&id) {
            tells.retain(|t| !t.is_closed());
            if tells.is_empty() {
                state.waiting.remove(&id);
            }
        }
    }

    fn stopped(&self, id: ExecutionId) {
        let mut state = self.lock();
        state.seen += 1;
        let n = state.seen;
        state.latest.insert(id, n);
        state.recent.push_back((id, n));
        if state.recent.len() > REMEMBERED
            && let Some((old, old_n)) = state.recent.pop_front()
            && state.latest.get(&old) == Some(&old_n)
        {
            state.latest.remove(&old);
        }
        for tell in state.waiting.remove(&id).unwrap_or_default() {
            let _ = tell.send(());
        }
    }

    /// Events were missed, ends among them maybe: every waiting request is
    /// signalled, to read the journal and wait again if its execution still
    /// runs; and a request that asks later with a mark from before is told
    /// to read it too (a burst of ends must not turn waits into `202`s).
    fn missed(&self) {
        let mut state = self.lock();
        state.seen += 1;
        state.lagged_at = state.seen;
        for (_, tells) in state.waiting.drain() {
            for tell in tells {
                let _ = tell.send(());
            }
        }
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.waiting.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends() -> Ends {
        Ends {
            state: Mutex::new(State::default()),
        }
    }

    #[test]
    fn an_end_signals_the_requests_waiting_for_that_execution_only() {
        let ends = ends();
        let mark = ends.mark();
        let (mut first, lately) = ends.wait_for(ExecutionId(1), mark);
        assert!(!lately);
        let (mut other, _) = ends.wait_for(ExecutionId(2), mark);
        ends.stopped(ExecutionId(1));
        assert_eq!(first.try_recv(), Ok(()));
        assert!(other.try_recv().is_err(), "execution 2 still runs");
        // Asked after the end, with a mark from before it: it is over.
        let (_, lately) = ends.wait_for(ExecutionId(1), mark);
        assert!(lately);
        // With a mark from after it (a resume of it): not this one's end.
        let (_, lately) = ends.wait_for(ExecutionId(1), ends.mark());
        assert!(!lately);
    }

    #[test]
    fn requests_that_gave_up_are_forgotten_and_missed_events_wake_every_wait() {
        let ends = ends();
        let mark = ends.mark();
        let (gone, _) = ends.wait_for(ExecutionId(3), mark);
        let (mut kept, _) = ends.wait_for(ExecutionId(4), mark);
        drop(gone);
        ends.gave_up(ExecutionId(3));
        assert!(!ends.lock().waiting.contains_key(&ExecutionId(3)));
        ends.missed();
        // Woken to read the journal, not dropped into a `202`.
        assert_eq!(kept.try_recv(), Ok(()));
        assert!(ends.lock().waiting.is_empty());
        // One that asks after the lag with a mark from before it reads too;
        // one whose mark is after it does not.
        let (_, lately) = ends.wait_for(ExecutionId(5), mark);
        assert!(lately);
        let (_, lately) = ends.wait_for(ExecutionId(5), ends.mark());
        assert!(!lately);
    }

    #[test]
    fn only_the_latest_ends_are_remembered() {
        let ends = ends();
        for id in 0..(REMEMBERED as u64 + 10) {
            ends.stopped(ExecutionId(id));
        }
        // One stops again: its earlier end leaving the window keeps it.
        ends.stopped(ExecutionId(11));
        for id in 0..20 {
            ends.stopped(ExecutionId(1_000_000 + id));
        }
        let state = ends.lock();
        assert_eq!(state.recent.len(), REMEMBERED);
        assert!(!state.latest.contains_key(&ExecutionId(0)));
        assert!(state.latest.contains_key(&ExecutionId(11)));
        assert_eq!(state.latest.len(), REMEMBERED);
    }
}
