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
    /// The bytes are a core WebAssembly module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the guest for wasm32-wasip2"
    )]
    CoreModule,
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

/// A wasmtime error kept as a [`LoadError`]'s source, with its own chain.
pub(crate) fn wasm_cause(error: wasmtime::Error) -> Cause {
    Cause::from(error.into_boxed_dyn_error())
}
