//! `warden server`: Warden's sandboxes over HTTP.
//!
//! The API (see `docs/server-api.md`, and the OpenAPI 3.1 document this crate generates
//! from its handlers at `GET /openapi.json`) serves [`warden_sandbox::Sandboxes`], the
//! same implementation `warden sandbox` uses: a sandbox made here is one the CLI lists,
//! and a restarted server finds every sandbox again from the sandbox directory. Each
//! bearer token belongs to a tenant ([`auth`]); a tenant's sandboxes and snapshots carry
//! the label `tenant=<name>`, and every route answers another tenant's id with 404.
//! Sandbox names are per tenant ([`names`]); directory sources are limited by
//! `--source-root` ([`sources`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), warden_server::ServerError> {
//! let config = warden_server::ServerConfig::new("/var/lib/warden");
//! let server = warden_server::Server::bind(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(warden_server::shutdown_signal()).await
//! # }
//! ```

pub mod auth;
pub mod config;
pub mod exec;
pub mod extract;
pub mod logs;
pub mod names;
pub mod policy;
pub mod problem;
pub mod proxy;
pub mod reaper;
pub mod routes;
pub mod sandbox_spec;
pub mod sources;
pub mod state;

pub use auth::{TokenError, TokenSource};
pub use config::ServerConfig;
pub use problem::{ApiError, Problem};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long streams still open at shutdown may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error("--listen {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    SourceRoot(#[from] sources::SourceRootError),
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    addr: SocketAddr,
    token_file: Option<PathBuf>,
    reaper: reaper::Reaper,
}

impl Server {
    /// Loads the tokens and binds the listening socket.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let loaded = auth::Tenants::load(&config.tokens, &config.sandbox_dir)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: config.listen,
                source,
            })?;
        let mut sandboxes =
            warden_sandbox::Sandboxes::new(warden_sandbox::SandboxRoot::new(&config.sandbox_dir));
        if let Some(exe) = &config.executable {
            sandboxes = sandboxes.with_executable(exe);
        }
        tracing::info!(tenants = ?loaded.tenants.names(), %addr, "warden server ready");
        let reaper = reaper::Reaper::default();
        let _ = std::fs::create_dir_all(&config.sandbox_dir);
        let mut private_paths = vec![config.sandbox_dir.clone()];
        if let TokenSource::File(file) = &config.tokens {
            private_paths.push(file.clone());
        }
        let sources = sources::SourcePolicy::new(
            &config.source_roots,
            &private_paths,
            loaded.tenants.names().len() == 1,
        )?;
        let state = state::AppState {
            sandboxes,
            tenants: Arc::new(loaded.tenants),
            urls: Arc::new(state::PublicUrls::new(addr)),
            reaper: reaper.clone(),
            sources: Arc::new(sources),
            names: names::NameClaims::default(),
        };
        Ok(Server {
            listener,
            app: routes::app(state, config.max_body),
            addr,
            token_file: loaded.generated,
            reaper,
        })
    }

    /// The address it listens on (the port chosen when `--listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the generated token was written, when the server made one.
    pub fn token_file(&self) -> Option<&Path> {
        self.token_file.as_deref()
    }

    /// Serves until `shutdown` completes, then stops taking connections and gives open
    /// requests a few seconds. Sandboxes keep running: they are not the server's.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.reaper.spawn();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let serve = axum::serve(self.listener, self.app).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down; sandboxes keep running");
            let _ = stop_tx.send(true);
        });
        let mut stop = stop_rx;
        tokio::select! {
            result = serve => result.map_err(ServerError::Serve),
            () = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("open requests did not finish in time; closing them");
                Ok(())
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot watch SIGINT/SIGTERM; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
