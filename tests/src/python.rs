//! Where the Python guest components are: `cargo xtask test` (or `cargo
//! xtask python`) builds them with the Python SDK's `python -m cairn build`
//! into `target/python-guests/` before the tests run.

use std::path::PathBuf;

/// A Python guest component, by its app's file name without `.py`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PythonGuest(&'static str);

/// `examples/python/hello.py`.
pub const HELLO: PythonGuest = PythonGuest("hello");
/// `examples/python/approval.py`.
pub const APPROVAL: PythonGuest = PythonGuest("approval");
/// `guest-sdk/python/tests/apps/pyprobe.py`: the tests' app of many flows.
pub const PYPROBE: PythonGuest = PythonGuest("pyprobe");

impl PythonGuest {
    /// Where its component is; it must have been built.
    pub fn path(self) -> PathBuf {
        let path = crate::target_dir()
            .join("python-guests")
            .join(format!("{}.wasm", self.0));
        assert!(
            path.exists(),
            "{} is missing: build the Python guests first with `cargo xtask python` (or run `cargo xtask test`)",
            path.display()
        );
        path
    }
}
