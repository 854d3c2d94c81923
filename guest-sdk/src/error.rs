//! The error a flow sees when a checkpoint call does not produce an output.

use std::fmt;

/// How a sandboxed attempt was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapKind {
    /// It used up its fuel (instruction budget).
    OutOfFuel,
    /// It tried to grow memory past its limit.
    Memory,
    /// It ran past its wall-clock limit.
    Timeout,
    /// Any other trap: a panic, `unreachable`, an out-of-bounds access.
    Trap,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::OutOfFuel => "out of fuel",
            TrapKind::Memory => "out of memory",
            TrapKind::Timeout => "timeout",
            TrapKind::Trap => "trap",
        })
    }
}

/// Why a checkpoint call made from a flow did not return an output.
///
/// Returned by calling a checkpoint (`add_one(5)?`) or by a handle's
/// `result()`. A flow that returns it unhandled fails its execution with this
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The checkpoint returned its own error on its last attempt.
    Failed {
        /// The checkpoint's name.
        checkpoint: String,
        /// The checkpoint's error message.
        message: String,
    },
    /// The checkpoint's last attempt was stopped by the sandbox.
    Trapped {
        /// The checkpoint's name.
        checkpoint: String,
        /// What stopped it.
        kind: TrapKind,
        /// The trap or panic message.
        message: String,
    },
    /// The call could not be made (unknown checkpoint, a call from inside a
    /// checkpoint, an input or output that does not (de)serialize), or the
    /// flow raised an error of its own with [`Error::msg`].
    Context {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// An error of the flow's own, for `return Err(Error::msg("..."))`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::Context {
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failed {
                checkpoint,
                message,
            } => write!(f, "checkpoint `{checkpoint}` failed: {message}"),
            Error::Trapped {
                checkpoint,
                kind,
                message,
            } => write!(f, "checkpoint `{checkpoint}` trapped ({kind}): {message}"),
            Error::Context { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}
