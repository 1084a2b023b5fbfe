//! Reaching a sandbox's published ports through the server: by host
//! (`<port>-<sandbox-id>.localhost:<listen-port>`) or by path
//! (`/v1/ports/<sandbox-id>/<port>/…`, the prefix stripped). Plain HTTP is proxied with
//! both bodies streaming (so SSE works), and a WebSocket (any `Upgrade`) is joined to
//! the port once both sides switched protocols.
//!
//! Not behind the bearer token: a browser cannot send one. What listens on the port
//! authenticates its own clients; the sandbox id in the URL is the only thing needed.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hyper_util::rt::TokioIo;

/// Headers of one hop only, never passed on (except the upgrade pair of a WebSocket).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
];

/// The path-routed URLs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ports/{id}/{port}", any(by_path))
        .route("/v1/ports/{id}/{port}/", any(by_path))
        .route("/v1/ports/{id}/{port}/{*rest}", any(by_path))
}

/// Middleware in front of every route: a request for `<port>-<id>.localhost` goes to
/// that port, whatever its path.
pub async fn by_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some((port, id)) = host_target(req.headers()) else {
        return next.run(req).await;
    };
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    proxy(&state, &id, port, req, target)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `(port, sandbox id)` of a `Host: <port>-<id>.localhost[:<p>]`.
fn host_target(headers: &HeaderMap) -> Option<(u16, String)> {
    let host = headers
        .get(header::HOST)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let label = name.strip_suffix(".localhost")?;
    let (port, id) = label.split_once('-')?;
    Some((port.parse().ok()?, id.to_string()))
}

async fn by_path(State(state): State<AppState>, req: Request) -> Response {
    // /v1/ports/<id>/<port>[/<rest>]: taken from the raw path, so the rest is passed on
    // exactly as the client encoded it.
    let raw = req.uri().path().to_string();
    let mut parts = raw
        .strip_prefix("/v1/ports/")
        .unwrap_or_default()
        .splitn(3, '/');
    let (id, port, rest) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let Ok(port) = port.parse::<u16>() else {
        return ApiError::NotFound(format!("no port {port:?}")).into_response();
    };
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let target = format!("/{rest}{query}");
    proxy(&state, &id, port, req, target)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    for name in HOP_BY_HOP {
        if !(keep_upgrade && name == "connection") {
            headers.remove(name);
        }
    }
    if !keep_upgrade {
        headers.remove(header::UPGRADE);
    }
}

/// Sends `req` to `port` of sandbox `id` as `target` and answers with what it answers.
async fn proxy(
    state: &AppState,
    id: &str,
    port: u16,
    mut req: Request,
    target: String,
) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("sandbox {id} publishes no port {port}"));
    let meta = state.any_sandbox(id).await.map_err(|_| missing())?;
    let host_port = meta
        .ports
        .iter()
        .find(|p| p.sandbox == port && p.host != 0)
        .map(|p| p.host)
        .ok_or_else(missing)?;
    if meta.effective_status() != warden_sandbox::Status::Running {
        return Err(ApiError::NotRunning(format!(
            "sandbox {id} is {}, not running",
            meta.effective_status()
        )));
    }
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::BadGateway(format!("port {port} of sandbox {id}: {e}"))
    };
    let stream = tokio::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, host_port))
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "proxied connection ended");
        }
    });
    let upgrade = is_upgrade(req.headers());
    let client_side = upgrade.then(|| hyper::upgrade::on(&mut req));
    *req.uri_mut() = target
        .parse::<Uri>()
        .map_err(|_| ApiError::Invalid("the request's path cannot be passed on".into()))?;
    strip_hop_by_hop(req.headers_mut(), upgrade);
    let mut response = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(&e))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = client_side {
            let port_side = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let (Ok(client), Ok(upstream)) = (client_side.await, port_side.await) else {
                    tracing::debug!("an upgraded connection did not complete");
                    return;
                };
                let _ = tokio::io::copy_bidirectional(
                    &mut TokioIo::new(client),
                    &mut TokioIo::new(upstream),
                )
                .await;
            });
        }
    } else {
        strip_hop_by_hop(response.headers_mut(), false);
    }
    Ok(response.map(Body::new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(value: &str) -> Option<(u16, String)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(value).unwrap());
        host_target(&headers)
    }

    #[test]
    fn port_hosts_name_a_port_and_a_sandbox() {
        assert_eq!(
            host("4096-sb-0123abcd.localhost:7070"),
            Some((4096, "sb-0123abcd".into()))
        );
        assert_eq!(
            host("8000-SB-0123ABCD.LOCALHOST"),
            Some((8000, "sb-0123abcd".into()))
        );
        assert_eq!(host("127.0.0.1:7070"), None);
        assert_eq!(host("localhost:7070"), None);
        assert_eq!(host("x-sb-1.localhost"), None);
        assert_eq!(host("4096-sb-1.example.com"), None);
    }
}
