//! The vocabulary a call speaks between the flow and the runner, shared by
//! both sides of the store boundary: the runner (and host-side flows) on one
//! side, the runtime's stores and the bindings on the other. A leaf: it
//! names no runner, flow or store type, so the layers below the runner can
//! use it without reaching up.
//!
//! - [`CallFailure`]: why a call gave no output, in Cairn's own terms (the
//!   WIT's `call-error` is made from it at the guest flow's import only).
//! - [`Stop`]: why a flow is stopped from inside a call (it waits, it was
//!   cancelled, a limit, non-determinism, the journal or the host failed).
//! - [`CallSlot`]: a submitted call's place for its [`CallOutcome`], with
//!   the bytes it keeps in the host charged to the execution's
//!   [`HeldBytes`].
//! - [`PendingCall`]: the host side of the WIT `pending` resource.

mod failure;
mod held;
mod outcome;
mod pending;
mod slot;
mod stop;

pub(crate) use self::failure::CallFailure;
pub(crate) use self::held::{HeldBytes, over_limit};
pub(crate) use self::outcome::CallOutcome;
#[expect(unreachable_pub, reason = "bindgen! re-exports it with `pub use`")]
pub use self::pending::PendingCall;
pub(crate) use self::slot::{CallSlot, Filler};
pub(crate) use self::stop::Stop;
