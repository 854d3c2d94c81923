//! Reading a file an operator names (a component, an input, a policy): only
//! a regular file, and only up to a limit. A device (`/dev/zero`) would
//! otherwise be read until memory runs out, and a FIFO would block forever.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Reading a file with [`read_regular_file`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadFileError {
    /// The file could not be opened or read.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path names a folder, device, FIFO or socket.
    #[error("{}: not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than the limit.
    #[error("{}: larger than the limit of {}", path.display(), size(*limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
}

/// The whole of the regular file at `path`, if it holds at most `limit`
/// bytes.
///
/// The file is opened without blocking (a FIFO without a writer would
/// otherwise hang the open) and checked through the opened handle, so a path
/// swapped for something else between a check and the open is caught too.
/// A file that grows while it is read is still read only to the limit.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFileError> {
    let io = |source| ReadFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || ReadFileError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(io)?;
    let opened = file.metadata().map_err(io)?;
    if !opened.is_file() {
        return Err(ReadFileError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    if opened.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A size limit as a person reads it: whole MiB when it is some.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = dir.path().join("input.json");
        std::fs::write(&file, b"{\"a\":1}").expect("write");
        assert_eq!(read_regular_file(&file, 7).expect("read"), b"{\"a\":1}");
        assert!(matches!(
            read_regular_file(&file, 6),
            Err(ReadFileError::TooLarge { limit: 6, .. })
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 1 << 20),
            Err(ReadFileError::NotRegular { .. })
        ));
        assert!(matches!(
            read_regular_file(Path::new("/dev/zero"), 1 << 20),
            Err(ReadFileError::NotRegular { .. })
        ));
        assert!(matches!(
            read_regular_file(&dir.path().join("missing"), 1),
            Err(ReadFileError::Io { .. })
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        assert!(matches!(
            read_regular_file(&fifo, 1 << 20),
            Err(ReadFileError::NotRegular { .. })
        ));
    }
}
