//! Warden's store: the single source of truth for files seen, candidates,
//! runs, findings, verdicts, spend and locks.
//!
//! [`Store`] is the whole public API, backed by SQLite (`<data_dir>/warden.db`, WAL
//! mode: one machine) or PostgreSQL (a `postgres://` URL: many machines, one store),
//! chosen by [`StoreLocation`]. Every query is written once, on an internal database
//! layer that runs it on either; no backend type appears in the API. Errors are
//! [`StoreError`], and name the store by its file or its URL with the password hidden.

mod db;
pub mod error;
pub mod fingerprint;
pub mod location;
pub mod model;
pub mod redact;
mod store;

pub use error::StoreError;
pub use fingerprint::{finding_fingerprint, finding_id};
pub use location::{PgUrl, StoreLocation, StoreName};
pub use model::*;
pub use store::{default_holder, Store, SurfaceDelta, DB_FILE};
