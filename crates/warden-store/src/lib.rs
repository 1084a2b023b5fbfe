//! Warden's store: the single source of truth for files seen, candidates,
//! runs, findings, verdicts, spend and locks.
//!
//! [`Store`] is the whole public API. It is backed by SQLite (`<data_dir>/warden.db`,
//! WAL mode) today; no SQLite type or concept appears in its signatures, so a
//! PostgreSQL backend can sit behind the same API later. Errors are [`StoreError`].

pub mod error;
pub mod fingerprint;
pub mod model;
pub mod redact;
mod sqlite;

pub use error::StoreError;
pub use fingerprint::{finding_fingerprint, finding_id};
pub use model::*;
pub use sqlite::{default_holder, Store, SurfaceDelta, DB_FILE};
