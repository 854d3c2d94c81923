//! How the CLI speaks of a timer an execution is parked on: a call's retry,
//! a sleep of the flow, or a wait's deadline.

use cairn_host::{RetryView, TimerKind};

use crate::terminal::line;

/// What happens when `timer` is due, in a sentence without a subject
/// prefix: "the flow sleeps until T", "`fetch` retries (attempt 2) at T".
pub(crate) fn due(timer: &RetryView) -> String {
    match timer.kind {
        TimerKind::Sleep => format!("the flow sleeps until {}", line(&timer.due_at)),
        TimerKind::WaitDeadline => format!(
            "its wait (step `{}`) times out at {} unless answered first",
            line(&timer.call_id),
            line(&timer.due_at)
        ),
        _ => format!(
            "`{}` retries (attempt {}) at {}",
            line(&timer.call_id),
            timer.attempt,
            line(&timer.due_at)
        ),
    }
}

/// Whether the execution is resumed when `timer` is due whatever else
/// happens (a retry, a sleep), rather than waiting for a value first.
pub(crate) fn holds(timer: &RetryView) -> bool {
    timer.kind != TimerKind::WaitDeadline
}
