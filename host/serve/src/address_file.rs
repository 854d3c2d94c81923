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
    ///
    /// Anyone who can write beside the journal can write this file, and a
    /// command suggested from it sends the token wherever its URL says: it
    /// is believed only when it is a regular file (not a FIFO that would
    /// hang the reader, nor a link), owned by the journal's owner and
    /// writable by no one else, and its URL is a plain `http://HOST:PORT`
    /// (no user info that hides the real host after an `@`).
    pub fn read(journal: &Path) -> Option<ServerAddress> {
        use std::io::Read;
        let path = ServerAddress::path_for(journal);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.file_type().is_file() || !owned_like(&meta, journal) {
            return None;
        }
        let mut text = String::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_FILE).read_to_string(&mut text))
            .ok()?;
        let address: ServerAddress = serde_json::from_str(&text).ok()?;
        plain_url(&address.url).then_some(address)
    }
}

/// Whether the address file belongs to the journal's owner and only they
/// can write it.
#[cfg(unix)]
fn owned_like(meta: &std::fs::Metadata, journal: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(journal)
        .is_ok_and(|journal| journal.uid() == meta.uid() && meta.mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn owned_like(_: &std::fs::Metadata, _: &Path) -> bool {
    true
}

/// `http://` and a host and port made of the characters of names and
/// addresses only.
fn plain_url(url: &str) -> bool {
    url.strip_prefix("http://").is_some_and(|authority| {
        !authority.is_empty()
            && authority.len() <= 300
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    })
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
        // Made new (never through a link someone left at that name), then
        // renamed over the address.
        match std::fs::remove_file(&temp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        std::io::Write::write_all(&mut file, &json)?;
        drop(file);
        std::fs::rename(&temp, &path)?;
        Ok(AddressFile { path })
    }
}

impl Drop for AddressFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::{AddressFile, ServerAddress, plain_url};

    #[test]
    fn only_plain_urls_are_believed() {
        for url in [
            "http://127.0.0.1:7080",
            "http://[::1]:7080",
            "http://cairn-host.lan:80",
        ] {
            assert!(plain_url(url), "{url}");
        }
        for url in [
            "http://127.0.0.1@evil.example:7080",
            "https://127.0.0.1:7080",
            "http://",
            "http://127.0.0.1:7080/path",
            "http://127.0.0.1:7080 --token-file x",
            "http://127.0.0.1:7080\u{1b}[2J",
        ] {
            assert!(!plain_url(url), "{url}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_write_or_a_fifo_is_not_believed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temp dir");
        let journal = dir.path().join("journal.redb");
        std::fs::write(&journal, b"").expect("a journal file");
        let address = ServerAddress {
            url: "http://127.0.0.1:7080".to_owned(),
            pid: 1,
        };
        let written = AddressFile::write(&journal, &address).expect("written");
        assert_eq!(ServerAddress::read(&journal), Some(address.clone()));
        let path = ServerAddress::path_for(&journal);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_eq!(ServerAddress::read(&journal), None, "world-writable");
        drop(written);
        let fifo = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(fifo.success());
        assert_eq!(ServerAddress::read(&journal), None, "a FIFO is not read");
    }
}
