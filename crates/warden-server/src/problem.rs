//! Every error the API answers: one typed enum, mapped once to RFC 7807 problem JSON.
//!
//! Handlers return [`ApiError`]; sandbox errors convert with `?` ([`From<SandboxError>`]),
//! and axum's own rejections (bad JSON, wrong content type, body too large, bad path or
//! query) go through the extractors of [`crate::extract`], so nothing leaves the server
//! as a plain-text error. Internal failures are logged in full and answered without
//! their details (which name host paths).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_sandbox::SandboxError;

/// Where problem types live: `<BASE><slug>`.
pub const TYPE_BASE: &str = "https://warden.dev/problems/";

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    #[error("no sandbox {0:?}")]
    SandboxNotFound(String),
    #[error("no snapshot {0:?}")]
    SnapshotNotFound(String),
    /// Anything else that is not there: a file in a sandbox, a port, a route.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// Well-formed, but this server does not let the caller do it (a directory source
    /// outside every `--source-root`, say).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotRunning(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A published port that does not answer.
    #[error("{0}")]
    BadGateway(String),
    /// A failure of the machine, not of the request: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::SandboxNotFound(_)
            | ApiError::SnapshotNotFound(_)
            | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::NotRunning(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last part of the problem's `type` URI.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::SandboxNotFound(_)
            | ApiError::SnapshotNotFound(_)
            | ApiError::NotFound(_) => "not-found",
            ApiError::Invalid(_) => "invalid-request",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::NotRunning(_) => "not-running",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::BadGateway(_) => "bad-gateway",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Internal(_) => "the server failed; the details are in its log".to_string(),
            other => other.to_string(),
        };
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
        }
    }
}

/// An RFC 7807 problem document (`application/problem+json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// `https://warden.dev/problems/<slug>`.
    #[serde(rename = "type")]
    #[schema(example = "https://warden.dev/problems/not-found")]
    pub kind: String,
    #[schema(example = "Not Found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    /// What went wrong, naming the field at fault; never a secret.
    #[schema(example = "no sandbox \"sb-0123456789\"")]
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(message) = &self {
            tracing::error!(error = %message, "request failed");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}

impl From<SandboxError> for ApiError {
    fn from(e: SandboxError) -> ApiError {
        match e {
            SandboxError::NotFound(id) => ApiError::SandboxNotFound(id),
            SandboxError::SnapshotNotFound(id) => ApiError::SnapshotNotFound(id),
            SandboxError::NotRunning { id, status, .. } => {
                ApiError::NotRunning(format!("sandbox {id} is {status}, not running"))
            }
            e @ SandboxError::CommandNotFound { .. } => ApiError::NotFound(e.to_string()),
            e @ SandboxError::CommandEnded { .. } => ApiError::Conflict(e.to_string()),
            // The sandbox it was cloned into is removed already: nothing is left.
            e @ (SandboxError::Invalid(_)
            | SandboxError::Escape { .. }
            | SandboxError::GitClone { .. }) => ApiError::Invalid(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A task that panicked or was cancelled while doing a blocking sandbox call.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(format!("a blocking task failed: {e}"))
    }
}

/// Runs a blocking sandbox call on tokio's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, SandboxError> + Send + 'static,
    T: Send + 'static,
{
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// The answer to a path no route has.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", uri.path()))
}

/// The answer to a method a route does not take.
pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_errors_map_to_their_status() {
        let cases = [
            (SandboxError::NotFound("sb-1".into()), 404, "not-found"),
            (
                SandboxError::SnapshotNotFound("snap-1".into()),
                404,
                "not-found",
            ),
            (
                SandboxError::NotRunning {
                    id: "sb-1".into(),
                    status: "stopped".into(),
                    hint: String::new(),
                },
                409,
                "not-running",
            ),
            (SandboxError::Invalid("bad".into()), 400, "invalid-request"),
            (
                SandboxError::GitClone {
                    url: "https://git.test/r.git".into(),
                    message: "not found".into(),
                },
                400,
                "invalid-request",
            ),
            (
                SandboxError::CommandNotFound {
                    sandbox: "sb-1".into(),
                    command: "cmd-1".into(),
                },
                404,
                "not-found",
            ),
            (
                SandboxError::CommandEnded {
                    command: "cmd-1".into(),
                    status: "exited".into(),
                },
                409,
                "conflict",
            ),
            (
                SandboxError::Escape {
                    path: "/etc".into(),
                    reason: "outside".into(),
                },
                400,
                "invalid-request",
            ),
            (
                SandboxError::Start("boom at /root/x".into()),
                500,
                "internal",
            ),
        ];
        for (e, status, slug) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status().as_u16(), status, "{api:?}");
            assert_eq!(api.slug(), slug);
        }
    }

    #[test]
    fn internal_details_stay_in_the_log() {
        let problem = ApiError::Internal("reading /root/.local/state/x: denied".into()).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("/root"), "{}", problem.detail);
        assert_eq!(problem.kind, "https://warden.dev/problems/internal");
    }
}
