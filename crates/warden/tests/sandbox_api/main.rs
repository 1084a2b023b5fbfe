//! The sandbox API `warden server` builds on, driven as a library against real
//! sandboxes (the `warden` binary supervises them and is their init): live network
//! policies with deny lists and header transforms, commands with ids that outlive their
//! client, stop and extend-timeout, and git sources. Upstreams are servers this test
//! runs on 127.0.0.1, reached by name through the proxy's test resolver.

#[path = "../sandbox_support/mod.rs"]
mod sandbox_support;

#[path = "../git_support/mod.rs"]
mod git_support;

mod commands;
mod fixture;
mod git;
mod lifetime;
mod policy;
