//! Another component with probe's `logged_add` checkpoint (same name, same
//! code): the cache must never hand it probe's outputs.

use cairn_guest::{Error, checkpoint, flow};

/// Adds and leaves a mark `add` in the granted /marks folder.
#[checkpoint]
fn logged_add(a: i64, b: i64) -> Result<i64, String> {
    use std::hash::{BuildHasher, Hasher};
    let nonce = std::hash::RandomState::new().build_hasher().finish();
    std::fs::write(format!("/marks/add.{nonce:016x}"), b"").map_err(|e| e.to_string())?;
    Ok(a + b)
}

/// One cached addition.
#[flow]
fn addition(a: i64, b: i64) -> Result<i64, Error> {
    logged_add(a, b)
}
