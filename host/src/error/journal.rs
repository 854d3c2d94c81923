//! The journal failed.

use std::path::PathBuf;
use std::sync::Arc;

use crate::model::ExecutionId;

/// Opening, reading or writing the journal failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Another process (or another handle in this one) has the journal open.
    #[error("journal {path} is in use by another process")]
    InUse {
        /// The journal file.
        path: PathBuf,
    },
    /// The file exists but is not a Cairn journal (empty, foreign or damaged
    /// header); it is left untouched.
    #[error("{path} is not a Cairn journal: {reason}")]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
        /// The storage layer's error, when it gave one.
        #[source]
        source: Option<Cause>,
    },
    /// The journal was written by a newer Cairn.
    #[error("journal {path} has format version {found}; this Cairn reads version {supported}")]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its format version.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// The journal was written by an older Cairn, whose records this build
    /// does not read (there is no migration yet); it is left untouched.
    #[error(
        "journal {path} has format version {found}, from an older Cairn; this Cairn reads \
         version {supported} and does not migrate journals"
    )]
    TooOld {
        /// The journal file.
        path: PathBuf,
        /// Its format version.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// A record failed its checksum or did not decode.
    #[error("journal record {what} is corrupt: {reason}")]
    Corrupt {
        /// Which record (table and key).
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The storage layer failed (I/O, the database).
    #[error("journal storage error: {context}")]
    Storage {
        /// What the journal was doing.
        context: String,
        /// The storage layer's error; `None` when it gave none (it
        /// panicked).
        #[source]
        source: Option<Cause>,
    },
    /// The execution is claimed by another run (in this process, or in
    /// another one sharing the journal): it cannot run twice at once.
    #[error("execution {exec} is already running")]
    Claimed {
        /// The execution.
        exec: ExecutionId,
    },
    /// Another worker sharing the journal took the execution over: this
    /// process's claim on it (at `epoch`) had lapsed, another process
    /// claimed it, and this write was refused (it is fenced by the claim's
    /// epoch). The run here stops; the other worker carries it on.
    #[error(
        "execution {exec} was taken over by another worker: this worker's claim on it (epoch \
         {epoch}) had lapsed, so its run here stopped and this write was not committed"
    )]
    TakenOver {
        /// The execution.
        exec: ExecutionId,
        /// The epoch of the claim this process held.
        epoch: u64,
    },
    /// The journal's writer has stopped (its process is shutting down).
    #[error("the journal writer has stopped")]
    Closed,
    /// A read-only open found no journal at the path (none is created).
    #[error("no journal at {path}")]
    Missing {
        /// Where the journal was looked for.
        path: PathBuf,
    },
    /// The journal was opened read-only, and something tried to write to it.
    #[error("journal {path} is open read-only; nothing can be written to it")]
    ReadOnly {
        /// The journal file.
        path: PathBuf,
    },
    /// The file is a redb database, as Cairn journals are, but redb cannot
    /// open it: it was truncated or damaged. It is left untouched.
    #[error(
        "journal {path} is damaged (truncated or overwritten): {reason}; it was left untouched, \
         and {}",
        surviving_text(*.surviving)
    )]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
        /// The storage layer's error, when it gave one.
        #[source]
        source: Option<Cause>,
        /// How many executions a repair in memory (of a copy, never the
        /// file) could still read back; `None` if it could read nothing.
        surviving: Option<usize>,
    },
    /// The journal could not grow: the disk (or the quota, or the process's
    /// file size limit) is full. What was acknowledged before is intact;
    /// this write and every later one of this handle failed.
    #[error(
        "the journal {path} cannot grow: its disk is full (or a quota or file size limit was \
         reached); free some space, then resume"
    )]
    DiskFull {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

/// The error a journal's storage layer gave (redb's, an I/O error, a
/// database driver's): shared, because a [`JournalError`] is cloned to every
/// write that a failed commit takes down with it.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// `error` and its sources, as one message (`a: b: c`), for where an
/// error becomes text that is kept (an execution's failure).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

impl JournalError {
    /// A storage failure while doing `context`, caused by `source`.
    pub(crate) fn storage(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> JournalError {
        JournalError::Storage {
            context: context.into(),
            source: Some(Arc::new(source)),
        }
    }
}

fn surviving_text(surviving: Option<usize>) -> String {
    match surviving {
        Some(1) => "a repair of a copy in memory can still read 1 execution from it".to_owned(),
        Some(n) => format!("a repair of a copy in memory can still read {n} executions from it"),
        None => "nothing in it could be read back, even by a repair of a copy in memory".to_owned(),
    }
}
