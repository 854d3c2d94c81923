//! Hostile test guest: a TCP connection to a loopback listener.

use cairn_guest::{Error, checkpoint, flow};

/// Connects to `addr` and says hello.
#[checkpoint(runtime = "isolated")]
fn hostile(addr: String) -> Result<String, String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(&addr).map_err(|e| e.to_string())?;
    stream.write_all(b"hello").map_err(|e| e.to_string())?;
    Ok("connected".to_owned())
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run(addr: String) -> Result<String, Error> {
    let out = hostile(addr)?;
    after()?;
    Ok(out)
}
