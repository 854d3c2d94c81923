//! The host side of the WIT `pending` resource: a submitted call.

use crate::bindings::types::CallError;

/// A call a flow has submitted (`pub` only because `bindgen!` re-exports it;
/// the module is private). Calls run when submitted, so the outcome is
/// known by the time the flow holds the handle.
pub struct PendingCall {
    pub(crate) outcome: Result<String, CallError>,
}
