//! Hostile test guest: a Cairn component written against the raw WIT
//! instead of the SDK, so it can hand the host what the SDK never would:
//! outputs that are not JSON, megabyte errors, endless calls, huge maps,
//! handles it never lets go of, waits with forged names and schemas.
//!
//! Each flow takes `{"n": N}` and names the abuse it commits.

#![expect(unsafe_code, reason = "wit-bindgen's export glue")]

mod bindings {
    wit_bindgen::generate!({ path: "../../../wit", world: "cairn:checkpoint/component" });
}

use bindings::cairn::checkpoint::runner;
use bindings::cairn::checkpoint::types::{
    CallError, CheckpointInfo, FlowInfo, GuestError, Manifest, ParamInfo, Runtime,
};
use bindings::exports::cairn::checkpoint::guest::Guest;

struct Forged;

// The runner's `call-map` as the canonical ABI lowers it, called by hand so
// that every entry of the list can point at the same bytes (the bindings
// would lay out one string per entry).
#[link(wasm_import_module = "cairn:checkpoint/runner@0.2.0")]
unsafe extern "C" {
    #[link_name = "call-map"]
    fn raw_call_map(name: *const u8, name_len: usize, list: *const u8, len: usize, ret: *mut u8);
}

/// Calls `call-map("ok", …)` with `n` entries that all point at one string
/// of `bytes` bytes.
fn shared_strings(n: usize, bytes: usize) {
    let text = format!("{{\"n\": \"{}\"}}", "x".repeat(bytes));
    let entries: Vec<[usize; 2]> = vec![[text.as_ptr() as usize, text.len()]; n];
    let name = "ok";
    let mut ret = [0u64; 8];
    // SAFETY: the pointers and lengths describe live memory of this
    // instance, as the canonical ABI asks; the host writes at most a
    // result's 16 bytes to `ret`.
    unsafe {
        raw_call_map(
            name.as_ptr(),
            name.len(),
            entries.as_ptr().cast(),
            entries.len(),
            ret.as_mut_ptr().cast(),
        );
    }
}

/// 4 MiB of zeroed memory the component holds from the start, so its
/// instances need more than 4 MiB before running any code.
static BALLAST: std::sync::Mutex<[u8; 4 << 20]> = std::sync::Mutex::new([0; 4 << 20]);

const FLOWS: [&str; 18] = [
    "bad_json",
    "deep_json",
    "huge_error",
    "flow_bad_output",
    "flow_huge_output",
    "flow_huge_error",
    "calls_forever",
    "map",
    "hold",
    "waits",
    "wait_bad_name",
    "wait_two_schemas",
    "flow_grow",
    "collide",
    "hoard",
    "stream",
    "sleep_forever",
    "shared_strings",
];

const CHECKPOINTS: [(&str, Runtime); 7] = [
    ("ok", Runtime::Inline),
    ("not_json", Runtime::Isolated),
    ("too_deep", Runtime::Isolated),
    ("long_error", Runtime::Isolated),
    ("step", Runtime::Inline),
    ("step_2", Runtime::Inline),
    ("big", Runtime::Inline),
];

fn n(input: &str) -> u64 {
    // `{"n": 123}` without a JSON parser.
    input
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn failed(e: CallError) -> GuestError {
    GuestError::Failed(match e {
        CallError::Failed(m) | CallError::Context(m) => m,
        CallError::Trapped(t) => t.message,
    })
}

/// The one parameter of every flow and checkpoint here, `n: u64`.
fn param_n() -> ParamInfo {
    ParamInfo {
        name: "n".to_owned(),
        type_name: "u64".to_owned(),
        optional: false,
    }
}

impl Guest for Forged {
    fn describe() -> Manifest {
        Manifest {
            sdk_version: "0.0.0-forged".to_owned(),
            flows: FLOWS
                .iter()
                .map(|name| FlowInfo {
                    name: (*name).to_owned(),
                    params: vec![param_n()],
                    doc: None,
                    retries: 0,
                    cache: false,
                })
                .collect(),
            checkpoints: CHECKPOINTS
                .iter()
                .map(|(name, runtime)| CheckpointInfo {
                    name: (*name).to_owned(),
                    params: vec![param_n()],
                    doc: None,
                    retries: 0,
                    cache: Some(false),
                    kind: None,
                    runtime: *runtime,
                    fuel: None,
                    memory_bytes: None,
                    timeout_ms: None,
                })
                .collect(),
        }
    }

    fn run_checkpoint(name: String, input: String) -> Result<String, GuestError> {
        match name.as_str() {
            "ok" | "step" | "step_2" => {
                let ballast = BALLAST.lock().map(|b| b[n(&input) as usize % b.len()]);
                Ok((n(&input) + u64::from(ballast.unwrap_or(0))).to_string())
            }
            "big" => Ok(format!("\"{}\"", "x".repeat(n(&input) as usize))),
            "not_json" => Ok("{\"looks\": \"like json\", but is not".to_owned()),
            "too_deep" => Ok(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
            "long_error" => Err(GuestError::Failed("e".repeat(n(&input) as usize))),
            _ => Err(GuestError::Unknown(name)),
        }
    }

    fn run_flow(name: String, input: String) -> Result<String, GuestError> {
        let n = n(&input);
        let arg = |i: u64| format!("{{\"n\": {i}}}");
        match name.as_str() {
            "bad_json" => runner::call("not_json", &arg(0)).map_err(failed),
            "deep_json" => runner::call("too_deep", &arg(0)).map_err(failed),
            "huge_error" => runner::call("long_error", &arg(n)).map_err(failed),
            "flow_bad_output" => Ok("not json at all\u{1b}[2J".to_owned()),
            "flow_huge_output" => Ok(format!("\"{}\"", "x".repeat(n as usize))),
            "flow_huge_error" => Err(GuestError::Failed("f".repeat(n as usize))),
            "calls_forever" => loop {
                runner::call("ok", &arg(1)).map_err(failed)?;
            },
            "map" => {
                let inputs: Vec<String> = (0..n).map(arg).collect();
                let results = runner::call_map("ok", &inputs).map_err(failed)?;
                Ok(results.len().to_string())
            }
            "hold" => {
                // Submits and keeps every handle, never reading a result.
                let mut held = Vec::new();
                for i in 0..n {
                    held.push(runner::submit("ok", &arg(i)).map_err(failed)?);
                }
                Ok(held.len().to_string())
            }
            "waits" => {
                for i in 0..n {
                    runner::wait(&format!("w{i}"), "go on?", "{}").map_err(failed)?;
                }
                Ok(n.to_string())
            }
            "wait_bad_name" => {
                let name = match n {
                    0 => "x\u{1b}]52;c;cm0gLXJmIH4K\u{7}".to_owned(),
                    1 => "ok'; rm -rf ~; echo '".to_owned(),
                    _ => "w".repeat(10 << 20),
                };
                runner::wait(&name, "?", "{}").map_err(failed)
            }
            "wait_two_schemas" => {
                let first = runner::wait("choice", "pick a number", r#"{"type": "number"}"#)
                    .map_err(failed)?;
                let second = runner::wait("choice", "pick a string", r#"{"type": "string"}"#)
                    .map_err(failed)?;
                Ok(format!("[{first}, {second}]"))
            }
            "flow_grow" => {
                // Grows the flow's own memory until the host says no.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 16 << 20]);
                    if hoard.len() > 1 << 20 {
                        return Ok("0".to_owned());
                    }
                }
            }
            "shared_strings" => {
                shared_strings(4_000, 1 << 20);
                Ok("0".to_owned())
            }
            "sleep_forever" => {
                // Blocks in a WASI poll, where neither fuel nor epochs reach.
                std::thread::sleep(std::time::Duration::from_secs(u64::MAX / 4));
                Ok("0".to_owned())
            }
            "hoard" | "stream" => {
                // 100 outputs of n bytes each, read one by one; `hoard`
                // keeps every handle (and so every output), `stream` lets
                // each go once read.
                let mut held = Vec::new();
                for _ in 0..100 {
                    let pending = runner::submit("big", &arg(n)).map_err(failed)?;
                    pending.result().map_err(failed)?;
                    if name == "hoard" {
                        held.push(pending);
                    }
                }
                Ok(held.len().to_string())
            }
            "collide" => {
                // `step` twice, then a checkpoint really named `step_2`.
                let mut sum = 0;
                for (name, i) in [("step", 1), ("step", 2), ("step_2", 3)] {
                    sum += runner::call(name, &arg(i))
                        .map_err(failed)?
                        .parse::<u64>()
                        .unwrap_or(0);
                }
                Ok(sum.to_string())
            }
            _ => Err(GuestError::Unknown(name)),
        }
    }
}

bindings::export!(Forged with_types_in bindings);
