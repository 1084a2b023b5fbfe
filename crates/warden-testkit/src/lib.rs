//! Test support shared by Warden's crates. Used only as a dev-dependency.
//!
//! - [`sarif`]: validates documents against the official SARIF 2.1.0 schema.

pub mod sarif;
