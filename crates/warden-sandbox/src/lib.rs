//! Local sandboxes for untrusted agents: `warden sandbox`.
//!
//! A sandbox is a set of Linux namespaces built by bubblewrap (see [`launch`] for why;
//! a one-shot `run` needing nothing from the host builds them in-process, [`direct`]),
//! a PID 1 of ours inside ([`init`]) that starts every command confined by seccomp
//! and Landlock ([`confine`]), a per-sandbox supervisor on the host ([`supervisor`])
//! that owns the egress proxy, the published ports and the deadline, and cgroups for
//! resource limits ([`limits`]). [`lifecycle::Sandboxes`] is the API the CLI and
//! `warden server` use: besides create/exec/copy/snapshot/destroy, live network rules
//! with deny lists and header transforms ([`rules`]), commands with ids that outlive
//! their client ([`commands`]), stop and extend-timeout ([`lifetime`]), and workspaces
//! cloned from git inside the sandbox ([`git`]).

pub mod binds;
pub mod bridge;
pub mod broker;
pub mod capture;
mod command_runner;
pub mod commands;
pub mod confine;
mod control;
pub mod direct;
pub mod error;
pub mod file_ops;
pub mod files;
pub mod flags;
pub mod git;
pub mod handle;
pub mod init;
pub mod launch;
pub mod lifecycle;
pub mod lifetime;
pub mod limits;
pub mod net;
pub mod os_arg;
pub mod proto;
pub mod reaper;
pub mod rules;
pub mod run;
pub mod snapshot;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod tree;

pub use broker::{BrokerPlan, DoorPlan};
pub use capture::{Capture, ExecIo, ExecOutput, Exit};
pub use commands::{parse_signal, CommandInfo, CommandStatus};
pub use error::SandboxError;
pub use handle::Sandbox;
pub use lifecycle::Sandboxes;
pub use os_arg::OsArg;
pub use proto::{ExecEvent, ExecRequest};
pub use rules::{HeaderTransform, PolicyMode, PolicyUpdate, PolicyView, Secret};
pub use spec::{parse_duration, NetworkPolicy, SandboxSpec, WorkspaceSource};
pub use state::{SandboxMeta, SandboxRoot, SnapshotMeta, Status};
