//! Hostile test guest: an HTTP GET to `authority` (a `host:port`), which the
//! policy may or may not allow.

use cairn_guest::{Error, checkpoint, flow};
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, OutgoingRequest, Scheme};

/// GETs `http://{authority}/` and returns the status code.
#[checkpoint(runtime = "isolated", cache = false)]
fn hostile(authority: String) -> Result<u16, String> {
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(&authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some("/"))
        .map_err(|()| "bad path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "the response was taken")?
        .map_err(|e| format!("{e:?}"))?;
    Ok(response.status())
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the request, then `after`.
#[flow]
fn run(authority: String) -> Result<u16, Error> {
    let status = hostile(authority)?;
    after()?;
    Ok(status)
}
