//! Responses the proxy writes itself (denials and errors), and the body type it serves.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

use crate::policy::DenyReason;

/// Every response body the proxy serves: its own short texts or a streamed upstream body.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// The header naming why the proxy, not the upstream, answered.
pub const MARKER_HEADER: &str = "x-warden-egress";

pub(crate) fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut resp = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

fn text(status: StatusCode, marker: String, body: String) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&marker) {
        resp.headers_mut().insert(MARKER_HEADER, value);
    }
    resp
}

/// 403 for a policy or address-filter denial. `host` has already been validated as a
/// host name or IP literal, so it cannot inject anything into the body.
pub(crate) fn denied(host: &str, reason: DenyReason) -> Response<ProxyBody> {
    text(
        StatusCode::FORBIDDEN,
        format!("denied; reason={reason}"),
        format!("warden egress: {host} denied ({reason})\n"),
    )
}

/// 421 for an intercepted request whose Host disagrees with the CONNECT target.
pub(crate) fn host_mismatch(target: &str) -> Response<ProxyBody> {
    text(
        StatusCode::MISDIRECTED_REQUEST,
        "denied; reason=host-mismatch".to_string(),
        format!("warden egress: this tunnel is for {target}; the Host header names another host\n"),
    )
}

/// 400 for requests the proxy cannot or will not parse. `why` is a fixed text, never input.
/// The connection is closed afterwards: after a malformed request, framing of what
/// follows on the same connection cannot be trusted.
pub(crate) fn bad_request(why: &'static str) -> Response<ProxyBody> {
    let mut resp = text(
        StatusCode::BAD_REQUEST,
        "rejected; reason=bad-request".to_string(),
        format!("warden egress: {why}\n"),
    );
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 501 for protocol upgrades (WebSocket) through absolute-form or intercepted requests.
/// Closes the connection: a client that asked to switch protocols would otherwise sit
/// on a connection neither side will use.
pub(crate) fn upgrade_refused() -> Response<ProxyBody> {
    let mut resp = text(
        StatusCode::NOT_IMPLEMENTED,
        "rejected; reason=upgrade-unsupported".to_string(),
        "warden egress: protocol upgrades are not forwarded; use CONNECT to an allowed host\n"
            .to_string(),
    );
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 502 when the allowed upstream could not be reached.
pub(crate) fn bad_gateway(host: &str) -> Response<ProxyBody> {
    text(
        StatusCode::BAD_GATEWAY,
        "error; reason=bad-gateway".to_string(),
        format!("warden egress: cannot reach {host}\n"),
    )
}
