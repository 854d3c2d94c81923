//! Safe code upgrades: checking a new build of a flow against the journal
//! before it runs, and moving executions to it.
//!
//! [`Host::check`](crate::Host::check) runs the new build's flow against
//! each selected execution's journal in a *dry run*: every checkpoint call
//! is answered from the journal and never runs, a wait with a recorded
//! value gets it, and nothing is written. The first call the journal does
//! not answer (one it never recorded, or one it recorded as not
//! completed, which a resume would run again) or the first wait it holds
//! no value for ends the run there: as far as the record goes, the build is
//! [`Verdict::Compatible`]. A call other than the recorded one (another
//! checkpoint, call id or input) is [`Verdict::Diverges`], shown as the
//! non-determinism error of a resume shows it; the flow failing or trapping
//! on the recorded data is [`Verdict::Fails`]. A flow that completes while
//! the journal holds calls it no longer makes diverges too, at the first
//! of them.
//!
//! [`Host::upgrade`](crate::Host::upgrade) moves a waiting or failed (or
//! interrupted, `running` with no process) execution to the new build when
//! its check says compatible, and journals the move (both builds, when, by
//! whom): a resume then runs the new build, and the calls recorded under the
//! old one count as its own.

mod error;
mod report;
mod request;
mod run;

pub use self::error::{CheckError, UpgradeError};
pub use self::report::{CheckReport, ExecutionCheck, RecordEnd, UpgradeView, Upgraded, Verdict};
pub(crate) use self::request::CheckCode;
pub use self::request::CheckRequest;
