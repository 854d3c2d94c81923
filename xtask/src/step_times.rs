//! Where a run's time goes: each step's time is printed as it ends, and all
//! of them again at the very end, since CI keeps only the end of a log and
//! holds a run to 90 minutes.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static STEPS: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// A step's name: the program and what it is asked to do (`cargo clippy`,
/// `apt-get install`, `python -m cairn`), past a `runuser -u USER --`.
pub(crate) fn name(command: &Command) -> String {
    let mut words: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy().into_owned())
        .collect();
    if words.first().is_some_and(|program| program == "runuser")
        && let Some(end) = words.iter().position(|word| word == "--")
    {
        words.drain(..=end);
    }
    let mut words = words.into_iter();
    let program = words.next().unwrap_or_default();
    let program = Path::new(&program)
        .file_name()
        .map_or(program.clone(), |name| name.to_string_lossy().into_owned());
    match (words.next(), words.next()) {
        (Some(flag), Some(module)) if flag == "-m" => format!("{program} -m {module}"),
        (Some(first), _) => format!("{program} {first}"),
        (None, _) => program,
    }
}

/// Notes that `step` took `took`, and says so now.
pub(crate) fn record(step: &str, took: Duration) {
    eprintln!("xtask: {step} took {} s", took.as_secs());
    STEPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((step.to_owned(), took));
}

/// One line with every step's time (steps of one name added up, with how
/// many ran) and the task's, which `started` began.
pub(crate) fn print(started: Instant) {
    let steps = STEPS.lock().unwrap_or_else(|e| e.into_inner());
    if steps.is_empty() {
        return;
    }
    let mut totals: Vec<(&str, Duration, usize)> = Vec::new();
    for (step, took) in steps.iter() {
        match totals.iter_mut().find(|(name, ..)| name == step) {
            Some((_, total, times)) => {
                *total += *took;
                *times += 1;
            }
            None => totals.push((step, *took, 1)),
        }
    }
    let each: Vec<String> = totals
        .iter()
        .map(|(step, took, times)| match times {
            1 => format!("{step} {} s", took.as_secs()),
            _ => format!("{step} ×{times} {} s", took.as_secs()),
        })
        .collect();
    eprintln!(
        "xtask: step times: {}; {} s in all",
        each.join(", "),
        started.elapsed().as_secs()
    );
}
