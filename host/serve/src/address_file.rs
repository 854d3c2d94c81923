//! `<journal>.server`: where the server that holds a journal listens, so that
//! a CLI command that finds the journal in use can say which server holds
//! it and how to reach it, instead of only "journal is in use".

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The longest address file read (it is a few dozen bytes).
const MAX_FILE: u64 = 4096;

/// What the file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddress {
    /// The server's base URL, e.g. `http://127.0.0.1:7080`.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
}

impl ServerAddress {
    /// The address file beside `journal`.
    pub fn path_for(journal: &Path) -> PathBuf {
        let mut name = journal.as_os_str().to_owned();
        name.push(".server");
        PathBuf::from(name)
    }

    /// The address written beside `journal`, if there is a readable one.
    /// (It may be stale, left by a server that was killed: only believe it
    /// when the journal is in use.)
    pub fn read(journal: &Path) -> Option<ServerAddress> {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(ServerAddress::path_for(journal))
            .and_then(|f| f.take(MAX_FILE).read_to_string(&mut text))
            .ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The address file of a running server; removed when dropped.
#[derive(Debug)]
pub struct AddressFile {
    path: PathBuf,
}

impl AddressFile {
    /// Writes `address` beside `journal` (replacing a stale file).
    pub fn write(journal: &Path, address: &ServerAddress) -> std::io::Result<AddressFile> {
        let path = ServerAddress::path_for(journal);
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        let json = serde_json::to_vec(address).map_err(std::io::Error::other)?;
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, &path)?;
        Ok(AddressFile { path })
    }
}

impl Drop for AddressFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
