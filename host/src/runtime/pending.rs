//! The host side of the WIT `pending` resource: a submitted call.

use std::sync::Arc;

use crate::runner::slot::CallSlot;

/// A call a flow has submitted (`pub` only because `bindgen!` re-exports it;
/// the module is private).
pub struct PendingCall(pub(crate) Arc<CallSlot>);
