//! `run`, `executions resume`, `executions replay` and `executions input
//! --resume` through a server: the server runs the execution; the CLI
//! follows its events, printing the progress a run on the journal prints,
//! and ends with the same output and exit code.
//!
//! SIGINT (Ctrl-C) or SIGTERM only detaches: the execution goes on on the
//! server, and the CLI says how to see it, ending with 128 + the signal's
//! number as a stopped local run does.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use cairn_host::{ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::ApiClient;
use cairn_serve::api::{Accepted, AnswerRequest, ReplayBody, StartRequest};

use super::connection::{exit, refuse_policy};
use super::follow::Watch;
use super::{json_arg, reads};
use crate::args::{Global, InputArgs, PolicyArgs, ReplayArgs, ResumeArgs, RunArgs};
use crate::exit::Exit;
use crate::finish::{self, Ended};
use crate::signals::{Caught, Signals};
use crate::terminal::{self, line};

pub(crate) async fn run(
    global: &Global,
    client: &ApiClient,
    args: &RunArgs,
) -> Result<ExitCode, Exit> {
    refuse_policy(&args.policy)?;
    let input = json_arg("--input", &crate::run::input_text(args)?)?;
    let mut signals = Signals::listen()?;
    let start = async {
        let (flows, component) = reads::component(client, &args.component).await?;
        let flow = crate::run::choose_flow(args.flow.as_ref(), &flows)?;
        let watch = Watch::open(client).await?;
        let request = StartRequest {
            component,
            flow: Some(flow),
            input,
        };
        let accepted: Accepted = client.post("/executions", &request).await.map_err(exit)?;
        Ok::<_, Exit>((watch, accepted.id))
    };
    let (watch, id) = match signals.until(start).await {
        Ok(started) => started?,
        Err(caught) => return Ok(stopped_before_answer(global, caught, None)),
    };
    match follow(global, client, &mut signals, watch, id).await? {
        Followed::Ended(detail) => end(global, &args.policy, &detail).await,
        Followed::Detached(code) => Ok(code),
    }
}

pub(crate) async fn resume(
    global: &Global,
    client: &ApiClient,
    args: &ResumeArgs,
) -> Result<ExitCode, Exit> {
    refuse_policy(&args.policy)?;
    let mut signals = Signals::listen()?;
    let start = async {
        let watch = Watch::open(client).await?;
        let resumed: Result<Accepted, _> = client
            .post(
                &format!("/executions/{}/resume", args.id),
                &serde_json::json!({}),
            )
            .await;
        match resumed {
            Ok(_) => {}
            // Parked on a retry not due yet: the server resumes it then,
            // and this goes on following, as a resume on a journal waits
            // for the retry.
            Err(e) if e.kind() == Some("not_due") => {
                eprintln!("cairn: {} (Ctrl-C detaches)", line(&e.to_string()));
            }
            Err(e) => return Err(not_found(client, args.id, e)),
        }
        Ok::<_, Exit>(watch)
    };
    let watch = match signals.until(start).await {
        Ok(watch) => watch?,
        Err(caught) => return Ok(stopped_before_answer(global, caught, Some(args.id))),
    };
    match follow(global, client, &mut signals, watch, args.id).await? {
        Followed::Ended(detail) => end(global, &args.policy, &detail).await,
        Followed::Detached(code) => Ok(code),
    }
}

/// `executions input --resume`: the value, then the resume, in one request.
pub(crate) async fn answer_and_resume(
    global: &Global,
    client: &ApiClient,
    args: &InputArgs,
) -> Result<ExitCode, Exit> {
    refuse_policy(&args.policy)?;
    let request = AnswerRequest {
        wait: args.wait.clone(),
        value: json_arg("--value", &args.value)?,
        resume: true,
    };
    let mut signals = Signals::listen()?;
    let start = async {
        let watch = Watch::open(client).await?;
        let accepted: Accepted = client
            .post(&format!("/executions/{}/input", args.id), &request)
            .await
            .map_err(|e| not_found(client, args.id, e))?;
        Ok::<_, Exit>((watch, accepted.status))
    };
    let (watch, status) = match signals.until(start).await {
        Ok(started) => started?,
        Err(caught) => return Ok(stopped_before_answer(global, caught, Some(args.id))),
    };
    eprintln!(
        "cairn: stored the value of `{}` for execution {}",
        line(&args.wait),
        args.id
    );
    // The server resumes only a waiting execution (one parked on a retry
    // when the retry is due); any other is reported as it stands.
    let parked = status == ExecutionStatus::Waiting
        && super::follow::parked(&reads::detail(client, args.id).await?);
    let detail = if status == ExecutionStatus::Running || parked {
        match follow(global, client, &mut signals, watch, args.id).await? {
            Followed::Ended(detail) => *detail,
            Followed::Detached(code) => return Ok(code),
        }
    } else {
        reads::detail(client, args.id).await?
    };
    end(global, &args.policy, &detail).await
}

pub(crate) async fn replay(
    global: &Global,
    client: &ApiClient,
    args: &ReplayArgs,
) -> Result<ExitCode, Exit> {
    refuse_policy(&args.policy)?;
    let mut body = ReplayBody {
        from: args.from.clone(),
        input: args
            .input
            .as_deref()
            .map(|input| json_arg("--input", input))
            .transpose()?,
        ..ReplayBody::default()
    };
    for (selector, output) in &args.overrides {
        let output = json_arg(&format!("--override {selector}"), output)?;
        body.overrides.insert(selector.clone(), output);
    }
    for (name, value) in &args.answers {
        let value = json_arg(&format!("--answer {name}"), value)?;
        body.answers.insert(name.clone(), value);
    }
    let mut signals = Signals::listen()?;
    let start = async {
        if let Some(path) = &args.component {
            body.component = Some(reads::component(client, path).await?.1);
        }
        let watch = Watch::open(client).await?;
        let accepted: Accepted = client
            .post(&format!("/executions/{}/replay", args.id), &body)
            .await
            .map_err(|e| not_found(client, args.id, e))?;
        Ok::<_, Exit>((watch, accepted.id))
    };
    let (watch, id) = match signals.until(start).await {
        Ok(started) => started?,
        Err(caught) => return Ok(stopped_before_answer(global, caught, None)),
    };
    let detail = match follow(global, client, &mut signals, watch, id).await? {
        Followed::Ended(detail) => *detail,
        Followed::Detached(code) => return Ok(code),
    };
    eprintln!("cairn: execution {id} replays execution {}", args.id);
    let ended = Ended::of_summary(&detail.execution);
    finish::replay_answers(&detail, &ended, &args.answers).await?;
    finish::report(global, &args.policy, &detail, &ended).await
}

/// The execution as it ended, reported as a run on the journal reports it.
async fn end(
    global: &Global,
    policy: &PolicyArgs,
    detail: &ExecutionDetail,
) -> Result<ExitCode, Exit> {
    finish::report(
        global,
        policy,
        detail,
        &Ended::of_summary(&detail.execution),
    )
    .await
}

/// How following an execution ended.
enum Followed {
    /// It stopped running: as it ended.
    Ended(Box<ExecutionDetail>),
    /// A signal detached from it first (said on stderr): the exit code.
    Detached(ExitCode),
}

/// Follows execution `id` to its end, or until a signal detaches from it.
async fn follow(
    global: &Global,
    client: &ApiClient,
    signals: &mut Signals,
    watch: Watch,
    id: ExecutionId,
) -> Result<Followed, Exit> {
    match signals.until(watch.follow(client, id)).await {
        Ok(detail) => Ok(Followed::Ended(Box::new(detail?))),
        Err(caught) => {
            after_the_echoed_interrupt(caught);
            eprintln!(
                "cairn: detached by {}: execution {id} goes on on the server at {}",
                caught.name(),
                line(client.url())
            );
            let id = id.to_string();
            let show = terminal::command(&global.place_to_suggest(), &["executions", "show", &id]);
            eprintln!("  show:   {show}");
            Ok(Followed::Detached(ExitCode::from(caught.exit_code())))
        }
    }
}

/// A signal before the server answered: the request may or may not have
/// reached it.
fn stopped_before_answer(global: &Global, caught: Caught, id: Option<ExecutionId>) -> ExitCode {
    after_the_echoed_interrupt(caught);
    let signal = caught.name();
    match id {
        Some(id) => {
            eprintln!(
                "cairn: interrupted by {signal} before the server answered; execution {id} may be running there"
            );
            let id = id.to_string();
            let show = terminal::command(&global.place_to_suggest(), &["executions", "show", &id]);
            eprintln!("  show:   {show}");
        }
        None => {
            eprintln!(
                "cairn: interrupted by {signal} before the server said which execution it started (if any)"
            );
            let list = terminal::command(&global.place_to_suggest(), &["executions", "list"]);
            eprintln!("  list:   {list}");
        }
    }
    ExitCode::from(caught.exit_code())
}

/// After the `^C` a terminal echoed, a new line.
fn after_the_echoed_interrupt(caught: Caught) {
    if caught == Caught::Interrupt && std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// A request about execution `id` failed: "no such execution" names the
/// server, as the journal's message names the journal.
fn not_found(client: &ApiClient, id: ExecutionId, error: cairn_serve::ClientError) -> Exit {
    if error.kind() == Some("not_found") && error.to_string().contains("no execution") {
        return Exit::bad_input(anyhow::anyhow!(
            "no execution {id} on the server at {}",
            client.url()
        ));
    }
    exit(error)
}
