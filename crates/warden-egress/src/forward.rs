//! Forwarding one HTTP request upstream: origin-form, hop-by-hop headers removed, Host
//! set from the checked target, bound headers overwritten (TLS only), response streamed.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::io::{until_denied, Activity, Meter};
use crate::proxy::Inner;
use crate::respond::ProxyBody;
use crate::upstream::{connect_tcp, connect_tls, UpstreamError};

/// A checked destination for one request.
pub(crate) struct Target<'a> {
    pub host: &'a str,
    /// The port the sandbox asked for (goes into Host); a pin may connect elsewhere.
    pub port: u16,
    pub addrs: &'a [SocketAddr],
    pub tls: bool,
    /// A server on this machine's loopback the user chose (a front door's upstream):
    /// secrets may go there in plaintext, since they never leave the machine.
    pub loopback: bool,
}

/// What came back, with the upstream socket's counters.
pub(crate) struct Forwarded {
    pub response: Response<Incoming>,
    pub meter: Arc<Meter>,
    pub injected: bool,
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes hop-by-hop headers, including any the `Connection` header names.
/// `Upgrade` is handled by the callers (refused) before this runs.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

pub(crate) fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(header::UPGRADE)
}

fn host_header(host: &str, port: u16, tls: bool) -> Option<HeaderValue> {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let default_port = if tls { 443 } else { 80 };
    let value = if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    };
    HeaderValue::from_str(&value).ok()
}

impl Inner {
    /// Sends `req` to `target`. Bound headers for `target.host` (and `extra`, a front
    /// door's own) are overwritten only when `inject` is set *and* the upstream leg is
    /// TLS or a loopback server the user chose: plaintext never carries a secret off
    /// this machine.
    pub(crate) async fn forward(
        &self,
        target: &Target<'_>,
        req: Request<Incoming>,
        inject: bool,
        extra: &[crate::secret::Binding],
        activity: Arc<Activity>,
    ) -> Result<Forwarded, UpstreamError> {
        let (parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut upstream = Request::new(body);
        *upstream.method_mut() = parts.method;
        *upstream.uri_mut() = path
            .parse::<Uri>()
            .unwrap_or_else(|_| Uri::from_static("/"));
        *upstream.version_mut() = Version::HTTP_11;
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        if let Some(host) = host_header(target.host, target.port, target.tls) {
            headers.insert(header::HOST, host);
        }
        let mut injected = false;
        if inject && (target.tls || target.loopback) {
            for binding in self.bindings_for(target.host).iter().chain(extra) {
                injected |= binding.apply(&mut headers);
            }
        }
        *upstream.headers_mut() = headers;

        let meter = Meter::new(activity.clone());
        let response = if target.tls {
            let io = connect_tls(
                target.host,
                target.addrs,
                self.connect_timeout,
                &self.tls_client,
                meter.clone(),
            )
            .await?;
            self.exchange(io, upstream, target, activity).await?
        } else {
            let io = connect_tcp(target.addrs, self.connect_timeout, meter.clone()).await?;
            self.exchange(io, upstream, target, activity).await?
        };
        Ok(Forwarded {
            response,
            meter,
            injected,
        })
    }

    /// One request on a fresh upstream connection. The connection task ends with the
    /// exchange, on idle, or as soon as the policy stops allowing the host (a loopback
    /// upstream a front door serves is the user's choice, outside the policy).
    async fn exchange<IO>(
        &self,
        io: IO,
        req: Request<Incoming>,
        target: &Target<'_>,
        activity: Arc<Activity>,
    ) -> Result<Response<Incoming>, UpstreamError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        let watch =
            (!target.loopback).then(|| until_denied(self.policy_rx(), target.host.to_string()));
        let denied = async move {
            match watch {
                Some(denied) => denied.await,
                None => std::future::pending().await,
            }
        };
        let idle = self.idle_timeout;
        tokio::spawn(async move {
            tokio::select! {
                done = conn => if let Err(e) = done { tracing::debug!(error = %e, "upstream connection ended with an error") },
                _ = denied => tracing::info!("closing an upstream connection: the policy no longer allows its host"),
                _ = activity.idle(idle) => tracing::debug!("closing an idle upstream connection"),
            }
        });
        Ok(sender.send_request(req).await?)
    }
}

/// The upstream response prepared for the sandbox: hop-by-hop headers removed, body
/// streamed frame by frame, `on_end` run once when the body is finished or dropped.
pub(crate) fn relay_response(
    response: Response<Incoming>,
    on_end: Box<dyn FnOnce() + Send>,
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = OnEnd {
        inner: body,
        on_end: Some(on_end),
    };
    Response::from_parts(parts, body.boxed_unsync())
}

struct OnEnd<B> {
    inner: B,
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl<B> Drop for OnEnd<B> {
    fn drop(&mut self) {
        if let Some(f) = self.on_end.take() {
            f();
        }
    }
}

impl<B: Body<Data = Bytes, Error = hyper::Error> + Unpin> Body for OnEnd<B> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            if let Some(f) = self.on_end.take() {
                f();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
