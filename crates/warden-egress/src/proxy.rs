//! The proxy handle: configuration, live policy, listeners and request routing.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::audit::{AuditLog, AuditRecord};
use crate::ca::CertificateAuthority;
use crate::error::EgressError;
use crate::front_door::FrontDoor;
use crate::io::{Activity, Meter, Tracked};
use crate::policy::{DenyReason, Policy};
use crate::resolve::{Resolved, Resolver};
use crate::respond::{self, ProxyBody};
use crate::secret::Binding;
use crate::socket::Socket;
use crate::upstream::client_config;

/// Everything a [`Proxy`] is built from.
#[derive(Clone)]
pub struct ProxyConfig {
    pub policy: Policy,
    /// Secrets to broker; each is injected only toward its own host over verified TLS.
    pub bindings: Vec<Binding>,
    /// JSON-lines audit file, appended to.
    pub audit_log: Option<PathBuf>,
    pub resolver: Resolver,
    /// Trusted for upstream TLS in addition to the webpki roots (tests, corporate CAs).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// A connection with no bytes moving either way for this long is closed.
    pub idle_timeout: Duration,
    /// Limit for each upstream TCP connect and TLS handshake.
    pub connect_timeout: Duration,
}

impl ProxyConfig {
    /// Defaults: no bindings, no audit log, the system resolver, 5 min idle, 10 s connect.
    pub fn new(policy: Policy) -> ProxyConfig {
        ProxyConfig {
            policy,
            bindings: Vec::new(),
            audit_log: None,
            resolver: Resolver::system(),
            extra_roots: Vec::new(),
            idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("policy", &self.policy)
            .field("bindings", &self.bindings)
            .field("audit_log", &self.audit_log)
            .field("resolver", &self.resolver)
            .field("extra_roots", &self.extra_roots.len())
            .field("idle_timeout", &self.idle_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A running proxy's shared state. Cheap to clone; every listener served from one
/// handle sees the same policy, bindings, CA and audit log.
#[derive(Clone)]
pub struct Proxy {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("policy", &*self.inner.policy_tx.borrow())
            .field(
                "bound_hosts",
                &self.inner.bindings.keys().collect::<Vec<_>>(),
            )
            .field("intercepts", &self.inner.ca.is_some())
            .finish()
    }
}

pub(crate) struct Inner {
    policy_tx: watch::Sender<Arc<Policy>>,
    bindings: HashMap<String, Vec<Binding>>,
    pub(crate) ca: Option<CertificateAuthority>,
    pub(crate) tls_client: Arc<ClientConfig>,
    resolver: Resolver,
    audit: Option<AuditLog>,
    pub(crate) idle_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

/// Which service a listener runs.
#[derive(Clone)]
pub(crate) enum Mode {
    Proxy,
    FrontDoor(Arc<FrontDoor>),
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Socket> {
        Ok(match self {
            Listener::Unix(l) => Socket::Unix(l.accept().await?.0),
            Listener::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Socket::Tcp(stream)
            }
        })
    }
}

/// Slow-loris bound: a client must finish sending request headers within this time.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Proxy {
    /// Builds the proxy; generates the per-proxy CA when there are bindings.
    pub fn new(config: ProxyConfig) -> Result<Proxy, EgressError> {
        let mut bindings: HashMap<String, Vec<Binding>> = HashMap::new();
        for b in config.bindings {
            let same_host = bindings.entry(b.host().to_string()).or_default();
            if same_host.iter().any(|o| o.header() == b.header()) {
                return Err(EgressError::DuplicateBinding {
                    host: b.host().to_string(),
                    header: b.header().to_string(),
                });
            }
            same_host.push(b);
        }
        let ca = if bindings.is_empty() {
            None
        } else {
            Some(CertificateAuthority::generate()?)
        };
        let audit = config
            .audit_log
            .as_deref()
            .map(AuditLog::open)
            .transpose()?;
        let (policy_tx, _) = watch::channel(Arc::new(config.policy));
        Ok(Proxy {
            inner: Arc::new(Inner {
                policy_tx,
                bindings,
                ca,
                tls_client: client_config(&config.extra_roots)?,
                resolver: config.resolver,
                audit,
                idle_timeout: config.idle_timeout,
                connect_timeout: config.connect_timeout,
            }),
        })
    }

    /// The interception CA certificate (PEM) to trust inside the sandbox; `None` without bindings.
    pub fn ca_pem(&self) -> Option<String> {
        self.inner.ca.as_ref().map(CertificateAuthority::pem)
    }

    /// Replaces the policy. The next request sees it, and open tunnels and upstream
    /// connections whose host it denies are closed now.
    pub fn set_policy(&self, policy: Policy) {
        tracing::info!(?policy, "egress policy changed");
        self.inner.policy_tx.send_replace(Arc::new(policy));
    }

    pub fn policy(&self) -> Policy {
        (**self.inner.policy_tx.borrow()).clone()
    }

    /// Serves HTTP CONNECT and absolute-form HTTP on a unix socket (the sandbox bridge).
    pub async fn serve_proxy(&self, listener: UnixListener) -> Result<(), EgressError> {
        self.serve(Listener::Unix(listener), Mode::Proxy).await
    }

    /// [`Proxy::serve_proxy`] on TCP, for tests and benchmarks.
    pub async fn serve_proxy_tcp(&self, listener: TcpListener) -> Result<(), EgressError> {
        self.serve(Listener::Tcp(listener), Mode::Proxy).await
    }

    /// Serves a plain-HTTP front door that forwards every request to `front`'s HTTPS
    /// upstream with bound headers set (the sandbox points e.g. `ANTHROPIC_BASE_URL` here).
    pub async fn serve_front_door(
        &self,
        listener: UnixListener,
        front: FrontDoor,
    ) -> Result<(), EgressError> {
        self.serve(Listener::Unix(listener), Mode::FrontDoor(Arc::new(front)))
            .await
    }

    /// [`Proxy::serve_front_door`] on TCP (the sandbox reaches it through its loopback bridge).
    pub async fn serve_front_door_tcp(
        &self,
        listener: TcpListener,
        front: FrontDoor,
    ) -> Result<(), EgressError> {
        self.serve(Listener::Tcp(listener), Mode::FrontDoor(Arc::new(front)))
            .await
    }

    /// Accepts until dropped; never returns `Ok`. Client connections live in a JoinSet,
    /// so dropping the future closes them; established CONNECT tunnels run in their own
    /// tasks and end when either peer closes, on idle, or when the policy revokes the host.
    /// Accept errors (e.g. EMFILE) are logged and retried.
    async fn serve(&self, listener: Listener, mode: Mode) -> Result<(), EgressError> {
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(io) => {
                        tasks.spawn(self.inner.clone().serve_connection(io, mode.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "egress proxy accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }
}

impl Inner {
    pub(crate) fn policy_rx(&self) -> watch::Receiver<Arc<Policy>> {
        self.policy_tx.subscribe()
    }

    pub(crate) fn bindings_for(&self, host: &str) -> &[Binding] {
        self.bindings.get(host).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Policy on the name first (a denied name is never resolved), then DNS and the address filter.
    pub(crate) async fn check(&self, host: &str, port: u16) -> Result<Resolved, DenyReason> {
        if let crate::policy::Decision::Deny(reason) = self.policy_tx.borrow().decide_host(host) {
            return Err(reason);
        }
        self.resolver.resolve(host, port).await
    }

    pub(crate) fn audit(&self, record: AuditRecord) {
        if let Some(log) = &self.audit {
            log.write(&record);
        }
    }

    /// Serves one client connection until it closes, goes idle, or upgrades to a tunnel.
    /// Generic so the fuzz entry point can serve an in-memory stream; real listeners pass
    /// a [`Socket`], which CONNECT tunnels take back from hyper to splice.
    pub(crate) async fn serve_connection<S>(self: Arc<Self>, io: S, mode: Mode)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Activity::new();
        let io = Tracked::new(io, Meter::new(activity.clone()));
        let idle = self.idle_timeout;
        let conn_activity = activity.clone();
        let service = service_fn(move |req| {
            let inner = self.clone();
            let mode = mode.clone();
            let activity = conn_activity.clone();
            async move { Ok::<_, Infallible>(inner.route(req, mode, activity).await) }
        });
        // half_close: a client that sends its request and shuts down its side (`printf |
        // nc -N`, a scripted client) still gets the answer instead of a silent close.
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .half_close(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::select! {
            done = conn => if let Err(e) = done { tracing::debug!(error = %e, "client connection ended with an error") },
            _ = activity.idle(idle) => tracing::debug!("closing an idle client connection"),
        }
    }

    async fn route(
        self: Arc<Self>,
        req: Request<Incoming>,
        mode: Mode,
        activity: Arc<Activity>,
    ) -> Response<ProxyBody> {
        match mode {
            Mode::FrontDoor(front) => self.front_door_request(req, &front, activity).await,
            Mode::Proxy if req.method() == Method::CONNECT => self.connect(req, activity).await,
            Mode::Proxy if req.uri().scheme().is_some() => self.absolute_form(req, activity).await,
            Mode::Proxy => respond::bad_request(
                "this is a proxy: send CONNECT host:port or an absolute-form URL",
            ),
        }
    }
}
