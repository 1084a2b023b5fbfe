//! The one error type of the store, independent of the backend behind it.

use std::path::PathBuf;

/// Everything that can go wrong in the store; every message names the database file.
///
/// Messages carry ids, paths and holders only, never stored content such as
/// snippets, finding text or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no store at the expected place.
    #[error("{path}: no Warden store here (run `warden scan` first)")]
    NotFound { path: PathBuf },

    /// The file is not a SQLite database, or fails its integrity check; it was left untouched.
    #[error("{path}: not a usable Warden database ({detail}); the file was left untouched")]
    Corrupt { path: PathBuf, detail: String },

    /// The file is a SQLite database that belongs to another application.
    #[error("{path}: is a SQLite database of another application, not a Warden store; refusing to touch it")]
    Foreign { path: PathBuf },

    /// The store was written by a newer Warden with a schema this build does not know.
    #[error("{path}: schema version {found} is newer than this warden supports ({supported}); upgrade warden")]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// A named project lock is held by another holder whose lease has not expired.
    #[error("{path}: lock `{name}` is held by {holder} since {since} (lease until {until})")]
    Locked {
        path: PathBuf,
        name: String,
        holder: String,
        since: String,
        until: String,
    },

    /// The database stayed busy (another process writing) beyond the busy timeout.
    #[error("{path}: database stayed busy (another warden process is writing to it); try again")]
    Busy { path: PathBuf },

    /// No project with this id exists in the store.
    #[error("{path}: unknown project `{id}`")]
    UnknownProject { path: PathBuf, id: String },

    /// No run with this id exists (for this project).
    #[error("{path}: unknown run {id}")]
    UnknownRun { path: PathBuf, id: i64 },

    /// No finding with this id exists in the project.
    #[error("{path}: unknown finding `{id}` in project `{project}`")]
    UnknownFinding {
        path: PathBuf,
        project: String,
        id: String,
    },

    /// The caller does not hold the lease or lock it acted on (it expired, or was never taken).
    #[error("{path}: {holder} does not hold {what} in project `{project}`")]
    NotHolder {
        path: PathBuf,
        project: String,
        what: String,
        holder: String,
    },

    /// The caller passed a value the store cannot keep (nothing was changed).
    #[error("{path}: invalid input: {detail}")]
    InvalidInput { path: PathBuf, detail: String },

    /// The store's directory or file could not be created or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The data directory given is an existing file or other non-directory.
    #[error("{path}: not a directory (the data directory must be one)")]
    DataDirNotADirectory { path: PathBuf },

    /// The database file was deleted or replaced while this handle was using it: what
    /// was written through the handle went to a file nobody will open again.
    #[error("{path}: the database was deleted or replaced while warden was using it; this command's results are lost (run it again)")]
    Vanished { path: PathBuf },

    /// Any other database failure, described in words.
    #[error("{path}: database error: {detail}")]
    Database { path: PathBuf, detail: String },
}

impl StoreError {
    /// The database file (or, for `Io`, the path) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            StoreError::NotFound { path }
            | StoreError::Corrupt { path, .. }
            | StoreError::Foreign { path }
            | StoreError::TooNew { path, .. }
            | StoreError::Locked { path, .. }
            | StoreError::Busy { path }
            | StoreError::UnknownProject { path, .. }
            | StoreError::UnknownRun { path, .. }
            | StoreError::UnknownFinding { path, .. }
            | StoreError::NotHolder { path, .. }
            | StoreError::InvalidInput { path, .. }
            | StoreError::Io { path, .. }
            | StoreError::DataDirNotADirectory { path }
            | StoreError::Vanished { path }
            | StoreError::Database { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Kept small so that `Result<_, StoreError>` stays cheap (and clippy's
    /// `result_large_err` quiet) in every crate that returns it.
    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<super::StoreError>() <= 128);
    }
}
