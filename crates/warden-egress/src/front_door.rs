//! The front door: a plain-HTTP endpoint inside the sandbox's reach that forwards every
//! request to one upstream with the bound headers set. No CA is needed.
//!
//! The upstream is an HTTPS host (verified by its certificate, reached through the
//! policy and the address filter like any other), or a server on this machine's
//! loopback that the user chose on the host (`ANTHROPIC_BASE_URL=http://127.0.0.1:11434`
//! for a local model server): that exact address and port, and nothing else on
//! loopback, is then reachable, through this door only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use http::{Request, Response, Uri};
use hyper::body::Incoming;

use crate::audit::{AuditKind, Entry};
use crate::error::EgressError;
use crate::forward::{relay_response, wants_upgrade, Target};
use crate::io::Activity;
use crate::policy::{canonical_host, parse_ip_literal};
use crate::proxy::Inner;
use crate::respond::{self, ProxyBody};
use crate::secret::Binding;
use crate::target::parse_authority;

/// The one upstream a front door forwards to, and the headers it sets there.
#[derive(Debug, Clone)]
pub struct FrontDoor {
    host: String,
    port: u16,
    tls: bool,
    /// For an upstream on this machine's loopback: its exact addresses. The policy and
    /// the address filter (which refuse loopback) are not consulted for this door.
    loopback: Option<Vec<SocketAddr>>,
    /// Headers this door sets on every request, besides the proxy's bindings for its host.
    bindings: Vec<Binding>,
}

impl FrontDoor {
    /// `https://host[:port]`, without a path; or `http(s)://` to this machine's
    /// loopback (`127.0.0.0/8`, `::1`, `localhost`) with a port. Plain `http://` to any
    /// other host is refused: a secret only travels over verified TLS or stays on this
    /// machine.
    pub fn new(upstream: &str) -> Result<FrontDoor, EgressError> {
        let bad = |why| EgressError::FrontDoor {
            url: upstream.to_string(),
            why,
        };
        let uri: Uri = upstream.parse().map_err(|_| bad("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(bad(
                    "the upstream must be https:// (or http:// to this machine's loopback)",
                ))
            }
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(bad(
                "write the origin only (https://host[:port]); paths are taken from each request",
            ));
        }
        let auth = uri.authority().ok_or_else(|| bad("missing host"))?;
        let (host, port) = parse_authority(auth, Some(if tls { 443 } else { 80 })).map_err(bad)?;
        let loopback = loopback_addrs(&host, port);
        match (&loopback, tls, parse_ip_literal(&host)) {
            (Some(_), _, _) => {}
            (None, false, _) => {
                return Err(bad(
                    "plain http:// is only for a server on this machine's loopback; anything else must be https://",
                ))
            }
            (None, true, Some(_)) => {
                return Err(bad(
                    "the upstream must be a host name, verified by its TLS certificate",
                ))
            }
            (None, true, None) => {}
        }
        Ok(FrontDoor {
            host,
            port,
            tls,
            loopback,
            bindings: Vec::new(),
        })
    }

    /// Adds a header this door sets on every request it forwards (overwriting what the
    /// sandbox sent), whatever host the binding names: the door's upstream is the
    /// only place it goes. See [`Binding::for_front_door`].
    pub fn with_binding(mut self, binding: Binding) -> FrontDoor {
        self.bindings.push(binding);
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the upstream is a server on this machine's loopback.
    pub fn is_loopback(&self) -> bool {
        self.loopback.is_some()
    }

    /// `scheme://host:port`, for messages (never carries a secret).
    pub fn origin(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// The addresses of `host:port` when `host` names this machine's loopback.
fn loopback_addrs(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    match parse_ip_literal(host) {
        Some(ip) if ip.is_loopback() => Some(vec![SocketAddr::new(ip, port)]),
        Some(_) => None,
        None if host == "localhost" => Some(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]),
        None => None,
    }
}

impl Inner {
    pub(crate) async fn front_door_request(
        self: Arc<Self>,
        req: Request<Incoming>,
        front: &FrontDoor,
        activity: Arc<Activity>,
    ) -> Response<ProxyBody> {
        // The Host header is ignored (it names the front door itself); an absolute-form
        // target naming another host is refused rather than silently redirected.
        if let Some(named) = req.uri().host() {
            let other_port = req.uri().port_u16().is_some_and(|p| p != front.port);
            if canonical_host(named).as_deref() != Some(front.host.as_str()) || other_port {
                return respond::bad_request("the front door only forwards to its own upstream");
            }
        }
        let entry = Entry::start(AuditKind::FrontDoor, &front.host, front.port);
        // The user chose a loopback upstream on the host: that address alone, as given.
        let addrs = match &front.loopback {
            Some(addrs) => addrs.clone(),
            None => match self.check(&front.host, front.port).await {
                Ok(r) => r.addrs,
                Err(reason) => {
                    tracing::info!(host = %front.host, %reason, "front door request denied");
                    self.audit(entry.finish(false, reason.token(), 0, 0, false));
                    return respond::denied(&front.host, reason);
                }
            },
        };
        if wants_upgrade(&req) {
            self.audit(entry.finish(true, "upgrade-unsupported", 0, 0, false));
            return respond::upgrade_refused();
        }
        let target = Target {
            host: &front.host,
            port: front.port,
            addrs: &addrs,
            tls: front.tls,
            loopback: front.loopback.is_some(),
        };
        match self
            .forward(&target, req, true, &front.bindings, activity)
            .await
        {
            Ok(forwarded) => {
                let (meter, injected) = (forwarded.meter.clone(), forwarded.injected);
                let inner = self.clone();
                relay_response(
                    forwarded.response,
                    Box::new(move || {
                        inner.audit(entry.finish(
                            true,
                            "allowed",
                            meter.written(),
                            meter.read(),
                            injected,
                        ))
                    }),
                )
            }
            Err(e) => {
                tracing::warn!(host = %front.host, error = %e, "front door upstream failed");
                self.audit(entry.finish(true, "bad-gateway", 0, 0, false));
                respond::bad_gateway(&front.host)
            }
        }
    }
}
