//! `/v1/sandboxes/{id}/commands`: run a command and wait, stream its output, or detach
//! it (the sandbox's supervisor runs it, whatever happens to the client or the server)
//! and look at it later: status, logs, wait, kill.

use crate::auth::Caller;
use crate::exec::{self, CommandEvent, Format};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{blocking, ApiError, Problem};
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
use warden_sandbox::{CommandInfo, ExecRequest};

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

/// `running`, `exited` (by itself: see `exitCode`) or `killed` (by a signal: `kill`,
/// its timeout, or its sandbox ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// Its working directory inside the sandbox.
    pub cwd: String,
    /// Milliseconds since the Unix epoch.
    pub started_at: u64,
    /// Null while it runs; 128+signal when a signal ended it.
    pub exit_code: Option<i32>,
    pub status: CommandStatus,
}

impl From<CommandInfo> for Command {
    fn from(info: CommandInfo) -> Command {
        let mut argv = info.argv.iter().map(|a| a.lossy());
        Command {
            cmd_id: info.id.clone(),
            cmd: argv.next().unwrap_or_default(),
            args: argv.collect(),
            cwd: info.cwd.lossy(),
            started_at: info.started_ms,
            exit_code: info.exit_code,
            status: match info.status {
                warden_sandbox::CommandStatus::Running => CommandStatus::Running,
                warden_sandbox::CommandStatus::Exited => CommandStatus::Exited,
                warden_sandbox::CommandStatus::Killed => CommandStatus::Killed,
            },
        }
    }
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
    /// A signal name (`SIGTERM`, `TERM`) or number (`15`), 1-31; default SIGTERM.
    #[schema(example = "SIGTERM")]
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
        (status = 200, description = "`Accept: application/json` (the default): waited for, \
            output in the answer. `Accept: application/x-ndjson`: one event per line as it happens; \
            `Accept: text/event-stream`: the same events as SSE. The `exit` (or `error`) event is \
            last; a client that disconnects kills the command.",
            content(
                (CommandResult = "application/json"),
                (CommandEvent = "application/x-ndjson"),
                (CommandEvent = "text/event-stream"),
            )),
        (status = 201, description = "detached: started, not waited for", body = Command),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the sandbox is not running", body = Problem, content_type = "application/problem+json"),
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
        let sandboxes = state.sandboxes.clone();
        let stdin = body.stdin.map(String::into_bytes);
        let info =
            blocking(move || sandboxes.spawn_command(&meta.id, &request, stdin.as_deref())).await?;
        tracing::info!(sandbox = %id, cmd = %info.id, "detached command started");
        return Ok((StatusCode::CREATED, Json(Command::from(info))).into_response());
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
    Ok(event_stream(events, format))
}

/// A 200 whose body is `events` as they come, unbuffered by proxies.
fn event_stream(
    events: impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>>
        + Send
        + 'static,
    format: Format,
) -> Response {
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A sandbox's detached commands, oldest first (in a sandbox of any status).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "sb-…")),
    responses(
        (status = 200, body = CommandList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_commands(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CommandList>, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let sandboxes = state.sandboxes.clone();
    let all = blocking(move || sandboxes.commands(&meta.id)).await?;
    Ok(Json(CommandList {
        commands: all.into_iter().map(Command::from).collect(),
    }))
}

/// The caller's command `cmd_id` of sandbox `id`, else 404.
async fn command_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
    cmd_id: &str,
) -> Result<CommandInfo, ApiError> {
    let meta = state.sandbox(caller, id).await?;
    let (sandboxes, cmd_id) = (state.sandboxes.clone(), cmd_id.to_string());
    blocking(move || sandboxes.command(&meta.id, &cmd_id)).await
}

/// How often `?wait=true` looks whether the command has ended.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// One detached command; `?wait=true` answers once it is no longer running.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{cmdId}", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…"), WaitQuery),
    responses(
        (status = 200, body = Command),
        (status = 400, description = "a bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, cmd_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Json<Command>, ApiError> {
    let mut info = command_of(&state, &caller, &id, &cmd_id).await?;
    // A client that goes away drops this future, and with it the wait.
    while query.wait && info.is_running() {
        tokio::time::sleep(WAIT_POLL).await;
        info = command_of(&state, &caller, &id, &cmd_id).await?;
    }
    Ok(Json(Command::from(info)))
}

/// A detached command's output from the start, as NDJSON (or SSE, by `Accept`),
/// following it until it ends (`?follow=false`: what there is now); the `exit` event
/// is last once it has ended.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{cmdId}/logs", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…"), FollowQuery),
    responses(
        (status = 200, description = "`start`, `stdout`/`stderr` chunks, then `exit` (or `error`) \
            once the command has ended; one event per line, or SSE with `Accept: text/event-stream`",
            content(
                (CommandEvent = "application/x-ndjson"),
                (CommandEvent = "text/event-stream"),
            )),
        (status = 400, description = "a bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn command_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, cmd_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<FollowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let info = command_of(&state, &caller, &id, &cmd_id).await?;
    let format = format_of(&headers).unwrap_or(Format::Ndjson);
    let events = crate::logs::stream(
        state.sandboxes.clone(),
        id,
        info,
        query.follow.unwrap_or(true),
        format,
    );
    Ok(event_stream(events, format))
}

/// Send a signal to a running detached command's process group.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands/{cmdId}/kill", tag = "commands",
    params(("id" = String, Path, description = "sb-…"), ("cmdId" = String, Path, description = "cmd-…")),
    request_body = KillCommand,
    responses(
        (status = 202, description = "the signal was sent"),
        (status = 400, description = "not a signal", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the command (or its sandbox) is no longer running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn kill_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, cmd_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<KillCommand>,
) -> Result<StatusCode, ApiError> {
    let meta = state.sandbox(&caller, &id).await?;
    let signal = warden_sandbox::parse_signal(body.signal.as_deref().unwrap_or("SIGTERM"))?;
    let sandboxes = state.sandboxes.clone();
    blocking(move || sandboxes.kill_command(&meta.id, &cmd_id, signal)).await?;
    Ok(StatusCode::ACCEPTED)
}
