//! Warden's egress proxy: the only way out of a sandbox.
