//! The Python side of `cargo xtask test`: a virtualenv under `target/`
//! with the pinned componentize-py (created once, reused by later runs),
//! the Python SDK's own unit tests, and the Python guest components the
//! integration tests run, built into `target/python-guests/` and rebuilt
//! only when their sources or the SDK change (each costs ~10 s of
//! componentize-py, and the tests' first wasmtime compile of an 18 MB
//! CPython component ~20 s more, so there are few of them).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{Result, relative, root, run, target_dir};

/// The componentize-py release the SDK's build command is tested with.
pub(crate) const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The Python apps built into components, relative to the workspace root,
/// with the modules each preloads: the examples and the integration tests'
/// probe (one app with many flows, since every CPython component is slow
/// to compile).
const APPS: [(&str, &[&str]); 3] = [
    ("examples/python/hello.py", &[]),
    ("examples/python/approval.py", &[]),
    ("guest-sdk/python/tests/apps/pyprobe.py", &["fractions"]),
];

/// The Python SDK's package folder (on `PYTHONPATH`, so the tests use the
/// source as it is, not an installed copy).
const SDK: &str = "guest-sdk/python";

/// Where the Python components go; `cairn_tests::python` reads them there.
pub(crate) fn guests_dir() -> PathBuf {
    target_dir().join("python-guests")
}

fn venv_dir() -> PathBuf {
    target_dir().join("python-venv")
}

fn venv_python() -> PathBuf {
    venv_dir().join("bin/python")
}

/// The virtualenv's interpreter, with componentize-py installed: creates
/// the virtualenv (installing python3 and python3-venv with apt-get when
/// the machine has no usable `python3 -m venv`) and installs the pinned
/// componentize-py when it is not there.
pub(crate) fn ensure_venv() -> Result<PathBuf> {
    let python = venv_python();
    if !python.exists() {
        let started = Instant::now();
        if !has_venv_module() {
            eprintln!("xtask: installing python3 and python3-venv (for the Python SDK)");
            run(Command::new("apt-get").arg("update"))?;
            run(Command::new("apt-get")
                .args([
                    "install",
                    "-y",
                    "--no-install-recommends",
                    "python3",
                    "python3-venv",
                ])
                .env("DEBIAN_FRONTEND", "noninteractive"))?;
        }
        eprintln!("xtask: creating {}", relative(&venv_dir()));
        run(Command::new("python3").args(["-m", "venv"]).arg(venv_dir()))?;
        eprintln!(
            "xtask: virtualenv created in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let pinned = COMPONENTIZE_PY
        .split_once("==")
        .map_or(COMPONENTIZE_PY, |(_, version)| version);
    let installed = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('componentize-py'))",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if String::from_utf8_lossy(&installed.stdout).trim() != pinned {
        let started = Instant::now();
        eprintln!("xtask: pip install {COMPONENTIZE_PY}");
        run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            COMPONENTIZE_PY,
        ]))?;
        eprintln!(
            "xtask: componentize-py installed in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(python)
}

/// Whether `python3 -m venv` can create a virtualenv with pip here.
fn has_venv_module() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Runs the SDK's unit tests (plain CPython, no component) with the
/// virtualenv's interpreter.
pub(crate) fn unit_tests(python: &Path) -> Result {
    let sdk = root().join(SDK);
    eprintln!("xtask: python -m unittest (the Python SDK's unit tests)");
    run(Command::new(python)
        .args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
        .env("PYTHONPATH", &sdk)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&sdk))
}

/// Builds every app in [`APPS`] whose sources changed since its last
/// build with `python -m cairn build`, and returns the folder of the
/// components.
pub(crate) fn build_guests(python: &Path) -> Result<PathBuf> {
    let out = guests_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let sdk_hash = tree_hash(&root().join(SDK).join("cairn"))?;
    let mut built = 0;
    for (app, preload) in APPS {
        let app = root().join(app);
        let stem = app
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} has no file name", app.display()))?;
        let wasm = out.join(format!("{stem}.wasm"));
        let stamp = out.join(format!("{stem}.stamp"));
        let source = std::fs::read(&app).map_err(|e| format!("{}: {e}", app.display()))?;
        let mut hasher = DefaultHasher::new();
        (COMPONENTIZE_PY, sdk_hash, source, preload).hash(&mut hasher);
        let fingerprint = format!("{:016x}", hasher.finish());
        if wasm.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint) {
            continue;
        }
        let started = Instant::now();
        let mut command = Command::new(python);
        command.args(["-m", "cairn", "build"]);
        for module in preload {
            command.args(["--preload", module]);
        }
        run(command
            .arg(&app)
            .arg("-o")
            .arg(&wasm)
            .env("PYTHONPATH", root().join(SDK))
            .env("PYTHONDONTWRITEBYTECODE", "1"))?;
        std::fs::write(&stamp, fingerprint).map_err(|e| format!("{}: {e}", stamp.display()))?;
        eprintln!(
            "xtask: componentized {} in {:.1} s",
            relative(&app),
            started.elapsed().as_secs_f64()
        );
        built += 1;
    }
    eprintln!(
        "xtask: {} Python guests in {} ({built} rebuilt)",
        APPS.len(),
        relative(&out)
    );
    Ok(out)
}

/// A hash of every file under `dir` (names and contents, in name order).
fn tree_hash(dir: &Path) -> Result<u64> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        (file.strip_prefix(dir).unwrap_or(&file), bytes).hash(&mut hasher);
    }
    Ok(hasher.finish())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                collect(&path, files)?;
            }
        } else if path.extension().is_some_and(|e| e == "py" || e == "wit") {
            files.push(path);
        }
    }
    Ok(())
}

/// `cargo xtask python`: the virtualenv, the SDK's unit tests and the
/// Python guests, without the rest of the suite.
pub(crate) fn task() -> Result {
    let python = ensure_venv()?;
    unit_tests(&python)?;
    build_guests(&python).map(|_| ())
}
