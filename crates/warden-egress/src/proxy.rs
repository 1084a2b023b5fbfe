//! The proxy handle: configuration, live policy, listeners and request routing.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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
    /// Make the interception CA even without bindings, so that bindings given later
    /// ([`Proxy::set_bindings`]) can be intercepted by clients that trusted it from the start.
    pub live_bindings: bool,
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
            live_bindings: false,
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
            .field("live_bindings", &self.live_bindings)
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
            .field("bound_hosts", &self.inner.bound_hosts())
            .field("intercepts", &self.inner.ca.is_some())
            .finish()
    }
}

pub(crate) struct Inner {
    policy_tx: watch::Sender<Arc<Policy>>,
    /// Replaced whole by [`Proxy::set_bindings`]; each request reads the current map.
    bindings: RwLock<Arc<BindingMap>>,
    pub(crate) ca: Option<CertificateAuthority>,
    pub(crate) tls_client: Arc<ClientConfig>,
    resolver: Resolver,
    audit: Option<AuditLog>,
    pub(crate) idle_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

/// Bindings by exact host.
type BindingMap = HashMap<String, Arc<[Binding]>>;

/// Groups bindings by host, refusing two for the same header of one host.
fn binding_map(bindings: Vec<Binding>) -> Result<BindingMap, EgressError> {
    let mut by_host: HashMap<String, Vec<Binding>> = HashMap::new();
    for b in bindings {
        let same_host = by_host.entry(b.host().to_string()).or_default();
        if same_host.iter().any(|o| o.header() == b.header()) {
            return Err(EgressError::DuplicateBinding {
                host: b.host().to_string(),
                header: b.header().to_string(),
            });
        }
        same_host.push(b);
    }
    Ok(by_host.into_iter().map(|(h, v)| (h, v.into())).collect())
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
        let bindings = binding_map(config.bindings)?;
        let ca = if bindings.is_empty() && !config.live_bindings {
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
                bindings: RwLock::new(Arc::new(bindings)),
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

    /// Replaces every binding. New connections and every request from now on, in open
    /// intercepted tunnels too, see the new set; a host that lost its bindings is no
    /// longer intercepted on new connections. Refused (nothing changes) when two
    /// bindings set the same header of one host, or when there are bindings and the
    /// proxy has no CA (build it with [`ProxyConfig::live_bindings`]).
    pub fn set_bindings(&self, bindings: Vec<Binding>) -> Result<(), EgressError> {
        let map = binding_map(bindings)?;
        if !map.is_empty() && self.inner.ca.is_none() {
            return Err(EgressError::NoInterceptionCa);
        }
        tracing::info!(hosts = ?map.keys().collect::<Vec<_>>(), "egress bindings changed");
        match self.inner.bindings.write() {
            Ok(mut current) => *current = Arc::new(map),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(map),
        }
        Ok(())
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

    /// The bindings of `host` as they are now.
    pub(crate) fn bindings_for(&self, host: &str) -> Arc<[Binding]> {
        let map = match self.bindings.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        map.get(host)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    fn bound_hosts(&self) -> Vec<String> {
        match self.bindings.read() {
            Ok(m) => m.keys().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().keys().cloned().collect(),
        }
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
