//! CONNECT: an opaque tunnel for allowed hosts, TLS interception for bound hosts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::audit::{AuditKind, Entry};
use crate::forward::{relay_response, wants_upgrade, Target};
use crate::io::{until_denied, Activity, Meter, Tracked};
use crate::proxy::Inner;
use crate::respond::{self, ProxyBody};
use crate::socket::Socket;
use crate::target::{host_of_header, parse_authority};
use crate::upstream::connect_tcp;

/// Large buffers for the userspace fallback: tunnels carry downloads, and 8 KiB copies
/// cost throughput.
const TUNNEL_BUF: usize = 256 * 1024;

/// One intercepted tunnel: every request inside goes to this host, whatever it claims.
struct Session {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
    injected: AtomicBool,
}

impl Inner {
    pub(crate) async fn connect(
        self: Arc<Self>,
        req: Request<Incoming>,
        activity: Arc<Activity>,
    ) -> Response<ProxyBody> {
        let Some(auth) = req.uri().authority() else {
            return respond::bad_request("CONNECT needs host:port");
        };
        let (host, port) = match parse_authority(auth, None) {
            Ok(target) => target,
            Err(why) => return respond::bad_request(why),
        };
        let entry = Entry::start(AuditKind::Connect, &host, port);
        let resolved = match self.check(&host, port).await {
            Ok(r) => r,
            Err(reason) => {
                tracing::info!(%host, port, %reason, "egress CONNECT denied");
                self.audit(entry.finish(false, reason.token(), 0, 0, false));
                return respond::denied(&host, reason);
            }
        };
        // Bound hosts are intercepted on their TLS port (or a test pin's port); any other
        // port to a bound host is tunnelled opaquely and so can never receive the secret.
        let intercept = !self.bindings_for(&host).is_empty() && (port == 443 || resolved.pinned);
        if intercept {
            let leaf = match self.ca.as_ref().map(|ca| ca.server_config(&host)) {
                Some(Ok(config)) => config,
                Some(Err(e)) => {
                    tracing::warn!(%host, error = %e, "cannot issue an interception certificate");
                    self.audit(entry.finish(true, "bad-gateway", 0, 0, false));
                    return respond::bad_gateway(&host);
                }
                None => return respond::bad_gateway(&host),
            };
            let session = Session {
                host,
                port,
                addrs: resolved.addrs,
                injected: AtomicBool::new(false),
            };
            tokio::spawn(self.clone().intercept(req, leaf, session, entry, activity));
            return respond::empty(StatusCode::OK);
        }
        let meter = Meter::new(activity.clone());
        let upstream = match connect_tcp(&resolved.addrs, self.connect_timeout, meter.clone()).await
        {
            Ok(stream) => stream,
            Err(e) => {
                tracing::info!(%host, port, error = %e, "egress CONNECT upstream unreachable");
                self.audit(entry.finish(true, "bad-gateway", 0, 0, false));
                return respond::bad_gateway(&host);
            }
        };
        tracing::debug!(%host, port, "egress CONNECT tunnel");
        tokio::spawn(self.clone().tunnel(req, upstream, meter, entry, activity));
        respond::empty(StatusCode::OK)
    }

    /// Copies bytes both ways (an EOF on one side is passed on as a half-close) until
    /// both sides finish, the tunnel idles, or the policy revokes the host.
    async fn tunnel(
        self: Arc<Self>,
        req: Request<Incoming>,
        upstream: Tracked<TcpStream>,
        meter: Arc<Meter>,
        entry: Entry,
        activity: Arc<Activity>,
    ) {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "client left before the tunnel opened");
                self.audit(entry.finish(true, "client-gone", 0, 0, false));
                return;
            }
        };
        let copy = relay(upgraded, upstream, &meter);
        let reason = tokio::select! {
            done = copy => match done {
                Ok(_) => "allowed",
                Err(e) => {
                    tracing::debug!(error = %e, "tunnel ended with an error");
                    "allowed"
                }
            },
            _ = until_denied(self.policy_rx(), entry.host.clone()) => {
                tracing::info!(host = %entry.host, "closing a tunnel: the policy no longer allows its host");
                "revoked"
            }
            _ = activity.idle(self.idle_timeout) => "idle-timeout",
        };
        self.audit(entry.finish(true, reason, meter.written(), meter.read(), false));
    }

    /// Terminates TLS with a leaf for the CONNECT target and serves the decrypted
    /// requests, each forwarded over fresh verified TLS with the bound headers set.
    async fn intercept(
        self: Arc<Self>,
        req: Request<Incoming>,
        leaf: Arc<ServerConfig>,
        session: Session,
        entry: Entry,
        activity: Arc<Activity>,
    ) {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(upgraded) => upgraded,
            Err(_) => {
                self.audit(entry.finish(true, "client-gone", 0, 0, false));
                return;
            }
        };
        let client_meter = Meter::new(activity.clone());
        let io = Tracked::new(TokioIo::new(upgraded), client_meter.clone());
        let tls = match tokio::time::timeout(
            self.connect_timeout,
            TlsAcceptor::from(leaf).accept(io),
        )
        .await
        {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                // Typically the client does not trust our CA, or pins certificates.
                tracing::info!(host = %session.host, error = %e, "client refused the interception TLS handshake");
                self.audit(entry.finish(true, "tls-handshake-failed", 0, 0, false));
                return;
            }
            Err(_) => {
                self.audit(entry.finish(true, "tls-handshake-failed", 0, 0, false));
                return;
            }
        };
        let session = Arc::new(session);
        let (inner, s, a) = (self.clone(), session.clone(), activity.clone());
        let service = service_fn(move |req| {
            let (inner, s, a) = (inner.clone(), s.clone(), a.clone());
            async move { Ok::<_, std::convert::Infallible>(inner.intercepted_request(req, s, a).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(crate::proxy::HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(tls), service);
        let reason = tokio::select! {
            _ = conn => "intercepted",
            _ = until_denied(self.policy_rx(), session.host.clone()) => "revoked",
            _ = activity.idle(self.idle_timeout) => "idle-timeout",
        };
        let injected = session.injected.load(Ordering::Relaxed);
        self.audit(entry.finish(
            true,
            reason,
            client_meter.read(),
            client_meter.written(),
            injected,
        ));
    }

    async fn intercepted_request(
        self: Arc<Self>,
        req: Request<Incoming>,
        s: Arc<Session>,
        activity: Arc<Activity>,
    ) -> Response<ProxyBody> {
        // Route and inject by the verified CONNECT target only. A request naming another
        // host is refused (421), so a tunnel to A can never carry B's secret to A.
        let named = req
            .headers()
            .get(http::header::HOST)
            .map(host_of_header)
            .into_iter()
            .chain(req.uri().host().map(crate::policy::canonical_host));
        for host in named {
            if host.as_deref() != Some(s.host.as_str()) {
                tracing::info!(target_host = %s.host, "intercepted request names another host; refused");
                return respond::host_mismatch(&s.host);
            }
        }
        if let crate::policy::Decision::Deny(reason) =
            self.policy_rx().borrow().decide_host(&s.host)
        {
            return respond::denied(&s.host, reason);
        }
        if wants_upgrade(&req) {
            return respond::upgrade_refused();
        }
        let target = Target {
            host: &s.host,
            port: s.port,
            addrs: &s.addrs,
            tls: true,
            loopback: false,
        };
        match self.forward(&target, req, true, &[], activity).await {
            Ok(forwarded) => {
                if forwarded.injected {
                    s.injected.store(true, Ordering::Relaxed);
                }
                relay_response(forwarded.response, Box::new(|| {}))
            }
            Err(e) => {
                tracing::warn!(host = %s.host, error = %e, "intercepted request could not be forwarded");
                respond::bad_gateway(&s.host)
            }
        }
    }
}

/// Moves tunnel bytes. On Linux the client socket is taken back from hyper and both
/// directions are spliced in the kernel; otherwise (or if hyper wrapped the socket in
/// something unexpected) a buffered userspace copy does the same job.
async fn relay(
    upgraded: Upgraded,
    mut upstream: Tracked<TcpStream>,
    meter: &Meter,
) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    let upgraded = match upgraded.downcast::<TokioIo<Tracked<Socket>>>() {
        Ok(parts) => {
            use tokio::io::AsyncWriteExt;
            // Bytes the client pipelined after the CONNECT head were already read by hyper.
            if !parts.read_buf.is_empty() {
                upstream.write_all(&parts.read_buf).await?;
            }
            let client = parts.io.into_inner().into_inner();
            let upstream = Socket::Tcp(upstream.into_inner());
            return crate::splice::relay(&client, &upstream, meter).await;
        }
        Err(upgraded) => upgraded,
    };
    let mut client = TokioIo::new(upgraded);
    tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, TUNNEL_BUF, TUNNEL_BUF)
        .await
        .map(drop)
}
