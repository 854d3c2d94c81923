//! Building a guest crate for `wasm32-wasip2` from a test, once per test
//! binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

/// The target components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// What a note of rustc says when the target's standard library is missing.
const TARGET_MISSING_NOTE: &str = "target may not be installed";

/// Building a component failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// There is no `Cargo.toml` in the folder given.
    #[error("no Cargo.toml in {}", manifest_dir.display())]
    NoManifest {
        /// The folder given.
        manifest_dir: PathBuf,
    },
    /// The toolchain has no standard library for `wasm32-wasip2`.
    #[error(
        "the wasm32-wasip2 target is not installed{}: run `rustup target add wasm32-wasip2`",
        sysroot.as_ref().map(|s| format!(" in the toolchain at {}", s.display())).unwrap_or_default()
    )]
    MissingTarget {
        /// The toolchain's sysroot, when `rustc --print sysroot` told it.
        sysroot: Option<PathBuf>,
    },
    /// Cargo could not be started.
    #[error("cannot run {}", cargo.display())]
    Cargo {
        /// The cargo that was run (`$CARGO`, else `cargo`).
        cargo: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `cargo build` failed; `stderr` has its diagnostics.
    #[error("`cargo build` of {} failed ({status}):\n{stderr}", manifest_dir.display())]
    Failed {
        /// The crate's folder.
        manifest_dir: PathBuf,
        /// Cargo's exit status.
        status: ExitStatus,
        /// What cargo printed on stderr.
        stderr: String,
    },
    /// The build succeeded but made no component of this crate (a `cdylib`
    /// `.wasm`), or several when the folder is a workspace.
    #[error(
        "building {} made no single wasm32-wasip2 component (is its crate-type \"cdylib\"?); .wasm files built: {built:?}",
        manifest_dir.display()
    )]
    NoComponent {
        /// The crate's folder.
        manifest_dir: PathBuf,
        /// Every `cdylib` `.wasm` the build reported.
        built: Vec<PathBuf>,
    },
}

/// Builds the guest crate in `manifest_dir` (pass
/// `env!("CARGO_MANIFEST_DIR")` from the crate's own tests) for
/// `wasm32-wasip2` with its `release` profile and returns the component's
/// path. See [`ComponentBuild`] for the details and the other settings.
pub fn build_component(manifest_dir: impl Into<PathBuf>) -> Result<PathBuf, BuildError> {
    ComponentBuild::new(manifest_dir).build()
}

/// How to build a guest crate into a component: `cargo build --target
/// wasm32-wasip2`, with the cargo running the tests (`$CARGO`, else
/// `cargo` from `PATH`), in the crate's folder (so its `.cargo/config.toml`
/// applies).
///
/// The component is found in cargo's `--message-format=json` output: the
/// `cdylib` artifact of the crate whose filename ends in `.wasm`. Builds
/// are remembered for the life of the process: the tests of one binary
/// that build the same crate with the same settings run cargo once (the
/// others wait for it). A failed build is tried again by the next call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComponentBuild {
    manifest_dir: PathBuf,
    profile: String,
    target_dir: Option<PathBuf>,
}

impl ComponentBuild {
    /// A build of the crate in `manifest_dir`, with the default settings.
    pub fn new(manifest_dir: impl Into<PathBuf>) -> ComponentBuild {
        ComponentBuild {
            manifest_dir: manifest_dir.into(),
            profile: "release".to_owned(),
            target_dir: None,
        }
    }

    /// The cargo profile to build with (`release`, `dev` or a custom one
    /// such as a size-optimised `guest`). Default: `release`.
    pub fn profile(mut self, name: impl Into<String>) -> ComponentBuild {
        self.profile = name.into();
        self
    }

    /// The cargo target folder to build into. Default: cargo's own choice
    /// (`CARGO_TARGET_DIR`, the configuration, else the workspace's
    /// `target/`), where the component lands in
    /// `target/wasm32-wasip2/<profile>/` beside the test binaries' own
    /// `target/debug/`.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> ComponentBuild {
        self.target_dir = Some(dir.into());
        self
    }

    /// Builds the component (once per process for these settings) and
    /// returns its path. Blocks while cargo runs: call it at the start of
    /// a test, async or not.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        static BUILT: Mutex<Option<HashMap<ComponentBuild, PathBuf>>> = Mutex::new(None);
        let manifest = self.manifest_dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(BuildError::NoManifest {
                manifest_dir: self.manifest_dir.clone(),
            });
        }
        // Held through the build: a second test asking for the same crate
        // waits for the first one's build instead of starting another.
        let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
        let built = built.get_or_insert_with(HashMap::new);
        if let Some(path) = built.get(self) {
            return Ok(path.clone());
        }
        let path = self.run_cargo(&manifest)?;
        built.insert(self.clone(), path.clone());
        Ok(path)
    }

    fn run_cargo(&self, manifest: &Path) -> Result<PathBuf, BuildError> {
        let sysroot = sysroot(&self.manifest_dir);
        if let Some(sysroot) = &sysroot
            && !sysroot.join("lib/rustlib").join(TARGET).is_dir()
        {
            return Err(BuildError::MissingTarget {
                sysroot: Some(sysroot.clone()),
            });
        }
        let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        let mut command = Command::new(&cargo);
        command
            .current_dir(&self.manifest_dir)
            .arg("build")
            .arg("--manifest-path")
            .arg(manifest)
            .args(["--target", TARGET, "--profile", &self.profile])
            // Diagnostics rendered for people on stderr, artifacts as JSON
            // on stdout.
            .arg("--message-format=json-render-diagnostics");
        if let Some(dir) = &self.target_dir {
            command.arg("--target-dir").arg(dir);
        }
        let output = command
            .output()
            .map_err(|source| BuildError::Cargo { cargo, source })?;
        let Output {
            status,
            stdout,
            stderr,
        } = output;
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        if !status.success() {
            if stderr.contains(TARGET_MISSING_NOTE) {
                return Err(BuildError::MissingTarget { sysroot });
            }
            return Err(BuildError::Failed {
                manifest_dir: self.manifest_dir.clone(),
                status,
                stderr,
            });
        }
        component_in(&String::from_utf8_lossy(&stdout), manifest).map_err(|built| {
            BuildError::NoComponent {
                manifest_dir: self.manifest_dir.clone(),
                built,
            }
        })
    }
}

/// The sysroot of the toolchain cargo will use in `dir` (`$RUSTC`, else
/// `rustc`, run there so a `rust-toolchain.toml` applies), if it says.
fn sysroot(dir: &Path) -> Option<PathBuf> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .current_dir(dir)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(text.trim())).filter(|p| p.is_dir())
}

/// One line of cargo's JSON output; only artifacts matter.
#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
}

/// The component of the crate at `manifest` among cargo's JSON `messages`:
/// its `cdylib` `.wasm` file, or the only one built when the manifest is a
/// workspace's. Otherwise, every `.wasm` built.
fn component_in(messages: &str, manifest: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let canonical = std::fs::canonicalize(manifest).ok();
    let same = |path: &Path| {
        path == manifest
            || canonical
                .as_ref()
                .is_some_and(|c| std::fs::canonicalize(path).is_ok_and(|p| p == *c))
    };
    let mut ours = Vec::new();
    let mut all = Vec::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            continue;
        };
        let cdylib = message
            .target
            .is_some_and(|t| t.kind.iter().any(|k| k == "cdylib"));
        if message.reason != "compiler-artifact" || !cdylib {
            continue;
        }
        let own = message.manifest_path.as_deref().is_some_and(same);
        for file in message.filenames {
            if file.extension().is_some_and(|e| e == "wasm") {
                if own {
                    ours.push(file.clone());
                }
                all.push(file);
            }
        }
    }
    match (ours.as_slice(), all.as_slice()) {
        ([one], _) | ([], [one]) => Ok(one.clone()),
        _ => Err(all),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(manifest: &str, kind: &str, file: &str) -> String {
        serde_json::json!({
            "reason": "compiler-artifact",
            "manifest_path": manifest,
            "target": { "kind": [kind], "name": "x" },
            "filenames": [file],
            "fresh": true,
        })
        .to_string()
    }

    #[test]
    fn the_crates_own_cdylib_wasm_is_the_component() {
        let messages = [
            artifact("/w/dep/Cargo.toml", "lib", "/t/libdep.rlib"),
            artifact("/w/other/Cargo.toml", "cdylib", "/t/other.wasm"),
            "not json".to_owned(),
            artifact("/w/me/Cargo.toml", "cdylib", "/t/me.wasm"),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
        ]
        .join("\n");
        assert_eq!(
            component_in(&messages, Path::new("/w/me/Cargo.toml")),
            Ok(PathBuf::from("/t/me.wasm"))
        );
        // A workspace's manifest: no artifact is its own, two are built.
        assert_eq!(
            component_in(&messages, Path::new("/w/Cargo.toml")),
            Err(vec![
                PathBuf::from("/t/other.wasm"),
                PathBuf::from("/t/me.wasm")
            ])
        );
        let one = artifact("/w/me/Cargo.toml", "cdylib", "/t/me.wasm");
        assert_eq!(
            component_in(&one, Path::new("/w/Cargo.toml")),
            Ok(PathBuf::from("/t/me.wasm"))
        );
    }
}
