//! `/v1/sandboxes/{id}/commands`: run a command and wait, or stream its output.
//! Detached commands (ids, status, logs, kill) wait for the sandbox layer: 501.

use crate::auth::Caller;
use crate::exec::{self, CommandEvent, Format};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_sandbox::ExecRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_command, list_commands))
        .routes(routes!(get_command))
        .routes(routes!(command_logs))
        .routes(routes!(kill_command))
}

/// `POST /v1/sandboxes/{id}/commands`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommand {
    /// The program (looked up on the sandbox's PATH).
    pub cmd: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Absolute, inside the sandbox; default /workspace.
    pub cwd: Option<String>,
    /// Added to (and overriding) the sandbox's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Milliseconds before the command's process group is killed (exit code 124): 100
    /// to 2592000000 (30 days), as `warden sandbox exec --timeout`.
    #[schema(minimum = 100, maximum = 2592000000u64)]
    pub timeout: Option<u64>,
    /// Return at once with a `Command`; it runs until it exits or the sandbox ends.
    #[serde(default)]
    pub detached: bool,
    /// Text the command reads on stdin (default: none, /dev/null).
    pub stdin: Option<String>,
}

/// A command waited for (`Accept: application/json`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandResult {
    pub cmd_id: String,
    /// The code, 128+signal when killed by one, 124 when its timeout passed.
    pub exit_code: i32,
    /// Decoded lossily as UTF-8; at most 16 MiB kept (stream for more).
    pub stdout: String,
    pub stderr: String,
    /// More output was written than kept.
    pub truncated: bool,
}

/// `running`, `exited` or `killed`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatus {
    Running,
    Exited,
    Killed,
}

/// A detached command.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Command {
    pub cmd_id: String,
    pub cmd: String,
    pub args: Vec<String>,
    pub cwd: String,
    pub started_at: u64,
    pub exit_code: Option<i32>,
    pub status: CommandStatus,
}

/// `{"commands": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandList {
    pub commands: Vec<Command>,
}

/// `POST .../kill`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillCommand {
    /// A signal name (default SIGTERM).
    pub signal: Option<String>,
}

/// `?wait=true`: answer once the command has exited.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    #[serde(default)]
    pub wait: bool,
}

/// `?follow=false`: only what there is now.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowQuery {
    pub follow: Option<bool>,
}

/// Signals `kill` accepts.
const SIGNALS: [&str; 6] = [
    "SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1",
];

impl RunCommand {
    fn to_request(&self) -> Result<ExecRequest, ApiError> {
        let invalid = |m: String| Err(ApiError::Invalid(m));
        if self.cmd.is_empty() || self.cmd.contains('\0') {
            return invalid("cmd: give a program name, without NUL".into());
        }
        if let Some(i) = self.args.iter().position(|a| a.contains('\0')) {
            return invalid(format!("args[{i}]: contains NUL"));
        }
        let mut request = ExecRequest::new(
            std::iter::once(self.cmd.as_str()).chain(self.args.iter().map(String::as_str)),
        );
        if let Some(cwd) = &self.cwd {
            if !cwd.starts_with('/') || cwd.contains('\0') {
                return invalid(format!("cwd {cwd:?}: give an absolute path in the sandbox"));
            }
            request = request.cwd(cwd.as_str());
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return invalid(format!(
                    "env.{name:?}: a name is not empty and has no '=' or NUL; a value has no NUL"
                ));
            }
            request = request.env(name.as_str(), value.as_str());
        }
        match self.timeout {
            Some(ms) if !(100..=30 * 86_400_000).contains(&ms) => {
                return invalid(format!(
                    "timeout {ms}: give milliseconds from 100 to 2592000000 (30 days)"
                ))
            }
            Some(ms) => request.timeout_ms = Some(ms),
            None => {}
        }
        Ok(request)
    }
}

/// Which answer the client asked for with `Accept`.
fn format_of(headers: &HeaderMap) -> Option<Format> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    if accept.contains("text/event-stream") {
        Some(Format::Sse)
    } else if accept.contains("application/x-ndjson") {
        Some(Format::Ndjson)
    } else {
        None
    }
}

/// Run a command: wait for it (JSON), or stream its output (NDJSON or SSE, by `Accept`).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "sb-…")),
    request_body = RunCommand,
    responses(
        (status = 200, description = "waited for (`Accept: application/json`)", body = CommandResult),
        (status = 200, description = "`Accept: application/x-ndjson`: one event per line; \
            `Accept: text/event-stream`: the same events as SSE. The `exit` (or `error`) event is last; \
            a client that disconnects kills the command.", body = CommandEvent, content_type = "application/x-ndjson"),
        (status = 201, description = "detached (not implemented yet: 501)", body = Command),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn run_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RunCommand>,
) -> Result<Response, ApiError> {
    let request = body.to_request()?;
    let meta = state.running_sandbox(&caller, &id).await?;
    if body.detached {
        return Err(ApiError::not_implemented("a detached command"));
    }
    let cmd_id = warden_sandbox::state::new_id("cmd");
    let stdin = body.stdin.map(String::into_bytes);
    tracing::info!(sandbox = %meta.id, cmd = %cmd_id, "command started");
    let Some(format) = format_of(&headers) else {
        let out = exec::wait(&state.sandboxes, &meta.id, &request, stdin).await?;
        return Ok(Json(CommandResult {
            cmd_id,
            exit_code: exec::exit_code(out.exit),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            truncated: out.stdout_truncated || out.stderr_truncated,
        })
        .into_response());
    };
    let events = exec::stream(
        state.sandboxes.clone(),
        meta.id,
        cmd_id,
        request,
        stdin,
        format,
    )?;
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// A sandbox's detached commands (not implemented yet: 501).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 200, body = CommandList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_commands(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CommandList>, ApiError> {
    state.sandbox(&caller, &id).await?;
    Err(ApiError::not_implemented("listing detached commands"))
}

/// One detached command; `?wait=true` answers once it has exited (not implemented yet: 501).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{cmdId}", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…"), WaitQuery),
    responses(
        (status = 200, body = Command),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, _cmd_id)): ApiPath<(String, String)>,
    ApiQuery(_wait): ApiQuery<WaitQuery>,
) -> Result<Json<Command>, ApiError> {
    state.sandbox(&caller, &id).await?;
    Err(ApiError::not_implemented("detached command status"))
}

/// A detached command's output from the start, as NDJSON or SSE, following it until it
/// exits (`?follow=false`: what there is now); ends with the `exit` event (not implemented yet: 501).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{cmdId}/logs", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…"), FollowQuery),
    responses(
        (status = 200, body = CommandEvent, content_type = "application/x-ndjson"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn command_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, _cmd_id)): ApiPath<(String, String)>,
    ApiQuery(_follow): ApiQuery<FollowQuery>,
) -> Result<Response, ApiError> {
    state.sandbox(&caller, &id).await?;
    Err(ApiError::not_implemented("detached command logs"))
}

/// Send a signal to a detached command (not implemented yet: 501).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands/{cmdId}/kill", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…")),
    request_body = KillCommand,
    responses(
        (status = 202, description = "the signal was sent"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 501, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn kill_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, _cmd_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<KillCommand>,
) -> Result<StatusCode, ApiError> {
    state.sandbox(&caller, &id).await?;
    if let Some(signal) = &body.signal {
        if !SIGNALS.contains(&signal.as_str()) {
            return Err(ApiError::Invalid(format!(
                "signal {signal:?}: one of {}",
                SIGNALS.join(", ")
            )));
        }
    }
    Err(ApiError::not_implemented("killing a detached command"))
}
