//! `/v1/sandboxes`: create, list, get, destroy, stop, extend-timeout, network policy.

use crate::auth::{Caller, TENANT_LABEL};
use crate::extract::{ApiJson, ApiPath};
use crate::policy::{NetworkPolicyBody, NetworkPolicyView};
use crate::problem::{blocking, ApiError, Problem};
use crate::state::{AppState, PublicUrls};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_sandbox::limits::Limits;
use warden_sandbox::{SandboxMeta, SandboxSpec, Status, WorkspaceSource};

const MIB: u64 = 1 << 20;
/// A sandbox's `timeout`, in ms: 1 s to 30 days, as `warden sandbox create --timeout`.
pub const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=30 * 86_400_000;
/// More published ports than this is a mistake, not a plan.
const MAX_PORTS: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_sandbox, list_sandboxes))
        .routes(routes!(get_sandbox, destroy_sandbox))
        .routes(routes!(stop_sandbox))
        .routes(routes!(extend_timeout))
        .routes(routes!(set_network_policy))
}

/// Where /workspace starts from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceSpec {
    Empty,
    /// A copy of a host directory (`.env*` files and `.warden/` left out).
    Directory {
        path: String,
    },
    /// The workspace and home of one of the caller's snapshots.
    Snapshot {
        #[serde(rename = "snapshotId")]
        snapshot_id: String,
    },
    /// A git repository cloned into /workspace (not implemented yet: 501).
    Git {
        url: String,
        revision: Option<String>,
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
    pub name: Option<String>,
}

/// `POST /v1/sandboxes/{id}/extend-timeout`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendTimeout {
    /// Milliseconds added to the deadline: 1000 to 2592000000 (30 days).
    #[schema(minimum = 1000, maximum = 2592000000u64)]
    pub duration: u64,
}

/// The lifecycle state of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxStatus {
    Starting,
    Running,
    TimedOut,
    Stopped,
    Failed,
    Corrupt,
}

impl From<Status> for SandboxStatus {
    fn from(s: Status) -> SandboxStatus {
        match s {
            Status::Starting => SandboxStatus::Starting,
            Status::Running => SandboxStatus::Running,
            Status::TimedOut => SandboxStatus::TimedOut,
            Status::Stopped => SandboxStatus::Stopped,
            Status::Failed => SandboxStatus::Failed,
            Status::Corrupt => SandboxStatus::Corrupt,
        }
    }
}

/// A published port and the two URLs that reach it through this server.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortView {
    pub port: u16,
    /// `http://<port>-<id>.localhost:<listen-port>`.
    pub url: String,
    /// `http://<listen>/v1/ports/<id>/<port>/`.
    pub path_url: String,
}

/// A sandbox, as every sandbox answer shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sandbox {
    pub id: String,
    pub name: Option<String>,
    pub status: SandboxStatus,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// When every process is killed (ms since the epoch); null: never.
    pub timeout_at: Option<u64>,
    /// Where /workspace came from; null when it started empty.
    pub source: Option<String>,
    pub ports: Vec<PortView>,
    pub resources: Resources,
    pub network_policy: NetworkPolicyView,
}

impl Sandbox {
    pub fn of(meta: &SandboxMeta, urls: &PublicUrls) -> Sandbox {
        Sandbox {
            id: meta.id.clone(),
            name: meta.name.clone(),
            status: meta.effective_status().into(),
            created_at: meta.created_ms,
            timeout_at: meta.deadline_ms,
            source: meta.source.clone(),
            ports: meta
                .ports
                .iter()
                .map(|p| PortView {
                    port: p.sandbox,
                    url: urls.by_host(&meta.id, p.sandbox),
                    path_url: urls.by_path(&meta.id, p.sandbox),
                })
                .collect(),
            resources: Resources {
                vcpus: meta.limits.cpus,
                memory: meta.limits.memory_bytes.map(|b| b / MIB),
                pids: meta.limits.pids,
            },
            network_policy: NetworkPolicyView::of(&meta.policy),
        }
    }
}

/// `{"sandboxes": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SandboxList {
    pub sandboxes: Vec<Sandbox>,
}

/// Create a sandbox; answers once it runs.
#[utoipa::path(post, path = "/v1/sandboxes", tag = "sandboxes",
    request_body = CreateSandbox,
    responses(
        (status = 201, body = Sandbox),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the snapshot source is not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "git source, deny lists, header transforms", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSandbox>,
) -> Result<(StatusCode, Json<Sandbox>), ApiError> {
    let mut spec = spec_of(&body)?;
    match &body.source {
        Some(SourceSpec::Snapshot { snapshot_id }) => {
            let snap = state.snapshot(&caller, snapshot_id).await?;
            spec.workspace = WorkspaceSource::Snapshot(snap.id);
        }
        Some(SourceSpec::Directory { path }) => {
            let (state, path) = (state.clone(), path.clone());
            let dir = tokio::task::spawn_blocking(move || state.source_dir(&path)).await??;
            spec.workspace = WorkspaceSource::Copy(dir);
        }
        _ => {}
    }
    spec.labels
        .insert(TENANT_LABEL.to_string(), caller.name().to_string());
    let sandboxes = state.sandboxes.clone();
    let name = spec.name.clone();
    let meta = blocking(move || {
        if let Some(name) = &name {
            if sandboxes.root().name_taken(name)? {
                return Ok(Err(ApiError::Conflict(format!(
                    "name: a sandbox named {name:?} exists"
                ))));
            }
        }
        sandboxes.create(&spec).map(Ok)
    })
    .await??;
    state.reaper.track(meta.supervisor_pid);
    tracing::info!(sandbox = %meta.id, tenant = caller.name(), "sandbox created");
    Ok((StatusCode::CREATED, Json(Sandbox::of(&meta, &state.urls))))
}

/// The sandbox spec a request asks for, checked field by field.
fn spec_of(body: &CreateSandbox) -> Result<SandboxSpec, ApiError> {
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
        Some(SourceSpec::Git { .. }) => {
            return Err(ApiError::not_implemented("a git source"));
        }
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
    let policy = match &body.network_policy {
        Some(p) => p.to_sandbox("networkPolicy")?,
        None => warden_sandbox::NetworkPolicy::DenyAll,
    };
    let spec = SandboxSpec {
        name: body.name.clone(),
        workspace,
        policy,
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
    Ok(spec)
}

/// The limits `resources` asks for, in the ranges `warden sandbox create` takes.
fn limits_of(resources: Option<&Resources>) -> Result<Limits, ApiError> {
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

/// The caller's sandboxes, oldest first.
#[utoipa::path(get, path = "/v1/sandboxes", tag = "sandboxes",
    responses((status = 200, body = SandboxList)),
    security(("bearer" = [])))]
pub async fn list_sandboxes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SandboxList>, ApiError> {
    let all = state.sandboxes_of(&caller).await?;
    Ok(Json(SandboxList {
        sandboxes: all.iter().map(|m| Sandbox::of(m, &state.urls)).collect(),
    }))
}

/// One sandbox.
#[utoipa::path(get, path = "/v1/sandboxes/{id}", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 200, body = Sandbox),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Sandbox>, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    Ok(Json(Sandbox::of(&meta, &state.urls)))
}

/// End every process of a sandbox and remove its files.
#[utoipa::path(delete, path = "/v1/sandboxes/{id}", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 204, description = "destroyed"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn destroy_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    blocking(move || sandboxes.destroy(&meta.id)).await?;
    state.reaper.reap();
    tracing::info!(sandbox = %id, tenant = caller.name(), "sandbox destroyed");
    Ok(StatusCode::NO_CONTENT)
}

/// End every process of a sandbox and keep its files (not implemented yet: 501).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/stop", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 200, body = Sandbox),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn stop_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Sandbox>, ApiError> {
    state.sandbox(&caller, &id).await?;
    Err(ApiError::not_implemented("stopping a sandbox"))
}

/// Push a sandbox's deadline back (not implemented yet: 501).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/extend-timeout", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    request_body = ExtendTimeout,
    responses(
        (status = 200, body = Sandbox),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn extend_timeout(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ExtendTimeout>,
) -> Result<Json<Sandbox>, ApiError> {
    state.sandbox(&caller, &id).await?;
    if !TIMEOUT_MS.contains(&body.duration) {
        return Err(ApiError::Invalid(format!(
            "duration {}: give milliseconds from 1000 (1 s) to 2592000000 (30 days)",
            body.duration
        )));
    }
    Err(ApiError::not_implemented("extending a sandbox's timeout"))
}

/// Replace a running sandbox's network policy; new connections see it at once.
#[utoipa::path(put, path = "/v1/sandboxes/{id}/network-policy", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    request_body = crate::policy::schema::NetworkPolicy,
    responses(
        (status = 200, body = NetworkPolicyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "deny lists, header transforms", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn set_network_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NetworkPolicyBody>,
) -> Result<Json<NetworkPolicyView>, ApiError> {
    let meta = state.running_sandbox(&caller, &id).await?;
    let policy = body.to_sandbox("networkPolicy")?;
    let sandboxes = state.sandboxes.clone();
    let applied = policy.clone();
    blocking(move || sandboxes.set_policy(&meta.id, applied)).await?;
    Ok(Json(NetworkPolicyView::of(&policy)))
}
