//! The host side of the WIT `pending` resource: a submitted call.

use std::sync::Arc;

use super::CallSlot;

/// A call a flow has submitted (`pub` only because `bindgen!` re-exports it;
/// the module is private).
#[expect(unreachable_pub, reason = "bindgen! re-exports it with `pub use`")]
pub struct PendingCall(pub(crate) Arc<CallSlot>);
