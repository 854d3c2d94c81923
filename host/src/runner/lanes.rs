//! Where calls run. Isolated calls each get a task (or run in place on the
//! task of a flow that awaits them, see [`InPlace`]) and run in parallel, at
//! most as many at once as the host's isolated pool allows. Inline calls
//! share the execution's one store per component, so they go to one worker
//! task per component that runs them one at a time, in submission order.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::call::{self, CallContext, Job, Lane};
use super::in_place::InPlace;
use crate::call::Filler;
use crate::runtime::inline::InlineRuntime;

/// An isolated call, to be run in place or detached (see [`InPlace`]).
pub(crate) fn isolated(ctx: Arc<CallContext>, job: Job, filler: Filler) -> InPlace {
    InPlace::new(async move {
        let outcome = call::run(&ctx, job, Lane::Isolated).await;
        filler.fill(outcome);
    })
}

/// The queue of an execution's inline calls.
pub(crate) struct InlineLane {
    jobs: mpsc::UnboundedSender<(Job, Filler)>,
}

impl InlineLane {
    /// Starts the worker that owns the execution's inline store. It stops
    /// when the lane is dropped and its queue is empty. Between jobs it
    /// holds the execution's context weakly: a worker the runtime has not
    /// polled since the execution ended must not keep the runner, and so
    /// the journal file, open after the last host is dropped.
    pub(crate) fn start(ctx: &Arc<CallContext>) -> InlineLane {
        let (jobs, mut queue) = mpsc::unbounded_channel::<(Job, Filler)>();
        let context = Arc::downgrade(ctx);
        tokio::spawn(async move {
            let mut runtime = InlineRuntime::default();
            while let Some((job, filler)) = queue.recv().await {
                // The execution is gone: its calls' slots report them
                // aborted, as when the worker is.
                let Some(ctx) = context.upgrade() else {
                    return;
                };
                let outcome = call::run(&ctx, job, Lane::Inline(&mut runtime)).await;
                filler.fill(outcome);
            }
        });
        InlineLane { jobs }
    }

    /// Queues an inline call behind those submitted before it.
    pub(crate) fn push(&self, job: Job, filler: Filler) {
        // The worker lives as long as the lane; if it is gone, the filler is
        // dropped unsent and the call's slot reports an aborted call.
        let _ = self.jobs.send((job, filler));
    }
}
