//! Hostile test guest: a manifest whose names are terminal escapes,
//! command-line tricks or megabytes long. The host must refuse it at load,
//! before any of it reaches a journal, a terminal or a suggested command.

#![expect(unsafe_code, reason = "wit-bindgen's export glue")]

mod bindings {
    wit_bindgen::generate!({ path: "../../../wit", world: "cairn:checkpoint/component" });
}

use bindings::cairn::checkpoint::types::{FlowInfo, GuestError, Manifest};
use bindings::exports::cairn::checkpoint::guest::Guest;

struct BadNames;

impl Guest for BadNames {
    fn describe() -> Manifest {
        let flow = |name: String| FlowInfo {
            name,
            params: Vec::new(),
            doc: None,
            retries: 0,
            cache: true,
        };
        Manifest {
            sdk_version: "0.1.0".to_owned(),
            flows: vec![
                flow("run\u{1b}]0;pwned\u{7}\u{1b}[2J".to_owned()),
                flow("--journal=/etc/passwd".to_owned()),
                flow("n".repeat(10 << 20)),
            ],
            checkpoints: Vec::new(),
        }
    }

    fn run_checkpoint(name: String, _input: String) -> Result<String, GuestError> {
        Err(GuestError::Unknown(name))
    }

    fn run_flow(name: String, _input: String) -> Result<String, GuestError> {
        Err(GuestError::Unknown(name))
    }
}

bindings::export!(BadNames with_types_in bindings);
