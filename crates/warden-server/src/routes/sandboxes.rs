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
    /// CPUs (fractions allowed: 0.5 is half of one).
    pub vcpus: Option<f64>,
    /// Memory in MiB.
    pub memory: Option<u64>,
    /// Processes and threads at once.
    pub pids: Option<u64>,
}

/// `POST /v1/sandboxes`; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSandbox {
    pub source: Option<SourceSpec>,
    /// Milliseconds until every process is killed (default one hour).
    pub timeout: Option<u64>,
    #[serde(default)]
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
    /// Milliseconds added to the deadline.
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
        Some(0) => return invalid("timeout: give milliseconds above 0".into()),
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
    let resources = body.resources.clone().unwrap_or_default();
    let limits = Limits {
        cpus: match resources.vcpus {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                return invalid("resources.vcpus: give a number of CPUs above 0".into())
            }
            v => v,
        },
        memory_bytes: match resources.memory {
            Some(0) => return invalid("resources.memory: give MiB above 0".into()),
            Some(m) => Some(
                m.checked_mul(MIB)
                    .ok_or_else(|| ApiError::Invalid("resources.memory: too large".into()))?,
            ),
            None => None,
        },
        pids: match resources.pids {
            Some(0) => return invalid("resources.pids: give a number above 0".into()),
            p => p,
        },
    };
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
    if body.duration == 0 {
        return Err(ApiError::Invalid(
            "duration: give milliseconds above 0".into(),
        ));
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
