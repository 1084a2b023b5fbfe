//! `/v1/sandboxes`: create, list, get, destroy, stop, extend-timeout, network policy.

use crate::auth::{Caller, TENANT_LABEL};
use crate::extract::{ApiJson, ApiPath};
use crate::names::NAME_LABEL;
use crate::policy::{NetworkPolicyBody, NetworkPolicyView};
use crate::problem::{blocking, ApiError, Problem};
use crate::sandbox_spec::{spec_of, CreateSandbox, Resources, SourceSpec, MIB, TIMEOUT_MS};
use crate::state::{AppState, PublicUrls};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_sandbox::{SandboxMeta, Status, WorkspaceSource};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_sandbox, list_sandboxes))
        .routes(routes!(get_sandbox, destroy_sandbox))
        .routes(routes!(stop_sandbox))
        .routes(routes!(extend_timeout))
        .routes(routes!(set_network_policy))
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
            name: crate::names::name_of(meta),
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
            network_policy: meta.policy_view().into(),
        }
    }
}

/// `{"sandboxes": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SandboxList {
    pub sandboxes: Vec<Sandbox>,
}

/// Create a sandbox; answers once it runs (for a git source, once it is cloned).
#[utoipa::path(post, path = "/v1/sandboxes", tag = "sandboxes",
    request_body = CreateSandbox,
    responses(
        (status = 201, body = Sandbox),
        (status = 400, description = "a field is wrong, or the git clone failed (no sandbox is left)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a directory source outside every --source-root, or on a server with several tenants and none", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the snapshot source is not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the caller has a sandbox with this name", body = Problem, content_type = "application/problem+json"),
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
            let (sources, path) = (state.sources.clone(), path.clone());
            let dir = tokio::task::spawn_blocking(move || sources.resolve(&path)).await??;
            spec.workspace = WorkspaceSource::Copy(dir);
        }
        _ => {}
    }
    // Held until the record exists: no other create of this tenant takes the name.
    let _claim = match spec.labels.get(NAME_LABEL) {
        Some(name) => {
            let claim = state.names.claim(&caller, name)?;
            Some(claim.free_among(&state.sandboxes_of(&caller).await?)?)
        }
        None => None,
    };
    spec.labels
        .insert(TENANT_LABEL.to_string(), caller.name().to_string());
    let sandboxes = state.sandboxes.clone();
    let created = blocking(move || sandboxes.create(&spec)).await;
    let meta = match created {
        Ok(meta) => meta,
        Err(e) => {
            // A failed git clone started (and removed) a sandbox: its supervisor is ours.
            state.reaper.reap();
            return Err(e);
        }
    };
    state.reaper.track(meta.supervisor_pid);
    tracing::info!(sandbox = %meta.id, tenant = caller.name(), "sandbox created");
    Ok((StatusCode::CREATED, Json(Sandbox::of(&meta, &state.urls))))
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

/// End every process of a sandbox and keep its files: they can still be read and
/// snapshotted; commands and policy changes answer 409; destroy removes it. A sandbox that
/// has already ended is answered as it is.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/stop", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 200, body = Sandbox),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "its record is corrupt (destroy still removes it)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn stop_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Sandbox>, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let stopped = blocking(move || sandboxes.stop(&meta.id)).await?;
    state.reaper.reap();
    tracing::info!(sandbox = %id, tenant = caller.name(), "sandbox stopped");
    Ok(Json(Sandbox::of(&stopped, &state.urls)))
}

/// Push a running sandbox's deadline back by `duration` (counted from now if it had
/// passed); a sandbox without a deadline keeps none.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/extend-timeout", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    request_body = ExtendTimeout,
    responses(
        (status = 200, body = Sandbox),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the sandbox is not running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn extend_timeout(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ExtendTimeout>,
) -> Result<Json<Sandbox>, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    if !TIMEOUT_MS.contains(&body.duration) {
        return Err(ApiError::Invalid(format!(
            "duration {}: give milliseconds from 1000 (1 s) to 2592000000 (30 days)",
            body.duration
        )));
    }
    let sandboxes = state.sandboxes.clone();
    let by = Duration::from_millis(body.duration);
    let extended = blocking(move || sandboxes.extend_timeout(&meta.id, by)).await?;
    Ok(Json(Sandbox::of(&extended, &state.urls)))
}

/// Replace a running sandbox's whole network policy (allowed hosts, deny list, header
/// transforms); new connections, and new requests on intercepted ones, see it at once.
#[utoipa::path(put, path = "/v1/sandboxes/{id}/network-policy", tag = "sandboxes",
    params(("id" = String, Path, description = "sb-…")),
    request_body = crate::policy::schema::NetworkPolicy,
    responses(
        (status = 200, body = NetworkPolicyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the sandbox is not running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn set_network_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NetworkPolicyBody>,
) -> Result<Json<NetworkPolicyView>, ApiError> {
    let meta = state.running_sandbox(&caller, &id).await?;
    let update = body.to_update("networkPolicy")?;
    let sandboxes = state.sandboxes.clone();
    let view = blocking(move || sandboxes.update_policy(&meta.id, &update)).await?;
    Ok(Json(view.into()))
}
