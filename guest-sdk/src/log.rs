//! Log lines recorded by the host with the current attempt or flow.

use crate::bindings::cairn::checkpoint::types::LogLevel;
use crate::runner;

/// Records a debug line.
pub fn debug(message: &str) {
    runner::log(LogLevel::Debug, message);
}

/// Records an info line.
pub fn info(message: &str) {
    runner::log(LogLevel::Info, message);
}

/// Records a warning.
pub fn warn(message: &str) {
    runner::log(LogLevel::Warn, message);
}

/// Records an error line.
pub fn error(message: &str) {
    runner::log(LogLevel::Error, message);
}
