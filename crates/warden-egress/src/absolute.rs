//! Absolute-form HTTP (`GET http://host/path`): forwarded in plaintext, never injected.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::audit::{AuditKind, Entry};
use crate::forward::{relay_response, wants_upgrade, Target};
use crate::io::Activity;
use crate::proxy::Inner;
use crate::respond::{self, ProxyBody};
use crate::target::parse_authority;

impl Inner {
    pub(crate) async fn absolute_form(
        self: Arc<Self>,
        req: Request<Incoming>,
        activity: Arc<Activity>,
    ) -> Response<ProxyBody> {
        if req.uri().scheme_str() != Some("http") {
            return respond::bad_request(
                "only http:// URLs are proxied in absolute form; use CONNECT for https",
            );
        }
        let Some(auth) = req.uri().authority() else {
            return respond::bad_request("absolute-form URL without a host");
        };
        let (host, port) = match parse_authority(auth, Some(80)) {
            Ok(target) => target,
            Err(why) => return respond::bad_request(why),
        };
        let entry = Entry::start(AuditKind::Http, &host, port);
        let resolved = match self.check(&host, port).await {
            Ok(r) => r,
            Err(reason) => {
                tracing::info!(%host, port, %reason, "egress HTTP request denied");
                self.audit(entry.finish(false, reason.token(), 0, 0, false));
                return respond::denied(&host, reason);
            }
        };
        // WebSocket and other upgrades are refused here: the proxy would have to splice
        // two upgraded streams; clients can CONNECT to the host instead.
        if wants_upgrade(&req) {
            self.audit(entry.finish(true, "upgrade-unsupported", 0, 0, false));
            return respond::upgrade_refused();
        }
        let target = Target {
            host: &host,
            port,
            addrs: &resolved.addrs,
            tls: false,
            loopback: false,
        };
        // Plaintext: the request goes out as the sandbox wrote it (a placeholder stays a
        // placeholder); secrets are only ever added on a verified TLS leg.
        match self.forward(&target, req, false, &[], activity).await {
            Ok(forwarded) => {
                let meter = forwarded.meter.clone();
                let inner = self.clone();
                relay_response(
                    forwarded.response,
                    Box::new(move || {
                        inner.audit(entry.finish(
                            true,
                            "allowed",
                            meter.written(),
                            meter.read(),
                            false,
                        ))
                    }),
                )
            }
            Err(e) => {
                tracing::info!(%host, port, error = %e, "egress HTTP upstream failed");
                self.audit(entry.finish(true, "bad-gateway", 0, 0, false));
                respond::bad_gateway(&host)
            }
        }
    }
}
