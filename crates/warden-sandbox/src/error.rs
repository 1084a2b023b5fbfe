//! The one error type of this crate: every variant names what the user can fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no sandbox named or numbered {0:?} (see `warden sandbox ls`)")]
    NotFound(String),
    #[error("no snapshot {0:?} (see `warden sandbox snapshots`)")]
    SnapshotNotFound(String),
    #[error("sandbox {id} is {status}, not running{hint}")]
    NotRunning {
        id: String,
        status: String,
        hint: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("no command {command:?} in sandbox {sandbox} (see its command list)")]
    CommandNotFound { sandbox: String, command: String },
    #[error("command {command} is no longer running ({status})")]
    CommandEnded { command: String, status: String },
    #[error("path {path:?} would leave the sandbox's workspace: {reason}")]
    Escape { path: String, reason: String },
    #[error("bubblewrap (`bwrap`) was not found on PATH: install the `bubblewrap` package (apt install bubblewrap)")]
    BwrapMissing,
    #[error("cloning {url} failed: {message}")]
    GitClone { url: String, message: String },
    #[error("the sandbox failed to start: {0}")]
    Start(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("talking to sandbox {id}: {message}")]
    Protocol { id: String, message: String },
    #[error(transparent)]
    Confine(#[from] crate::confine::ConfineError),
    #[error(transparent)]
    Limits(#[from] crate::limits::LimitsError),
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the error is the user's input, not the machine's state.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SandboxError::NotFound(_)
                | SandboxError::SnapshotNotFound(_)
                | SandboxError::CommandNotFound { .. }
                | SandboxError::GitClone { .. }
                | SandboxError::Invalid(_)
                | SandboxError::Escape { .. }
        )
    }
}

/// Adds a context to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, SandboxError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, SandboxError> {
        self.map_err(|e| SandboxError::io(what(), e))
    }
}

pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
