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

use std::future::Future;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_host::{
    Event, EventSink, ExecutionFilter, ExecutionId, ExecutionStatus, FailureKind, Host, Outcome,
    ReplayRequest,
};

use crate::args::{Global, InputArgs, PolicyArgs, ReplayArgs, ResumeArgs, RunArgs};
use crate::exit::{Exit, code};
use crate::terminal::line;
use crate::{files, limits, render, setup, terminal};

/// Set once a signal has stopped a run: tasks of the dropped run may still
/// be inside a checkpoint (code between two awaits, up to its time limit),
/// and `main` must not wait for them when it ends.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long an interrupted command waits for the journal to make what the
/// run did durable before it ends anyway (a second signal ends it at once).
const SYNC_GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn run(global: &Global, args: &RunArgs) -> Result<ExitCode, Exit> {
    let input = match (&args.input, &args.input_file) {
        (Some(input), _) => input.clone(),
        (None, Some(file)) => files::read_text(file, "input file", limits::INPUT_FILE_BYTES)
            .map_err(|e| Exit::bad_input(anyhow::anyhow!(e)))?,
        (None, None) => "{}".to_owned(),
    };
    let started = Started::default();
    let host = setup::host(global, &args.policy, Some(progress(&started)))?;
    let mut signals = Signals::listen()?;
    let work = async {
        let component = host.load_file(&args.component).await?;
        let flow = match &args.flow {
            Some(flow) => flow.clone(),
            None => match component.manifest().flows.as_slice() {
                [only] => only.name.clone(),
                _ => {
                    return Err(Exit::bad_input(anyhow::anyhow!(
                        "the component has several flows ({}); choose one with --flow",
                        component.manifest().flow_names().join(", ")
                    )));
                }
            },
        };
        Ok(host.run(&component, &flow, &input).await?)
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
    match signals.until(host.resume(id)).await {
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
        Ok::<_, Exit>(host.replay(args.id, request).await?)
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
    crate::executions::replay_answers(&host, &outcome, &args.answers).await?;
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

/// A signal that stops a command running code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caught {
    Interrupt,
    Terminate,
}

impl Caught {
    fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "SIGINT",
            Caught::Terminate => "SIGTERM",
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            Caught::Interrupt => code::INTERRUPTED,
            Caught::Terminate => code::TERMINATED,
        }
    }
}

/// SIGINT and SIGTERM, caught from [`Signals::listen`] on, for the rest of
/// the process (before it, they end the process as usual).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Signals, Exit> {
        let failed = |e: std::io::Error| Exit::host(anyhow::anyhow!("cannot catch signals: {e}"));
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
                terminate: signal(SignalKind::terminate()).map_err(failed)?,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = failed;
            Ok(Signals {})
        }
    }

    /// The next signal.
    async fn next(&mut self) -> Caught {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => Caught::Interrupt,
                Some(()) = self.terminate.recv() => Caught::Terminate,
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Caught::Interrupt
        }
    }

    /// `work` to its end, or the signal that came first (`work` is then
    /// dropped, which stops it at its next await).
    async fn until<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Caught> {
        tokio::select! {
            biased;
            done = work => Ok(done),
            caught = self.next() => Err(caught),
        }
    }
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
            Some(Ok(false)) => {
                eprintln!(
                    "cairn: interrupted by {signal} as execution {id} ended; it is no longer running"
                );
                let show = terminal::command(
                    global.journal_to_suggest(),
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

/// A `cairn` command for the operator to paste: on this command's journal,
/// with this command's policy flags (a resume runs under the policy it is
/// given, not the first run's).
fn suggest(global: &Global, args: &[&str], policy: &PolicyArgs) -> String {
    let policy = policy.to_args();
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(policy.iter().map(String::as_str))
        .collect();
    terminal::command(global.journal_to_suggest(), &args)
}

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
    report(global, policy, host, outcome).await
}

/// Prints an outcome (the output on stdout, a failure on stderr) and
/// returns its exit code.
async fn report(
    global: &Global,
    policy: &PolicyArgs,
    host: &Host,
    outcome: &Outcome,
) -> Result<ExitCode, Exit> {
    if global.json {
        let detail = host.client().execution(outcome.id).await?.ok_or_else(|| {
            Exit::host(anyhow::anyhow!(
                "execution {} vanished from the journal",
                outcome.id
            ))
        })?;
        render::json(&detail)?;
    } else if let Some(output) = &outcome.output {
        match serde_json::from_str::<String>(output) {
            Ok(text) if global.raw => println!("{}", terminal::block(&text)),
            _ => println!("{}", terminal::json(output)),
        }
    }
    Ok(ExitCode::from(match outcome.status {
        ExecutionStatus::Completed => code::COMPLETED,
        ExecutionStatus::Waiting => {
            explain_waits(global, policy, host, outcome).await?;
            code::WAITING
        }
        ExecutionStatus::Cancelled => {
            eprintln!("cairn: execution {} was cancelled", outcome.id);
            code::FAILED
        }
        _ => match &outcome.failure {
            Some(failure) if failure.kind == FailureKind::BadInput => {
                eprintln!("cairn: bad input: {}", line(&failure.message));
                code::BAD_INPUT
            }
            Some(failure) => {
                eprintln!(
                    "cairn: execution {} failed: {}",
                    outcome.id,
                    line(&failure.message)
                );
                // Resuming runs the failed call again, which is what a
                // passing failure needs; after a divergence it would only
                // diverge again.
                if failure.kind != FailureKind::NonDeterminism {
                    let id = outcome.id.to_string();
                    let resume = suggest(global, &["executions", "resume", &id], policy);
                    eprintln!("  resume: {resume}");
                }
                code::FAILED
            }
            None => code::FAILED,
        },
    }))
}

/// Tells a person what a waiting execution needs and how to give it.
async fn explain_waits(
    global: &Global,
    policy: &PolicyArgs,
    host: &Host,
    outcome: &Outcome,
) -> Result<(), Exit> {
    // Only the waits: the execution's calls may hold large outputs.
    let waits = host.client().waits(outcome.id).await?;
    let id = outcome.id.to_string();
    let journal = global.journal_to_suggest();
    for wait in waits.iter().filter(|w| w.value.is_none()) {
        eprintln!(
            "cairn: execution {id} is waiting for `{}`: {}",
            line(&wait.name),
            line(&wait.question)
        );
        eprintln!("  schema: {}", terminal::value(&wait.schema));
        let answer = [
            "executions",
            "input",
            &id,
            "--wait",
            &wait.name,
            "--value",
            "<JSON>",
        ];
        eprintln!("  answer: {}", terminal::command(journal, &answer));
        let resume = suggest(global, &["executions", "resume", &id], policy);
        eprintln!("  then:   {resume}");
    }
    Ok(())
}
