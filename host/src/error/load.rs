//! Loading a component failed.

use std::path::PathBuf;

use crate::error::{Cause, JournalError};
use crate::files::ReadFileError;
use crate::model::ComponentHash;

/// Loading a component failed. Nothing has run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read the component")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// The bytes are not WebAssembly at all (they do not start with its
    /// magic number): `kind` says what they look like (`"a text file"`,
    /// `"an ELF executable"`, `"a zip archive"`, `"an empty file"`...).
    #[error("{}", not_wasm(path.as_deref(), kind))]
    NotWasm {
        /// The file, when it was read from one.
        path: Option<PathBuf>,
        /// What the bytes look like, as a noun phrase.
        kind: &'static str,
    },
    /// The bytes are a core WebAssembly module, not a component.
    #[error(
        "{} a core WebAssembly module, not a component; build the guest for wasm32-wasip2",
        match path {
            Some(path) => format!("{} is", path.display()),
            None => "this is".to_owned(),
        }
    )]
    CoreModule {
        /// The file, when it was read from one.
        path: Option<PathBuf>,
    },
    /// The component was built for another version of Cairn's WIT
    /// contract (`cairn:checkpoint@found`) than this host's: by an older
    /// or newer guest SDK. It does not link; rebuilding it with the
    /// SDK that matches the host does.
    #[error("{}", sdk_mismatch(found, expected))]
    IncompatibleSdk {
        /// The contract version the component was built for (empty when
        /// its names carry none).
        found: String,
        /// The contract version this host implements.
        expected: String,
    },
    /// The bytes are not a valid WebAssembly component (a truncated file,
    /// something else entirely).
    #[error("not a valid WebAssembly component")]
    Invalid(#[source] Cause),
    /// The component imports something Cairn does not provide.
    #[error("the component imports what Cairn does not provide")]
    UnsupportedImports(#[source] Cause),
    /// The component does not export Cairn's `guest` interface (another world).
    #[error("not a Cairn component (it must export cairn:checkpoint/guest)")]
    NotACairnComponent(#[source] Cause),
    /// It cannot be instantiated within the engine's limits (a huge table or
    /// memory, say).
    #[error("the component cannot be instantiated")]
    Instantiate(#[source] Cause),
    /// Its `describe` trapped or returned an invalid manifest.
    #[error("the component's manifest is invalid: {0}")]
    BadManifest(String),
    /// The engine failed to compile it or to use the artifact cache.
    #[error("compiling the component failed")]
    Compile(#[source] Cause),
    /// The component has no checkpoint of this name.
    #[error(
        "unknown checkpoint `{name}`; the component has: {}",
        crate::names::listed(available)
    )]
    UnknownCheckpoint {
        /// The requested name.
        name: String,
        /// The checkpoints it has.
        available: Vec<String>,
    },
    /// The journal's copy of a component is missing.
    #[error("component {0} is not in the journal")]
    NotInJournal(ComponentHash),
    /// Reading the component from the journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// `README.md is not a valid WebAssembly component: it looks like a text
/// file`.
fn not_wasm(path: Option<&std::path::Path>, kind: &str) -> String {
    let looks = if kind == crate::component::EMPTY_FILE {
        "it is empty".to_owned()
    } else {
        format!("it looks like {kind}")
    };
    match path {
        Some(path) => format!(
            "{} is not a valid WebAssembly component: {looks}",
            path.display()
        ),
        None => format!("not a valid WebAssembly component: {looks}"),
    }
}

/// Which SDK built the component, compared with the host's contract, and
/// what to do about it.
fn sdk_mismatch(found: &str, expected: &str) -> String {
    let (age, fix) = if version_key(found) < version_key(expected) {
        (
            "an older",
            "rebuild it with the current cairn-guest".to_owned(),
        )
    } else {
        (
            "a newer",
            format!("use a newer cairn, or build it with a cairn-guest for @{expected}"),
        )
    };
    let found = if found.is_empty() {
        "(no version)"
    } else {
        found
    };
    format!(
        "the component was built with {age} cairn-guest, for cairn:checkpoint@{found}; this cairn implements cairn:checkpoint@{expected}: {fix}"
    )
}

/// A version's numbers, for comparing (`0.10.0` after `0.9.0`); what is
/// not a number counts as 0.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-', '+'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// A wasmtime error kept as a [`LoadError`]'s source, with its own chain.
pub(crate) fn wasm_cause(error: wasmtime::Error) -> Cause {
    Cause::from(error.into_boxed_dyn_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_what_it_is() {
        let text = LoadError::NotWasm {
            path: Some(PathBuf::from("README.md")),
            kind: "a text file",
        };
        assert_eq!(
            text.to_string(),
            "README.md is not a valid WebAssembly component: it looks like a text file"
        );
        let empty = LoadError::NotWasm {
            path: None,
            kind: crate::component::EMPTY_FILE,
        };
        assert_eq!(
            empty.to_string(),
            "not a valid WebAssembly component: it is empty"
        );
        let old = LoadError::IncompatibleSdk {
            found: "0.1.0".to_owned(),
            expected: "0.2.0".to_owned(),
        };
        assert!(old.to_string().contains("an older cairn-guest"), "{old}");
        assert!(old.to_string().contains("rebuild it"), "{old}");
        let new = LoadError::IncompatibleSdk {
            found: "0.10.0".to_owned(),
            expected: "0.9.1".to_owned(),
        };
        assert!(new.to_string().contains("a newer cairn-guest"), "{new}");
    }
}
