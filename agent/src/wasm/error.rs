//! Why a plugin could not be loaded.

use std::time::Duration;

use super::host::state::StateOpenError;
use super::host::tls::TlsSetupError;
use super::permissions::GrantError;
use super::report::FailureReason;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load plugin {plugin:?} from {source_name}")]
pub struct LoadError {
    /// The check's name.
    pub plugin: String,
    /// Where it was loaded from.
    pub source_name: String,
    /// What went wrong.
    #[source]
    pub kind: LoadErrorKind,
}

/// What went wrong loading a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    /// The name cannot name a state file.
    #[error("the name must be 1 to 64 of [A-Za-z0-9_.-] and not start with a dot")]
    InvalidName,
    /// The file could not be read.
    #[error("cannot read the file")]
    Read(#[source] std::io::Error),
    /// The path names a FIFO, a device, a socket or a directory.
    #[error("not a regular file but a {kind}")]
    NotAFile {
        /// What it is.
        kind: &'static str,
    },
    /// The file is larger than any plugin should be.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Reading and compiling took longer than the host allows.
    #[error("reading and compiling took longer than {0:?}")]
    LoadTimeout(Duration),
    /// The sha256 pin is not 64 hex digits.
    #[error("sha256 pin {0:?} is not 64 hex digits")]
    InvalidPin(String),
    /// The file's SHA-256 is not the pinned one.
    #[error("sha256 is {actual}, but {expected} is pinned")]
    Sha256Mismatch {
        /// The pin.
        expected: String,
        /// The file's.
        actual: String,
    },
    /// Not a valid component (or it failed to compile).
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component imports something this host does not provide.
    #[error("it needs an import this agent does not provide: {0}")]
    Link(String),
    /// The component does not export the `check` world's functions.
    #[error("it does not implement the neurallog:plugin/check world: {0}")]
    NotACheck(String),
    /// The component does not export the `processor` world's functions.
    #[error("it does not implement the neurallog:plugin/processor world: {0}")]
    NotAProcessor(String),
    /// The limits do not fit the host.
    #[error("invalid limits: {0}")]
    Limits(String),
    /// A grant is invalid.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The TLS client for its probes could not be built.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// Its state could not be opened.
    #[error(transparent)]
    State(#[from] StateOpenError),
    /// The plugin worker process could not load it: what the worker said,
    /// or why it could not be started or did not answer.
    #[error("in the plugin worker: {0}")]
    Worker(String),
    /// `describe` failed.
    #[error("describe failed ({}): {message}", reason.as_str())]
    Describe {
        /// Why.
        reason: FailureReason,
        /// Details.
        message: String,
    },
}
