//! Reading the files an operator names (`--input-file`, `--policy`): only
//! regular files, and only up to a limit (see
//! [`cairn_host::read_regular_file`], which components are read with too).

use std::path::Path;

use cairn_host::ReadFileError;

use crate::limits::size_name;
use crate::terminal;

/// The whole of the regular file at `path`, at most `limit` bytes; `what`
/// names the file in errors ("input file").
pub(crate) fn read(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, String> {
    let shown = terminal::line(&path.to_string_lossy()).into_owned();
    cairn_host::read_regular_file(path, limit).map_err(|e| {
        let reason = match e {
            ReadFileError::Io { source, .. } => source.to_string(),
            ReadFileError::NotRegular { .. } => "not a regular file".to_owned(),
            ReadFileError::TooLarge { limit, .. } => {
                format!("larger than the limit of {}", size_name(limit))
            }
            other => other.to_string(),
        };
        format!("cannot read {what} {shown}: {reason}")
    })
}

/// Like [`read`], as UTF-8 text.
pub(crate) fn read_text(path: &Path, what: &str, limit: u64) -> Result<String, String> {
    String::from_utf8(read(path, what, limit)?).map_err(|_| {
        format!(
            "cannot read {what} {}: it is not UTF-8 text",
            terminal::line(&path.to_string_lossy())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cairn-cli-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    }

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = temp_dir("ok");
        let path = dir.join("input.json");
        std::fs::write(&path, b"{\"a\":1}").expect("write");
        assert_eq!(
            read_text(&path, "input file", 7).as_deref(),
            Ok("{\"a\":1}")
        );
        let error = read(&path, "input file", 6).expect_err("too large");
        assert!(error.contains("larger than the limit of 6B"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn devices_folders_and_missing_files_are_refused() {
        let dir = temp_dir("refused");
        for path in [Path::new("/dev/zero"), &dir] {
            let error = read(path, "policy file", 1 << 20).expect_err("not regular");
            assert!(error.contains("not a regular file"), "{error}");
        }
        let error = read(&dir.join("missing"), "policy file", 10).expect_err("missing");
        assert!(error.starts_with("cannot read policy file"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = temp_dir("fifo");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here
        }
        let error = read(&fifo, "input file", 10).expect_err("a fifo");
        assert!(error.contains("not a regular file"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
