//! `cairn run`, `executions resume`, `executions replay` and `executions
//! input --resume`: the commands that run guest code, with progress on
//! stderr and the flow's output on stdout.
//!
//! While one of them runs, SIGINT (Ctrl-C) and SIGTERM stop it: the run's
//! future is dropped, so the flow and the calls stop at their next await,
//! and the execution is left `running` in the journal with the calls it
//! completed, for `executions resume` to continue. The process then ends
//! with 128 + the signal's number, as a shell reports a tool a signal
//! stopped.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_host::{
    Event, EventSink, ExecutionFilter, ExecutionId, ExecutionStatus, Host, Outcome, ReplayRequest,
};

use crate::args::{Global, InputArgs, PolicyArgs, ReplayArgs, ResumeArgs, RunArgs};
use crate::exit::Exit;
use crate::finish::{self, Ended, suggest};
use crate::signals::{Caught, Signals};
use crate::terminal::line;
use crate::{files, limits, render, setup, terminal, timer_text};

/// Set once a signal has stopped a run: tasks of the dropped run may still
/// be inside a checkpoint (code between two awaits, up to its time limit),
/// and `main` must not wait for them when it ends.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long an interrupted command waits for the journal to make what the
/// run did durable before it ends anyway (a second signal ends it at once).
const SYNC_GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn run(global: &Global, args: &RunArgs) -> Result<ExitCode, Exit> {
    let input = input_text(args)?;
    let started = Started::default();
    let host = setup::host(global, &args.policy, Some(progress(&started)))?;
    let mut signals = Signals::listen()?;
    let work = async {
        let component = host.load_file(&args.component).await?;
        let flow = choose_flow(args.flow.as_ref(), &component.manifest().flow_names())?;
        let outcome = host.run(&component, &flow, &input).await?;
        through_parked_retries(&host, outcome).await
    };
    match signals.until(work).await {
        Ok(outcome) => finish(global, &args.policy, &host, &outcome?).await,
        Err(caught) => {
            let stop = Stopped::new(caught, None);
            stop.report(global, &args.policy, &host, &started, &mut signals)
                .await
        }
    }
}

/// The flow input `run` was given: `--input`, `--input-file`, or `{}`.
pub(crate) fn input_text(args: &RunArgs) -> Result<String, Exit> {
    match (&args.input, &args.input_file) {
        (Some(input), _) => Ok(input.clone()),
        (None, Some(file)) => files::read_text(file, "input file", limits::INPUT_FILE_BYTES)
            .map_err(|e| Exit::bad_input(anyhow::anyhow!(e))),
        (None, None) => Ok("{}".to_owned()),
    }
}

/// `cairn executions resume`: the same output and exit codes as `run`.
pub(crate) async fn resume(global: &Global, args: &ResumeArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let started = Started::default();
    let host = setup::host(global, &args.policy, Some(progress(&started)))?;
    resume_in(global, &args.policy, &host, &started, args.id).await
}

/// `cairn executions input --resume`: answers the wait and resumes the
/// execution in one step, with one opening of the journal; the same output
/// and exit codes as `executions resume`.
pub(crate) async fn answer_and_resume(global: &Global, args: &InputArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let started = Started::default();
    let host = setup::host(global, &args.policy, Some(progress(&started)))?;
    host.answer(args.id, &args.wait, &args.value).await?;
    eprintln!(
        "cairn: stored the value of `{}` for execution {}",
        line(&args.wait),
        args.id
    );
    resume_in(global, &args.policy, &host, &started, args.id).await
}

async fn resume_in(
    global: &Global,
    policy: &PolicyArgs,
    host: &Host,
    started: &Started,
    id: ExecutionId,
) -> Result<ExitCode, Exit> {
    let mut signals = Signals::listen()?;
    let work = async {
        // A resume before a sleep's end (or a retry's time) waits for it:
        // say so, rather than hang without a word.
        let now = cairn_host::Clock::now_us(&cairn_host::SystemClock);
        for (_, timer) in host.client().retries(Some(id)).await? {
            if timer_text::holds(&timer) && timer.due_at_us > now {
                eprintln!(
                    "cairn: execution {id} is not due yet: {}; waiting for it here (Ctrl-C leaves it parked in the journal)",
                    timer_text::due(&timer)
                );
            }
        }
        through_parked_retries(host, host.resume(id).await?).await
    };
    match signals.until(work).await {
        Ok(outcome) => finish(global, policy, host, &outcome?).await,
        Err(caught) => {
            let stop = Stopped::new(caught, Some(id));
            stop.report(global, policy, host, started, &mut signals)
                .await
        }
    }
}

/// `cairn executions replay`: a new execution; the same output and exit
/// codes as `run`.
pub(crate) async fn replay(global: &Global, args: &ReplayArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let started = Started::default();
    let host = setup::host(global, &args.policy, Some(progress(&started)))?;
    let mut signals = Signals::listen()?;
    let work = async {
        let mut request = ReplayRequest::default();
        if let Some(from) = &args.from {
            request = request.from(from);
        }
        for (selector, output) in &args.overrides {
            request = request.override_output(selector, output);
        }
        if let Some(input) = &args.input {
            request = request.input(input);
        }
        if let Some(path) = &args.component {
            request = request.component(host.load_file(path).await?);
        }
        for (name, value) in &args.answers {
            request = request.answer(name, value);
        }
        let outcome = host.replay(args.id, request).await?;
        through_parked_retries(&host, outcome).await
    };
    let outcome = match signals.until(work).await {
        Ok(outcome) => outcome?,
        Err(caught) => {
            let stop = Stopped::new(caught, None);
            return stop
                .report(global, &args.policy, &host, &started, &mut signals)
                .await;
        }
    };
    eprintln!(
        "cairn: execution {} replays execution {}",
        outcome.id, args.id
    );
    finish::replay_answers(&host, &Ended::of_outcome(&outcome), &args.answers).await?;
    finish(global, &args.policy, &host, &outcome).await
}

/// The execution a run is on, from its events: known once it has started
/// (or resumed), which is what an interrupt has to report.
#[derive(Clone, Default)]
struct Started(Arc<Mutex<Option<ExecutionId>>>);

impl Started {
    fn set(&self, id: ExecutionId) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
    }

    fn get(&self) -> Option<ExecutionId> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn progress(started: &Started) -> EventSink {
    let progress = Mutex::new(render::Progress::default());
    let started = started.clone();
    Arc::new(move |event: &Event| {
        if let Event::ExecutionStarted { exec, .. } | Event::ExecutionResumed { exec } = event {
            started.set(*exec);
        }
        if let Ok(mut progress) = progress.lock() {
            progress.on(event);
        }
    })
}

/// A run a signal stopped.
struct Stopped {
    caught: Caught,
    /// The execution a resume was asked for (known before it starts).
    resuming: Option<ExecutionId>,
}

impl Stopped {
    fn new(caught: Caught, resuming: Option<ExecutionId>) -> Stopped {
        INTERRUPTED.store(true, Ordering::Relaxed);
        Stopped { caught, resuming }
    }

    /// Says what state the execution is left in and how to go on, and ends
    /// with 128 + the signal's number.
    async fn report(
        self,
        global: &Global,
        policy: &PolicyArgs,
        host: &Host,
        started: &Started,
        signals: &mut Signals,
    ) -> Result<ExitCode, Exit> {
        let signal = self.caught.name();
        if self.caught == Caught::Interrupt && std::io::stderr().is_terminal() {
            // After the `^C` the terminal echoed.
            eprintln!();
        }
        let exit = Ok(ExitCode::from(self.caught.exit_code()));
        let Some(id) = started.get() else {
            match self.resuming {
                Some(id) => eprintln!(
                    "cairn: interrupted by {signal} before execution {id} resumed; it is as it was"
                ),
                None => {
                    eprintln!("cairn: interrupted by {signal} before the execution started")
                }
            }
            return exit;
        };
        // What the run journaled is made durable (with eventual durability,
        // its last calls), then the execution's status read back: it may
        // have ended just as the signal came.
        let settle = async {
            host.sync().await?;
            let running = ExecutionFilter {
                status: Some(ExecutionStatus::Running),
                ..ExecutionFilter::default()
            };
            let running = host.client().executions(&running).await?;
            Ok::<_, cairn_host::JournalError>(running.iter().any(|e| e.id == id))
        };
        let settled = tokio::select! {
            biased;
            settled = tokio::time::timeout(SYNC_GRACE, settle) => settled.ok(),
            _ = signals.next() => None,
        };
        let id_text = id.to_string();
        match settled {
            Some(Ok(true)) | None => {
                eprintln!(
                    "cairn: interrupted by {signal}: execution {id} stays `running` in the journal; the calls it completed are kept and do not run again when it is resumed"
                );
                if settled.is_none() {
                    eprintln!(
                        "cairn: (stopped without waiting for the journal: calls it had not yet made durable run again when it is resumed)"
                    );
                }
                let resume = suggest(global, &["executions", "resume", &id_text], policy);
                eprintln!("  resume: {resume}");
            }
            Some(Ok(false))
                if host
                    .client()
                    .retries(Some(id))
                    .await
                    .is_ok_and(|retries| !retries.is_empty()) =>
            {
                eprintln!(
                    "cairn: interrupted by {signal}: execution {id} stays parked in the journal until its retry is due; a resume (or `cairn serve` on this journal) runs it then"
                );
                let resume = suggest(global, &["executions", "resume", &id_text], policy);
                eprintln!("  resume: {resume}");
            }
            Some(Ok(false)) => {
                eprintln!(
                    "cairn: interrupted by {signal} as execution {id} ended; it is no longer running"
                );
                let show = terminal::command(
                    &global.place_to_suggest(),
                    &["executions", "show", &id_text],
                );
                eprintln!("  see:    {show}");
            }
            Some(Err(e)) => {
                eprintln!(
                    "cairn: interrupted by {signal}: execution {id} stays `running`, but the journal failed while saving its last calls: {}",
                    line(&e.to_string())
                );
                let resume = suggest(global, &["executions", "resume", &id_text], policy);
                eprintln!("  resume: {resume}");
            }
        }
        exit
    }
}

/// Waits out the retries an execution parked on, here: a call that failed
/// with a retry delay of a second or more parks the execution in the
/// journal (its timer is durable, no flow instance is held), and `cairn
/// run` goes on with it when it is due, as a user who ran the flow
/// expects. A signal meanwhile leaves it parked in the journal, for
/// `executions resume` or a server to take up; `cairn serve` does this by
/// itself. The loop ends: every park spends one of the call's retries.
async fn through_parked_retries(host: &Host, mut outcome: Outcome) -> Result<Outcome, Exit> {
    while outcome.status == ExecutionStatus::Waiting {
        let retries = timers_held(host, outcome.id).await?;
        // A wait's deadline alone leaves the execution waiting for its
        // value: exit 3, as for any wait.
        let retries: Vec<_> = retries
            .into_iter()
            .filter(|(_, r)| timer_text::holds(r))
            .collect();
        if retries.is_empty() {
            break;
        }
        for (_, retry) in &retries {
            eprintln!(
                "cairn: {}; waiting for it here (Ctrl-C leaves execution {} parked in the journal)",
                timer_text::due(retry),
                outcome.id
            );
        }
        outcome = host.resume(outcome.id).await?;
    }
    Ok(outcome)
}

/// The timers that keep execution `id` waiting: its own, or those of the
/// waiting child flows it waits for (and theirs): a resume of the parent
/// resumes its children, which wait for their timers.
async fn timers_held(
    host: &Host,
    id: cairn_host::ExecutionId,
) -> Result<Vec<(cairn_host::ExecutionId, cairn_host::RetryView)>, cairn_host::JournalError> {
    let client = host.client();
    let mut held = client.retries(Some(id)).await?;
    let mut look = vec![id];
    // Bounded by the nesting a policy allows, whatever the journal holds.
    for _ in 0..MAX_CHILD_LOOKS {
        let Some(parent) = look.pop() else { break };
        let Some(detail) = client.execution(parent).await? else {
            continue;
        };
        for child in &detail.children {
            let open = detail
                .calls
                .iter()
                .any(|c| c.seq == child.seq && c.status != cairn_host::CallStatus::Completed);
            if open {
                held.extend(client.retries(Some(child.id)).await?);
                look.push(child.id);
            }
        }
    }
    Ok(held)
}

/// How many executions of a tree of child flows `cairn run` looks at for
/// timers to wait out.
const MAX_CHILD_LOOKS: usize = 64;

/// Makes sure the journal holds what the run did (a commit nobody waited
/// for may have failed, with eventual durability) before reporting it: a
/// journal that failed is a host error (exit 4), never success.
async fn finish(
    global: &Global,
    policy: &PolicyArgs,
    host: &Host,
    outcome: &Outcome,
) -> Result<ExitCode, Exit> {
    host.sync().await?;
    finish::report(global, policy, host, &Ended::of_outcome(outcome)).await
}

/// The flow to run: the one given, or the component's only one.
pub(crate) fn choose_flow(given: Option<&String>, flows: &[String]) -> Result<String, Exit> {
    match (given, flows) {
        (Some(flow), _) => Ok(flow.clone()),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(Exit::bad_input(anyhow::anyhow!(
            "the component has several flows ({}); choose one with --flow",
            flows.join(", ")
        ))),
    }
}
