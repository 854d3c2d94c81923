//! Every failed request: a status that says whose fault it was, a stable
//! `kind` for programs and a message for people, as
//! `{"error": kind, "message": text}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_host::{
    AnswerError, CancelError, JournalError, LoadError, ReplayError, ResumeError, RunError,
    SelectorError,
};

use crate::api::{ErrorBody, JsonAnswer};

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Its HTTP status.
    pub status: StatusCode,
    /// Its kind (`not_found`, `bad_input`, ...).
    pub kind: &'static str,
    /// What happened.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `status`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// `error` with its causes, for one that came from the host library.
    fn from_host(
        status: StatusCode,
        kind: &'static str,
        error: &(dyn std::error::Error + 'static),
    ) -> ApiError {
        ApiError::new(status, kind, chain(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.kind.to_owned(),
            message: self.message,
        };
        (self.status, JsonAnswer(body)).into_response()
    }
}

/// An error and its causes, `: `-separated (as anyhow's `{:#}`).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let next = e.to_string();
        // `#[error(transparent)]` repeats its source's message.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = e.source();
    }
    text
}

/// The status and kind of a journal error: the server's trouble, except a
/// full disk, which a client may wait out.
fn journal(error: &JournalError) -> ApiError {
    let (status, kind) = match error {
        JournalError::DiskFull { .. } => (StatusCode::INSUFFICIENT_STORAGE, "disk_full"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "journal"),
    };
    ApiError::from_host(status, kind, error)
}

impl From<JournalError> for ApiError {
    fn from(error: JournalError) -> ApiError {
        journal(&error)
    }
}

impl From<LoadError> for ApiError {
    fn from(error: LoadError) -> ApiError {
        let (status, kind) = match &error {
            LoadError::Journal(e) => return journal(e),
            LoadError::Compile(_) => (StatusCode::INTERNAL_SERVER_ERROR, "compile"),
            LoadError::NotInJournal(_) => (StatusCode::NOT_FOUND, "not_found"),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "bad_component"),
        };
        ApiError::from_host(status, kind, &error)
    }
}

/// The status and kind of a run error.
fn run_kind(error: &RunError) -> (StatusCode, &'static str) {
    match error {
        RunError::Journal(JournalError::DiskFull { .. }) => {
            (StatusCode::INSUFFICIENT_STORAGE, "disk_full")
        }
        RunError::Journal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "journal"),
        RunError::UnknownFlow { .. } | RunError::UnregisteredFlow { .. } => {
            (StatusCode::BAD_REQUEST, "unknown_flow")
        }
        RunError::BadInput { .. } | RunError::InputType { .. } => {
            (StatusCode::BAD_REQUEST, "bad_input")
        }
        RunError::MemoryTooSmall { .. } => (StatusCode::BAD_REQUEST, "memory_too_small"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "host"),
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> ApiError {
        let (status, kind) = run_kind(&error);
        ApiError::from_host(status, kind, &error)
    }
}

impl From<ResumeError> for ApiError {
    fn from(error: ResumeError) -> ApiError {
        let (status, kind) = match &error {
            ResumeError::Journal(e) => return journal(e),
            ResumeError::Load(_) => {
                return ApiError::from_host(StatusCode::INTERNAL_SERVER_ERROR, "load", &error);
            }
            ResumeError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "not_found"),
            ResumeError::AlreadyRunning(_) => (StatusCode::CONFLICT, "already_running"),
            ResumeError::Cancelled(_) => (StatusCode::CONFLICT, "cancelled"),
            ResumeError::UnregisteredFlow { .. } => (StatusCode::CONFLICT, "unregistered_flow"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "host"),
        };
        ApiError::from_host(status, kind, &error)
    }
}

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> ApiError {
        let (status, kind) = match &error {
            ReplayError::Journal(e) => return journal(e),
            ReplayError::Run(e) => run_kind(e),
            ReplayError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "not_found"),
            ReplayError::Selector(SelectorError::Ambiguous { .. }) => {
                (StatusCode::BAD_REQUEST, "ambiguous_selector")
            }
            ReplayError::Selector(_) => (StatusCode::BAD_REQUEST, "unknown_selector"),
            ReplayError::Load(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad_component"),
            ReplayError::UnregisteredFlow { .. } => (StatusCode::CONFLICT, "unregistered_flow"),
            _ => (StatusCode::BAD_REQUEST, "bad_replay"),
        };
        ApiError::from_host(status, kind, &error)
    }
}

impl From<AnswerError> for ApiError {
    fn from(error: AnswerError) -> ApiError {
        let (status, kind) = match &error {
            AnswerError::Journal(e) => return journal(e),
            AnswerError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "not_found"),
            AnswerError::UnknownWait { .. } => (StatusCode::NOT_FOUND, "unknown_wait"),
            AnswerError::Cancelled(_) => (StatusCode::CONFLICT, "cancelled"),
            AnswerError::AlreadyAnswered { .. } => (StatusCode::CONFLICT, "already_answered"),
            AnswerError::TimedOut { .. } => (StatusCode::CONFLICT, "timed_out"),
            _ => (StatusCode::BAD_REQUEST, "bad_value"),
        };
        ApiError::from_host(status, kind, &error)
    }
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> ApiError {
        let (status, kind) = match &error {
            CancelError::Journal(e) => return journal(e),
            CancelError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "not_found"),
            CancelError::NotCancellable { .. } => (StatusCode::CONFLICT, "not_cancellable"),
            CancelError::Busy(_) => (StatusCode::CONFLICT, "busy"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "host"),
        };
        ApiError::from_host(status, kind, &error)
    }
}
