//! One error enum per operation: open (see [`crate::OpenError`]), load,
//! run, resume, replay, answer, cancel, register, and the journal's. Each
//! carries the data a caller needs (ids, names, paths, candidate lists),
//! keeps the error it comes from as its source, and keeps apart the guest's
//! own error, a trap and a host failure.

mod answer;
mod cancel;
mod halt;
mod journal;
mod load;
mod register;
mod replay;
mod resume;
mod run;
mod selector;

pub use self::answer::AnswerError;
pub use self::cancel::CancelError;
pub(crate) use self::halt::Halt;
pub(crate) use self::journal::with_causes;
pub use self::journal::{Cause, JournalError};
pub use self::load::LoadError;
pub(crate) use self::load::wasm_cause;
pub use self::register::RegisterError;
pub use self::replay::ReplayError;
pub use self::resume::ResumeError;
pub use self::run::RunError;
pub use self::selector::{CallRef, SelectorError};
