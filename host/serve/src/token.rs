//! The bearer token a server asks for: read from its file, or made on first
//! start (32 random bytes, hex) in a file only its owner can read.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::server::ServeError;

/// The longest token file read.
const MAX_TOKEN_FILE: u64 = 4096;
/// The shortest token accepted: a guessable one is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// The token in `path`, made first when the file does not exist.
pub(crate) fn load_or_create(path: &Path) -> Result<String, ServeError> {
    let bad = |reason: String| ServeError::Token {
        path: path.to_owned(),
        reason,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(bad("it is not a regular file".to_owned()));
            }
            // Like ssh with a private key: a token others can read is
            // refused rather than trusted.
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(bad(format!(
                    "others can read it (mode {:o}); run `chmod 600` on it",
                    meta.permissions().mode() & 0o777
                )));
            }
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_TOKEN_FILE).read_to_string(&mut text))
                .map_err(|e| bad(e.to_string()))?;
            let token = text.trim();
            if token.len() < MIN_TOKEN_LEN || !token.chars().all(|c| c.is_ascii_graphic()) {
                return Err(bad(format!(
                    "a token is at least {MIN_TOKEN_LEN} printable ASCII characters"
                )));
            }
            Ok(token.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_token().map_err(|e| bad(e.to_string()))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| bad(format!("cannot create it: {e}")))?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| bad(format!("cannot write it: {e}")))?;
            Ok(token)
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// 32 bytes from the kernel's random source, as hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `given` is `token`, in time that does not depend on where they
/// differ (blake3 hashes compare in constant time).
pub(crate) fn matches(token: &str, given: &str) -> bool {
    blake3::hash(token.as_bytes()) == blake3::hash(given.as_bytes())
}
