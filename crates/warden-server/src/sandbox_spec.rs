//! What a `POST /v1/sandboxes` body asks for, checked field by field and turned into
//! the sandbox layer's [`SandboxSpec`]. The parts that need the caller or the host (a
//! snapshot of theirs, a host directory, the name among their sandboxes) are settled
//! by the handler.

use crate::names::NAME_LABEL;
use crate::policy::NetworkPolicyBody;
use crate::problem::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;
use warden_sandbox::limits::Limits;
use warden_sandbox::{SandboxSpec, WorkspaceSource};

pub const MIB: u64 = 1 << 20;
/// A sandbox's `timeout`, in ms: 1 s to 30 days, as `warden sandbox create --timeout`.
pub const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=30 * 86_400_000;
/// More published ports than this is a mistake, not a plan.
const MAX_PORTS: usize = 64;

/// Where /workspace starts from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceSpec {
    Empty,
    /// A copy of a host directory (`.env*` files and `.warden/` left out): one under a
    /// `--source-root` of the server (403 otherwise), or any when the server has a single
    /// tenant and no `--source-root`.
    Directory {
        path: String,
    },
    /// The workspace and home of one of the caller's snapshots.
    Snapshot {
        #[serde(rename = "snapshotId")]
        snapshot_id: String,
    },
    /// A git repository (`http(s)://`, no credentials in the URL) cloned into /workspace
    /// inside the sandbox, through its egress proxy with the repository's host allowed
    /// for the clone only. A clone that fails is a 400; no sandbox is left.
    Git {
        url: String,
        /// A branch, tag or commit to check out (default: the remote's HEAD).
        revision: Option<String>,
        /// A shallow clone of this many commits (at least 1).
        #[schema(minimum = 1)]
        depth: Option<u32>,
    },
}

/// Resource limits; absent means unlimited.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPUs, 0.01 to 1024 (0.5 is half of one).
    #[schema(minimum = 0.01, maximum = 1024.0)]
    pub vcpus: Option<f64>,
    /// Memory in MiB, 32 to 1048576.
    #[schema(minimum = 32, maximum = 1048576)]
    pub memory: Option<u64>,
    /// Processes and threads at once, 16 to 4194304.
    #[schema(minimum = 16, maximum = 4194304)]
    pub pids: Option<u64>,
}

/// `POST /v1/sandboxes`; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSandbox {
    pub source: Option<SourceSpec>,
    /// Milliseconds until every process is killed: 1000 (1 s) to 2592000000 (30 days);
    /// default one hour.
    #[schema(minimum = 1000, maximum = 2592000000u64)]
    pub timeout: Option<u64>,
    /// Ports (1-65535) a process inside will listen on, reachable through this server.
    #[serde(default)]
    #[schema(value_type = Vec<u16>, minimum = 1)]
    pub ports: Vec<u16>,
    pub resources: Option<Resources>,
    /// Variables every command starts with (kept in the sandbox's record: not for secrets).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[schema(value_type = Option<crate::policy::schema::NetworkPolicy>)]
    pub network_policy: Option<NetworkPolicyBody>,
    /// 1-64 letters, digits, '-', '_' or '.' (not first); unique among the caller's own
    /// sandboxes (409 when taken), whatever other tenants call theirs.
    pub name: Option<String>,
}

/// The sandbox spec a request asks for, checked field by field.
pub fn spec_of(body: &CreateSandbox) -> Result<SandboxSpec, ApiError> {
    let invalid = |m: String| Err(ApiError::Invalid(m));
    let workspace = match &body.source {
        None | Some(SourceSpec::Empty) => WorkspaceSource::Empty,
        Some(SourceSpec::Directory { path }) => {
            if !path.starts_with('/') {
                return invalid(format!("source.path {path:?}: give an absolute host path"));
            }
            // Resolved, and kept clear of the server's state, by the handler.
            WorkspaceSource::Empty
        }
        // Resolved against the caller's snapshots by the handler.
        Some(SourceSpec::Snapshot { .. }) => WorkspaceSource::Empty,
        Some(SourceSpec::Git {
            url,
            revision,
            depth,
        }) => WorkspaceSource::Git {
            url: url.clone(),
            revision: revision.clone(),
            depth: *depth,
        },
    };
    let timeout = match body.timeout {
        None => Some(warden_sandbox::spec::DEFAULT_TIMEOUT),
        Some(ms) if !TIMEOUT_MS.contains(&ms) => {
            return invalid(format!(
                "timeout {ms}: give milliseconds from 1000 (1 s) to 2592000000 (30 days)"
            ))
        }
        Some(ms) => Some(Duration::from_millis(ms)),
    };
    let mut ports = Vec::new();
    for (i, port) in body.ports.iter().enumerate() {
        if *port == 0 || ports.contains(port) {
            return invalid(format!("ports[{i}]: {port} is 0 or given twice"));
        }
        ports.push(*port);
    }
    if ports.len() > MAX_PORTS {
        return invalid(format!("ports: at most {MAX_PORTS}"));
    }
    let limits = limits_of(body.resources.as_ref())?;
    let mut env = Vec::new();
    for (name, value) in &body.env {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return invalid(format!(
                "env.{name:?}: a name is not empty and has no '=' or NUL; a value has no NUL"
            ));
        }
        env.push((name.clone(), value.as_str().into()));
    }
    let rules = match &body.network_policy {
        Some(p) => p.to_update("networkPolicy")?,
        None => warden_sandbox::PolicyUpdate::default(),
    };
    let mut spec = SandboxSpec {
        name: body.name.clone(),
        workspace,
        policy: rules.policy,
        deny: rules.deny,
        transforms: rules.transforms,
        timeout,
        ports,
        limits,
        env,
        ..SandboxSpec::default()
    };
    spec.validate().map_err(|e| match e {
        warden_sandbox::SandboxError::Invalid(m) => ApiError::Invalid(m.replacen("--", "", 1)),
        other => other.into(),
    })?;
    // Names are the tenant's own (see crate::names): checked as the sandbox layer checks
    // them, then kept as a label rather than as the sandbox layer's global name.
    if let Some(name) = spec.name.take() {
        spec.labels.insert(NAME_LABEL.to_string(), name);
    }
    Ok(spec)
}

/// The limits `resources` asks for, in the ranges `warden sandbox create` takes.
pub fn limits_of(resources: Option<&Resources>) -> Result<Limits, ApiError> {
    use warden_sandbox::flags::{CPUS_RANGE, MEMORY_RANGE, PIDS_RANGE};
    let Some(r) = resources else {
        return Ok(Limits::default());
    };
    if let Some(v) = r.vcpus {
        if !(v.is_finite() && (CPUS_RANGE.0..=CPUS_RANGE.1).contains(&v)) {
            return Err(ApiError::Invalid(format!(
                "resources.vcpus {v}: give {} to {} CPUs",
                CPUS_RANGE.0, CPUS_RANGE.1
            )));
        }
    }
    let memory_bytes = match r.memory {
        None => None,
        Some(mib) => match mib.checked_mul(MIB) {
            Some(b) if (MEMORY_RANGE.0..=MEMORY_RANGE.1).contains(&b) => Some(b),
            _ => {
                return Err(ApiError::Invalid(format!(
                    "resources.memory {mib}: give {} to {} MiB (a sandbox needs 32 MiB to start)",
                    MEMORY_RANGE.0 / MIB,
                    MEMORY_RANGE.1 / MIB
                )))
            }
        },
    };
    if let Some(p) = r.pids {
        if !(PIDS_RANGE.0..=PIDS_RANGE.1).contains(&p) {
            return Err(ApiError::Invalid(format!(
                "resources.pids {p}: give {} to {}",
                PIDS_RANGE.0, PIDS_RANGE.1
            )));
        }
    }
    Ok(Limits {
        cpus: r.vcpus,
        memory_bytes,
        pids: r.pids,
    })
}
