//! Local sandboxes for untrusted agents.
pub mod confine;
pub mod limits;
