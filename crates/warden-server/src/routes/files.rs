//! `/v1/sandboxes/{id}/files` and `/directories`: files in and out of a sandbox, under
//! /workspace or /home/sandbox only, with the confinement of `warden sandbox cp`
//! (`..`, symlinks and other places answer 400).

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{blocking, ApiError, Problem};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_sandbox::file_ops::EntryKind;
use warden_sandbox::SandboxError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write_files, read_file))
        .routes(routes!(make_directory, list_directory))
}

/// One file to write.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileWrite {
    /// Absolute, under /workspace or /home/sandbox.
    pub path: String,
    /// The bytes, base64.
    pub content: String,
    /// Permission bits (default 0o644 = 420).
    pub mode: Option<u32>,
}

/// `POST /v1/sandboxes/{id}/files`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFiles {
    pub files: Vec<FileWrite>,
}

/// `?path=/workspace/...`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// Absolute, under /workspace or /home/sandbox.
    pub path: String,
}

/// `POST /v1/sandboxes/{id}/directories`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeDirectory {
    pub path: String,
    /// Make missing parents too; an existing directory is then fine.
    #[serde(default)]
    pub parents: bool,
}

/// What an entry is (symlinks are listed, never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    File,
    Directory,
    Symlink,
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    /// The name (decoded lossily when it is not UTF-8).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub size: u64,
}

/// `{"entries": [...]}`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectoryListing {
    pub entries: Vec<Entry>,
}

/// A file that is not there is 404, not the 400 of a path that may not be used.
fn file_error(path: &str, e: SandboxError) -> ApiError {
    match e {
        SandboxError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ApiError::NotFound(format!("{path}: no such file or directory in the sandbox"))
        }
        other => other.into(),
    }
}

/// Write files (base64 content); parent directories are made.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/files", tag = "files",
    params(("id" = String, Path, description = "sb-…")),
    request_body = WriteFiles,
    responses(
        (status = 204, description = "written"),
        (status = 400, description = "a bad path, base64 or mode", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn write_files(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<WriteFiles>,
) -> Result<StatusCode, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let mut decoded = Vec::with_capacity(body.files.len());
    for (i, file) in body.files.into_iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.content.as_bytes())
            .map_err(|e| ApiError::Invalid(format!("files[{i}].content: not base64 ({e})")))?;
        if file.mode.is_some_and(|m| m > 0o7777) {
            return Err(ApiError::Invalid(format!(
                "files[{i}].mode: permission bits are at most 0o7777 (4095)"
            )));
        }
        decoded.push((file.path, bytes, file.mode));
    }
    let sandboxes = state.sandboxes.clone();
    tokio::task::spawn_blocking(move || {
        for (path, bytes, mode) in decoded {
            sandboxes
                .write_file(&meta.id, &PathBuf::from(&path), &bytes, mode)
                .map_err(|e| file_error(&path, e))?;
        }
        Ok::<_, ApiError>(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Read a file's bytes.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/files", tag = "files",
    params(("id" = String, Path, description = "sb-…"), PathQuery),
    responses(
        (status = 200, description = "the file's bytes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn read_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Response, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let path = query.path.clone();
    let file = blocking(move || Ok(sandboxes.open_file(&meta.id, &PathBuf::from(&path))))
        .await?
        .map_err(|e| file_error(&query.path, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(response)
}

/// Make a directory (`parents`: as `mkdir -p`).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/directories", tag = "files",
    params(("id" = String, Path, description = "sb-…")),
    request_body = MakeDirectory,
    responses(
        (status = 201, description = "made"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn make_directory(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MakeDirectory>,
) -> Result<StatusCode, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let path = body.path.clone();
    blocking(move || Ok(sandboxes.make_dir(&meta.id, &PathBuf::from(&path), body.parents)))
        .await?
        .map_err(|e| file_error(&body.path, e))?;
    Ok(StatusCode::CREATED)
}

/// List a directory.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/directories", tag = "files",
    params(("id" = String, Path, description = "sb-…"), PathQuery),
    responses(
        (status = 200, body = DirectoryListing),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_directory(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<DirectoryListing>, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let path = query.path.clone();
    let entries = blocking(move || Ok(sandboxes.list_dir(&meta.id, &PathBuf::from(&path))))
        .await?
        .map_err(|e| file_error(&query.path, e))?;
    Ok(Json(DirectoryListing {
        entries: entries
            .into_iter()
            .map(|e| Entry {
                name: e.name.to_string_lossy().into_owned(),
                kind: match e.kind {
                    EntryKind::File => EntryType::File,
                    EntryKind::Directory => EntryType::Directory,
                    EntryKind::Symlink => EntryType::Symlink,
                    EntryKind::Other => EntryType::Other,
                },
                size: e.size,
            })
            .collect(),
    }))
}
