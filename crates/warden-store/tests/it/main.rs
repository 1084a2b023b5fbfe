//! Integration tests of the store against real SQLite files in temporary directories.

mod claims;
mod common;
mod findings;
mod locks;
mod open;
mod redaction;
mod review;
mod scan;
mod sessions;
mod spend;
mod surface;
