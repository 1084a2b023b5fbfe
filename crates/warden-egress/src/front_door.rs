//! The front door: a plain-HTTP endpoint inside the sandbox's reach that forwards every
//! request to one HTTPS upstream with the bound headers set. No CA is needed.

use std::sync::Arc;

use http::{Request, Response, Uri};
use hyper::body::Incoming;

use crate::audit::{AuditKind, Entry};
use crate::error::EgressError;
use crate::forward::{relay_response, wants_upgrade, Target};
use crate::io::Activity;
use crate::policy::canonical_host;
use crate::proxy::Inner;
use crate::respond::{self, ProxyBody};
use crate::target::parse_authority;

/// The one HTTPS upstream a front door forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoor {
    host: String,
    port: u16,
}

impl FrontDoor {
    /// `https://host[:port]`, without a path. Plain `http://` is refused: the point of the
    /// front door is that the secret only ever travels over verified TLS.
    pub fn new(upstream: &str) -> Result<FrontDoor, EgressError> {
        let bad = |why| EgressError::FrontDoor {
            url: upstream.to_string(),
            why,
        };
        let uri: Uri = upstream.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("the upstream must be https://"));
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(bad(
                "write the origin only (https://host[:port]); paths are taken from each request",
            ));
        }
        let auth = uri.authority().ok_or_else(|| bad("missing host"))?;
        let (host, port) = parse_authority(auth, Some(443)).map_err(bad)?;
        if crate::policy::parse_ip_literal(&host).is_some() {
            return Err(bad(
                "the upstream must be a host name, verified by its TLS certificate",
            ));
        }
        Ok(FrontDoor { host, port })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
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
            if canonical_host(named).as_deref() != Some(front.host.as_str()) {
                return respond::bad_request("the front door only forwards to its own upstream");
            }
        }
        let entry = Entry::start(AuditKind::FrontDoor, &front.host, front.port);
        let resolved = match self.check(&front.host, front.port).await {
            Ok(r) => r,
            Err(reason) => {
                tracing::info!(host = %front.host, %reason, "front door request denied");
                self.audit(entry.finish(false, reason.token(), 0, 0, false));
                return respond::denied(&front.host, reason);
            }
        };
        if wants_upgrade(&req) {
            self.audit(entry.finish(true, "upgrade-unsupported", 0, 0, false));
            return respond::upgrade_refused();
        }
        let target = Target {
            host: &front.host,
            port: front.port,
            addrs: &resolved.addrs,
            tls: true,
        };
        match self.forward(&target, req, true, activity).await {
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
