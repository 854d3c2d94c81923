//! Test guest: a component as cairn-guest 0.1 built it, against its copy of
//! the WIT contract of the time (`wit/cairn.wit`, `cairn:checkpoint@0.1.0`,
//! whose manifest lists parameters by name only). The host must refuse it
//! with an error that says it was built with an older cairn-guest, not with
//! a type mismatch.

#![expect(unsafe_code, reason = "wit-bindgen's export glue")]

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "cairn:checkpoint/component" });
}

use bindings::cairn::checkpoint::runner;
use bindings::cairn::checkpoint::types::{FlowInfo, GuestError, Manifest};
use bindings::exports::cairn::checkpoint::guest::Guest;

struct OldSdk;

impl Guest for OldSdk {
    fn describe() -> Manifest {
        Manifest {
            sdk_version: "0.1.0".to_owned(),
            flows: vec![FlowInfo {
                name: "clock".to_owned(),
                params: Vec::new(),
                retries: 0,
                cache: true,
            }],
            checkpoints: Vec::new(),
        }
    }

    fn run_flow(name: String, _input: String) -> Result<String, GuestError> {
        match name.as_str() {
            // Imports the runner of its time too.
            "clock" => Ok(runner::now().to_string()),
            _ => Err(GuestError::Unknown(name)),
        }
    }

    fn run_checkpoint(name: String, _input: String) -> Result<String, GuestError> {
        Err(GuestError::Unknown(name))
    }
}

bindings::export!(OldSdk with_types_in bindings);
