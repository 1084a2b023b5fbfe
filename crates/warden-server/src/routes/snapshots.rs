//! Snapshots: a sandbox's /workspace and /home/sandbox captured while it keeps running,
//! listed, read and deleted per tenant.

use crate::auth::Caller;
use crate::extract::ApiPath;
use crate::problem::{blocking, ApiError, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_sandbox::SnapshotMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_snapshot))
        .routes(routes!(list_snapshots))
        .routes(routes!(get_snapshot, delete_snapshot))
}

/// A snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub snapshot_id: String,
    pub source_sandbox_id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    pub files: u64,
    pub bytes: u64,
}

impl From<&SnapshotMeta> for Snapshot {
    fn from(s: &SnapshotMeta) -> Snapshot {
        Snapshot {
            snapshot_id: s.id.clone(),
            source_sandbox_id: s.source_sandbox.clone(),
            created_at: s.created_ms,
            files: s.files,
            bytes: s.bytes,
        }
    }
}

/// `{"snapshots": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SnapshotList {
    pub snapshots: Vec<Snapshot>,
}

/// Capture a sandbox's /workspace and /home/sandbox; the sandbox keeps running.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/snapshot", tag = "snapshots",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 201, body = Snapshot),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let snap = blocking(move || sandboxes.snapshot(&meta.id)).await?;
    tracing::info!(snapshot = %snap.id, sandbox = %id, tenant = caller.name(), "snapshot taken");
    Ok((StatusCode::CREATED, Json(Snapshot::from(&snap))))
}

/// The caller's snapshots, oldest first.
#[utoipa::path(get, path = "/v1/snapshots", tag = "snapshots",
    responses((status = 200, body = SnapshotList)),
    security(("bearer" = [])))]
pub async fn list_snapshots(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SnapshotList>, ApiError> {
    let all = state.snapshots_of(&caller).await?;
    Ok(Json(SnapshotList {
        snapshots: all.iter().map(Snapshot::from).collect(),
    }))
}

/// One snapshot.
#[utoipa::path(get, path = "/v1/snapshots/{id}", tag = "snapshots",
    params(("id" = String, Path, description = "snap-…")),
    responses(
        (status = 200, body = Snapshot),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Snapshot>, ApiError> {
    let snap = state.snapshot(&caller, &id).await?;
    Ok(Json(Snapshot::from(&snap)))
}

/// Delete a snapshot (sandboxes made from it are not affected).
#[utoipa::path(delete, path = "/v1/snapshots/{id}", tag = "snapshots",
    params(("id" = String, Path, description = "snap-…")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let snap = state.snapshot(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    blocking(move || sandboxes.remove_snapshot(&snap.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
