//! The one error type of the store, independent of the backend behind it.

use crate::location::StoreName;

/// Everything that can go wrong in the store; every message names the store (its database
/// file, or its PostgreSQL URL with the password as `***`).
///
/// Messages carry ids, paths and holders only, never stored content such as
/// snippets, finding text or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no store at the expected place.
    #[error("{store}: no Warden store here (run `warden scan` first)")]
    NotFound { store: StoreName },

    /// The file is not a SQLite database, or fails its integrity check; it was left untouched.
    #[error("{store}: not a usable Warden database ({detail}); the file was left untouched")]
    Corrupt { store: StoreName, detail: String },

    /// The file is a SQLite database that belongs to another application.
    #[error("{store}: is a SQLite database of another application, not a Warden store; refusing to touch it")]
    Foreign { store: StoreName },

    /// The store was written by a newer Warden with a schema this build does not know.
    #[error("{store}: schema version {found} is newer than this warden supports ({supported}); upgrade warden")]
    TooNew {
        store: StoreName,
        found: i64,
        supported: i64,
    },

    /// A named project lock is held by another holder whose lease has not expired.
    #[error("{store}: lock `{name}` is held by {holder} since {since} (lease until {until})")]
    Locked {
        store: StoreName,
        name: String,
        holder: String,
        since: String,
        until: String,
    },

    /// The database stayed busy (another process writing) beyond the busy timeout.
    #[error("{store}: database stayed busy (another warden process is writing to it); try again")]
    Busy { store: StoreName },

    /// No project with this id exists in the store.
    #[error("{store}: unknown project `{id}`")]
    UnknownProject { store: StoreName, id: String },

    /// No run with this id exists (for this project).
    #[error("{store}: unknown run {id}")]
    UnknownRun { store: StoreName, id: i64 },

    /// No finding with this id exists in the project.
    #[error("{store}: unknown finding `{id}` in project `{project}`")]
    UnknownFinding {
        store: StoreName,
        project: String,
        id: String,
    },

    /// The caller does not hold the lease or lock it acted on (it expired, or was never taken).
    #[error("{store}: {holder} does not hold {what} in project `{project}`")]
    NotHolder {
        store: StoreName,
        project: String,
        what: String,
        holder: String,
    },

    /// The caller passed a value the store cannot keep (nothing was changed).
    #[error("{store}: invalid input: {detail}")]
    InvalidInput { store: StoreName, detail: String },

    /// The store's directory or file could not be created or read.
    #[error("{store}: {source}")]
    Io {
        store: StoreName,
        #[source]
        source: std::io::Error,
    },

    /// The data directory given is an existing file or other non-directory.
    #[error("{store}: not a directory (the data directory must be one)")]
    DataDirNotADirectory { store: StoreName },

    /// The database file was deleted or replaced while this handle was using it: what
    /// was written through the handle went to a file nobody will open again.
    #[error("{store}: the database was deleted or replaced while warden was using it; this command's results are lost (run it again)")]
    Vanished { store: StoreName },

    /// The PostgreSQL server could not be reached or refused the login.
    #[error("cannot connect to the store {store}: {detail}")]
    Connect { store: StoreName, detail: String },

    /// The store location is not a usable directory name or PostgreSQL URL.
    #[error("invalid store location `{store}`: {detail}")]
    InvalidLocation { store: StoreName, detail: String },

    /// Any other database failure, described in words.
    #[error("{store}: database error: {detail}")]
    Database { store: StoreName, detail: String },
}

impl StoreError {
    /// The store the error is about (its file, or its redacted URL).
    pub fn store(&self) -> &StoreName {
        match self {
            StoreError::NotFound { store }
            | StoreError::Corrupt { store, .. }
            | StoreError::Foreign { store }
            | StoreError::TooNew { store, .. }
            | StoreError::Locked { store, .. }
            | StoreError::Busy { store }
            | StoreError::UnknownProject { store, .. }
            | StoreError::UnknownRun { store, .. }
            | StoreError::UnknownFinding { store, .. }
            | StoreError::NotHolder { store, .. }
            | StoreError::InvalidInput { store, .. }
            | StoreError::Io { store, .. }
            | StoreError::DataDirNotADirectory { store }
            | StoreError::Vanished { store }
            | StoreError::Connect { store, .. }
            | StoreError::InvalidLocation { store, .. }
            | StoreError::Database { store, .. } => store,
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
