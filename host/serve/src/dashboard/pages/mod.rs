//! One file per page.

pub(crate) mod components;
pub(crate) mod execution;
pub(crate) mod executions;
mod timeline;
mod wait_form;
