//! The end of a command that ran an execution (`run`, `executions resume`,
//! `executions replay`, `executions input --resume`), on a journal or
//! through a server: the flow's output on stdout, a failure or what a
//! waiting execution needs on stderr, and the exit code. Both ways print
//! from the same [`Ended`], so they print the same text.

use std::process::ExitCode;

use cairn_host::{
    CallStatus, ExecutionDetail, ExecutionId, ExecutionStatus, ExecutionSummary, Failure,
    FailureKind, Outcome, WaitView,
};
use serde_json::Value;

use crate::args::{Global, PolicyArgs};
use crate::exit::{Exit, code};
use crate::render;
use crate::terminal::{self, line};

/// An execution that stopped running (completed, failed, waiting or
/// cancelled), as the end of a command reports it.
pub(crate) struct Ended {
    pub id: ExecutionId,
    pub status: ExecutionStatus,
    /// The flow's output, as the journal's views hold it (a JSON value).
    pub output: Option<Value>,
    pub failure: Option<Failure>,
}

impl Ended {
    /// A run on the journal: its output text is read as the journal's
    /// views read it, so that it prints as `executions show` and a server
    /// show it.
    pub(crate) fn of_outcome(outcome: &Outcome) -> Ended {
        Ended {
            id: outcome.id,
            status: outcome.status,
            output: outcome.output.as_deref().map(|text| {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }),
            failure: outcome.failure.clone(),
        }
    }

    /// An execution a server ran.
    pub(crate) fn of_summary(summary: &ExecutionSummary) -> Ended {
        Ended {
            id: summary.id,
            status: summary.status,
            output: summary.output.clone(),
            failure: summary.failure.clone(),
        }
    }
}

/// Where the ended execution is read again: the journal, or what the
/// server answered.
pub(crate) trait Reader {
    /// The execution with its calls (for `--json`).
    async fn detail(&self, id: ExecutionId) -> Result<ExecutionDetail, Exit>;
    /// Only its waits (its calls may hold large outputs).
    async fn waits(&self, id: ExecutionId) -> Result<Vec<WaitView>, Exit>;
}

impl Reader for cairn_host::Host {
    async fn detail(&self, id: ExecutionId) -> Result<ExecutionDetail, Exit> {
        self.client()
            .execution(id)
            .await?
            .ok_or_else(|| Exit::host(anyhow::anyhow!("execution {id} vanished from the journal")))
    }

    async fn waits(&self, id: ExecutionId) -> Result<Vec<WaitView>, Exit> {
        Ok(self.client().waits(id).await?)
    }
}

/// A server's answer: the execution as it was read once it stopped.
impl Reader for ExecutionDetail {
    async fn detail(&self, _: ExecutionId) -> Result<ExecutionDetail, Exit> {
        Ok(self.clone())
    }

    async fn waits(&self, _: ExecutionId) -> Result<Vec<WaitView>, Exit> {
        Ok(self.waits.clone())
    }
}

/// Prints an ended execution (the output on stdout, a failure on stderr)
/// and returns its exit code.
pub(crate) async fn report(
    global: &Global,
    policy: &PolicyArgs,
    reader: &impl Reader,
    ended: &Ended,
) -> Result<ExitCode, Exit> {
    if global.json {
        render::json(&reader.detail(ended.id).await?)?;
    } else if let Some(output) = &ended.output {
        match output {
            Value::String(text) if global.raw => println!("{}", terminal::block(text)),
            _ => println!("{}", terminal::value(output)),
        }
    }
    Ok(ExitCode::from(match ended.status {
        ExecutionStatus::Completed => code::COMPLETED,
        ExecutionStatus::Waiting => {
            let waits = reader.waits(ended.id).await?;
            explain_waits(global, policy, &waits, ended.id);
            // No open wait: it is parked on a call's retry timer.
            if waits.iter().all(|w| w.value.is_some()) {
                let detail = reader.detail(ended.id).await?;
                let place = global.place_to_suggest();
                // A child flow it waits for: the child says what it waits for.
                for child in &detail.children {
                    let open = (detail.calls.iter())
                        .any(|c| c.seq == child.seq && c.status != CallStatus::Completed);
                    if open {
                        eprintln!(
                            "cairn: execution {} waits for its child flow, execution {}",
                            ended.id, child.id
                        );
                        let child = child.id.to_string();
                        let show = terminal::command(&place, &["executions", "show", &child]);
                        eprintln!("  see:    {show}");
                    }
                }
                for retry in &detail.retries {
                    eprintln!(
                        "cairn: execution {} is parked: {}",
                        ended.id,
                        crate::timer_text::due(retry)
                    );
                }
                let id = ended.id.to_string();
                let resume = suggest(global, &["executions", "resume", &id], policy);
                eprintln!("  resume: {resume}  (waits until it is due)");
            }
            code::WAITING
        }
        ExecutionStatus::Cancelled => {
            eprintln!("cairn: execution {} was cancelled", ended.id);
            code::FAILED
        }
        _ => match &ended.failure {
            Some(failure) if failure.kind == FailureKind::BadInput => {
                eprintln!("cairn: bad input: {}", line(&failure.message));
                code::BAD_INPUT
            }
            Some(failure) => {
                eprintln!(
                    "cairn: execution {} failed: {}",
                    ended.id,
                    line(&failure.message)
                );
                // Resuming runs the failed call again, which is what a
                // passing failure needs; after a divergence it would only
                // diverge again.
                if failure.kind != FailureKind::NonDeterminism {
                    let id = ended.id.to_string();
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
fn explain_waits(global: &Global, policy: &PolicyArgs, waits: &[WaitView], id: ExecutionId) {
    let id = id.to_string();
    let place = global.place_to_suggest();
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
        eprintln!("  answer: {}", terminal::command(&place, &answer));
        let resume = suggest(global, &["executions", "resume", &id], policy);
        eprintln!("  then:   {resume}");
    }
}

/// A `cairn` command for the operator to paste: on this command's journal
/// or server, with this command's policy flags (a resume runs under the
/// policy it is given, not the first run's).
pub(crate) fn suggest(global: &Global, args: &[&str], policy: &PolicyArgs) -> String {
    let policy = policy.to_args();
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(policy.iter().map(String::as_str))
        .collect();
    terminal::command(&global.place_to_suggest(), &args)
}

/// After a replay: which waits kept the source's answer or took one given
/// with `--answer`, and a warning for an `--answer` the flow never waited
/// for (only once the replay has ended: a waiting one may still use it).
pub(crate) async fn replay_answers(
    reader: &impl Reader,
    ended: &Ended,
    given: &[(String, String)],
) -> Result<(), Exit> {
    use cairn_host::AnswerSource;
    let waits = reader.waits(ended.id).await?;
    for wait in &waits {
        let name = line(&wait.name);
        match (wait.source, wait.carried_from) {
            (Some(AnswerSource::Replayed), Some(from)) => {
                eprintln!("cairn: wait `{name}` keeps its answer from execution {from}");
            }
            (Some(AnswerSource::Overridden), _) => {
                eprintln!("cairn: wait `{name}` takes the value given with --answer");
            }
            _ => {}
        }
    }
    let ended = ended.status.has_ended();
    for (name, _) in given.iter().filter(|_| ended) {
        if !waits.iter().any(|w| &w.name == name) {
            eprintln!(
                "cairn: warning: --answer {}=... was not used: the flow never waited for it",
                line(name)
            );
        }
    }
    Ok(())
}
